import CSQLite

/// How a connection opens its file.
public enum OpenMode: Sendable {
    /// Read and write; create the file when it does not exist.
    case readWriteCreate
    /// Read and write an existing file.
    case readWrite
    /// Read only; the file must exist.
    case readOnly

    var flags: Int32 {
        switch self {
        case .readWriteCreate: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        case .readWrite: SQLITE_OPEN_READWRITE
        case .readOnly: SQLITE_OPEN_READONLY
        }
    }
}

/// One connection to one SQLite database file.
///
/// Small and synchronous: use it from one thread at a time (it is deliberately not `Sendable`).
/// It opens with extended result codes and a busy timeout, turns foreign keys on, and checks
/// that the file really is a database before it hands itself out.
public final class Connection {
    /// The raw handle, for the few calls this wrapper does not cover.
    public let handle: OpaquePointer
    /// The path the connection was opened with.
    public let path: String
    private var statementCache: [String: Statement] = [:]

    /// Opens the database at `path`.
    ///
    /// - Parameters:
    ///   - busyTimeoutMilliseconds: how long a statement waits for another connection's lock
    ///     before failing with `SQLITE_BUSY`.
    ///   - followSymbolicLinks: false to refuse a path with a symbolic link anywhere in it
    ///     (`SQLITE_OPEN_NOFOLLOW`, SQLite 3.31 and later): the open then fails with
    ///     `SQLITE_CANTOPEN_SYMLINK` instead of writing through a link someone planted.
    /// - Throws: `SQLiteError` when the file cannot be opened or is not a database
    ///   (`SQLITE_NOTADB`); the handle is closed before the error is thrown.
    public init(
        path: String, mode: OpenMode = .readWriteCreate, busyTimeoutMilliseconds: Int32 = 10_000, followSymbolicLinks: Bool = true
    ) throws {
        var pointer: OpaquePointer?
        // NOMUTEX: a Connection is confined to one thread, so SQLite's own mutex buys nothing.
        let flags = mode.flags | SQLITE_OPEN_NOMUTEX | (followSymbolicLinks ? 0 : SQLITE_OPEN_NOFOLLOW)
        let code = sqlite3_open_v2(path, &pointer, flags, nil)
        guard let pointer else {
            throw SQLiteError(extendedCode: code, message: String(cString: sqlite3_errstr(code)))
        }
        guard code == SQLITE_OK else {
            let error = SQLiteError(extendedCode: sqlite3_extended_errcode(pointer), message: String(cString: sqlite3_errmsg(pointer)))
            sqlite3_close_v2(pointer)
            throw error
        }
        self.handle = pointer
        self.path = path
        sqlite3_extended_result_codes(pointer, 1)
        sqlite3_busy_timeout(pointer, busyTimeoutMilliseconds)
        do {
            // sqlite3_open_v2 is lazy: it does not read the file. Reading the schema is what
            // reports SQLITE_NOTADB for a file of random bytes or a truncated header.
            _ = try scalarInt("SELECT count(*) FROM sqlite_schema")
            try execute("PRAGMA foreign_keys = ON")
        } catch {
            statementCache.removeAll()
            sqlite3_close_v2(pointer)
            throw error
        }
    }

    deinit {
        statementCache.removeAll()
        sqlite3_close_v2(handle)
    }

    // MARK: - Backup

    /// Copies this whole database into `destination`, an open connection (to a new, empty
    /// file), with SQLite's online backup API: a consistent snapshot even while other
    /// connections write (SQLite docs, backup). The caller chose how `destination` was opened,
    /// for instance without following symbolic links.
    public func backup(into destination: Connection) throws {
        guard let backup = sqlite3_backup_init(destination.handle, "main", handle, "main") else {
            throw destination.error(code: sqlite3_errcode(destination.handle), sql: nil)
        }
        var code: Int32
        repeat {
            code = sqlite3_backup_step(backup, -1)
            if code == SQLITE_BUSY || code == SQLITE_LOCKED { sqlite3_sleep(50) }
        } while code == SQLITE_OK || code == SQLITE_BUSY || code == SQLITE_LOCKED
        sqlite3_backup_finish(backup)
        guard code == SQLITE_DONE else {
            throw SQLiteError(extendedCode: code, message: String(cString: sqlite3_errstr(code)), sql: nil)
        }
    }

    // MARK: - Errors

