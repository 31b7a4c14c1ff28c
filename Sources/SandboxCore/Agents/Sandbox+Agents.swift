#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB

extension Sandbox {
    /// Deploys an agent into an active project.
    ///
    /// - Parameters:
    ///   - type: the agent type; its normal budget comes from `AgentTypes` (1,000 tokens
    ///     for unknown types) and the sandbox grants ten times that.
    ///   - name: a display name; defaults to the type.
    ///   - configJSON: a JSON object, stored exactly as given. A `token_budget` key sets the
    ///     sandbox budget instead of the 10× rule.
    /// - Returns: the agent; paused (`project_budget_exceeded`) when the project is already at its cap.
    public func deployAgent(
        project projectID: ProjectID, type: String, name: String? = nil, configJSON: String = "{}", normalBudget: Int64? = nil
    ) throws -> Agent {
        try AgentTypes.validate(type)
        let name = name ?? type
        try validateText(name, field: "agent name", maximumLength: Self.maximumNameLength)
        let config = try JSONValue.parseObject(configJSON, what: "--config")
        var budget = try AgentBudget.resolve(type: type, config: config)
        if let normalBudget {
            guard config["token_budget"] == nil else {
                throw SandboxError.invalidInput("give the budget once: --budget-tokens or token_budget in --config, not both")
            }
            guard normalBudget > 0, normalBudget <= AgentTypes.maximumNormalBudget else {
                throw SandboxError.invalidInput("--budget-tokens must be a whole number from 1 to \(AgentTypes.maximumNormalBudget)")
            }
            budget = AgentBudget(sandbox: normalBudget * AgentTypes.sandboxMultiplier, normal: normalBudget)
        }
        let deployedAt = now()
        let metadata = JSONValue.object([
            "sandbox": .object([
                "multiplier": .integer(AgentTypes.sandboxMultiplier),
                "normal_token_budget": .integer(budget.normal),
            ]),
        ])
        return try write {
            let project = try loadProject(projectID)
            guard project.status == .active else {
                throw SandboxError.invalidState("project \(projectID) is \(project.status.rawValue); agents can only be deployed to an active project")
            }
            if try pendingPromotionExists(projectID) {
                throw SandboxError.invalidState("project \(projectID) has a promotion in progress; run 'novaos sandbox promote \(projectID)' to finish it first")
            }
            var id = AgentID.randomSandbox()
            while try db.scalarInt("SELECT count(*) FROM agents WHERE id = ?", [id.rawValue]) > 0 {
                id = AgentID.randomSandbox()
            }
            try db.run(
                """
                INSERT INTO agents (id, project_id, type, name, status, token_budget, normal_token_budget, config, metadata, deployed_at)
                VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?)
                """,
                id.rawValue, projectID.rawValue, type, name, budget.sandbox, budget.normal, configJSON,
                metadata.jsonText, Timestamp.string(from: deployedAt)
            )
            // A project already at its cap takes new agents paused, like the ones it has.
            _ = try enforceCap(project: projectID.rawValue, addedCost: 0)
            return try loadAgent(id)
        }
    }

    /// The agent with this ID.
    public func agent(_ id: AgentID) throws -> Agent {
        try read { try loadAgent(id) }
    }

    static let agentColumns = """
        id, project_id, type, name, status, token_budget, config, deployed_at, tokens_used, cost_micros, revenue_micros, pause_reason
        """

    static func decodeAgent(_ row: Row) -> Agent {
        let cost = Money(micros: row.int64(9))
        let revenue = Money(micros: row.int64(10))
        return Agent(
            id: AgentID(unchecked: row.text(0)), projectID: ProjectID(unchecked: row.text(1)), type: row.text(2),
            name: row.text(3), status: AgentStatus(rawValue: row.text(4)) ?? .killed, tokenBudget: row.int64(5),
            config: JSONValue.decodeStored(row.text(6)), deployedAt: Timestamp.date(from: row.text(7)),
            tokensUsed: row.int64(8), totalCost: cost, totalRevenue: revenue, profit: revenue - cost,
            roi: ROI.percent(revenue: revenue, cost: cost), pauseReason: row.optionalText(11).flatMap(PauseReason.init(rawValue:)),
            budgetUsedPercent: Budgets.percent(row.int64(8), of: row.int64(5))
        )
    }

    func loadAgent(_ id: AgentID) throws -> Agent {
        let agent = try db.queryFirst(
            "SELECT \(Self.agentColumns) FROM agents WHERE id = ? AND project_id IS NOT NULL", [id.rawValue], Self.decodeAgent
        )
        guard let agent else { throw SandboxError.notFound(kind: "agent", id: id.rawValue) }
        return agent
    }

    func loadAgents(project: ProjectID) throws -> [Agent] {
        try db.query(
            "SELECT \(Self.agentColumns) FROM agents WHERE project_id = ? ORDER BY deployed_at, rowid", [project.rawValue], Self.decodeAgent
        )
    }

    /// The agent and its project's status, for operations that record on an agent's behalf.
    func loadRecordingAgent(_ id: AgentID) throws -> Agent {
        let agent = try loadAgent(id)
        guard agent.status != .killed else {
            throw SandboxError.invalidState("agent \(id) is killed; it can no longer record usage or revenue")
        }
        let status = try db.scalarText("SELECT status FROM projects WHERE id = ?", [agent.projectID.rawValue])
        guard status == ProjectStatus.active.rawValue else {
            throw SandboxError.invalidState("agent \(id) belongs to project \(agent.projectID), which is \(status ?? "gone"); it can no longer record usage or revenue")
        }
        return agent
    }
}

/// An agent as the command line names it: its ID (`agt_…`), or `PROJECT_ID/NAME` where the
/// name is unique in its project. Parsed (and a malformed one refused) before any file is
/// opened; `Sandbox.agentID(for:)` looks a name up.
public enum AgentReference: Sendable, Equatable {
    case id(AgentID)
    case name(project: ProjectID, name: String)

    public init(_ text: String) throws {
        guard let slash = text.firstIndex(of: "/") else {
            self = .id(try AgentID(text))
            return
        }
        let name = String(text[text.index(after: slash)...])
        guard !name.isEmpty else { throw SandboxError.invalidInput("\(quoted(text)): give the agent's name after the project, as PROJECT_ID/NAME") }
        self = .name(project: try ProjectID(String(text[..<slash])), name: name)
    }
}

extension Sandbox {
    /// The agent a reference names. A name must be unique in its project.
    public func agentID(for reference: AgentReference) throws -> AgentID {
        switch reference {
        case .id(let id):
            return id
        case .name(let project, let name):
            return try read {
                _ = try loadProject(project)
                let ids = try db.query("SELECT id FROM agents WHERE project_id = ? AND name = ? LIMIT 2", [project.rawValue, name]) { $0.text(0) }
                guard let id = ids.first else {
                    throw SandboxError.notFound(kind: "agent named", id: "\(project)/\(name)", hint: "'novaos sandbox project \(project)' lists its agents")
                }
                guard ids.count == 1 else {
                    throw SandboxError.invalidInput("project \(project) has several agents named \(quoted(name)); name one by its ID")
                }
                return AgentID(unchecked: id)
            }
        }
    }
}
