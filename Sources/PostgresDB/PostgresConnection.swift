#if canImport(Glibc)
import Glibc
#endif
import CPostgreSQL

/// One connection to a PostgreSQL server, through libpq.
///
/// Small and synchronous, like the SQLite wrapper: use it from one thread at a time (it is
/// deliberately not `Sendable`). Parameters are always bound (`PQexecParams`, text format),
/// never interpolated into SQL. Server notices are dropped instead of printed on stderr.
public final class PostgresConnection {
    /// The raw handle, for the few calls this wrapper does not cover.
    public let handle: OpaquePointer

    /// Connects with a libpq connection string or URI (`postgresql://user@host:5432/db`).
    ///
    /// The password comes from libpq's own sources (`PGPASSWORD`, `~/.pgpass`, `PGPASSFILE`),
    /// and `sslmode` and the other settings from the URI or the `PG*` variables, as for `psql`.
    /// Unless the URI says otherwise, connecting gives up after 10 seconds.
    ///
    /// - Throws: `PostgresError` (without `SQLSTATE`) when no connection can be made; the
    ///   handle is freed first.
    public init(_ conninfo: String, applicationName: String = "novaos") throws {
        // Settings before `dbname` are defaults that the expanded URI overrides; those after
        // it override the URI and the environment: text is always exchanged in UTF-8, whatever
        // PGCLIENTENCODING says.
        let keywords = ["connect_timeout", "fallback_application_name", "dbname", "client_encoding"]
        let values = ["10", applicationName, conninfo, "UTF8"]
        let connection = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else { throw PostgresError(sqlState: nil, message: "libpq could not allocate a connection") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(sqlState: nil, message: PostgresError.firstLine(message.isEmpty ? "cannot connect" : message))
        }
        handle = connection
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
    }

    deinit { PQfinish(handle) }

    /// True while the connection is usable (not lost, not closed by the server).
    public var isConnected: Bool { PQstatus(handle) == CONNECTION_OK }

    /// True inside a transaction block (`BEGIN` sent, neither `COMMIT` nor `ROLLBACK` yet),
    /// including one a failed statement aborted.
    public var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// The process ID of the server's backend serving this connection (`pg_backend_pid()`).
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// The server's version as a number: 150018 for 15.18.
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// Runs SQL without parameters, any number of statements (a migration, say).
    public func execute(_ sql: String) throws {
        try checkNotCopying(sql)
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        try check(result, sql: sql)
    }

    /// Runs one statement with bound parameters and returns its rows (none for a command).
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws -> [PostgresRow] {
        let result = try exec(sql, parameters)
        defer { PQclear(result) }
        let columns = Int(PQnfields(result))
        let names = (0..<columns).map { String(cString: PQfname(result, Int32($0))) }
        return (0..<Int(PQntuples(result))).map { row in
            PostgresRow(names: names, values: (0..<columns).map { column in
                PQgetisnull(result, Int32(row), Int32(column)) == 1 ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
            })
        }
    }

