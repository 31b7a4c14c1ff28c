import Foundation
import SQLiteDB

/// What recording did to budgets: which agents it paused, and why.
public struct BudgetOutcome: Sendable, Equatable {
    /// The agent whose tokens reached its budget in this transaction, with its figures.
    public var agentOverBudget: (id: AgentID, used: Int64, budget: Int64)?
    /// The project whose cost reached its cap in this transaction, with its figures.
    public var projectOverCap: (id: ProjectID, cost: Money, cap: Money)?
    /// Every agent this transaction paused.
    public var pausedAgents: [AgentID] = []

    public var budgetExceeded: Bool { agentOverBudget != nil || projectOverCap != nil }

    public static func == (lhs: BudgetOutcome, rhs: BudgetOutcome) -> Bool {
        lhs.agentOverBudget?.id == rhs.agentOverBudget?.id && lhs.agentOverBudget?.used == rhs.agentOverBudget?.used
            && lhs.projectOverCap?.id == rhs.projectOverCap?.id && lhs.projectOverCap?.cost == rhs.projectOverCap?.cost
            && lhs.pausedAgents == rhs.pausedAgents
    }

    mutating func merge(_ other: BudgetOutcome) {
        if other.agentOverBudget != nil { agentOverBudget = other.agentOverBudget }
        if other.projectOverCap != nil { projectOverCap = other.projectOverCap }
        for id in other.pausedAgents where !pausedAgents.contains(id) { pausedAgents.append(id) }
    }

    /// One warning line per budget reached, as the CLI prints them.
    public var warnings: [String] {
        var lines: [String] = []
        if let agent = agentOverBudget {
            lines.append("agent \(agent.id) reached its token budget (\(Budgets.grouped(agent.used)) of \(Budgets.grouped(agent.budget))); it is paused")
        }
        if let project = projectOverCap {
            let others = pausedAgents.filter { $0 != agentOverBudget?.id }
            let paused = others.isEmpty ? "no other agent was active" : "paused: " + others.map(\.rawValue).joined(separator: ", ")
            lines.append("project \(project.id) reached its cost cap (\(project.cost) of \(project.cap)); \(paused)")
        }
        return lines
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

    static func grouped(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result += "," }
            result.append(digit)
        }
        return (value < 0 ? "-" : "") + result
    }
}

extension Sandbox {
    /// A project's total cost in micro-dollars: the sum of its agents' running totals.
    func projectCost(_ project: String) throws -> Int64 {
        try db.scalarInt("SELECT coalesce(sum(cost_micros), 0) FROM agents WHERE project_id = ?", [project])
    }

    /// Applies the budget rules to `agent` and its project after something was recorded, in
    /// the caller's write transaction.
    ///
    /// - Parameter added: the tokens this transaction added to the agent, to tell the
    ///   transaction that crossed the budget (which warns even when the agent was already
    ///   paused by its project's cap) from later ones.
    func enforceBudgets(agent id: String, added: Int64) throws -> BudgetOutcome {
        var outcome = BudgetOutcome()
        guard let row = try db.queryFirst(
            """
            SELECT a.status, a.tokens_used, a.token_budget, a.project_id, p.budget_micros, p.status
            FROM agents AS a JOIN projects AS p ON p.id = a.project_id WHERE a.id = ?
            """,
            [id], { ($0.text(0), $0.int64(1), $0.int64(2), $0.text(3), $0.optionalInt64(4), $0.text(5)) }
        ) else { return outcome }
        let (status, used, budget, project, cap, projectStatus) = row
        guard projectStatus == ProjectStatus.active.rawValue else { return outcome }
        let crossed = used >= budget && used - added < budget
        if used >= budget, status == AgentStatus.active.rawValue {
            try db.run("UPDATE agents SET status = 'paused', pause_reason = 'budget_exceeded' WHERE id = ? AND status = 'active'", id)
            outcome.agentOverBudget = (AgentID(unchecked: id), used, budget)
            outcome.pausedAgents.append(AgentID(unchecked: id))
        } else if crossed, status == AgentStatus.paused.rawValue {
            // Already paused by the project's cap: its own budget is now the reason to name.
            try db.run("UPDATE agents SET pause_reason = 'budget_exceeded' WHERE id = ? AND pause_reason = 'project_budget_exceeded'", id)
            outcome.agentOverBudget = (AgentID(unchecked: id), used, budget)
        }
        if let cap {
            let cost = try projectCost(project)
            if cost >= cap {
                let paused = try db.query(
                    "UPDATE agents SET status = 'paused', pause_reason = 'project_budget_exceeded' WHERE project_id = ? AND status = 'active' RETURNING id",
                    [project], { AgentID(unchecked: $0.text(0)) }
                ).sorted { $0.rawValue < $1.rawValue }
                if !paused.isEmpty {
                    outcome.projectOverCap = (ProjectID(unchecked: project), Money(micros: cost), Money(micros: cap))
                    outcome.pausedAgents += paused
                }
            }
        }
        return outcome
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

    enum CodingKeys: String, CodingKey {
        case kind, id, previous, budget
        case budgetUsedPercent = "budget_used_percent", changedAt = "changed_at"
    }
}

extension Sandbox {
    /// Sets an agent's sandbox token budget; recorded with its time. Raising a budget resumes
    /// nothing by itself (`resume` does, once the agent is under it).
    public func setTokenBudget(agent id: AgentID, tokens: Int64) throws -> BudgetChange {
        guard tokens > 0, tokens <= 1_000_000_000_000 else {
            throw SandboxError.invalidInput("--tokens must be a whole number from 1 to 1000000000000")
        }
        let changedAt = now()
        return try write {
            let agent = try loadAgent(id)
            guard agent.status != .killed else { throw SandboxError.invalidState("agent \(id) is killed") }
            try db.run("UPDATE agents SET token_budget = ? WHERE id = ?", tokens, id.rawValue)
            try db.run(
                "INSERT INTO budget_changes (target_kind, target_id, previous, budget, changed_at) VALUES ('agent', ?, ?, ?, ?)",
                id.rawValue, agent.tokenBudget, tokens, Timestamp.string(from: changedAt)
            )
            return BudgetChange(
                kind: "agent", id: id.rawValue, previous: .tokens(agent.tokenBudget), budget: .tokens(tokens),
                budgetUsedPercent: Budgets.percent(agent.tokensUsed, of: tokens), changedAt: changedAt
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
            return BudgetChange(
                kind: "project", id: id.rawValue, previous: project.budget.map(BudgetValue.money), budget: cap.map(BudgetValue.money),
                budgetUsedPercent: cap.map { Budgets.percent(cost, of: $0.micros) }, changedAt: changedAt
            )
        }
    }
}
