#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import NIOCore
import SandboxCore

/// The experiment-repository design's envelope: `{"status":"success","data":{…}}`, or
/// `{"status":"error","error":{"code","message"}}` on failure.
enum APIResponse {
    /// A success, `data` as the CLI's `--json` writes it.
    static func success(_ data: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        try json(Envelope(status: "success", data: data), status: status)
    }

    /// A document as the CLI's `--json` writes it, unwrapped (the `/api/v1/` routes).
    static func document(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        try json(value, status: status)
    }

    static func failure(_ failure: APIFailure) -> Response {
        let body = ErrorEnvelope(status: "error", error: .init(code: failure.code, message: failure.message))
        return (try? json(body, status: failure.status)) ?? Response(status: .internalServerError)
    }

    private static func json(_ value: some Encodable, status: HTTPResponse.Status) throws -> Response {
        var bytes = try JSONWriter(pretty: false).encode(value)
        bytes.append(UInt8(ascii: "\n"))
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private struct Envelope<Data: Encodable>: Encodable {
        var status: String
        var data: Data
    }

    private struct ErrorEnvelope: Encodable {
        var status: String
        var error: ErrorBody

        struct ErrorBody: Encodable {
            var code: String
            var message: String
        }
    }
}

/// An error as the API reports it: an HTTP status, a stable code, and the one-line message the
/// CLI would print.
struct APIFailure: Error {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    static func badRequest(_ message: String) -> APIFailure { APIFailure(status: .badRequest, code: "invalid_input", message: message) }

    /// How SandboxCore's refusals map to statuses: 400 bad input, 404 unknown ID, 409 refused by
    /// state, 503 database busy past the timeout, 500 for the rest (named, never a stack).
    init(_ error: any Error) {
        switch error {
        case let failure as APIFailure:
            self = failure
        case let error as SandboxError:
            switch error {
            case .invalidID, .invalidInput, .unknownModel:
                self.init(status: .badRequest, code: "invalid_input", message: error.description)
            case .notFound:
                self.init(status: .notFound, code: "not_found", message: error.description)
            case .invalidState, .promotionRefused:
                self.init(status: .conflict, code: "conflict", message: error.description)
            case .unavailable:
                self.init(status: .serviceUnavailable, code: "unavailable", message: error.description)
            case .busy:
                self.init(status: .serviceUnavailable, code: "database_busy", message: error.description)
            case .unreadableDatabase, .newerSchema, .database, .fileSystem:
                self.init(status: .internalServerError, code: "internal", message: error.description)
            }
        case let error as NIOTooManyBytesError:
            self.init(status: .contentTooLarge, code: "too_large", message: "the request body is over \(error.maxBytes.map(String.init) ?? "the limit") bytes")
        case let error as HTTPError:
            let code = switch error.status {
            case .notFound: "not_found"
            case .methodNotAllowed: "method_not_allowed"
            case .contentTooLarge: "too_large"
            case .unsupportedMediaType: "unsupported_media_type"
            case .forbidden: "forbidden"
            case .unauthorized: "unauthorized"
            default: error.status.code < 500 ? "invalid_input" : "internal"
            }
            self.init(status: error.status, code: code, message: error.body ?? error.status.reasonPhrase)
        default:
            self.init(status: .internalServerError, code: "internal", message: "\(error)")
        }
    }

    init(status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }
}
