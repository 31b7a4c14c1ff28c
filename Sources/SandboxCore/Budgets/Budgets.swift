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

/// What recording did to budgets: which budgets it reached, and which agents it paused.
public struct BudgetOutcome: Sendable, Equatable {
    public struct AgentBudget: Sendable, Equatable {
        public var id: AgentID
        public var used: Int64
        public var budget: Int64
    }

    public struct ProjectCap: Sendable, Equatable {
        public var id: ProjectID
        public var cost: Money
        public var cap: Money
        /// The agents this transaction paused for it.
        public var paused: [AgentID]
    }

    /// Agents whose tokens reached their budget in this transaction.
    public var agentsOverBudget: [AgentBudget] = []
    /// Projects whose cost reached their cap in this transaction.
    public var projectsOverCap: [ProjectCap] = []
    /// Every agent this transaction paused.
    public var pausedAgents: [AgentID] = []

    public var budgetExceeded: Bool { !agentsOverBudget.isEmpty || !projectsOverCap.isEmpty }

    mutating func merge(_ other: BudgetOutcome) {
        agentsOverBudget += other.agentsOverBudget.filter { item in !agentsOverBudget.contains { $0.id == item.id } }
        projectsOverCap += other.projectsOverCap.filter { item in !projectsOverCap.contains { $0.id == item.id } }
        for id in other.pausedAgents where !pausedAgents.contains(id) { pausedAgents.append(id) }
    }

    /// One warning line per budget reached, as the CLI prints them.
    public var warnings: [String] {
        agentsOverBudget.map { agent in
            let state = pausedAgents.contains(agent.id) ? "it is paused" : "it was already paused"
            return "agent \(agent.id) reached its token budget (\(groupedDigits(agent.used)) of \(groupedDigits(agent.budget))); \(state)"
        } + projectsOverCap.map { project in
            let paused = project.paused.isEmpty ? "no agent of it was active" : "paused: " + project.paused.map(\.rawValue).joined(separator: ", ")
            return "project \(project.id) reached its cost cap (\(project.cost) of \(project.cap)); \(paused)"
        }
    }
}

/// The rules that make budgets bind. Recording is never refused for being over budget (the
/// money was spent; the ledger stays true), but the transaction that takes an agent to or
/// past its token budget pauses it (`budget_exceeded`), and the one that takes a project to
/// or past its cost cap pauses all its active agents (`project_budget_exceeded`).
enum Budgets {
    /// `used` as a percentage of `budget`, to one decimal.
    static func percent(_ used: Int64, of budget: Int64) -> Double {
        guard budget > 0 else { return 0 }
        return (Double(used) / Double(budget) * 1_000).rounded() / 10
    }
}

extension Sandbox {
    /// The cost and cap of a project that is at or over its cap, or nil when it has room (or no cap).
    func capReached(_ project: Project) throws -> (cost: Money, cap: Money)? {
        guard let cap = project.budget else { return nil }
        let cost = Money(micros: try projectCost(project.id.rawValue))
        return cost >= cap ? (cost, cap) : nil
    }

    /// A project's total cost in micro-dollars: the sum of its agents' running totals.
    func projectCost(_ project: String) throws -> Int64 {
        try db.scalarInt("SELECT coalesce(sum(cost_micros), 0) FROM agents WHERE project_id = ?", [project])
    }

    /// Applies the budget rules to `agent` and its project after something was recorded, in
    /// the caller's write transaction.
    ///
    /// - Parameters:
    ///   - added: the tokens this transaction added to the agent, to tell the transaction that
    ///     crossed the budget (which warns even when the agent was already paused) from later ones.
    ///   - addedCost: the cost it added, likewise for the project's cap.
    func enforceBudgets(agent id: String, added: Int64, addedCost: Int64) throws -> BudgetOutcome {
        var outcome = BudgetOutcome()
        guard let row = try db.queryFirst(
            """
            SELECT a.status, a.tokens_used, a.token_budget, a.project_id, p.status
            FROM agents AS a JOIN projects AS p ON p.id = a.project_id WHERE a.id = ?
            """,
            [id], { ($0.text(0), $0.int64(1), $0.int64(2), $0.text(3), $0.text(4)) }
        ) else { return outcome }
        let (status, used, budget, project, projectStatus) = row
        guard projectStatus == ProjectStatus.active.rawValue else { return outcome }
        let agent = AgentID(unchecked: id)
        let crossed = used >= budget && used - added < budget
        if used >= budget, status == AgentStatus.active.rawValue {
            try db.run("UPDATE agents SET status = 'paused', pause_reason = 'budget_exceeded' WHERE id = ? AND status = 'active'", id)
            outcome.agentsOverBudget.append(.init(id: agent, used: used, budget: budget))
            outcome.pausedAgents.append(agent)
        } else if crossed, status == AgentStatus.paused.rawValue {
            // Already paused by the project's cap: its own budget is now the reason to name.
            try db.run("UPDATE agents SET pause_reason = 'budget_exceeded' WHERE id = ? AND pause_reason = 'project_budget_exceeded'", id)
            outcome.agentsOverBudget.append(.init(id: agent, used: used, budget: budget))
        }
        outcome.merge(try enforceCap(project: project, addedCost: addedCost))
        return outcome
    }

