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
    /// `PRAGMA quick_check`, and only then linked into place, so `destination` is either
    /// absent or a complete database. An existing file is never overwritten.
    ///
    /// The destination's folder may be writable by others, so the copy goes to a new file
    /// with an unpredictable name, created with `O_CREAT | O_EXCL | O_NOFOLLOW` (a file or
    /// link planted there makes it pick another name) and opened by SQLite with
    /// `SQLITE_OPEN_NOFOLLOW`. Before it is linked into place, the name must still lead to the
    /// file created; only that file (and SQLite's own side files, never a link) is removed.
    static func copy(_ connection: Connection, source: String, to destination: URL, now: Date) throws -> BackupResult {
        let path = destination.standardizedFileURL.path
        if Sandbox.entryExists(at: destination) {
            throw SandboxError.fileSystem(path: path, message: "already exists; a backup never overwrites a file, choose a new path")
        }
        let folderPath = destination.standardizedFileURL.deletingLastPathComponent().path
        // Resolved once, here: SQLITE_OPEN_NOFOLLOW refuses a path with a link anywhere in
        // it, such as macOS's /tmp. The folder itself is the user's choice, so it is trusted.
        guard let resolvedFolder = resolvedPath(folderPath) else {
            throw SandboxError.fileSystem(path: folderPath, message: "no such folder for the backup")
        }
        let folder: Directory
        do {
            folder = try Directory.open(resolvedFolder)
        } catch {
            throw SandboxError.fileSystem(path: folderPath, message: "no such folder for the backup")
        }
        let name = destination.lastPathComponent
        let partial = try PartialFile(in: folder, for: name)
        defer { partial.removeLeftovers() }
        let temporary = resolvedFolder + "/" + partial.name
        do {
            // Nothing is read through this connection after the backup: the copy of a WAL
            // database is itself in WAL mode, and reading would open a -wal file by name.
            let copy = try Connection(path: temporary, mode: .readWrite, followSymbolicLinks: false)
            try partial.checkStillNamed(path)
            try connection.backup(into: copy)
        } catch let error as SQLiteError {
            throw DatabaseFile.describe(error, path: path)
        }
        do {
            // A fresh connection reads what is on disk, not what the copy's cache holds; its
            // size must be the file's, or SQLite wrote somewhere else.
            let check = try Connection(path: temporary, mode: .readOnly, followSymbolicLinks: false)
            let verdict = try check.scalarText("PRAGMA quick_check")
            guard verdict == "ok" else {
                throw SandboxError.database(path: path, message: "the copy failed its integrity check (\(verdict ?? "no answer"))")
            }
            try partial.checkStillNamed(path, bytes: try check.scalarInt("PRAGMA page_count") * check.scalarInt("PRAGMA page_size"))
        } catch let error as SQLiteError {
            throw DatabaseFile.describe(error, path: path)
        }
        // link, not rename: it fails rather than replace a file made meanwhile.
        guard linkat(folder.fd, partial.name, folder.fd, name, 0) == 0 else {
            throw SandboxError.fileSystem(path: path, message: "cannot create the backup: \(String(cString: strerror(errno)))")
        }
        return BackupResult(source: source, path: path, bytes: partial.size, createdAt: now)
    }
}

/// A new file written whole or not at all, never replacing one: the bytes go to a partial
/// file beside it (as a backup's copy does), are flushed, and the file is then linked into
/// place; a crash leaves at most a `.partial-…` file, never a truncated `destination`.
enum NewFile {
    static func write(_ bytes: [UInt8], to destination: URL, what: String) throws {
        let path = destination.standardizedFileURL.path
        if Sandbox.entryExists(at: destination) {
            throw SandboxError.fileSystem(path: path, message: "already exists; \(what) never overwrites a file, choose a new path")
        }
        let folderPath = destination.standardizedFileURL.deletingLastPathComponent().path
        let folder: Directory
        do {
            folder = try Directory.open(resolvedPath(folderPath) ?? folderPath)
        } catch {
            throw SandboxError.fileSystem(path: folderPath, message: "no such folder")
        }
        let name = destination.lastPathComponent
        let partial = try PartialFile(in: folder, for: name)
        defer { partial.removeLeftovers() }
        try partial.writeAll(bytes, destination: path)
        guard linkat(folder.fd, partial.name, folder.fd, name, 0) == 0 else {
            throw SandboxError.fileSystem(path: path, message: "cannot create it: \(String(cString: strerror(errno)))")
        }
    }
}

