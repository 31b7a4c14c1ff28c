#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SQLiteDB

/// A promotion's plan as production receives it: what `sandbox promote` fixed in the sandbox,
/// read back from there, so copying it again (after a crash, or a serialization failure)
/// writes the same agents under the same IDs into the same slots.
public struct PromotionPlan: Sendable {
    public struct Agent: Sendable {
        public var sandboxID: AgentID
        public var productionID: AgentID
        public var type: String
        public var name: String
        public var normalBudget: Int64
        /// The agent's configuration, as JSON text.
        public var config: String
        /// The slot the plan fixed.
        public var slot: String
        /// The sandbox period, for the guardrails to compare with.
        public var tokens: Int64, cost: Int64, revenue: Int64, usageEvents: Int64, revenueEvents: Int64
    }

    public var projectID: ProjectID
    /// In the order the agents were deployed.
    public var agents: [Agent]
    /// When the promotion started: the production agents' `deployed_at`.
    public var startedAt: String
    public var policy: GuardrailPolicy
    /// What was learned (the evaluation, the completed experiments), as JSON text.
    public var learnings: String
    /// Who promotes (the login name), for the history's `details.user`.
    public var user: String?
}

/// Where `Sandbox.promote` copies a plan: `production.db` (`SQLitePromotionTarget`), or, in team
/// mode, a registry on PostgreSQL.
///
/// `promote` calls `lock` before it plans (so two promotions of one project serialize), then
/// `copy` and `commit`; `abandon` on any failure. `copy` must write each agent at most once,
/// whatever was copied before: production IDs fixed by the plan and unique constraints decide,
/// and a verification read refuses an ID that production holds for another agent.
public protocol PromotionTarget: AnyObject {
    /// For messages: the file or the registry.
    var name: String { get }
    func lock() throws
    func copy(_ plan: PromotionPlan, at changedAt: Date, hook: (PromotionStep) throws -> Void) throws
    func commit() throws
    /// Ends the transaction without keeping anything, if one is open; never throws.
    func abandon()
}

/// `production.db`: the plan is copied in one `BEGIN IMMEDIATE` transaction.
final class SQLitePromotionTarget: PromotionTarget {
    private let production: Connection
    let name: String

    init(_ production: Connection, path: String) {
        self.production = production
        name = path
    }

    func lock() throws {
        do {
            try production.execute("BEGIN IMMEDIATE TRANSACTION")
        } catch let error as SQLiteError {
            throw DatabaseFile.describe(error, path: name)
        }
    }

    func commit() throws {
        do {
            try production.execute("COMMIT TRANSACTION")
        } catch let error as SQLiteError {
            throw DatabaseFile.describe(error, path: name)
        }
    }

    func abandon() {
        if production.isInTransaction { try? production.execute("ROLLBACK TRANSACTION") }
    }

    func copy(_ plan: PromotionPlan, at changedAt: Date, hook: (PromotionStep) throws -> Void) throws {
        let policyJSON = String(decoding: try JSONWriter(pretty: false).encode(plan.policy), as: UTF8.self)
        let changed = Timestamp.string(from: changedAt)
        let policy = plan.policy
        do {
            if plan.agents.isEmpty { try hook(.copying) }
            for (index, agent) in plan.agents.enumerated() {
                if index == plan.agents.count / 2 { try hook(.copying) }
                // The agent goes live in its slot, and the version live there before stands by.
                // Copied already (a re-run), it changes nothing.
                if try production.scalarText("SELECT id FROM agents WHERE id = ?", [agent.productionID.rawValue]) == nil {
                    let previous = try production.scalarText("SELECT id FROM agents WHERE slot = ? AND state = 'live'", [agent.slot])
                    try production.run("UPDATE agents SET state = 'standby' WHERE slot = ? AND state = 'live'", agent.slot)
                    try production.run(
                        """
                        INSERT INTO agents (id, project_id, type, name, status, token_budget, normal_token_budget, config, deployed_at,
                                            promoted_from_project_id, promoted_from_agent_id, slot, state, live_since)
                        VALUES (?, NULL, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, 'live', ?)
                        ON CONFLICT DO NOTHING
                        """,
                        agent.productionID.rawValue, agent.type, agent.name, agent.normalBudget, agent.normalBudget, agent.config,
                        plan.startedAt, plan.projectID.rawValue, agent.sandboxID.rawValue, agent.slot, changed
                    )
                    if production.changes > 0 {
                        try production.run(
                            """
                            INSERT INTO guardrails (agent_id, min_roi, min_roi_vs_sandbox, min_events, window_seconds, bake_seconds, failure_limit,
                                                    sandbox_tokens, sandbox_cost_micros, sandbox_revenue_micros, sandbox_usage_events, sandbox_revenue_events)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                            agent.productionID.rawValue, policy.minROI, policy.minROIVsSandbox, policy.minEvents, policy.window, policy.bakeTime,
                            policy.failureLimit, agent.tokens, agent.cost, agent.revenue, agent.usageEvents, agent.revenueEvents
                        )
                        try production.run(
                            """
                            INSERT INTO production_events (at, kind, slot, agent_id, previous_agent_id, live_agent_id, actor, reason, details)
                            VALUES (?, 'promotion', ?, ?, ?, ?, 'sandbox promote', ?,
                                    json_object('project_id', ?, 'sandbox_agent_id', ?, 'guardrails', json(?), 'learned', json(?), 'user', ?))
                            """,
                            changed, agent.slot, agent.productionID.rawValue, previous, agent.productionID.rawValue,
                            "promoted from project \(plan.projectID.rawValue)",
                            plan.projectID.rawValue, agent.sandboxID.rawValue, policyJSON, plan.learnings, plan.user
                        )
                    }
                }
                let origin = try production.scalarText("SELECT promoted_from_agent_id FROM agents WHERE id = ?", [agent.productionID.rawValue])
                guard origin == agent.sandboxID.rawValue else {
                    throw SandboxError.database(
                        path: name,
                        message: "production already holds agent \(agent.productionID) from somewhere else, or agent \(agent.sandboxID) under another ID; nothing was promoted"
                    )
                }
            }
        } catch let error as SQLiteError {
            throw DatabaseFile.describe(error, path: name)
        }
    }
}
