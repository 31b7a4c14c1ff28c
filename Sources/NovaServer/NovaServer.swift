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
import ServiceLifecycle

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
        router.add(middleware: GuardMiddleware(
            token: configuration.token, maximumBodyBytes: configuration.maximumBodyBytes, log: log
        ))
        let pool = SandboxPool(paths: configuration.paths, busyTimeoutMilliseconds: configuration.busyTimeoutMilliseconds)
        let jobs = JobBoard()
        DesignRoutes(configuration: configuration, pool: pool, jobs: jobs).register(on: router)
        let v1 = V1Routes(configuration: configuration, pool: pool, jobs: jobs)
        v1.register(on: router)
        V1ProductionRoutes(v1: v1).register(on: router)
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
        // On SIGTERM or SIGINT the services stop last first: the jobs are asked to stop (their
        // runs end `interrupted`, as with Ctrl-C; a test suite a request runs stops too) and
        // waited for, then the server finishes the requests in flight. The wait covers the
        // agents' grace period, after which the supervisor kills what is left.
        let group = ServiceGroup(configuration: .init(
            services: [app, JobShutdown(jobs: jobs, limit: .seconds(max(configuration.killGracePeriod, 2) + 15))],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger
        ))
        try await group.run()
    }
}

/// Stops the jobs when the server is asked to stop, before the requests in flight are waited for.
private struct JobShutdown: Service {
    let jobs: JobBoard
    let limit: Duration

    func run() async throws {
        try? await gracefulShutdown()
        await jobs.stopAll(waitingUpTo: limit)
    }
}

/// Runs blocking work (SQLite, git) on NIO's thread pool; `longWork` (test suites that may
/// run for minutes) on a pool of its own, so it never holds up the short requests.
func blocking<T: Sendable>(longWork: Bool = false, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await (longWork ? longWorkPool : NIOThreadPool.singleton).runIfActive(work)
}

/// Four threads for long work: as many test runs at once, queued beyond.
private let longWorkPool: NIOThreadPool = {
    let pool = NIOThreadPool(numberOfThreads: 4)
    pool.start()
    return pool
}()

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
        let limit = request.uri.path == "/api/v1/events" ? V1Routes.maximumEventBytes : maximumBodyBytes
        if let refusal = Self.crossSiteRefusal(request, tokenRequired: token != nil) {
            response = APIResponse.failure(APIFailure(status: .forbidden, code: "forbidden", message: refusal))
        } else if let token, !Self.authorized(request.headers[.authorization], token: token) {
            var refusal = APIResponse.failure(APIFailure(status: .unauthorized, code: "unauthorized", message: "a valid 'Authorization: Bearer <token>' header is needed"))
            refusal.headers[.wwwAuthenticate] = "Bearer"
            response = refusal
        } else if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            response = APIResponse.failure(APIFailure(status: .contentTooLarge, code: "too_large", message: "the request body is over \(limit) bytes"))
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

    /// Why a request that a web page in the user's browser could have made is refused, or nil.
    ///
    /// Without a token, anything that reaches the loopback port is trusted, so a page on any
    /// site could post to it (a "simple" cross-site request needs no preflight) or read it after
    /// pointing a name of its own at 127.0.0.1 (DNS rebinding). So then: the `Host` must be a
    /// loopback name, an `Origin` (which browsers send with every cross-site POST) must be
    /// this server. (A body must also be sent as JSON, `decodeJSON` checks, which no page can
    /// send cross-site without a preflight this server never grants.) With a token, a page
    /// cannot add the `Authorization` header without such a preflight either.
    static func crossSiteRefusal(_ request: Request, tokenRequired: Bool) -> String? {
        guard !tokenRequired else { return nil }
        let host = request.head.authority ?? ""
        guard Self.isLoopbackAuthority(host) else {
            return "the Host \(host.debugDescription) is not a loopback address; without a token only loopback names are served"
        }
        if let origin = request.headers[.origin] {
            // `null` (a sandboxed frame, a file) and every other site are refused alike.
            guard origin == "http://" + host else {
                return "a request from \(origin.debugDescription) is refused: only pages of this server may send requests"
            }
        }
        return nil
    }

    /// `127.0.0.1:8080`, `localhost:8080`, `[::1]:8080` (any port).
    static func isLoopbackAuthority(_ authority: String) -> Bool {
        var host = Substring(authority)
        if host.hasPrefix("["), let end = host.firstIndex(of: "]") {
            host = host[host.index(after: host.startIndex)..<end]
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        return NetworkAddress.isLoopback(String(host))
    }

    /// `Bearer <token>` (the scheme in any case), compared in time that does not depend on
    /// where they differ.
    static func authorized(_ header: String?, token: String) -> Bool {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return false }
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
    /// Refuses (415) a body sent as anything but one of `types` (an empty body may have none).
    func requireContentType(_ types: [String]) throws {
        let given = headers[.contentType]?.split(separator: ";").first.map { $0.filter { $0 != " " }.lowercased() }
        let hasBody = headers[.contentLength].flatMap(Int.init).map { $0 > 0 } ?? (headers[.transferEncoding] != nil)
        guard let given else {
            if hasBody { throw APIFailure(status: .unsupportedMediaType, code: "unsupported_media_type", message: "send the body with Content-Type: \(types[0])") }
            return
        }
        guard types.contains(given) else {
            throw APIFailure(status: .unsupportedMediaType, code: "unsupported_media_type", message: "send the body as \(types[0]), not \(given)")
        }
    }

    /// The body as a JSON object decoded to `T` (an empty body is `{}`); malformed JSON, a wrong
    /// type or a field not in `fields` is a 400 naming it.
    mutating func decodeJSON<T: Decodable>(_ type: T.Type, fields: Set<String>, maximumBytes: Int) async throws -> T {
        try requireContentType(["application/json"])
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
