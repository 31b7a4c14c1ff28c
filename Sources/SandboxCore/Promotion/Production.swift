#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB

/// The production ledger, read-only. Only `Sandbox.promote` writes to it.
public struct Production: Sendable {
    public let paths: SandboxPaths

    public init(paths: SandboxPaths) {
        self.paths = paths
    }

    /// Every production agent, oldest first. A missing `production.db` reads as empty and is
    /// not created.
    public func listAgents() throws -> ProductionAgentList {
        let path = paths.productionDatabase.path
        guard FileManager.default.fileExists(atPath: path) else { return ProductionAgentList(agents: []) }
        let connection = try DatabaseFile.open(paths.productionDatabase, kind: .production, readOnly: true)
        do {
            let agents = try connection.query(
                """
                SELECT id, name, type, status, token_budget, config, deployed_at, promoted_from_project_id, promoted_from_agent_id
                FROM agents ORDER BY deployed_at, rowid
                """
            ) { row in
                var origin: ProductionAgent.Origin?
                if let project = row.optionalText(7), let agent = row.optionalText(8) {
                    origin = ProductionAgent.Origin(projectID: ProjectID(unchecked: project), sandboxAgentID: AgentID(unchecked: agent))
                }
                return ProductionAgent(
                    id: AgentID(unchecked: row.text(0)), name: row.text(1), type: row.text(2),
                    status: AgentStatus(rawValue: row.text(3)) ?? .killed, tokenBudget: row.int64(4),
                    config: JSONValue.decodeStored(row.text(5)), deployedAt: Timestamp.date(from: row.text(6)),
                    promotedFrom: origin
                )
            }
            return ProductionAgentList(agents: agents)
        } catch let error as SQLiteError {
            throw DatabaseFile.describe(error, path: path)
        }
    }
}
