#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB

/// Opens the two kinds of novaos database, creating and migrating them as needed.
enum DatabaseFile {
    enum Kind {
        case sandbox, production

        var migrations: [String] {
            switch self {
            case .sandbox: Schema.sandboxMigrations
            case .production: Schema.productionMigrations
            }
        }

        /// The oldest schema a read-only open accepts without migrating: what read-only
        /// commands read is there unchanged. Production versions 2 and 3 only added
        /// `agents.pause_reason` and the pricing columns of `api_costs`, which no read-only
        /// command reads.
        var oldestReadableVersion: Int {
            switch self {
            case .sandbox: migrations.count
            case .production: 1
            }
        }

        /// WAL with synchronous=NORMAL is durable across application crashes and may lose
        /// only the last transactions on power loss (SQLite docs, pragma synchronous); the
        /// production ledger asks for FULL, which syncs the WAL at every commit.
        var synchronous: String {
            switch self {
            case .sandbox: "NORMAL"
            case .production: "FULL"
            }
        }
    }

    /// The default busy timeout: how long a writer waits for another writer's lock.
    static let defaultBusyTimeoutMilliseconds: Int32 = 10_000

    /// Opens the database at `url`.
    ///
    /// - Parameter readOnly: open without write access and never create or migrate.
    static func open(_ url: URL, kind: Kind, readOnly: Bool = false, busyTimeoutMilliseconds: Int32 = defaultBusyTimeoutMilliseconds) throws -> Connection {
        let path = url.path
        // Looked at before SQLite opens it: opening a FIFO for reading would wait forever for a
        // writer, and a device or socket is never a database.
        var info = stat()
        if stat(path, &info) == 0 {
            let kind: String? = switch info.st_mode & S_IFMT {
            case S_IFREG: nil
            case S_IFDIR: "a directory"
            case S_IFIFO: "a FIFO (named pipe)"
            case S_IFSOCK: "a socket"
            case S_IFCHR, S_IFBLK: "a device"
            default: "not a regular file"
            }
            if let kind { throw SandboxError.unreadableDatabase(path: path, reason: "it is \(kind), not a database file") }
        }
        let connection: Connection
        do {
            connection = try Connection(path: path, mode: readOnly ? .readOnly : .readWriteCreate, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        } catch let error as SQLiteError {
            throw describe(error, path: path)
        }
        do {
            // Production's -wal and -shm files stay once made, so an isolated run that hid them
            // at its start never sees them made again (see `SandboxPaths.prepareHiding`).
            if kind == .production, !readOnly { try connection.keepWriteAheadLogFiles() }
            try migrate(connection, kind: kind, readOnly: readOnly)
            try connection.execute("PRAGMA synchronous = \(kind.synchronous)")
        } catch let error as SQLiteError {
            throw describe(error, path: path)
        }
        return connection
    }

    private static func migrate(_ connection: Connection, kind: Kind, readOnly: Bool) throws {
        let path = connection.path
        let supported = kind.migrations.count
        var version = try connection.userVersion
        guard version <= supported else {
            throw SandboxError.newerSchema(path: path, found: version, supported: supported)
        }
        if version == supported { return }
        if version == 0, try connection.scalarInt("SELECT count(*) FROM sqlite_schema") > 0 {
            throw SandboxError.unreadableDatabase(path: path, reason: "it is a SQLite database, but not one of novaos (it has tables and no novaos schema version)")
        }
        if readOnly || connection.isReadOnly {
            if version >= kind.oldestReadableVersion { return }
            throw SandboxError.unreadableDatabase(path: path, reason: "it needs a schema upgrade (version \(version) to \(supported)) but is read-only")
        }
        if version == 0 {
            // The journal mode cannot change inside a transaction, and WAL is persistent:
            // set once here, it holds for every later connection (SQLite docs, wal).
            let mode = try connection.setJournalMode("WAL")
            guard mode == "wal" else {
                throw SandboxError.unreadableDatabase(path: path, reason: "SQLite refused WAL journal mode (got '\(mode)')")
            }
        }
        try connection.inTransaction(.immediate) {
            // Re-read under the write lock: another process may have migrated meanwhile.
            version = try connection.userVersion
            guard version < supported else { return }
            for migration in kind.migrations[version...] {
                try connection.execute(migration)
            }
            try connection.setUserVersion(supported)
        }
    }

    /// Turns a SQLite failure into an error that names the file and says what to do.
    static func describe(_ error: SQLiteError, path: String) -> SandboxError {
        if error.isNotADatabase {
            return .unreadableDatabase(path: path, reason: "the file is not a SQLite database (or is damaged)")
        }
        if error.isCannotOpen {
            return .unreadableDatabase(path: path, reason: "unable to open the file (\(error.message))")
        }
        if error.isReadOnly {
            return .database(path: path, message: "the database is read-only (\(error.message))")
        }
        if error.isBusy {
            return .busy(path: path)
        }
        if error.isFull {
            return .database(path: path, message: "the database or disk is full; nothing was written")
        }
        // A running total past 2^63 becomes a REAL in SQLite, which the STRICT tables refuse:
        // the only way novaos's own writes can store a value of the wrong type.
        if error.isDatatypeMismatch {
            let column = error.message.split(separator: " ").last.map(String.init) ?? "a total"
            return .invalidInput("total overflow: \(column) would exceed the 64-bit range; nothing was recorded")
        }
        return .database(path: path, message: "\(error.message) (SQLite code \(error.extendedCode))")
    }
}
