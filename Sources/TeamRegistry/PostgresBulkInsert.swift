import PostgresDB
import SandboxCore
import SQLiteDB

/// An import's records into the registry with `COPY`: buffered as COPY text, sent to a
/// temporary staging table in chunks of 8 MiB, then inserted in one statement per table in
/// the order they were added, `ON CONFLICT DO NOTHING` skipping an event ID already recorded
/// or added earlier, which reports what the new records add up to per agent. One round trip
/// per chunk instead of one per record. The staging tables go with the transaction.
final class PostgresBulkInsert: LedgerBulkInsert {
    private let connection: PostgresConnection
    private var usage: Staging
    private var revenue: Staging
    private var sequence: Int64 = 0
    static let chunkBytes = 8 << 20

    /// One table's staging: its columns with their types, and what is not sent yet.
    private struct Staging {
        let table: String
        let target: String
        let columns: [String]
        var buffer: [UInt8] = []
        var rows = 0

        var createSQL: String {
            let typed = columns.map { "\($0) \(PostgresBulkInsert.type(of: $0))" }.joined(separator: ", ")
            return "CREATE TEMP TABLE \(table) (seq bigint, \(typed)) ON COMMIT DROP"
        }
    }

    init(_ connection: PostgresConnection) throws {
        self.connection = connection
        usage = Staging(table: "novaos_import_usage", target: "api_costs", columns: LedgerColumns.usage)
        revenue = Staging(table: "novaos_import_revenue", target: "revenue", columns: LedgerColumns.revenue)
        try connection.execute(usage.createSQL)
        try connection.execute(revenue.createSQL)
    }

    /// The registry's type of a ledger column.
    static func type(of column: String) -> String {
        if column == "batch" { return "smallint" }
        return column.hasSuffix("_tokens") || column.hasSuffix("_micros") ? "bigint" : "text"
    }

    func addUsage(_ values: [SQLiteValue]) throws {
        // A plain call's last columns take their defaults.
        try add(values.count == LedgerColumns.plainUsageCount ? values + LedgerColumns.usageDefaults : values, to: &usage)
    }

    func addRevenue(_ values: [SQLiteValue]) throws {
        try add(values, to: &revenue)
    }

    private func add(_ values: [SQLiteValue], to staging: inout Staging) throws {
        sequence += 1
        Self.appendCopyRow([.integer(sequence)] + values, to: &staging.buffer)
        staging.rows += 1
        if staging.buffer.count >= Self.chunkBytes { try send(&staging) }
    }

    private func send(_ staging: inout Staging) throws {
        guard !staging.buffer.isEmpty else { return }
        var chunk: [UInt8]? = staging.buffer
        try connection.copyIn("COPY \(staging.table) (seq, \(staging.columns.joined(separator: ", "))) FROM STDIN") {
            defer { chunk = nil }
            return chunk
        }
        staging.buffer.removeAll(keepingCapacity: true)
    }

    func finish() throws -> [String: LedgerTotals] {
        try send(&usage)
        try send(&revenue)
        // The insert sorts the staged rows by seq: in memory rather than through temporary
        // files (this transaction only).
        try connection.execute("SET LOCAL work_mem = '256MB'")
        var totals: [String: LedgerTotals] = [:]
        if usage.rows > 0 {
            let columns = usage.columns.joined(separator: ", ")
            for row in try connection.query(
                """
                WITH new AS (
                    INSERT INTO \(usage.target) (\(columns)) SELECT \(columns) FROM \(usage.table) ORDER BY seq ON CONFLICT DO NOTHING
                    RETURNING agent_id, input_tokens + output_tokens + cache_read_tokens + cache_write_tokens AS tokens, cost_micros
                )
                SELECT agent_id, count(*), sum(tokens), sum(cost_micros) FROM new GROUP BY agent_id
                """
            ) {
                let agent = row.text(at: 0) ?? ""
                totals[agent, default: LedgerTotals()].usageRecords = Int(try Self.total(row, 1))
                totals[agent, default: LedgerTotals()].tokens = try Self.total(row, 2)
                totals[agent, default: LedgerTotals()].costMicros = try Self.total(row, 3)
            }
        }
        if revenue.rows > 0 {
            let columns = revenue.columns.joined(separator: ", ")
            for row in try connection.query(
                """
                WITH new AS (
                    INSERT INTO \(revenue.target) (\(columns)) SELECT \(columns) FROM \(revenue.table) ORDER BY seq ON CONFLICT DO NOTHING
                    RETURNING agent_id, amount_micros
                )
                SELECT agent_id, count(*), sum(amount_micros) FROM new GROUP BY agent_id
                """
            ) {
                let agent = row.text(at: 0) ?? ""
                totals[agent, default: LedgerTotals()].revenueRecords = Int(try Self.total(row, 1))
                totals[agent, default: LedgerTotals()].revenueMicros = try Self.total(row, 2)
            }
        }
        return totals
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
            case .integer(let integer): buffer += String(integer).utf8
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
}
