#if canImport(Glibc)
import Glibc
#endif
import PostgresDB
import SandboxCore
import SQLiteDB
import Supervision

/// A team's production registry on PostgreSQL as a `LedgerDatabase`, so every production
/// command runs on it as on `production.db`:
///
/// - SQLite's `?` and `?NNN` parameters become `$NNN` (translated once per statement text);
///   values are bound as text, never interpolated;
/// - a write is `SERIALIZABLE` and runs again after a serialization failure (`40001`) or a
///   deadlock (`40P01`), with backoff, a bounded number of times: it then behaves as SQLite's
///   one writer at a time does, without holding a lock across the team;
/// - a read is `REPEATABLE READ`: one snapshot, as SQLite's read transaction;
/// - appending to the history takes the history's advisory lock, and changing a slot's live
///   version the slot's (the locks a promotion takes);
/// - runs carry this machine's name, so only this machine closes its lost runs.
public final class PostgresLedgerDatabase: LedgerDatabase {
    private(set) var connection: PostgresConnection
    public let location: String
    public let supervisorHost: String?
    private var translated: [String: String] = [:]
    /// Connects again after the connection was lost (the server restarted); nil: never.
    private let reconnect: (() throws -> PostgresConnection)?

    /// - Parameters:
    ///   - location: the registry as messages show it (its URL, which names no password).
    ///   - reconnect: a new connection, made when the last one was lost, before the next
    ///     transaction (a transaction in flight when it was lost fails, and is rolled back).
    public init(_ connection: PostgresConnection, location: String, reconnect: (() throws -> PostgresConnection)? = nil) {
        self.connection = connection
        self.location = location
        self.reconnect = reconnect
        supervisorHost = Self.machine()
    }

    /// An import's records streaming in (`COPY`), paused before any other statement.
    private weak var bulk: PostgresBulkInsert?

    /// The connection, ready for a statement: outside a transaction, a lost connection
    /// replaced; inside, an import's `COPY` paused.
    private func connected() throws -> PostgresConnection {
        if !connection.isInTransaction, !connection.isConnected, let reconnect {
            connection = try reconnect()
        }
        try bulk?.suspend()
        return connection
    }

    public func productionSchemaVersion() throws -> Int { RegistrySchema.productionVersion }
    public var isReadOnly: Bool { false }
    public var isInTransaction: Bool { connection.isInTransaction }

    @discardableResult
    public func run(_ sql: String, _ values: [any SQLiteBindable]) throws -> Int {
        try connected().run(postgres(sql), Self.parameters(values))
    }

    public func insertUsage(_ values: [SQLiteValue]) throws -> Int64? {
        try insertReturningID(LedgerColumns.insertUsageSQL(count: values.count), values)
    }

    public func insertRevenue(_ values: [SQLiteValue]) throws -> Int64? {
        try insertReturningID(LedgerColumns.insertRevenueSQL, values)
    }

    public func forEachRow(_ sql: String, _ values: [any SQLiteBindable], _ body: (any LedgerRow) throws -> Void) throws {
        for row in try connected().query(postgres(sql), Self.parameters(values)) {
            try body(RegistryRow(row: row))
        }
    }

    public func write<T>(maximumAttempts: Int, _ body: () throws -> T) throws -> T {
        if connection.isInTransaction { return try body() }
        return try transaction(.serializable, maximumAttempts: maximumAttempts, body)
    }

    public func read<T>(_ body: () throws -> T) throws -> T {
        if connection.isInTransaction { return try body() }
        return try transaction(.repeatableRead, maximumAttempts: 8, body)
    }

    /// A transaction; when the connection turns out to be lost (the server restarted since it
    /// was last used, which shows only when it is used), once more on a new connection: at
    /// once when `body` had not started, else when `body` may run again (`maximumAttempts` > 1).
    private func transaction<T>(_ isolation: PostgresIsolation, maximumAttempts: Int, _ body: () throws -> T) throws -> T {
        var started = false
        do {
            return try connected().inTransaction(isolation, maximumAttempts: maximumAttempts) {
                started = true
                return try body()
            }
        } catch let error as PostgresError where error.isConnectionFailure && reconnect != nil && !connection.isConnected
            && (!started || maximumAttempts > 1) {
            return try connected().inTransaction(isolation, maximumAttempts: maximumAttempts, body)
        }
    }

    public func lockHistory() throws {
        try connected().query("SELECT pg_advisory_xact_lock($1)", [RegistrySchema.historyLock])
    }

    public func lockSlot(_ slot: String) throws {
        try connected().query(RegistrySchema.slotLockSQL, [slot])
    }

    public func bulkInsert(scratch: @escaping () throws -> ScratchFile) throws -> (any LedgerBulkInsert)? {
        let bulk = try PostgresBulkInsert(connected(), scratch: scratch)
        self.bulk = bulk
        return bulk
    }

    public func describe(_ error: any Error) -> SandboxError? {
        (error as? PostgresError).map { SandboxError($0, registry: location) }
    }

    private func postgres(_ sql: String) -> String {
        if let known = translated[sql] { return known }
        let text = postgresPlaceholders(sql)
        translated[sql] = text
        return text
    }

    /// SQLite's values in PostgreSQL's text format. A real is written in the shortest form
    /// that reads back as the same double.
    static func parameters(_ values: [any SQLiteBindable]) -> [(any PostgresBindable)?] {
        values.map { value -> (any PostgresBindable)? in
            switch value.sqliteValue {
            case .null: nil
            case .integer(let integer): integer
            case .real(let real): real.description
            case .text(let text): text
            case .blob(let bytes): "\\x" + bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
            }
        }
    }

    /// This machine, as its runs record it: the host name and the machine ID
    /// (`/etc/machine-id`), so two machines of one name are not taken for one.
    static func machine() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buffer, buffer.count - 1) == 0
            ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        let id = firstLine(ofFile: "/etc/machine-id") ?? ""
        return host.isEmpty && id.isEmpty ? nil : host + " " + id
    }

    private static func firstLine(ofFile path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 128)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let text = String(decoding: buffer.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? nil : text
    }
}

/// A row of the registry, read as SQLite's rows are: every value arrives as text.
struct RegistryRow: LedgerRow {
    let row: PostgresRow

    func isNull(_ index: Int32) -> Bool { row.values[Int(index)] == nil }

    func int64(_ index: Int32) -> Int64 {
        guard let text = row.values[Int(index)] else { return 0 }
        if let value = Int64(text) { return value }
        switch text {
        case "t": return 1
        case "f": return 0
        default: return Double(text).map { Int64(exactly: $0.rounded(.towardZero)) ?? 0 } ?? 0
        }
    }

    func double(_ index: Int32) -> Double {
        row.values[Int(index)].flatMap(Double.init) ?? 0
    }

    func text(_ index: Int32) -> String { row.values[Int(index)] ?? "" }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
