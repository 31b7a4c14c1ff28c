#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB

/// An agent's latest guardrail check.
public struct LatestCheck: Codable, Sendable, Equatable {
    public var verdict: GuardrailVerdict
    public var reason: String
    public var checkedAt: Date
    public var consecutiveFailures: Int

    enum CodingKeys: String, CodingKey {
        case verdict, reason
        case checkedAt = "checked_at", consecutiveFailures = "consecutive_failures"
    }
}

/// Production as it is (or was): agents, slots and the history, read-only. `Sandbox.promote`,
/// `ProductionLedger` and `ProductionGuard` write it.
public struct Production: Sendable {
    public let paths: SandboxPaths
    public let registry: ProductionRegistry

    /// - Parameter registry: where production lives; nil: `production.db`.
    public init(paths: SandboxPaths, registry: ProductionRegistry? = nil) {
        self.paths = paths
        self.registry = registry ?? .file(paths)
    }

    /// Every production agent, oldest first. A missing `production.db` reads as empty and is
    /// not created; so does a team registry no one has promoted into yet.
    public func listAgents() throws -> ProductionAgentList {
        try reading { connection, hasSlots in
            ProductionAgentList(agents: try Self.agents(in: connection, hasSlots: hasSlots, where: "", []))
        } ?? ProductionAgentList(agents: [])
    }

    /// One page of the production agents in the order they were added (as `listAgents` orders
    /// them, but for a promotion resumed after a crash), after the agent `cursor` (a production
    /// agent ID): an agent added later always comes on a later page.
    public func listAgents(cursor: String?, limit: Int) throws -> Page<ProductionAgent> {
        try Page<ProductionAgent>.check(limit: limit)
        let cursor = try cursor.map { text -> String in
            guard let id = try? AgentID(text) else { throw SandboxError.invalidInput("invalid cursor \(quoted(text)): expected the next_cursor of a page") }
            return id.rawValue
        }
        let rows = try reading { connection, hasSlots in
            guard let cursor else {
                return try Self.agents(in: connection, hasSlots: hasSlots, where: "", [], orderBy: "position", limit: limit + 1)
            }
            if try connection.scalarInt("SELECT count(*) FROM (\(Self.agentsView(hasSlots))) AS agents WHERE id = ?", [cursor]) == 0 {
                throw SandboxError.notFound(kind: "production agent", id: cursor)
            }
            return try Self.agents(
                in: connection, hasSlots: hasSlots,
                where: "WHERE position > (SELECT position FROM (\(Self.agentsView(hasSlots))) AS cursor WHERE id = ?)",
                [cursor], orderBy: "position", limit: limit + 1
            )
        }
        if rows == nil, let cursor { throw SandboxError.notFound(kind: "production agent", id: cursor) }
        return Page(key: "agents", rows: rows ?? [], limit: limit) { $0.id.rawValue }
    }

    /// What was in production at `time`, from the history: the agents promoted by then, each
    /// slot's version live at that moment `live`, those rolled back or retired by then so, and
    /// the others `standby`; agents that were never promoted, as deployed by then.
    public func listAgents(at time: Date) throws -> ProductionAgentList {
        try reading { connection, hasSlots in
            let events = try Self.events(in: connection, hasSlots: hasSlots, where: "WHERE at <= ?", [Timestamp.string(from: time)])
            var liveBySlot: [String: AgentID?] = [:]
            var promoted: Set<AgentID> = []
            var outOfService: [AgentID: ProductionState] = [:]
            for event in events {
                if let slot = event.slot { liveBySlot[slot] = event.liveAgentID }
                guard let agent = event.agentID else { continue }
                switch event.kind {
                case "promotion": promoted.insert(agent)
                case "rollback": outOfService[agent] = .rolledBack
                case "retire": outOfService[agent] = .retired
                default: break
                }
            }
            let all = try Self.agents(in: connection, hasSlots: hasSlots, where: "", [])
            let agents = all.compactMap { agent -> ProductionAgent? in
                var agent = agent
                guard let slot = agent.slot else { return agent.deployedAt <= time ? agent : nil }
                guard promoted.contains(agent.id) else { return nil }
                if case .some(.some(let live)) = liveBySlot[slot], live == agent.id {
                    agent.state = .live
                } else {
                    agent.state = outOfService[agent.id] ?? .standby
                }
                return agent
            }
            return ProductionAgentList(agents: agents)
        } ?? ProductionAgentList(agents: [])
    }

