#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SQLiteDB
import Supervision

/// A database that keeps a ledger (agents, usage and revenue records, runs): the sandbox's
/// `sandbox.db`, `production.db`, or a team's production registry on PostgreSQL (the
/// `TeamRegistry` target). The production commands, the run recorder and the event import are
/// written once against it; what differs between SQLite and PostgreSQL is here, not in them.
///
/// SQL is written in the dialect both understand (`ON CONFLICT DO NOTHING`, `RETURNING`,
/// `NULLS LAST`), with SQLite's `?` and `?NNN` parameters, which a PostgreSQL database
/// translates to `$NNN`. A parameter's type must follow from where it is used (never a bare
/// `? IS NULL`), since PostgreSQL is sent every value as text. `agents.rowid` orders agents as
/// they were added on both (PostgreSQL: an identity column named so).
public protocol LedgerDatabase: AnyObject {
    /// The database as messages name it: a file's path, or a URL without its password.
    var location: String { get }
    /// The machine this process runs on, stored with each run so that only a supervisor on
    /// the same machine closes a run whose supervisor is gone; nil where runs have no host
    /// (SQLite files are local).
    var supervisorHost: String? { get }
    /// The production schema's version (for `production.db` files older than the slots).
    func productionSchemaVersion() throws -> Int
    var isReadOnly: Bool { get }
    var isInTransaction: Bool { get }

    /// Runs a statement; returns the number of rows it changed.
    @discardableResult
    func run(_ sql: String, _ values: [any SQLiteBindable]) throws -> Int
    /// Inserts a usage record: the values of `LedgerColumns.usage` in order, or only its first
    /// nine (the rest take their defaults). Its ID, or nil when its event ID is already recorded.
    func insertUsage(_ values: [SQLiteValue]) throws -> Int64?
    /// Inserts a revenue record (`LedgerColumns.revenue`); nil when its event ID is already recorded.
    func insertRevenue(_ values: [SQLiteValue]) throws -> Int64?
    /// Runs a query, calling `body` with each row.
    func forEachRow(_ sql: String, _ values: [any SQLiteBindable], _ body: (any LedgerRow) throws -> Void) throws

    /// Runs `body` in a transaction that sees and writes as if it ran alone (SQLite:
    /// `BEGIN IMMEDIATE`; PostgreSQL: `SERIALIZABLE`, run again after a serialization failure
    /// or deadlock up to `maximumAttempts` times, so `body` must then be safe to run more than
    /// once). Nested calls join the transaction open.
    func write<T>(maximumAttempts: Int, _ body: () throws -> T) throws -> T
    /// Runs `body` in a transaction that reads one snapshot. Nested calls join the one open.
    func read<T>(_ body: () throws -> T) throws -> T
    /// In a write transaction, before appending to the history, and before reading the time
    /// the history row will carry: history IDs follow commit order, and times follow IDs.
    func lockHistory() throws
    /// In a write transaction, before changing which version of `slot` is live (the same
    /// lock a promotion takes). SQLite's write lock already covers both.
    func lockSlot(_ slot: String) throws

    /// This database's failure as SandboxCore reports it (busy, unreachable, full, …), naming
    /// the database; nil for an error that did not come from the database.
    func describe(_ error: any Error) -> SandboxError?

    /// A way to insert a whole import's records at once (PostgreSQL: `COPY`), in the caller's
    /// write transaction; nil where inserting them one by one is as fast (SQLite, in process).
    /// `scratch` makes a file for what must be kept until the end but not in memory.
    func bulkInsert(scratch: @escaping () throws -> ScratchFile) throws -> (any LedgerBulkInsert)?
}

