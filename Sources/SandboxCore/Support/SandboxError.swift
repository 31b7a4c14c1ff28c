#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB
import Supervision
import ExperimentRepos

/// Everything SandboxCore can refuse or fail with. Each case reads as one line a person can act on.
public enum SandboxError: Error, Equatable, Sendable {
    /// An ID that does not have the expected form (checked before any file is touched).
    case invalidID(kind: String, value: String, expected: String)
    /// An ID of the right form that names nothing, or a name (a `kind` ending in " named") that
    /// does; `hint` says where to look.
    case notFound(kind: String, id: String, hint: String? = nil)
    /// A value the caller supplied that cannot be accepted.
    case invalidInput(String)
    /// An operation that the object's current state forbids.
    case invalidState(String)
    /// A model that is not in the price table, used without an explicit cost.
    case unknownModel(String)
    /// A database file that is not a SQLite database, or cannot be opened.
    case unreadableDatabase(path: String, reason: String)
    /// A database written by a newer novaos.
    case newerSchema(path: String, found: Int, supported: Int)
    /// A database failure during an operation.
    case database(path: String, message: String)
    /// A database another process kept locked past the busy timeout: trying again may succeed.
    case busy(path: String)
    /// A file-system failure (creating or deleting a workspace, say).
    case fileSystem(path: String, message: String)
    /// A promotion that was refused (evaluation NOT_READY without force, no confirmation).
    case promotionRefused(String)
    /// Something the machine cannot provide (isolation without bubblewrap, say).
    case unavailable(String)
}

extension SandboxError {
    /// The same failure, as SandboxCore reports it.
    init(_ error: SupervisionError) {
        switch error {
        case .cannotStart: self = .invalidInput(error.description)
        case .isolationUnavailable(let message): self = .unavailable(message)
        case .fileSystem(let path, let message): self = .fileSystem(path: path, message: message)
        case .diskFull(let path): self = .fileSystem(path: path, message: "the disk is full")
        case .system: self = .invalidState(error.description)
        }
    }

    init(_ error: RepositoryError) {
        switch error {
        case .invalidInput(let message): self = .invalidInput(message)
        case .failed(let message): self = .invalidState(message)
        }
    }
}

/// Runs `body`, turning the errors of the layers below into `SandboxError`s.
@discardableResult
func mappingLowerErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as SupervisionError {
        throw SandboxError(error)
    } catch let error as RepositoryError {
        throw SandboxError(error)
    }
}

extension SandboxError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case .invalidID(let kind, let value, let expected):
            "invalid \(kind) ID \(quoted(value)): expected \(expected)"
        case .notFound(let kind, let id, let hint):
            "no \(kind)\(kind.hasSuffix(" named") ? "" : " with ID") \(quoted(id))" + (hint.map { "; \($0)" } ?? "")
        case .invalidInput(let message), .invalidState(let message), .promotionRefused(let message), .unavailable(let message):
            message
        case .unknownModel(let model):
            "unknown model \(quoted(model)): unknown is not free; pass --cost, or add its prices to a prices file ('novaos prices list' shows the known models)"
        case .unreadableDatabase(let path, let reason):
            "cannot use database \(path): \(reason)"
        case .newerSchema(let path, let found, let supported):
            "database \(path) has schema version \(found), newer than this novaos supports (\(supported)); upgrade novaos"
        case .database(let path, let message):
            "database \(path): \(message)"
        case .busy(let path) where ProductionRegistry.isPostgresURL(path):
            "the production registry \(path) is busy: another transaction changed the same rows at the same moment, and this one gave up; try again"
        case .busy(let path):
            "database \(path): the database is locked by another process and stayed locked past the busy timeout; try again"
        case .fileSystem(let path, let message):
            message.contains(path) ? message : "\(path): \(message)"
        }
    }

    public var errorDescription: String? { description }
}

/// Quotes a user-supplied value for an error message, keeping it on one line and short.
func quoted(_ value: String, limit: Int = 60) -> String {
    var escaped = ""
    for scalar in value.unicodeScalars {
        if escaped.unicodeScalars.count >= limit {
            escaped += "…"
            break
        }
        if scalar == "'" {
            escaped += "\\'"
        } else if let escape = TerminalText.escape(scalar) {
            escaped += escape
        } else {
            escaped.unicodeScalars.append(scalar)
        }
    }
    return "'\(escaped)'"
}