    /// One slot's versions, newest (last promoted) first, and its history. An unknown slot is
    /// refused.
    public func slot(_ name: String) throws -> SlotDetail {
        let detail = try reading { connection, hasSlots -> SlotDetail? in
            let versions = try Self.agents(in: connection, hasSlots: hasSlots, where: "WHERE slot = ?", [name], orderBy: "position DESC")
            guard !versions.isEmpty else { return nil }
            return SlotDetail(
                slot: name, live: versions.first { $0.state == .live }?.id, versions: versions,
                events: try Self.events(in: connection, hasSlots: hasSlots, where: "WHERE slot = ?", [name])
            )
        }
        guard let detail = detail ?? nil else {
            throw SandboxError.notFound(kind: "production slot named", id: name, hint: "'novaos production list' shows the slots")
        }
        return detail
    }

    /// The history of production, oldest first: every change, or those of one slot or agent
    /// (`subject`), from `since` on.
    public func history(of subject: String? = nil, since: Date? = nil) throws -> ProductionHistory {
        ProductionHistory(events: try events(of: subject, since: since, after: nil, limit: nil))
    }

    /// One page of `history`, the events after the event `cursor`.
    public func history(of subject: String? = nil, cursor: String?, limit: Int) throws -> Page<ProductionEvent> {
        try Page<ProductionEvent>.check(limit: limit)
        let rows = try events(of: subject, since: nil, after: try Page<ProductionEvent>.rowID(cursor), limit: limit + 1)
        return Page(key: "events", rows: rows, limit: limit) { String($0.id) }
    }