/// An import's records, inserted together: added one by one, then inserted by `finish`,
/// which skips a record whose event ID is already recorded or was added before it, as
/// one-by-one inserts with `ON CONFLICT DO NOTHING` would. While it is not finished, other
/// statements may still run in the transaction.
public protocol LedgerBulkInsert: AnyObject {
    /// Adds a usage record: the values of `LedgerColumns.usage` in order, or its first nine.
    func addUsage(_ values: [SQLiteValue]) throws
    /// Adds a revenue record: the values of `LedgerColumns.revenue`, in order.
    func addRevenue(_ values: [SQLiteValue]) throws
    /// Inserts what was added. Returns nil when every record was new (the caller's own sums
    /// hold), else what the new records add up to, per agent.
    func finish() throws -> [String: LedgerTotals]?
}

/// What an agent's new records add up to.
public struct LedgerTotals: Sendable, Equatable {
    public var usageRecords: Int
    public var revenueRecords: Int
    public var tokens: Int64
    public var costMicros: Int64
    public var revenueMicros: Int64

    public init(usageRecords: Int = 0, revenueRecords: Int = 0, tokens: Int64 = 0, costMicros: Int64 = 0, revenueMicros: Int64 = 0) {
        self.usageRecords = usageRecords
        self.revenueRecords = revenueRecords
        self.tokens = tokens
        self.costMicros = costMicros
        self.revenueMicros = revenueMicros
    }
}

/// The columns of the ledger's records, in the order their values are given, and their inserts.
public enum LedgerColumns {
    public static let usage = [
        "agent_id", "event_id", "model", "operation", "input_tokens", "output_tokens", "cost_micros", "price_source", "recorded_at",
        "cache_read_tokens", "cache_write_tokens", "cache_ttl", "batch",
    ]
    public static let revenue = ["agent_id", "event_id", "amount_micros", "source", "description", "recorded_at"]
    /// A plain call (no cache tokens, not batched, 5-minute cache) gives only the first
    /// `plainUsageCount` values; the others take the schema's defaults, `usageDefaults`.
    public static let plainUsageCount = 9
    public static let usageDefaults: [SQLiteValue] = [.integer(0), .integer(0), .text("5m"), .integer(0)]

    /// The insert of a usage record with `count` values (all of `usage`, or its first nine).
    public static func insertUsageSQL(count: Int) -> String { count == usage.count ? insertFullUsageSQL : insertPlainUsageSQL }
    public static let insertRevenueSQL = insert(into: "revenue", revenue[...])
    private static let insertFullUsageSQL = insert(into: "api_costs", usage[...])
    private static let insertPlainUsageSQL = insert(into: "api_costs", usage.prefix(plainUsageCount))

    private static func insert(into table: String, _ columns: ArraySlice<String>) -> String {
        "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", "))) ON CONFLICT DO NOTHING"
    }
}

/// One row of a `LedgerDatabase` query, read by column index.
public protocol LedgerRow {
    func isNull(_ index: Int32) -> Bool
    func int64(_ index: Int32) -> Int64
    func double(_ index: Int32) -> Double
    func text(_ index: Int32) -> String
}

extension LedgerRow {
    public func int(_ index: Int32) -> Int { Int(int64(index)) }
    public func optionalInt64(_ index: Int32) -> Int64? { isNull(index) ? nil : int64(index) }
    public func optionalText(_ index: Int32) -> String? { isNull(index) ? nil : text(index) }
    public func bool(_ index: Int32) -> Bool { int64(index) != 0 }
}

extension Row: LedgerRow {}

extension LedgerDatabase {
    /// `write`, run again after a conflict up to 8 times.
    public func write<T>(_ body: () throws -> T) throws -> T {
        try write(maximumAttempts: 8, body)
    }

    @discardableResult
    public func run(_ sql: String, _ values: any SQLiteBindable...) throws -> Int {
        try run(sql, values)
    }

    public func query<T>(_ sql: String, _ values: [any SQLiteBindable] = [], _ decode: (any LedgerRow) throws -> T) throws -> [T] {
        var rows: [T] = []
        try forEachRow(sql, values) { rows.append(try decode($0)) }
        return rows
    }

