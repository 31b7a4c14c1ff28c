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

/// What production agents spend and earn: `production usage|revenue|import`, with the
/// sandbox's event protocol, price table and exactness. Only a slot's live version records,
/// and its budget is its normal one: the transaction that takes it to its budget pauses it
/// and says so in the history.
///
/// ```swift
/// let ledger = try ProductionLedger(paths: paths)
/// let record = try ledger.recordUsage(agent: "support-bot", model: "claude-sonnet-4", tokens: TokenCounts(input: 1_200, output: 300))
/// ```
public final class ProductionLedger: RunBook {
    let store: ProductionStore
    private let priceFile: URL?
    private var loadedPrices: PriceCatalog?
    private let clock: () -> Date

    public var paths: SandboxPaths { store.paths }
    var db: any LedgerDatabase { store.db }
    var ledgerDatabase: any LedgerDatabase { store.db }

    /// Opens the production registry (nil: `production.db`, which a promotion must have created).
    ///
    /// - Parameter priceFile: a price file over the built-in table; nil: `HOME/prices.json`
    ///   when there is one (as for the sandbox).
    public init(
        paths: SandboxPaths, registry: ProductionRegistry? = nil, clock: @escaping () -> Date = Date.init, busyTimeoutMilliseconds: Int32 = 10_000,
        priceFile: URL? = nil
    ) throws {
        store = try ProductionStore(paths: paths, registry: registry, clock: clock, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        self.priceFile = priceFile
        self.clock = clock
    }

    /// The runs of a production agent (or a slot's live version), newest first.
    public func runs(of subject: String) throws -> RunList {
        try store.read {
            let agent = try store.resolve(subject)
            return RunList(runs: try db.query("SELECT \(Sandbox.runColumns) FROM runs WHERE agent_id = ? ORDER BY id DESC", [agent.id.rawValue], Sandbox.decodeRun))
        }
    }

    /// One page of `runs(of:)`, older than the run `cursor`.
    public func runs(of subject: String, cursor: String?, limit: Int) throws -> Page<RunRecord> {
        try Page<RunRecord>.check(limit: limit)
        let before = try Page<RunRecord>.rowID(cursor)
        return try store.read { try Sandbox.runsPage(in: db, agent: try store.resolve(subject).id, before: before, limit: limit) }
    }

    /// The production agent `subject` names: itself, or a slot's live version now.
    public func agentID(for subject: String) throws -> AgentID {
        try store.read { try store.resolve(subject).id }
    }

    var databasePath: String { store.db.location }

    func write<T>(_ body: () throws -> T) throws -> T { try store.write(body) }

    func read<T>(_ body: () throws -> T) throws -> T { try store.read(body) }

    func prices() throws -> PriceCatalog {
        if let loadedPrices { return loadedPrices }
        let catalog = try PriceCatalog.load(paths: paths, file: priceFile)
        loadedPrices = catalog
        return catalog
    }

    func now() -> Date { store.now() }

    func mappingErrors<T>(_ body: () throws -> T) throws -> T { try store.mappingErrors(body) }

    func checkRecording(agent text: String) throws {
        guard let agent = try store.agent(text) else { throw SandboxError.notFound(kind: "production agent", id: text) }
        try store.requireLive(agent)
    }

    func enforceBudgets(after effects: [String: EventEffect]) throws -> BudgetOutcome {
        var outcome = BudgetOutcome()
        for agent in effects.keys.sorted() {
            outcome.merge(try enforceBudget(agent: agent, added: effects[agent]?.tokens ?? 0))
        }
        return outcome
    }

    func enforceBudgets(agent: String, added: Int64, addedCost: Int64) throws -> BudgetOutcome {
        try enforceBudget(agent: agent, added: added)
    }

    /// Pauses an agent at or over its budget, in the caller's transaction; the pause is a
    /// change to production, so the history records it.
    private func enforceBudget(agent id: String, added: Int64) throws -> BudgetOutcome {
        var outcome = BudgetOutcome()
        guard let agent = try store.agent(id), agent.tokensUsed >= agent.tokenBudget else { return outcome }
        let crossed = agent.tokensUsed - added < agent.tokenBudget
        if agent.status == .active {
            try db.lockHistory() // before the time is read: history times follow history IDs
            try db.run("UPDATE agents SET status = 'paused', pause_reason = 'budget_exceeded' WHERE id = ? AND status = 'active'", id)
            outcome.agentsOverBudget.append(.init(id: agent.id, used: agent.tokensUsed, budget: agent.tokenBudget))
            outcome.pausedAgents.append(agent.id)
            // A pause changes no slot's live version: the same before and after.
            let live = try store.liveAgent(in: agent.slot)
            try store.appendEvent(
                at: now(), kind: "budget", slot: agent.slot, agent: agent.id, previous: live, live: live, actor: "budget",
                reason: "reached its token budget (\(groupedDigits(agent.tokensUsed)) of \(groupedDigits(agent.tokenBudget))); paused",
                details: ["tokens_used": .integer(agent.tokensUsed), "token_budget": .integer(agent.tokenBudget)]
            )
        } else if crossed {
            outcome.agentsOverBudget.append(.init(id: agent.id, used: agent.tokensUsed, budget: agent.tokenBudget))
        }
        return outcome
    }

    /// Sets a production agent's token budget (named by its ID or its slot). The history
    /// records the change. A budget lowered to or below what the agent used pauses it at once;
    /// one raised above it resumes an agent its budget had paused (production has no other
    /// way back).
    public func setTokenBudget(of subject: String, tokens: Int64) throws -> BudgetChange {
        guard tokens > 0, tokens <= 1_000_000_000_000 else {
            throw SandboxError.invalidInput("--tokens must be a whole number from 1 to 1000000000000")
        }
        return try store.write {
            try db.lockHistory()
            let at = now()
            let agent = try store.resolve(subject)
            guard agent.slot != nil, agent.state != .retired else {
                throw SandboxError.invalidState("agent \(agent.id) is \(agent.state?.rawValue ?? "in no slot"); its budget can no longer change")
            }
            try db.run("UPDATE agents SET token_budget = ? WHERE id = ?", tokens, agent.id.rawValue)
            var resumed: [AgentID] = []
            if tokens > agent.tokensUsed, agent.status == .paused,
               try db.scalarText("SELECT pause_reason FROM agents WHERE id = ?", [agent.id.rawValue]) == PauseReason.budgetExceeded.rawValue {
                try db.run("UPDATE agents SET status = 'active', pause_reason = NULL WHERE id = ?", agent.id.rawValue)
                resumed.append(agent.id)
            }
            let live = try store.liveAgent(in: agent.slot)
            try store.appendEvent(
                at: at, kind: "budget", slot: agent.slot, agent: agent.id, previous: live, live: live, actor: "production budget",
                reason: "token budget \(groupedDigits(agent.tokenBudget)) → \(groupedDigits(tokens))" + (resumed.isEmpty ? "" : "; resumed"),
                details: ["previous": .integer(agent.tokenBudget), "token_budget": .integer(tokens), "tokens_used": .integer(agent.tokensUsed)]
            )
            // A budget lowered to or below what is used binds at once, like any other crossing.
            let outcome = try enforceBudget(agent: agent.id.rawValue, added: agent.tokenBudget > agent.tokensUsed ? agent.tokensUsed : 0)
            return BudgetChange(
                kind: "agent", id: agent.id.rawValue, previous: .tokens(agent.tokenBudget), budget: .tokens(tokens),
                budgetUsedPercent: Budgets.percent(agent.tokensUsed, of: tokens), changedAt: at, budgetExceeded: outcome.budgetExceeded,
                pausedAgents: outcome.pausedAgents, resumedAgents: resumed, budgetWarnings: outcome.warnings
            )
        }
    }

    /// Records one API call of a live agent (named by its ID or its slot).
    public func recordUsage(
        agent subject: String, model: String, tokens: TokenCounts, batch: Bool = false,
        cacheDuration: CacheDuration = .fiveMinutes, operation: String? = nil, cost: Money? = nil
    ) throws -> UsageRecord {
        let (priced, recordedAt) = try priceCall(
            AgentEvent.Usage(model: model, operation: operation, tokens: tokens, batch: batch, cacheDuration: cacheDuration, cost: cost)
        )
        return try store.write {
            let agent = try store.resolve(subject)
            try store.requireLive(agent)
            let recordID = try insertUsage(agent: agent.id.rawValue, priced)!
            try addToTotals(agent: agent.id.rawValue, EventEffect(tokens: priced.totalTokens, cost: priced.cost.micros))
            let budgets = try enforceBudget(agent: agent.id.rawValue, added: priced.totalTokens)
            return UsageRecord(id: recordID, agent: agent.id, priced, recordedAt: recordedAt, budgets: budgets)
        }
    }

    /// Records revenue a live agent (named by its ID or its slot) earned.
    public func recordRevenue(agent subject: String, amount: Money, source: String? = nil, description: String = "") throws -> RevenueRecord {
        let (checked, recordedAt) = try checkRevenue(
            AgentEvent.Revenue(agentID: nil, eventID: nil, amount: amount, source: source, description: description, timestamp: nil)
        )
        return try store.write {
            let agent = try store.resolve(subject)
            try store.requireLive(agent)
            let recordID = try insertRevenue(agent: agent.id.rawValue, checked)!
            try addToTotals(agent: agent.id.rawValue, EventEffect(revenue: amount.micros))
            return RevenueRecord(id: recordID, agent: agent.id, checked, recordedAt: recordedAt)
        }
    }

    /// Runs a live agent's program under supervision, as `Sandbox.runAgent` does, in its
    /// production workspace (`HOME/production/agents/<id>`, created on first run), with its
    /// log in `HOME/production/logs/<id>/`, `NOVAOS_SLOT` set, and its normal budget. The
    /// agent is stopped when it is taken out of service (rolled back or retired).
    public func runAgent(_ subject: String, command: [String], options: RunOptions = RunOptions()) throws -> RunRecord {
        let paths = paths
        return try superviseRun(command: command, options: options, paths: paths, open: { start in
            try store.write {
                let agent = try store.resolve(subject)
                try store.requireLive(agent)
                guard agent.status == .active else {
                    throw SandboxError.invalidState("agent \(agent.id) is \(agent.status.rawValue); only active agents run")
                }
                guard agent.tokensUsed < agent.tokenBudget else {
                    throw SandboxError.invalidState("agent \(agent.id) has used \(agent.tokensUsed) of its \(agent.tokenBudget) tokens; nothing left to run on")
                }
                // Created through folders opened one at a time, never following a link.
                _ = try mappingLowerErrors {
                    try Directory.open(paths.home.path).subdirectory("production", mode: 0o700).subdirectory("agents", mode: 0o700)
                        .subdirectory(agent.id.rawValue, mode: 0o700)
                }
                let runID = try insertRun(agent: agent.id, start)
                let log = paths.productionFolder.appendingPathComponent("logs/\(agent.id.rawValue)/\(runID).log").path
                try db.run("UPDATE runs SET log_path = ? WHERE id = ?", log, runID)
                let config = JSONValue.decodeStored(try db.scalarText("SELECT config FROM agents WHERE id = ?", [agent.id.rawValue]))
                return OpenedRun(
                    agentID: agent.id, runID: runID,
                    tokensLeft: max(0, agent.tokenBudget - agent.tokensUsed - (try tokensReserved(agent: agent.id, excludingRun: runID))),
                    config: config, workspace: paths.workspace(forProductionAgent: agent.id).path, workspaceName: "the agent's production workspace",
                    logRoot: paths.home.path, logComponents: ["production", "logs", agent.id.rawValue], variables: ["NOVAOS_SLOT": agent.slot ?? ""]
                )
            }
        }, recordingBook: {
            try ProductionLedger(paths: paths, registry: store.registry, clock: clock, busyTimeoutMilliseconds: 50, priceFile: priceFile)
        })
    }

    /// A production agent runs while it is its slot's live version, active and under budget.
    func runState(of agentID: AgentID) throws -> RunRecorder.RunState {
        guard let agent = try store.agent(agentID.rawValue) else { return .drop(.agentKilled, "stopped: agent \(agentID) is gone") }
        guard agent.state == .live else {
            return .drop(.agentKilled, "stopped: agent \(agentID) is \(agent.state?.rawValue ?? "out of service") in its slot, no longer live")
        }
        if agent.status == .killed { return .drop(.agentKilled, "stopped: agent \(agentID) was killed") }
        let overBudget = RunRecorder.RunState.stopAfterRecording(
            .budgetExceeded, "stopped: agent \(agentID) used \(agent.tokensUsed) of its \(agent.tokenBudget) tokens"
        )
        if agent.status == .paused {
            let reason = try db.scalarText("SELECT pause_reason FROM agents WHERE id = ?", [agentID.rawValue])
            return reason == PauseReason.budgetExceeded.rawValue ? overBudget : .drop(.agentPaused, "stopped: agent \(agentID) was paused")
        }
        return agent.tokensUsed >= agent.tokenBudget ? overBudget : .runnable
    }

    /// Imports events in JSON Lines, as `Sandbox.importEvents` does; every event's `agent_id`
    /// must be a live production agent.
    public func importEvents(
        fileDescriptor: Int32, source: String, options: ImportOptions = ImportOptions(), progress: (Int64) -> Void = { _ in }
    ) throws -> ImportSummary {
        if db.isReadOnly {
            throw SandboxError.database(path: db.location, message: "the database is read-only; nothing was changed")
        }
        return try importLines(fileDescriptor: fileDescriptor, source: source, options: options, progress: progress)
    }

    /// An agent's production figures over a period, and its sandbox period's for comparison.
    ///
    /// - Parameters:
    ///   - subject: an agent ID, or a slot (its live version).
    ///   - since: the start; nil: `window` before now.
    ///   - window: the length (default 7 days); with `since`, the period is `since` plus `window`.
    public func metrics(of subject: String, since: Date? = nil, window: TimeInterval? = nil) throws -> ProductionMetrics {
        let now = now()
        let from = since ?? now.addingTimeInterval(-(window ?? 7 * 86_400))
        let to = since != nil && window != nil ? from.addingTimeInterval(window!) : now
        guard from <= to else { throw SandboxError.invalidInput("--since \(Timestamp.text(from)) is in the future") }
        return try store.read {
            let agent = try store.resolve(subject)
            return ProductionMetrics(
                agentID: agent.id, slot: agent.slot, state: agent.state, from: from, to: to,
                production: try store.figures(agent: agent.id, from: from, to: to),
                sandbox: try store.sandboxFigures(agent: agent.id)
            )
        }
    }
}

/// Money and activity over a period.
public struct LedgerFigures: Codable, Sendable, Equatable {
    public var usageEvents: Int64
    public var revenueEvents: Int64
    public var tokens: Int64
    public var cost: Money
    public var revenue: Money
    public var profit: Money
    /// (revenue − cost) / cost × 100, rounded to 4 decimals; 0 when there is no cost.
    public var roi: Double

