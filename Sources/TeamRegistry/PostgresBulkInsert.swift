import PostgresDB
import SandboxCore
import SQLiteDB
import Supervision

/// An import's records into the registry with `COPY`.
///
/// Directly first: the usage records stream into `api_costs` through one `COPY` while the
/// import is still reading (the server inserts while novaos parses), in a savepoint; the
/// revenue records follow at the end. That is the whole work when no event ID was recorded
/// before, the common case, and `finish` returns nil: every record was new.
///
/// When the event-ID index refuses a record (`23505`: imported before, or twice in the file),
/// the savepoint is rolled back and the records go in through temporary staging tables, in the
/// order they were added, with `INSERT … SELECT … ON CONFLICT DO NOTHING`, which skips the
/// records already recorded and reports what the new ones add up to per agent. The records
/// are kept for that in a scratch file each, as `COPY` text, so memory stays flat.
///
/// The staging tables and the savepoint go with the transaction.
final class PostgresBulkInsert: LedgerBulkInsert {
    private let connection: PostgresConnection
    private var usage: Records
    private var revenue: Records
    /// The usage `COPY` is open.
    private var streaming = false
    /// No record was refused yet: the records go straight into their tables.
    private var direct = true
    /// Rows are sent and kept in pieces of this size: small enough that the server starts
    /// while novaos is still reading, large enough to cost few calls.
    static let pieceBytes = 256 << 10
    static let savepoint = "novaos_import"
    /// `LedgerColumns.usageDefaults` as the end of a COPY row.
    static let usageDefaultsText: [UInt8] = {
        var row: [UInt8] = []
        appendCopyRow(LedgerColumns.usageDefaults, to: &row)
        return [0x09] + row
    }()

    /// One table's records: its columns, the scratch file holding every record added, and
    /// what is not written there yet.
    private struct Records {
        let table: String
        let columns: [String]
        let kept: ScratchFile
        var pending: [UInt8] = []
        var count = 0
        /// The event IDs of the first records, looked up before the direct copy starts.
        var firstEventIDs: [String] = []

        /// The `COPY` of these records into `target` (their table, or its staging).
        func copySQL(into target: String) -> String { "COPY \(target) (\(columns.joined(separator: ", "))) FROM STDIN" }
    }

    init(_ connection: PostgresConnection, scratch: () throws -> ScratchFile) throws {
        self.connection = connection
        usage = Records(table: "api_costs", columns: LedgerColumns.usage, kept: try scratch())
        revenue = Records(table: "revenue", columns: LedgerColumns.revenue, kept: try scratch())
        usage.pending.reserveCapacity(Self.pieceBytes + 4096)
        try connection.execute("SAVEPOINT \(Self.savepoint)")
    }

    /// How many of a table's first event IDs are looked up before its direct copy.
    static let lookedUp = 1_000

    func addUsage(_ values: [SQLiteValue]) throws {
        Self.noteEventID(values, in: &usage)
        Self.appendCopyRow(values, to: &usage.pending)
        if values.count == LedgerColumns.plainUsageCount {
            // A plain call's last columns take their defaults.
            usage.pending.removeLast()
            usage.pending += Self.usageDefaultsText
        }
        usage.count += 1
        if usage.pending.count >= Self.pieceBytes { try flushUsage() }
    }

    func addRevenue(_ values: [SQLiteValue]) throws {
        Self.noteEventID(values, in: &revenue)
        Self.appendCopyRow(values, to: &revenue.pending)
        revenue.count += 1
        if revenue.pending.count >= Self.pieceBytes { try keep(&revenue) }
    }

    private static func noteEventID(_ values: [SQLiteValue], in records: inout Records) {
        if records.count < lookedUp, case .text(let id) = values[1] { records.firstEventIDs.append(id) }
    }

    /// Whether one of `records`' first event IDs is recorded already: a file imported again,
    /// or one that starts where the last one ended. The import then goes through staging at
    /// once instead of copying until the index refuses a record (the copy's rows would stay
    /// behind as dead rows until vacuumed).
    private func startsWithRecordedEvent(_ records: inout Records) throws -> Bool {
        guard !records.firstEventIDs.isEmpty else { return false }
        defer { records.firstEventIDs = [] }
        // An array literal: each ID quoted, its quotes and backslashes escaped.
        var literal = "{"
        for (index, id) in records.firstEventIDs.enumerated() {
            literal += index == 0 ? "\"" : ",\""
            for character in id.unicodeScalars {
                if character == "\"" || character == "\\" { literal += "\\" }
                literal.unicodeScalars.append(character)
            }
            literal += "\""
        }
        literal += "}"
        return try !connection.query("SELECT 1 FROM \(records.table) WHERE event_id = ANY($1::text[]) LIMIT 1", [literal]).isEmpty
    }

    /// Keeps the pending usage records, and sends them while the import is direct.
    private func flushUsage() throws {
        guard !usage.pending.isEmpty else { return }
        if direct, try startsWithRecordedEvent(&usage) { direct = false }
        if direct {
            if !streaming {
                try connection.beginCopy(usage.copySQL(into: usage.table))
                streaming = true
            }
            try usage.pending.withUnsafeBytes { try connection.sendCopyData($0) }
        }
        try keep(&usage)
    }

    private func keep(_ records: inout Records) throws {
        try records.pending.withUnsafeBytes { try records.kept.append($0) }
        records.pending.removeAll(keepingCapacity: true)
    }

    /// Ends the usage `COPY` so that another statement can run; the next records open
    /// another. Called before every other statement on the connection.
    func suspend() throws {
        guard streaming else { return }
        streaming = false
        try refusedRecordFallsBack { try connection.endCopy() }
    }