    private func events(of subject: String?, since: Date?, after: Int64?, limit: Int?) throws -> [ProductionEvent] {
        let history = try reading { connection, hasSlots -> [ProductionEvent] in
            var conditions: [String] = []
            var values: [any SQLiteBindable] = []
            if let subject {
                let known = try connection.scalarInt("SELECT count(*) FROM (\(Self.agentsView(hasSlots))) AS agents WHERE slot = ?1 OR id = ?1", [subject])
                guard known > 0 else {
                    throw SandboxError.notFound(kind: "production agent or slot named", id: subject, hint: "'novaos production list' shows them")
                }
                conditions.append("(slot = ? OR agent_id = ? OR previous_agent_id = ?)")
                values += [subject, subject, subject]
            }
            if let since {
                conditions.append("at >= ?")
                values.append(Timestamp.string(from: since))
            }
            if let after {
                conditions.append("id > ?")
                values.append(after)
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            return try Self.events(in: connection, hasSlots: hasSlots, where: filter, values, limit: limit)
        }
        if let history { return history }
        if let subject { throw SandboxError.notFound(kind: "production agent or slot named", id: subject, hint: "there is no production database yet") }
        return []
    }

    /// The latest guardrail check of each agent ever checked (`production check`), by agent;
    /// empty before any check or before guardrails existed (version 5).
    public func latestChecks() throws -> [AgentID: LatestCheck] {
        try reading { connection, _ -> [AgentID: LatestCheck] in
            guard try connection.productionSchemaVersion() >= 5 else { return [:] }
            var verdicts: [AgentID: LatestCheck] = [:]
            try connection.forEachRow(
                """
                SELECT agent_id, verdict, reason, checked_at, consecutive_failures FROM guardrail_checks
                WHERE id IN (SELECT max(id) FROM guardrail_checks GROUP BY agent_id)
                """, []
            ) { row in
                guard let verdict = GuardrailVerdict(rawValue: row.text(1)) else {
                    throw SandboxError.database(path: connection.location, message: "unknown guardrail verdict \(quoted(row.text(1)))")
                }
                verdicts[AgentID(unchecked: row.text(0))] = LatestCheck(
                    verdict: verdict, reason: row.text(2), checkedAt: Timestamp.date(from: row.text(3)), consecutiveFailures: row.int(4)
                )
            }
            return verdicts
        } ?? [:]
    }

    /// Runs `body` on a connection to the registry for reading, in one read transaction; nil
    /// when there is no registry yet (it is not created). `hasSlots` is false for a
    /// `production.db` older than version 4, which a read-only command reads without upgrading.
    private func reading<T>(_ body: (any LedgerDatabase, _ hasSlots: Bool) throws -> T) throws -> T? {
        guard let connection = try registry.readable() else { return nil }
        // The version is read inside the transaction: another process may upgrade the
        // database meanwhile, and the snapshot must match the columns read from it.
        return try connection.mappingErrors {
            try connection.read { try body(connection, try connection.productionSchemaVersion() >= 4) }
        }
    }

    /// The agents with their slot and state. Before version 4 these are what the upgrade will
    /// write: a promoted agent in the slot of its name, the last promoted there live.
    private static func agentsView(_ hasSlots: Bool) -> String {
        hasSlots ? "SELECT rowid AS position, * FROM agents" : """
            SELECT rowid AS position, *,
                   CASE WHEN promoted_from_agent_id IS NULL THEN NULL ELSE name END AS slot,
                   CASE WHEN promoted_from_agent_id IS NULL THEN NULL
                        WHEN rowid = (SELECT max(newest.rowid) FROM agents AS newest
                                      WHERE newest.name = agents.name AND newest.promoted_from_agent_id IS NOT NULL) THEN 'live'
                        ELSE 'standby' END AS state
            FROM agents
            """
    }

    private static func agents(
        in connection: any LedgerDatabase, hasSlots: Bool, where filter: String, _ values: [any SQLiteBindable],
        orderBy order: String = "deployed_at, position", limit: Int? = nil
    ) throws -> [ProductionAgent] {
        try connection.query(
            """
            SELECT id, name, type, status, token_budget, config, deployed_at, promoted_from_project_id, promoted_from_agent_id, slot, state
            FROM (\(agentsView(hasSlots))) AS agents \(filter) ORDER BY \(order)\(limit.map { " LIMIT \($0)" } ?? "")
            """,
            values
        ) { row in
            var origin: ProductionAgent.Origin?
            if let project = row.optionalText(7), let agent = row.optionalText(8) {
                origin = ProductionAgent.Origin(projectID: ProjectID(unchecked: project), sandboxAgentID: AgentID(unchecked: agent))
            }
            return ProductionAgent(
                id: AgentID(unchecked: row.text(0)), name: row.text(1), type: row.text(2),
                status: AgentStatus(rawValue: row.text(3)) ?? .killed, tokenBudget: row.int64(4),
                config: JSONValue.decodeStored(row.text(5)), deployedAt: Timestamp.date(from: row.text(6)),
                promotedFrom: origin, slot: row.optionalText(9), state: row.optionalText(10).flatMap(ProductionState.init(rawValue:))
            )
        }
    }

    /// The history; before version 4, the promotions the upgrade will write into it.
    private static func events(
        in connection: any LedgerDatabase, hasSlots: Bool, where filter: String, _ values: [any SQLiteBindable], limit: Int? = nil
    ) throws -> [ProductionEvent] {
        let table = hasSlots ? "production_events" : "(SELECT number AS id, * FROM (\(Schema.oldPromotions)))"
        return try connection.query(
            "SELECT id, at, kind, slot, agent_id, previous_agent_id, live_agent_id, actor, reason, details FROM \(table) AS events \(filter) ORDER BY id\(limit.map { " LIMIT \($0)" } ?? "")",
            values
        ) { row in
            ProductionEvent(
                id: row.int64(0), at: Timestamp.date(from: row.text(1)), kind: row.text(2), slot: row.optionalText(3),
                agentID: row.optionalText(4).map(AgentID.init(unchecked:)), previousAgentID: row.optionalText(5).map(AgentID.init(unchecked:)),
                liveAgentID: row.optionalText(6).map(AgentID.init(unchecked:)),
                actor: row.text(7), reason: row.text(8), details: JSONValue.decodeStored(row.text(9))
            )
        }
    }
}
