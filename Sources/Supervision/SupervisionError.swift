#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Everything the Supervision layer can fail with; each case reads as one line a person can act on.
public enum SupervisionError: Error, Equatable, Sendable {
    /// A program that could not be found or started.
    case cannotStart(command: String, reason: String)
    /// Isolation was asked for and this machine cannot provide it.
    case isolationUnavailable(String)
    /// A file-system call failed.
    case fileSystem(path: String, message: String)
    /// The disk (or the file's quota) is full.
    case diskFull(path: String)
    /// A system call that should not fail did.
    case system(call: String, message: String)
}

extension SupervisionError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case .cannotStart(let command, let reason): "cannot start \(command): \(reason)"
        case .isolationUnavailable(let reason): reason
        case .fileSystem(let path, let message): "\(path): \(message)"
        case .diskFull(let path): "\(path): the disk is full"
        case .system(let call, let message): "\(call) failed: \(message)"
        }
    }

    public var errorDescription: String? { description }

    static func errno(_ call: String, _ code: Int32 = lastErrno()) -> SupervisionError {
        .system(call: call, message: String(cString: strerror(code)))
    }
}

/// The message of `errno` (or `code`).
func systemMessage(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}

// The C library's calls under names of their own, for types whose methods share theirs
// (`close`, `open`, `errno`); the same on Linux and Darwin.

/// C's `errno`.
func lastErrno() -> Int32 { errno }

/// C's `close`.
func closeDescriptor(_ fd: Int32) { _ = close(fd) }

/// C's `open`.
func openDescriptor(_ path: String, _ flags: Int32) -> Int32 { open(path, flags) }