    /// Runs a direct insert; a record refused by the event-ID index rolls the direct inserts
    /// back, and the records go in through staging from then on.
    private func refusedRecordFallsBack(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as PostgresError where error.sqlState == "23505" {
            try connection.execute("ROLLBACK TO SAVEPOINT \(Self.savepoint)")
            direct = false
        }
    }

    func finish() throws -> [String: LedgerTotals]? {
        try flushUsage()
        try keep(&revenue)
        try suspend()
        if direct, try startsWithRecordedEvent(&revenue) { direct = false }
        if direct, revenue.count > 0 {
            try refusedRecordFallsBack { try copy(revenue, into: revenue.table) }
        }
        if direct {
            try connection.execute("RELEASE SAVEPOINT \(Self.savepoint)")
            return nil
        }
        return try insertThroughStaging()
    }

    /// Sends `records`' scratch file to `table` with one `COPY`.
    private func copy(_ records: Records, into table: String) throws {
        try connection.copyIn(records.copySQL(into: table)) { send in
            try records.kept.read(chunkSize: 1 << 20, send)
        }
    }

    /// The records into staging tables (numbered in order by an identity column), then into
    /// their tables in that order, skipping those whose event ID is already recorded.
    private func insertThroughStaging() throws -> [String: LedgerTotals] {
        // The inserts sort the staged rows: in memory rather than through temporary files
        // (this transaction only).
        try connection.execute("SET LOCAL work_mem = '256MB'")
        var totals: [String: LedgerTotals] = [:]
        if usage.count > 0 {
            for row in try stageAndInsert(usage, returning: "agent_id, input_tokens + output_tokens + cache_read_tokens + cache_write_tokens AS tokens, cost_micros", sums: "sum(tokens), sum(cost_micros)") {
                let agent = row.text(at: 0) ?? ""
                totals[agent, default: LedgerTotals()].usageRecords = Int(try Self.total(row, 1))
                totals[agent, default: LedgerTotals()].tokens = try Self.total(row, 2)
                totals[agent, default: LedgerTotals()].costMicros = try Self.total(row, 3)
            }
        }
        if revenue.count > 0 {
            for row in try stageAndInsert(revenue, returning: "agent_id, amount_micros", sums: "sum(amount_micros)") {
                let agent = row.text(at: 0) ?? ""
                totals[agent, default: LedgerTotals()].revenueRecords = Int(try Self.total(row, 1))
                totals[agent, default: LedgerTotals()].revenueMicros = try Self.total(row, 2)
            }
        }
        return totals
    }

    /// Stages `records` and inserts the new ones; returns per agent: the count, then `sums`.
    private func stageAndInsert(_ records: Records, returning: String, sums: String) throws -> [PostgresRow] {
        let staging = "novaos_import_\(records.table)"
        let typed = records.columns.map { "\($0) \(Self.type(of: $0))" }.joined(separator: ", ")
        try connection.execute("CREATE TEMP TABLE \(staging) (seq bigint GENERATED ALWAYS AS IDENTITY, \(typed)) ON COMMIT DROP")
        try copy(records, into: staging)
        let columns = records.columns.joined(separator: ", ")
        return try connection.query(
            """
            WITH new AS (
                INSERT INTO \(records.table) (\(columns)) SELECT \(columns) FROM \(staging) ORDER BY seq ON CONFLICT DO NOTHING
                RETURNING \(returning)
            )
            SELECT agent_id, count(*), \(sums) FROM new GROUP BY agent_id
            """
        )
    }

    /// The registry's type of a ledger column.
    static func type(of column: String) -> String {
        if column == "batch" { return "smallint" }
        return column.hasSuffix("_tokens") || column.hasSuffix("_micros") ? "bigint" : "text"
    }

    /// A sum as a 64-bit integer (PostgreSQL sums bigints as numeric, without overflow).
    private static func total(_ row: PostgresRow, _ index: Int) throws -> Int64 {
        guard let text = row.text(at: index), let value = Int64(text) else {
            throw SandboxError.invalidInput("total overflow: the import's \(index == 1 ? "records" : "totals") would exceed the 64-bit range; nothing was imported")
        }
        return value
    }

    /// One row of COPY's text format: tab-separated, `\N` for NULL, and backslash, tab,
    /// newline and carriage return escaped in text.
    static func appendCopyRow(_ values: [SQLiteValue], to buffer: inout [UInt8]) {
        for (index, value) in values.enumerated() {
            if index > 0 { buffer.append(0x09) }
            switch value {
            case .null: buffer += [0x5C, 0x4E] // \N
            case .integer(let integer): appendDecimal(integer, to: &buffer)
            case .real(let real): buffer += real.description.utf8
            case .text(let text):
                for byte in text.utf8 {
                    switch byte {
                    case 0x5C: buffer += [0x5C, 0x5C]
                    case 0x09: buffer += [0x5C, 0x74]
                    case 0x0A: buffer += [0x5C, 0x6E]
                    case 0x0D: buffer += [0x5C, 0x72]
                    default: buffer.append(byte)
                    }
                }
            case .blob: buffer += [0x5C, 0x4E] // no ledger column holds bytes
            }
        }
        buffer.append(0x0A)
    }

    /// `value` in decimal, without making a string.
    static func appendDecimal(_ value: Int64, to buffer: inout [UInt8]) {
        if value < 0 { buffer.append(0x2D) }
        var magnitude = value.magnitude
        let start = buffer.count
        repeat {
            buffer.append(0x30 + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        buffer[start...].reverse()
    }
}