    /// Runs one statement with bound parameters; returns the number of rows it changed.
    @discardableResult
    public func run(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws -> Int {
        let result = try exec(sql, parameters)
        defer { PQclear(result) }
        return Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    /// Runs a `COPY … FROM STDIN` statement, sending what `next` gives until it gives nil
    /// (text format: tab-separated columns, one row per line, escaped by the caller); returns
    /// the number of rows copied. A failure anywhere ends the copy and rolls it back.
    @discardableResult
    public func copyIn(_ sql: String, next: () throws -> [UInt8]?) throws -> Int {
        try copyIn(sql) { send in
            while let chunk = try next() {
                try chunk.withUnsafeBytes(send)
            }
        }
    }

    /// Runs a `COPY … FROM STDIN` statement, `body` sending its data through `send`; returns
    /// the number of rows copied. A failure anywhere ends the copy and rolls it back.
    @discardableResult
    public func copyIn(_ sql: String, sending body: (_ send: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> Int {
        try beginCopy(sql)
        do {
            try body { try sendCopyData($0) }
        } catch {
            _ = try? endCopy(abandoning: "novaos stopped the copy")
            throw error
        }
        return try endCopy()
    }

    /// True between `beginCopy` and `endCopy`, when the connection takes copy data only.
    public private(set) var isCopying = false

    /// Starts a `COPY … FROM STDIN` statement whose rows are sent as they are made
    /// (`sendCopyData`): the server inserts them meanwhile. Until `endCopy`, nothing else
    /// may use the connection.
    public func beginCopy(_ sql: String) throws {
        try checkNotCopying(sql)
        let start = PQexec(handle, sql)
        defer { PQclear(start) }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            try check(start, sql: sql)
            throw PostgresError(sqlState: nil, message: "not a COPY FROM STDIN statement", sql: sql)
        }
        isCopying = true
    }

    /// Sends copy data (any split: a row may span two calls). Waits while the server is
    /// behind. A row the server refuses is reported by `endCopy`, not here.
    public func sendCopyData(_ bytes: UnsafeRawBufferPointer) throws {
        guard isCopying else { throw PostgresError(sqlState: nil, message: "no COPY is in progress") }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, Int(Int32.max))
            let sent = PQputCopyData(handle, base.advanced(by: offset).assumingMemoryBound(to: CChar.self), Int32(count))
            guard sent == 1 else { throw PostgresError(result: nil, connection: handle, sql: "COPY") }
            offset += count
        }
    }

    /// Ends the copy: the server commits its rows to the transaction and the number copied is
    /// returned; or, with `reason`, abandons it (nothing of it stays).
    ///
    /// - Throws: the server's error for the first row it refused (a unique violation,
    ///   `23505`, say): nothing of this copy stays.
    @discardableResult
    public func endCopy(abandoning reason: String? = nil) throws -> Int {
        guard isCopying else { throw PostgresError(sqlState: nil, message: "no COPY is in progress") }
        isCopying = false
        _ = PQputCopyEnd(handle, reason)
        var rows = 0
        var serverError: PostgresError?
        while let result = PQgetResult(handle) {
            defer { PQclear(result) }
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                rows = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if serverError == nil {
                serverError = PostgresError(result: result, connection: handle, sql: "COPY")
            }
        }
        if let serverError { throw serverError }
        return rows
    }

    private func checkNotCopying(_ sql: String) throws {
        guard !isCopying else { throw PostgresError(sqlState: nil, message: "a COPY is in progress on this connection", sql: sql) }
    }

    private func exec(_ sql: String, _ parameters: [(any PostgresBindable)?]) throws -> OpaquePointer? {
        try checkNotCopying(sql)
        let texts = parameters.map { $0?.postgresText }
        let result = withOptionalCStrings(texts) { values in
            PQexecParams(handle, sql, Int32(texts.count), nil, values, nil, nil, 0)
        }
        do {
            try check(result, sql: sql)
        } catch {
            PQclear(result)
            throw error
        }
        return result
    }

    private func check(_ result: OpaquePointer?, sql: String) throws {
        guard let result else { throw PostgresError(result: nil, connection: handle, sql: sql) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY: return
        default: throw PostgresError(result: result, connection: handle, sql: sql)
        }
    }

    /// Whether a connection string or URI names a password (which belongs in `PGPASSWORD`,
    /// `~/.pgpass` or `PGPASSFILE`, not in a command line or a configuration file).
    ///
    /// - Throws: `PostgresError` for a string libpq cannot parse (its message may quote the string).
    public static func namesPassword(_ conninfo: String) throws -> Bool {
        try namedSecrets(conninfo).contains("password")
    }

    /// The secrets a connection string or URI names: `password` and `sslpassword` (the
    /// client key's), in that order.
    ///
    /// - Throws: `PostgresError` for a string libpq cannot parse (its message may quote the string).
    public static func namedSecrets(_ conninfo: String) throws -> [String] {
        var message: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &message) else {
            let text = message.map { String(cString: $0) } ?? "invalid connection string"
            if let message { PQfreemem(message) }
            throw PostgresError(sqlState: nil, message: PostgresError.firstLine(text))
        }
        defer { PQconninfoFree(options) }
        var named: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            let name = String(cString: keyword)
            if ["password", "sslpassword"].contains(name), let value = option.pointee.val, value.pointee != 0 { named.append(name) }
            option += 1
        }
        return named.sorted()
    }
}

/// `body` with the strings as a NULL-terminated array of C strings.
private func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
    withOptionalCStrings(strings + [nil] as [String?]) { body($0) }
}

/// `body` with the strings as an array of C strings, nil for nil.
private func withOptionalCStrings<T>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { copies.forEach { free($0) } }
    return copies.map { UnsafePointer($0) }.withUnsafeBufferPointer { body($0.baseAddress!) }
}
