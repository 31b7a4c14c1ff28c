#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import NIOPosix
import SandboxCore

/// `novaos serve`: the experiment-repository endpoints over HTTP (more to come: the sandbox
/// under `/api/v1/`, the dashboard).
///
/// Each request has a `Sandbox` (one SQLite connection) of its own while it runs, taken from a
/// small pool, on NIO's blocking thread pool, never on an event loop; SQLite's locking and busy
/// timeout arbitrate between requests and other processes, as between commands.
public enum NovaServer {
    /// Serves until SIGINT or SIGTERM, then finishes the requests in flight and returns.
    ///
    /// - Parameter ready: called with the port once listening (the one chosen, for port 0).
    public static func run(_ configuration: ServerConfiguration, log: @escaping @Sendable (String) -> Void, ready: @escaping @Sendable (Int) -> Void) async throws {
        let router = Router()
        router.add(middleware: GuardMiddleware(token: configuration.token, maximumBodyBytes: configuration.maximumBodyBytes, log: log))
        let pool = SandboxPool(paths: configuration.paths)
        DesignRoutes(configuration: configuration, pool: pool).register(on: router)
        V1Routes(configuration: configuration, pool: pool).register(on: router)
        DashboardRoutes(configuration: configuration, pool: pool).register(on: router)
        router.get("openapi.json") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_json)))
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "novaos"),
            onServerRunning: { channel in ready(channel.localAddress?.port ?? configuration.port) }
        )
        try await app.runService()
    }
}

/// Runs blocking work (SQLite, git, test suites) on NIO's thread pool.
func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await NIOThreadPool.singleton.runIfActive(work)
}

/// The outermost middleware: refuses requests without the token (when there is one), turns
/// every error into the envelope with its status, and logs one line per request to stderr
/// (method, path without its query, status, duration; never a header).
struct GuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?
    let maximumBodyBytes: Int
    let log: @Sendable (String) -> Void

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response: Response
        if let token, !Self.authorized(request.headers[.authorization], token: token) {
            var refusal = APIResponse.failure(APIFailure(status: .unauthorized, code: "unauthorized", message: "a valid 'Authorization: Bearer <token>' header is needed"))
            refusal.headers[.wwwAuthenticate] = "Bearer"
            response = refusal
        } else if let length = request.headers[.contentLength].flatMap(Int.init), length > maximumBodyBytes {
            response = APIResponse.failure(APIFailure(status: .contentTooLarge, code: "too_large", message: "the request body is over \(maximumBodyBytes) bytes"))
        } else {
            do {
                response = try await next(request, context)
            } catch {
                response = APIResponse.failure(APIFailure(error))
            }
        }
        let elapsed = ContinuousClock.now - started
        let tenths = elapsed.components.seconds * 10_000 + elapsed.components.attoseconds / 100_000_000_000_000
        log("\(request.method.rawValue) \(Self.printable(request.uri.path)) \(response.status.code) \(tenths / 10).\(tenths % 10)ms")
        return response
    }

    /// `Bearer <token>`, compared in time that does not depend on where they differ.
    static func authorized(_ header: String?, token: String) -> Bool {
        guard let header, header.hasPrefix("Bearer ") else { return false }
        let given = Array(header.dropFirst(7).utf8)
        let expected = Array(token.utf8)
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for index in 0..<expected.count {
            difference |= expected[index] ^ (index < given.count ? given[index] : 0)
        }
        return difference == 0
    }

    /// A path for the log: control characters escaped, at most 200 characters.
    static func printable(_ path: String) -> String {
        TerminalText.escape(String(path.prefix(200)))
    }
}

extension Request {
    /// The body as a JSON object decoded to `T` (an empty body is `{}`); malformed JSON, a wrong
    /// type or a field not in `fields` is a 400 naming it.
    mutating func decodeJSON<T: Decodable>(_ type: T.Type, fields: Set<String>, maximumBytes: Int) async throws -> T {
        let buffer = try await collectBody(upTo: maximumBytes)
        let bytes = buffer.readableBytesView
        let data = bytes.isEmpty ? Data("{}".utf8) : Data(bytes)
        guard let object = try? JSONValue.parseObject(String(decoding: data, as: UTF8.self), what: "the request body") else {
            throw APIFailure.badRequest("the request body must be one JSON object")
        }
        if let unknown = object.keys.sorted().first(where: { !fields.contains($0) }) {
            throw APIFailure.badRequest("unknown field \(unknown.debugDescription) (known: \(fields.sorted().joined(separator: ", ")))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw APIFailure.badRequest("the request body is not the JSON expected: \(Self.describe(error))")
        } catch {
            throw APIFailure.badRequest("the request body is not valid JSON")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "missing \(key.stringValue)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "\(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case .dataCorrupted(let context):
            context.codingPath.isEmpty ? "not valid JSON" : "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        @unknown default: "\(error)"
        }
    }
}
