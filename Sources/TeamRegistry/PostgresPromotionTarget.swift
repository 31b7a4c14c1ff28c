#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PostgresDB
import SandboxCore

/// `sandbox promote` into a team's registry on PostgreSQL, with the guarantees it has on SQLite
/// (exactly once, one live version per slot), from any number of sandboxes at once:
///
/// - the production IDs are the ones the sandbox's plan fixed, so a re-run writes the same rows;
/// - `INSERT … ON CONFLICT DO NOTHING` and a verification read: an agent already copied is
///   left alone, and an ID that production holds for another agent refuses the promotion;
/// - the history's lock is taken first (`pg_advisory_xact_lock`), so history ids follow commit
///   order, then the plan's slots' in sorted order, the order every change of a slot takes
///   them in, so no two changes wait on each other in a cycle; the unique index
///   `agents_one_live_per_slot` is the arbiter whatever happens;
/// - a serialization failure or a deadlock runs the copy again in a new transaction (the plan
///   is fixed data), a bounded number of times; a lost connection fails the promotion, and
///   the next `promote` completes its plan.
public final class PostgresPromotionTarget: PromotionTarget {
    private let db: PostgresConnection
    public let name: String
    private let maximumAttempts: Int

    /// - Parameter name: the registry as messages show it (its URL, without a password).
    public init(_ db: PostgresConnection, name: String, maximumAttempts: Int = 8) {
        self.db = db
        self.name = name
        self.maximumAttempts = maximumAttempts
    }

    public func lock() throws {
        try mapped { try db.execute("BEGIN ISOLATION LEVEL READ COMMITTED") }
    }

    public func copy(_ plan: PromotionPlan, at changedAt: Date, hook: (PromotionStep) throws -> Void) throws {
        var attempt = 1
        while true {
            do {
                try mapped { try copyOnce(plan, at: changedAt, hook: hook) }
                return
            } catch let error as SandboxError where error.isRetryablePostgres && attempt < maximumAttempts {
                // The transaction is lost: run the copy again in a new one.
                try? db.execute("ROLLBACK")
                PostgresConnection.backOff(after: attempt)
                attempt += 1
                try mapped { try db.execute("BEGIN ISOLATION LEVEL READ COMMITTED") }
            }
        }
    }

    public func commit() throws {
        try mapped { try db.execute("COMMIT") }
    }

    public func abandon() {
        if db.isConnected { try? db.execute("ROLLBACK") }
    }

    private func copyOnce(_ plan: PromotionPlan, at changedAt: Date, hook: (PromotionStep) throws -> Void) throws {
        // The history's lock first, then the slots' in sorted order: the order every change of
        // a slot takes them in (rollback, retirement, check), so none waits on another in a cycle.
        try db.query("SELECT pg_advisory_xact_lock($1)", [RegistrySchema.historyLock])
        for slot in Set(plan.agents.map(\.slot)).sorted() {
            try db.query(RegistrySchema.slotLockSQL, [slot])
        }
        let changed = Timestamp.text(changedAt)
        let policy = plan.policy
        let policyValue = try JSONValue.parseObject(String(decoding: try JSONWriter(pretty: false).encode(policy), as: UTF8.self), what: "the guardrails")
        let learned = try JSONValue.parseObject(plan.learnings, what: "what was learned")
        if plan.agents.isEmpty { try hook(.copying) }
        for (index, agent) in plan.agents.enumerated() {
            if index == plan.agents.count / 2 { try hook(.copying) }
            if try db.query("SELECT id FROM agents WHERE id = $1", [agent.productionID.rawValue]).isEmpty {
                let previous = try db.query("SELECT id FROM agents WHERE slot = $1 AND state = 'live'", [agent.slot]).first?.text(at: 0)
                try db.run("UPDATE agents SET state = 'standby' WHERE slot = $1 AND state = 'live'", [agent.slot])
                let inserted = try db.run(
                    """
                    INSERT INTO agents (id, project_id, type, name, status, token_budget, normal_token_budget, config, deployed_at,
                                        promoted_from_project_id, promoted_from_agent_id, slot, state, live_since)
                    VALUES ($1, NULL, $2, $3, 'active', $4, $4, $5, $6, $7, $8, $9, 'live', $10)
                    ON CONFLICT DO NOTHING
                    """,
                    [agent.productionID.rawValue, agent.type, agent.name, agent.normalBudget, agent.config, plan.startedAt,
                     plan.projectID.rawValue, agent.sandboxID.rawValue, agent.slot, changed]
                )
                if inserted > 0 {
                    try db.run(
                        """
                        INSERT INTO guardrails (agent_id, min_roi, min_roi_vs_sandbox, min_events, window_seconds, bake_seconds, failure_limit,
                                                sandbox_tokens, sandbox_cost_micros, sandbox_revenue_micros, sandbox_usage_events, sandbox_revenue_events)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                        """,
                        [agent.productionID.rawValue, String(policy.minROI), String(policy.minROIVsSandbox), policy.minEvents, policy.window,
                         policy.bakeTime, policy.failureLimit, agent.tokens, agent.cost, agent.revenue, agent.usageEvents, agent.revenueEvents]
                    )
                    let details = JSONValue.object([
                        "project_id": .string(plan.projectID.rawValue), "sandbox_agent_id": .string(agent.sandboxID.rawValue),
                        "guardrails": .object(policyValue), "learned": .object(learned), "user": plan.user.map(JSONValue.string) ?? .null,
                    ])
                    try db.run(
                        """
                        INSERT INTO production_events (at, kind, slot, agent_id, previous_agent_id, live_agent_id, actor, reason, details)
                        VALUES ($1, 'promotion', $2, $3, $4, $3, 'sandbox promote', $5, $6)
                        """,
                        [changed, agent.slot, agent.productionID.rawValue, previous, "promoted from project \(plan.projectID.rawValue)", details.jsonText]
                    )
                }
            }
            let origin = try db.query("SELECT promoted_from_agent_id FROM agents WHERE id = $1", [agent.productionID.rawValue]).first?.text(at: 0)
            guard origin == agent.sandboxID.rawValue else {
                throw SandboxError.database(
                    path: name,
                    message: "production already holds agent \(agent.productionID) from somewhere else, or agent \(agent.sandboxID) under another ID; nothing was promoted"
                )
            }
        }
    }

    /// `body`, with PostgreSQL's errors as SandboxCore's, naming the registry.
    private func mapped<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError {
            throw SandboxError(error, registry: name)
        }
    }
}

extension SandboxError {
    /// A PostgreSQL failure as SandboxCore reports it: a lost connection is `unavailable`,
    /// a serialization failure or deadlock `busy` (try again), the rest `database` with the
    /// `SQLSTATE`. The server's detail is left out: it can quote the row's values.
    init(_ error: PostgresError, registry: String) {
        if error.isRetryable {
            self = .busy(path: registry)
        } else if error.isConnectionFailure {
            self = .unavailable("the production registry \(registry) cannot be reached (\(error.message))")
        } else {
            self = .database(path: registry, message: error.message + (error.sqlState.map { " (SQLSTATE \($0))" } ?? ""))
        }
    }

    var isRetryablePostgres: Bool {
        if case .busy = self { return true }
        return false
    }
}