/// The new file a backup is written to before it is linked into place, with what is needed
/// to tell it apart from anything someone else puts beside it.
final class PartialFile {
    /// SQLite's side files of a database, which it makes beside it (with `O_NOFOLLOW`).
    static let sideFileSuffixes = ["-journal", "-wal", "-shm"]

    let folder: Directory
    let name: String
    /// The descriptor from the `O_EXCL` creation: the file's identity.
    private let descriptor: Int32
    private let device: dev_t
    private let inode: ino_t

    /// Creates `<destination>.partial-<pid>-<random>` in `folder`, trying other names when one
    /// (or one of its side files) is taken.
    init(in folder: Directory, for destination: String) throws {
        self.folder = folder
        for _ in 0..<16 {
            let candidate = destination + ".partial-\(getpid())-" + String(UInt64.random(in: .min ... .max), radix: 16)
            guard !Self.sideFileSuffixes.contains(where: { Self.exists(candidate + $0, in: folder) }) else { continue }
            let fd = openat(folder.fd, candidate, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if fd < 0, errno == EEXIST { continue }
            guard fd >= 0 else {
                throw SandboxError.fileSystem(path: folder.path + "/" + candidate, message: "cannot create the copy: \(String(cString: strerror(errno)))")
            }
            var info = stat()
            fstat(fd, &info)
            name = candidate
            descriptor = fd
            device = info.st_dev
            inode = info.st_ino
            return
        }
        throw SandboxError.fileSystem(path: folder.path, message: "cannot find a free name for the copy beside \(destination)")
    }

    deinit { close(descriptor) }

    /// Writes all of `bytes` through the descriptor from the creation and flushes them to disk.
    func writeAll(_ bytes: [UInt8], destination: String) throws {
        guard Supervision.writeAll(bytes, to: descriptor) else {
            throw SandboxError.fileSystem(path: destination, message: "cannot write it: \(String(cString: strerror(errno)))")
        }
        guard fsync(descriptor) == 0 else {
            throw SandboxError.fileSystem(path: destination, message: "cannot flush it: \(String(cString: strerror(errno)))")
        }
    }

    /// The size of the file created, whatever its name now leads to.
    var size: Int64 {
        var info = stat()
        fstat(descriptor, &info)
        return Int64(info.st_size)
    }

    /// Throws unless the name still leads to the file created (not a link, not another file)
    /// and, when given, the file has the size the copy should have.
    func checkStillNamed(_ destination: String, bytes: Int64? = nil) throws {
        guard isOurs() else {
            throw SandboxError.fileSystem(path: destination, message: "the copy \(name) was replaced while it was written; try again")
        }
        if let bytes, size != bytes {
            throw SandboxError.fileSystem(path: destination, message: "the copy \(name) is not the file SQLite wrote (\(size) bytes, not \(bytes)); try again")
        }
    }

    /// Removes the file created, if its name still leads to it, and SQLite's side files if they
    /// are plain files (they did not exist when the name was picked); never a link.
    func removeLeftovers() {
        if isOurs() { unlinkat(folder.fd, name, 0) }
        for suffix in Self.sideFileSuffixes {
            var info = stat()
            if fstatat(folder.fd, name + suffix, &info, AT_SYMLINK_NOFOLLOW) == 0, (info.st_mode & S_IFMT) == S_IFREG {
                unlinkat(folder.fd, name + suffix, 0)
            }
        }
    }

    private func isOurs() -> Bool {
        var info = stat()
        return fstatat(folder.fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && (info.st_mode & S_IFMT) == S_IFREG
            && info.st_dev == device && info.st_ino == inode
    }

    private static func exists(_ name: String, in folder: Directory) -> Bool {
        var info = stat()
        return fstatat(folder.fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT
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