    /// Pauses every active agent of a project at or over its cap; reports the cap when this
    /// transaction crossed it (`addedCost` took it there) or paused anyone.
    func enforceCap(project: String, addedCost: Int64) throws -> BudgetOutcome {
        var outcome = BudgetOutcome()
        guard let cap = try db.queryFirst("SELECT budget_micros FROM projects WHERE id = ? AND status = 'active'", [project], { $0.optionalInt64(0) }) ?? nil
        else { return outcome }
        let cost = try projectCost(project)
        guard cost >= cap else { return outcome }
        let paused = try db.query(
            "UPDATE agents SET status = 'paused', pause_reason = 'project_budget_exceeded' WHERE project_id = ? AND status = 'active' RETURNING id",
            [project], { AgentID(unchecked: $0.text(0)) }
        ).sorted { $0.rawValue < $1.rawValue }
        if !paused.isEmpty || cost - addedCost < cap {
            outcome.projectsOverCap.append(.init(id: ProjectID(unchecked: project), cost: Money(micros: cost), cap: Money(micros: cap), paused: paused))
            outcome.pausedAgents += paused
        }
        return outcome
    }
}

extension EventLedger {
    /// Tokens that the agent's open runs (but `excludingRun`) hold reserved. A run whose
    /// supervisor died holds nothing: its reservation ends with it.
    func tokensReserved(agent: AgentID, excludingRun: Int64?) throws -> Int64 {
        // On a shared registry, another machine's supervisor cannot be looked at from here:
        // its reservation holds until that machine closes the run.
        let host = ledgerDatabase.supervisorHost
        let open = try ledgerDatabase.query(
            """
            SELECT reserved_tokens, supervisor_pid, supervisor_start\(host == nil ? "" : ", supervisor_host = ?") FROM runs
            WHERE agent_id = ? AND ended_at IS NULL AND reserved_tokens > 0\(excludingRun == nil ? "" : " AND id <> ?")
            """,
            (host.map { [$0] } ?? []) + [agent.rawValue] + (excludingRun.map { [$0] } ?? []),
            { ($0.int64(0), $0.optionalInt64(1), $0.optionalInt64(2), host == nil || $0.bool(3)) }
        )
        return open.reduce(Int64(0)) { sum, run in
            !run.3 || Sandbox.supervisorIsAlive(pid: run.1, start: run.2) ? sum + run.0 : sum
        }
    }
}

/// A budget as `budget` sets it: an agent's tokens or a project's dollars.
public enum BudgetValue: Codable, Sendable, Equatable {
    case tokens(Int64)
    case money(Money)

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .tokens(let tokens): try container.encode(tokens)
        case .money(let money): try container.encode(money)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let tokens = try? container.decode(Int64.self) { self = .tokens(tokens) } else { self = .money(try container.decode(Money.self)) }
    }
}

/// What `sandbox budget` changed.
public struct BudgetChange: Codable, Sendable, Equatable {
    /// `agent` (a token budget) or `project` (a cost cap in dollars).
    public var kind: String
    public var id: String
    /// The budget before, and now; null for a project without a cap.
    @NullEncoded public var previous: BudgetValue?
    @NullEncoded public var budget: BudgetValue?
    /// Use against the new budget, as a percentage (null without a cap).
    @NullEncoded public var budgetUsedPercent: Double?
    public var changedAt: Date
    /// True when the new budget is already reached (a lowered budget pauses at once).
    public var budgetExceeded = false
    public var pausedAgents: [AgentID] = []
    /// Agents the change made active again: a production agent paused by its budget, once
    /// the budget is raised above what it used (the sandbox resumes only with `resume`).
    public var resumedAgents: [AgentID] = []
    /// One line per budget reached, for people (not part of the JSON).
    public var budgetWarnings: [String] = []

