#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization
import SandboxCore

/// Open sandboxes (each one SQLite connection) kept between requests, one request at a time
/// each: opening a connection and parsing the schema costs more than most requests. A
/// request takes one (or opens one), and gives it back when done; at most `limit` are kept.
/// A home with no database yet is never pooled: its stand-in is empty and in memory, and would
/// hide the database the first write creates.
final class SandboxPool: Sendable {
    private let paths: SandboxPaths
    private let limit: Int
    private let busyTimeoutMilliseconds: Int32
    private let idle = Mutex<[Sandbox]>([])

    init(paths: SandboxPaths, limit: Int = 16, busyTimeoutMilliseconds: Int32 = 10_000) {
        self.paths = paths
        self.limit = limit
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
    }

    /// Runs `body` with a sandbox of the pool; `create` opens (and creates) the database when
    /// there is none yet.
    func with<T>(create: Bool, _ body: (Sandbox) throws -> T) throws -> T {
        let sandbox = try idle.withLock { $0.popLast() } ?? Sandbox(paths: paths, create: create, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        defer {
            if !sandbox.isStandIn {
                idle.withLock { if $0.count < limit { $0.append(sandbox) } }
            }
        }
        return try body(sandbox)
    }
}