    public func queryFirst<T>(_ sql: String, _ values: [any SQLiteBindable] = [], _ decode: (any LedgerRow) throws -> T) throws -> T? {
        var first: T?
        try forEachRow(sql, values) { row in
            if first == nil { first = try decode(row) }
        }
        return first
    }

    /// The first column of the first row as an integer; 0 when there is no row.
    public func scalarInt(_ sql: String, _ values: [any SQLiteBindable] = []) throws -> Int64 {
        try queryFirst(sql, values) { $0.int64(0) } ?? 0
    }

    /// The first column of the first row as text; nil when there is no row or it is NULL.
    public func scalarText(_ sql: String, _ values: [any SQLiteBindable] = []) throws -> String? {
        try queryFirst(sql, values) { $0.optionalText(0) } ?? nil
    }

    /// Inserts one row with `… RETURNING id`; nil when `ON CONFLICT DO NOTHING` skipped it.
    public func insertReturningID(_ sql: String, _ values: [any SQLiteBindable]) throws -> Int64? {
        try queryFirst(sql + " RETURNING id", values) { $0.int64(0) }
    }

    /// Runs `body`, reporting this database's failures as SandboxCore's errors.
    public func mappingErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw describe(error) ?? error
        }
    }
}

/// A SQLite file as a `LedgerDatabase`: statements are compiled once per connection and kept.
public final class SQLiteLedgerDatabase: LedgerDatabase {
    public let connection: Connection
    public let location: String
    /// The ledger's inserts, compiled on first use and kept: imports run them millions of times.
    private var usageInserts: [Int: Statement] = [:]
    private var revenueInsert: Statement?

    public init(_ connection: Connection, path: String) {
        self.connection = connection
        self.location = path
    }

    public var supervisorHost: String? { nil }
    public func productionSchemaVersion() throws -> Int { try connection.userVersion }
    public var isReadOnly: Bool { connection.isReadOnly }
    public var isInTransaction: Bool { connection.isInTransaction }

    @discardableResult
    public func run(_ sql: String, _ values: [any SQLiteBindable]) throws -> Int {
        try connection.cached(sql).run(values)
        return connection.changes
    }

    public func forEachRow(_ sql: String, _ values: [any SQLiteBindable], _ body: (any LedgerRow) throws -> Void) throws {
        try connection.forEachRow(sql, values) { try body($0) }
    }

    public func insertUsage(_ values: [SQLiteValue]) throws -> Int64? {
        let statement: Statement
        if let known = usageInserts[values.count] {
            statement = known
        } else {
            statement = try connection.prepare(LedgerColumns.insertUsageSQL(count: values.count))
            usageInserts[values.count] = statement
        }
        try statement.runBorrowing(values)
        return connection.changes == 0 ? nil : connection.lastInsertRowID
    }

    public func insertRevenue(_ values: [SQLiteValue]) throws -> Int64? {
        if revenueInsert == nil { revenueInsert = try connection.prepare(LedgerColumns.insertRevenueSQL) }
        try revenueInsert!.runBorrowing(values)
        return connection.changes == 0 ? nil : connection.lastInsertRowID
    }

    public func write<T>(maximumAttempts: Int, _ body: () throws -> T) throws -> T {
        if connection.isInTransaction { return try body() }
        return try connection.inTransaction(.immediate, body)
    }

    public func read<T>(_ body: () throws -> T) throws -> T {
        if connection.isInTransaction { return try body() }
        return try connection.inTransaction(.deferred, body)
    }

    public func lockHistory() throws {}
    public func lockSlot(_ slot: String) throws {}
    public func bulkInsert(scratch: @escaping () throws -> ScratchFile) throws -> (any LedgerBulkInsert)? { nil }

    public func describe(_ error: any Error) -> SandboxError? {
        (error as? SQLiteError).map { DatabaseFile.describe($0, path: location) }
    }
}