    func error(code: Int32, sql: String?) -> SQLiteError {
        let extended = sqlite3_extended_errcode(handle)
        // sqlite3_extended_errcode reports the most recent failure on this handle; when it
        // disagrees with the code just returned, the returned code is the truth.
        let finalCode = (extended & 0xFF) == (code & 0xFF) ? extended : code
        return SQLiteError(extendedCode: finalCode, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    func check(_ code: Int32, sql: String? = nil) throws {
        guard code == SQLITE_OK else { throw error(code: code, sql: sql) }
    }

    // MARK: - Statements

    /// Runs one or more SQL statements that take no parameters and return no rows of interest.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        if code != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_free(message)
            throw SQLiteError(extendedCode: sqlite3_extended_errcode(handle), message: text, sql: sql)
        }
    }

    /// Compiles one statement. The caller owns it; it is finalized when released.
    public func prepare(_ sql: String) throws -> Statement {
        try Statement(connection: self, sql: sql)
    }

    /// A prepared statement kept for the connection's lifetime, reset and with its bindings
    /// cleared, so loops and repeated operations compile their SQL once.
    public func cached(_ sql: String) throws -> Statement {
        if let statement = statementCache[sql] {
            try statement.reset()
            return statement
        }
        let statement = try prepare(sql)
        statementCache[sql] = statement
        return statement
    }

    /// Runs one statement with `values` bound in order, stepping it to completion.
    public func run(_ sql: String, _ values: any SQLiteBindable...) throws {
        let statement = try cached(sql)
        try statement.bind(values)
        try statement.run()
    }

    /// Runs one query and returns its rows, each decoded by `decode`.
    public func query<T>(_ sql: String, _ values: [any SQLiteBindable] = [], _ decode: (Row) throws -> T) throws -> [T] {
        let statement = try cached(sql)
        try statement.bind(values)
        return try statement.map(decode)
    }

    /// Runs one query and hands its rows to `body` one at a time, as they are read.
    public func forEachRow(_ sql: String, _ values: [any SQLiteBindable] = [], _ body: (Row) throws -> Void) throws {
        let statement = try cached(sql)
        try statement.bind(values)
        try statement.forEach(body)
    }

    /// The first row of a query, decoded, or nil when there is none.
    public func queryFirst<T>(_ sql: String, _ values: [any SQLiteBindable] = [], _ decode: (Row) throws -> T) throws -> T? {
        let statement = try cached(sql)
        try statement.bind(values)
        defer { try? statement.reset() }
        guard try statement.step() else { return nil }
        return try decode(Row(statement: statement))
    }

    /// The first column of the first row as an integer (0 when the query returns nothing or NULL).
    public func scalarInt(_ sql: String, _ values: [any SQLiteBindable] = []) throws -> Int64 {
        try queryFirst(sql, values) { $0.int64(0) } ?? 0
    }

    /// The first column of the first row as text, or nil.
    public func scalarText(_ sql: String, _ values: [any SQLiteBindable] = []) throws -> String? {
        try queryFirst(sql, values) { $0.optionalText(0) } ?? nil
    }

    /// The rowid of the most recent successful INSERT on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// The number of rows changed by the most recent INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// True while a transaction is open on this connection.
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// True when the database was opened read-only, or the file is write-protected.
    public var isReadOnly: Bool { sqlite3_db_readonly(handle, "main") == 1 }

    /// The schema version stored in `PRAGMA user_version`.
    public var userVersion: Int {
        get throws { Int(try scalarInt("PRAGMA user_version")) }
    }

    /// Sets `PRAGMA user_version`. Pragmas take no parameters, so the number is formatted in.
    public func setUserVersion(_ version: Int) throws {
        try execute("PRAGMA user_version = \(version)")
    }

    /// Switches the journal mode and returns the mode SQLite reports afterwards, which may
    /// differ from the one asked for (for instance on a read-only file): callers must check it.
    @discardableResult
    public func setJournalMode(_ mode: String) throws -> String {
        try scalarText("PRAGMA journal_mode = \(mode)")?.lowercased() ?? ""
    }

    /// Keeps the `-wal` and `-shm` files when this connection is the last to close
    /// (`SQLITE_FCNTL_PERSIST_WAL`), instead of deleting them.
    public func keepWriteAheadLogFiles() throws {
        var on: Int32 = 1
        let code = sqlite3_file_control(handle, "main", SQLITE_FCNTL_PERSIST_WAL, &on)
        guard code == SQLITE_OK else { throw error(code: code, sql: nil) }
    }
}
