#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB

/// A usage event with its price worked out and its text checked, ready to insert.
struct PricedUsage {
    var eventID: String?
    var model: String
    var operation: String
    var tokens: TokenCounts
    var batch: Bool
    var cacheDuration: CacheDuration
    var cost: Money
    /// `table:<entry id>`, `override:<file>` or `explicit`: where `cost` came from.
    var priceSource: String
    var recordedAt: String

    var totalTokens: Int64 { tokens.total }

    /// What a record with an explicit cost stores as its price source.
    static let explicitSource = "explicit"

    /// Prices a usage event exactly as `sandbox usage` does: an explicit cost wins, else the
    /// entry of `prices` in force at the event's time; a known model is stored under its
    /// canonical name.
    init(_ usage: AgentEvent.Usage, now: String, prices: inout PriceLookup) throws {
        try validateText(usage.model, field: "model", maximumLength: 200)
        let operation = usage.operation ?? "api_call"
        try validateText(operation, field: "operation", maximumLength: 200)
        let recordedAt = usage.timestamp ?? now
        if let cost = usage.cost {
            try usage.tokens.validate()
            guard cost.micros >= 0, cost <= Money.recordLimit else {
                throw SandboxError.invalidInput("cost must be between $0 and \(Money.recordLimit)")
            }
            self.cost = cost
            self.priceSource = Self.explicitSource
            self.model = prices.catalog.canonicalName(usage.model) ?? usage.model
        } else {
            // `cost(of:)` checks the token counts.
            let index = try prices.index(for: usage.model, at: recordedAt)
            (self.cost, self.priceSource, self.model) = try prices.catalog.charge(
                index, usage.tokens, batch: usage.batch, cacheDuration: usage.cacheDuration
            )
        }
        self.eventID = usage.eventID
        self.operation = operation
        self.tokens = usage.tokens
        self.batch = usage.batch
        self.cacheDuration = usage.cacheDuration
        self.recordedAt = recordedAt
    }
}

/// A revenue event with its text checked, ready to insert.
struct CheckedRevenue {
    var eventID: String?
    var amount: Money
    var source: String
    var description: String
    var recordedAt: String

    init(_ revenue: AgentEvent.Revenue, now: String) throws {
        guard revenue.amount.micros > 0, revenue.amount <= Money.recordLimit else {
            throw SandboxError.invalidInput("revenue amount must be greater than $0 and at most \(Money.recordLimit), got \(revenue.amount)")
        }
        let source = revenue.source ?? "manual"
        try validateText(source, field: "source", maximumLength: 200)
        let description = revenue.description ?? ""
        try validateText(description, field: "description", maximumLength: Sandbox.maximumDescriptionLength, allowEmpty: true)
        self.eventID = revenue.eventID
        self.amount = revenue.amount
        self.source = source
        self.description = description
        self.recordedAt = revenue.timestamp ?? now
    }
}

/// An event checked and priced, ready to insert: what `run` and `import` both record.
enum CheckedEvent {
    case usage(PricedUsage)
    case revenue(CheckedRevenue)

    init(_ event: AgentEvent, now: String, prices: inout PriceLookup) throws {
        switch event {
        case .usage(let usage): self = .usage(try PricedUsage(usage, now: now, prices: &prices))
        case .revenue(let revenue): self = .revenue(try CheckedRevenue(revenue, now: now))
        case .reserve: throw SandboxError.invalidInput("a reserve event is answered only inside 'sandbox run', where it has a reply pipe")
        }
    }

    /// What it adds to its agent's totals once inserted.
    var effect: EventEffect {
        switch self {
        case .usage(let usage): EventEffect(tokens: usage.totalTokens, cost: usage.cost.micros)
        case .revenue(let revenue): EventEffect(revenue: revenue.amount.micros)
        }
    }
}

/// What one event added to an agent's totals.
struct EventEffect {
    var tokens: Int64 = 0
    var cost: Int64 = 0
    var revenue: Int64 = 0

    /// Adds, checked: an overflow ends the operation.
    mutating func add(_ other: EventEffect) throws(TotalOverflow) {
        tokens = try checkedSum(tokens, other.tokens, "token")
        cost = try checkedSum(cost, other.cost, "cost")
        revenue = try checkedSum(revenue, other.revenue, "revenue")
    }
}

/// A database that keeps the ledger (`agents`, `api_costs`, `revenue`, alike in the sandbox,
/// `production.db` and a team's registry): the sandbox, and production's live agents. What
/// differs between them is who may record and what a budget does, so those are the
/// requirements; inserting records, keeping the totals and importing are shared (`importLines`).
protocol EventLedger: AnyObject {
    /// The database the ledger is kept in.
    var ledgerDatabase: any LedgerDatabase { get }
    /// Where the ledger's scratch files go (`SandboxPaths.scratchFile`).
    var paths: SandboxPaths { get }
    /// Refuses an agent that may not record now (killed, in a closed project, not live).
    func checkRecording(agent: String) throws
    /// Applies the budget rules after `effects` (per agent) were added, in the caller's
    /// write transaction.
    func enforceBudgets(after effects: [String: EventEffect]) throws -> BudgetOutcome
    func prices() throws -> PriceCatalog
    func now() -> Date
    /// Runs `body`, mapping the database's errors to messages that name it.
    func mappingErrors<T>(_ body: () throws -> T) throws -> T
    /// Runs a whole import in one write transaction.
    func importTransaction<T>(_ body: () throws -> T) throws -> T
}