    init(usageEvents: Int64, revenueEvents: Int64, tokens: Int64, cost: Money, revenue: Money) {
        self.usageEvents = usageEvents
        self.revenueEvents = revenueEvents
        self.tokens = tokens
        self.cost = cost
        self.revenue = revenue
        self.profit = revenue - cost
        self.roi = ROI.percent(revenue: revenue, cost: cost)
    }

    enum CodingKeys: String, CodingKey {
        case usageEvents = "usage_events", revenueEvents = "revenue_events", tokens = "tokens_used", cost = "total_cost"
        case revenue = "total_revenue", profit, roi
    }
}

/// What `production metrics` shows.
public struct ProductionMetrics: Codable, Sendable, Equatable {
    public var agentID: AgentID
    @NullEncoded public var slot: String?
    @NullEncoded public var state: ProductionState?
    /// The period measured, both ends included.
    public var from: Date
    public var to: Date
    public var production: LedgerFigures
    /// The agent's whole sandbox period, as promotion saw it; null for agents promoted
    /// before production kept it.
    @NullEncoded public var sandbox: LedgerFigures?

    enum CodingKeys: String, CodingKey {
        case agentID = "agent_id", slot, state, production, sandbox
        case from = "window_start", to = "window_end"
    }
}

extension ProductionStore {
    /// An agent's records from `from` to `to` (both included).
    func figures(agent: AgentID, from: Date, to: Date) throws -> LedgerFigures {
        let range: [any SQLiteBindable] = [agent.rawValue, Timestamp.string(from: from), Timestamp.string(from: to)]
        let usage = try db.queryFirst(
            """
            SELECT count(*), coalesce(sum(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens), 0), coalesce(sum(cost_micros), 0)
            FROM api_costs WHERE agent_id = ? AND recorded_at >= ? AND recorded_at <= ?
            """,
            range, { ($0.int64(0), $0.int64(1), $0.int64(2)) }
        ) ?? (0, 0, 0)
        let revenue = try db.queryFirst(
            "SELECT count(*), coalesce(sum(amount_micros), 0) FROM revenue WHERE agent_id = ? AND recorded_at >= ? AND recorded_at <= ?",
            range, { ($0.int64(0), $0.int64(1)) }
        ) ?? (0, 0)
        return LedgerFigures(
            usageEvents: usage.0, revenueEvents: revenue.0, tokens: usage.1, cost: Money(micros: usage.2), revenue: Money(micros: revenue.1)
        )
    }

    /// The agent's sandbox period, kept at promotion; nil when unknown.
    func sandboxFigures(agent: AgentID) throws -> LedgerFigures? {
        try db.queryFirst(
            "SELECT sandbox_usage_events, sandbox_tokens, sandbox_cost_micros, sandbox_revenue_micros, sandbox_revenue_events FROM guardrails WHERE agent_id = ? AND sandbox_cost_micros IS NOT NULL",
            [agent.rawValue]
        ) { row in
            LedgerFigures(
                usageEvents: row.int64(0), revenueEvents: row.int64(4), tokens: row.int64(1), cost: Money(micros: row.int64(2)), revenue: Money(micros: row.int64(3))
            )
        }
    }
}
