import Foundation
import SQLiteDB

/// A consistent copy of a database.
public struct BackupResult: Codable, Sendable, Equatable {
    /// The database copied.
    public var source: String
    /// The new file.
    public var path: String
    public var bytes: Int64
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case source, path, bytes
        case createdAt = "created_at"
    }
}

enum DatabaseBackup {
    /// Copies `connection`'s database to `destination` with SQLite's online backup API, which
    /// copies one consistent snapshot while other connections keep writing (SQLite docs,
    /// backup). The copy is written beside the destination, checked with
    /// `PRAGMA quick_check`, and only then renamed into place, so `destination` is either
    /// absent or a complete database. An existing file is never overwritten.
    static func copy(_ connection: Connection, source: String, to destination: URL, now: Date) throws -> BackupResult {
        let path = destination.standardizedFileURL.path
        if Sandbox.entryExists(at: destination) {
            throw SandboxError.fileSystem(path: path, message: "already exists; a backup never overwrites a file, choose a new path")
        }
        var isDirectory: ObjCBool = false
        let folder = destination.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SandboxError.fileSystem(path: folder, message: "no such folder for the backup")
        }
        let temporary = path + ".partial-\(getpid())"
        defer {
            for suffix in ["", "-wal", "-shm", "-journal"] { unlink(temporary + suffix) }
        }
        do {
            try connection.backup(to: temporary)
            let check = try Connection(path: temporary, mode: .readOnly)
            let verdict = try check.scalarText("PRAGMA quick_check")
            guard verdict == "ok" else {
                throw SandboxError.database(path: temporary, message: "the copy failed its integrity check (\(verdict ?? "no answer"))")
            }
        } catch let error as SQLiteError {
            throw DatabaseFile.describe(error, path: path)
        }
        guard link(temporary, path) == 0 else { // link, not rename: it fails rather than replace a file made meanwhile
            throw SandboxError.fileSystem(path: path, message: "cannot create the backup: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        stat(path, &info)
        return BackupResult(source: source, path: path, bytes: Int64(info.st_size), createdAt: now)
    }
}

extension Sandbox {
    /// Writes a consistent copy of `sandbox.db` to `destination`, while other commands go on
    /// writing. Refuses to overwrite an existing file.
    public func backup(to destination: URL) throws -> BackupResult {
        guard !isEphemeral else {
            throw SandboxError.invalidState("there is no sandbox database at \(paths.sandboxDatabase.path) to back up yet")
        }
        return try DatabaseBackup.copy(db, source: paths.sandboxDatabase.path, to: destination, now: now())
    }
}

extension Production {
    /// Writes a consistent copy of `production.db` to `destination`. Refuses to overwrite an
    /// existing file; opens production read-only.
    public func backup(to destination: URL, now: Date = Date()) throws -> BackupResult {
        let path = paths.productionDatabase.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw SandboxError.invalidState("there is no production database at \(path) to back up yet")
        }
        let connection = try DatabaseFile.open(paths.productionDatabase, kind: .production, readOnly: true)
        return try DatabaseBackup.copy(connection, source: path, to: destination, now: wholeSeconds(now))
    }
}