extension PricedUsage {
    /// The record's values, in the order of `LedgerColumns.usage`; only the first
    /// `LedgerColumns.plainUsageCount` for the common call without cache tokens or batch, whose
    /// other columns take their defaults (`usageDefaults`): four bindings fewer on the import's
    /// hot path.
    func columnValues(agent: String) -> [SQLiteValue] {
        var values: [SQLiteValue] = [
            .text(agent), eventID.map(SQLiteValue.text) ?? .null, .text(model), .text(operation), .integer(tokens.input), .integer(tokens.output),
            .integer(cost.micros), .text(priceSource), .text(recordedAt),
        ]
        if tokens.cacheRead != 0 || tokens.cacheWrite != 0 || cacheDuration != .fiveMinutes || batch {
            values += [.integer(tokens.cacheRead), .integer(tokens.cacheWrite), .text(cacheDuration.rawValue), .integer(batch ? 1 : 0)]
        }
        return values
    }
}

extension CheckedRevenue {
    /// The record's values, in the order of `LedgerColumns.revenue`.
    func columnValues(agent: String) -> [SQLiteValue] {
        [.text(agent), eventID.map(SQLiteValue.text) ?? .null, .integer(amount.micros), .text(source), .text(description), .text(recordedAt)]
    }
}

extension EventLedger {
    /// Prices one API call recorded now (`usage`), with the time it is recorded at.
    func priceCall(_ usage: AgentEvent.Usage) throws -> (PricedUsage, Date) {
        let recordedAt = now()
        var prices = PriceLookup(try prices())
        return (try PricedUsage(usage, now: Timestamp.string(from: recordedAt), prices: &prices), recordedAt)
    }

    /// Checks one amount of revenue recorded now (`revenue`), with the time it is recorded at.
    func checkRevenue(_ revenue: AgentEvent.Revenue) throws -> (CheckedRevenue, Date) {
        let recordedAt = now()
        return (try CheckedRevenue(revenue, now: Timestamp.string(from: recordedAt)), recordedAt)
    }

    /// Adds to an agent's running totals, in the caller's transaction, so they always equal
    /// the sums of the agent's records.
    func addToTotals(agent: String, _ effect: EventEffect) throws {
        try ledgerDatabase.run(
            "UPDATE agents SET tokens_used = tokens_used + ?, cost_micros = cost_micros + ?, revenue_micros = revenue_micros + ? WHERE id = ?",
            [effect.tokens, effect.cost, effect.revenue, agent]
        )
    }

    /// Inserts a usage record. Returns its row ID, or nil when its event ID was already
    /// recorded (the unique index on `event_id` decides). Totals are not touched.
    func insertUsage(agent: String, _ usage: PricedUsage) throws -> Int64? {
        try ledgerDatabase.insertUsage(usage.columnValues(agent: agent))
    }

    /// Inserts a revenue record; nil when its event ID was already recorded.
    func insertRevenue(agent: String, _ revenue: CheckedRevenue) throws -> Int64? {
        try ledgerDatabase.insertRevenue(revenue.columnValues(agent: agent))
    }

    /// Inserts a checked event; false when its event ID was already recorded. Totals are not touched.
    func insert(_ event: CheckedEvent, agent: String) throws -> Bool {
        switch event {
        case .usage(let usage): try insertUsage(agent: agent, usage) != nil
        case .revenue(let revenue): try insertRevenue(agent: agent, revenue) != nil
        }
    }
}

extension Sandbox: EventLedger {
    /// The import's transaction, with the foreign-key check off: every agent is checked by
    /// `checkRecording` under the transaction's write lock, and agents are never deleted, so
    /// the per-row look-up would only repeat that check. The pragma cannot change inside a
    /// transaction; it is restored whatever happens.
    func importTransaction<T>(_ body: () throws -> T) throws -> T {
        try mappingErrors { try db.execute("PRAGMA foreign_keys = OFF") }
        defer { try? db.execute("PRAGMA foreign_keys = ON") }
        return try mappingErrors { try db.inTransaction(.immediate, body) }
    }
}

extension ProductionLedger {
    /// Once only: the import reads its input as it goes, so it cannot run again after a
    /// conflict (PostgreSQL's serialization failure is reported as busy).
    func importTransaction<T>(_ body: () throws -> T) throws -> T {
        try store.write(maximumAttempts: 1, body)
    }
}