    enum CodingKeys: String, CodingKey {
        case kind, id, previous, budget
        case budgetUsedPercent = "budget_used_percent", changedAt = "changed_at"
        case budgetExceeded = "budget_exceeded", pausedAgents = "paused_agents", resumedAgents = "resumed_agents"
    }
}

extension Sandbox {
    /// The largest sandbox token budget an agent may be given.
    public static let maximumTokenBudget: Int64 = 1_000_000_000_000

    /// Sets an agent's sandbox token budget; recorded with its time. Raising a budget resumes
    /// nothing by itself (`resume` does, once the agent is under it).
    public func setTokenBudget(agent id: AgentID, tokens: Int64) throws -> BudgetChange {
        guard tokens > 0, tokens <= Self.maximumTokenBudget else {
            throw SandboxError.invalidInput("--tokens must be a whole number from 1 to \(Self.maximumTokenBudget)")
        }
        let changedAt = now()
        return try write {
            let agent = try loadAgent(id)
            guard agent.status != .killed else { throw SandboxError.invalidState("agent \(id) is killed") }
            let project = try loadProject(agent.projectID)
            guard project.status == .active else { throw SandboxError.invalidState("agent \(id) belongs to project \(project.id), which is \(project.status.rawValue)") }
            try db.run("UPDATE agents SET token_budget = ? WHERE id = ?", tokens, id.rawValue)
            try db.run(
                "INSERT INTO budget_changes (target_kind, target_id, previous, budget, changed_at) VALUES ('agent', ?, ?, ?, ?)",
                id.rawValue, agent.tokenBudget, tokens, Timestamp.string(from: changedAt)
            )
            // A budget lowered to or below what is used binds at once, like any other crossing.
            let outcome = try enforceBudgets(agent: id.rawValue, added: agent.tokenBudget > agent.tokensUsed ? agent.tokensUsed : 0, addedCost: 0)
            return BudgetChange(
                kind: "agent", id: id.rawValue, previous: .tokens(agent.tokenBudget), budget: .tokens(tokens),
                budgetUsedPercent: Budgets.percent(agent.tokensUsed, of: tokens), changedAt: changedAt,
                budgetExceeded: outcome.budgetExceeded, pausedAgents: outcome.pausedAgents, budgetWarnings: outcome.warnings
            )
        }
    }

    /// Sets (or, with nil, removes) a project's cost cap; recorded with its time.
    public func setCostCap(project id: ProjectID, cap: Money?) throws -> BudgetChange {
        if let cap, cap.micros <= 0 { throw SandboxError.invalidInput("--usd must be greater than zero (or use --none)") }
        let changedAt = now()
        return try write {
            let project = try loadProject(id)
            guard project.status == .active else { throw SandboxError.invalidState("project \(id) is \(project.status.rawValue)") }
            try db.run("UPDATE projects SET budget_micros = ? WHERE id = ?", cap?.micros, id.rawValue)
            try db.run(
                "INSERT INTO budget_changes (target_kind, target_id, previous, budget, changed_at) VALUES ('project', ?, ?, ?, ?)",
                id.rawValue, project.budget?.micros, cap?.micros, Timestamp.string(from: changedAt)
            )
            let cost = try projectCost(id.rawValue)
            let wasUnder = project.budget.map { cost < $0.micros } ?? true
            let outcome = try enforceCap(project: id.rawValue, addedCost: wasUnder ? cost : 0)
            return BudgetChange(
                kind: "project", id: id.rawValue, previous: project.budget.map(BudgetValue.money), budget: cap.map(BudgetValue.money),
                budgetUsedPercent: cap.map { Budgets.percent(cost, of: $0.micros) }, changedAt: changedAt,
                budgetExceeded: outcome.budgetExceeded, pausedAgents: outcome.pausedAgents, budgetWarnings: outcome.warnings
            )
        }
    }
}
