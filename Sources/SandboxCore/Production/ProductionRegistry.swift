#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB

/// Where production lives: `production.db` (the default), or a team's registry on PostgreSQL
/// (`TeamRegistry.registry(url:)`), which every production command, promotion included,
/// reaches the same way.
public struct ProductionRegistry: Sendable {
    /// The registry as messages name it: the file's path, or the URL without a password.
    public let location: String
    private let openForWriting: @Sendable (_ busyTimeoutMilliseconds: Int32) throws -> any LedgerDatabase
    private let openForReading: @Sendable () throws -> (any LedgerDatabase)?
    private let openTarget: @Sendable (_ busyTimeoutMilliseconds: Int32) throws -> any PromotionTarget

    /// A registry of your own.
    ///
    /// - Parameters:
    ///   - openForWriting: a connection for commands that change production; it must exist.
    ///   - openForReading: a connection for commands that only read; nil when there is no
    ///     registry yet (it reads as empty).
    ///   - promotionTarget: where `Sandbox.promote` copies a plan.
    public init(
        location: String,
        openForWriting: @escaping @Sendable (Int32) throws -> any LedgerDatabase,
        openForReading: @escaping @Sendable () throws -> (any LedgerDatabase)?,
        promotionTarget: @escaping @Sendable (Int32) throws -> any PromotionTarget
    ) {
        self.location = location
        self.openForWriting = openForWriting
        self.openForReading = openForReading
        self.openTarget = promotionTarget
    }

    /// True for a `postgres://` or `postgresql://` URL: a team's registry (`TeamRegistry`),
    /// which the `novaos-team` executable opens.
    public static func isPostgresURL(_ text: String) -> Bool {
        let lowered = text.prefix(14).lowercased()
        return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
    }

    /// `paths.productionDatabase`, a SQLite file that promotion creates.
    public static func file(_ paths: SandboxPaths) -> ProductionRegistry {
        let url = paths.productionDatabase
        return ProductionRegistry(
            location: url.path,
            openForWriting: { timeout in try openFile(url, busyTimeoutMilliseconds: timeout) },
            openForReading: {
                guard FileManager.default.fileExists(atPath: url.path) else { return nil }
                return SQLiteLedgerDatabase(try DatabaseFile.open(url, kind: .production, readOnly: true), path: url.path)
            },
            promotionTarget: { timeout in
                SQLitePromotionTarget(try createFile(url, busyTimeoutMilliseconds: timeout), path: url.path)
            }
        )
    }

    /// Opens the registry for a command that changes production.
    func writable(busyTimeoutMilliseconds: Int32) throws -> any LedgerDatabase {
        try openForWriting(busyTimeoutMilliseconds)
    }

    /// Opens the registry for a command that reads; nil when there is none yet.
    func readable() throws -> (any LedgerDatabase)? {
        try openForReading()
    }

    func promotionTarget(busyTimeoutMilliseconds: Int32) throws -> any PromotionTarget {
        try openTarget(busyTimeoutMilliseconds)
    }

    /// `production.db` for writing: it must exist (promotion creates it) and be at the
    /// current version (a read-only file of an older one opens without its upgrade).
    private static func openFile(_ url: URL, busyTimeoutMilliseconds: Int32) throws -> any LedgerDatabase {
        let path = url.path
        var info = stat()
        if lstat(path, &info) != 0, errno == ENOENT {
            throw SandboxError.invalidState("there is no production database yet at \(path): promote a project first ('novaos sandbox promote')")
        }
        let db = try DatabaseFile.open(url, kind: .production, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        let version: Int
        do { version = try db.userVersion } catch let error as SQLiteError { throw DatabaseFile.describe(error, path: path) }
        guard version == Schema.productionMigrations.count else {
            throw SandboxError.unreadableDatabase(
                path: path, reason: "it needs a schema upgrade (version \(version) to \(Schema.productionMigrations.count)) but is read-only"
            )
        }
        return SQLiteLedgerDatabase(db, path: path)
    }

    /// `production.db` for a promotion, created (with its folder) when needed; a read-only
    /// one is refused up front.
    private static func createFile(_ url: URL, busyTimeoutMilliseconds: Int32) throws -> Connection {
        let path = url.path
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw SandboxError.fileSystem(path: path, message: "cannot create the folder for the production database (\(firstLine(of: error)))")
        }
        let production = try DatabaseFile.open(url, kind: .production, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        guard !production.isReadOnly else {
            throw SandboxError.database(path: path, message: "the database is read-only; promotion needs to write it. Nothing was changed")
        }
        return production
    }
}
