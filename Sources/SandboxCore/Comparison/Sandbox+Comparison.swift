#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SQLiteDB

extension Sandbox {
    /// Compares projects side by side, the first the baseline (see `Comparison`).
    ///
    /// - Throws: `invalidInput` for fewer than two projects or one named twice; `notFound`
    ///   for an unknown one.
    public func compare(projects ids: [ProjectID]) throws -> Comparison {
        try checkCompared(ids.map(\.rawValue))
        return try read {
            let columns = try ids.map { id -> (id: String, name: String, events: ComparedEvents) in
                let project = try loadProject(id)
                return (id.rawValue, project.name, try comparedEvents(where: "agent_id IN (SELECT id FROM agents WHERE project_id = ?)", id.rawValue))
            }
            return Bootstrap.compare(kind: "projects", columns)
        }
    }

    /// Compares agents side by side, the first the baseline (see `Comparison`).
    public func compare(agents ids: [AgentID]) throws -> Comparison {
        try checkCompared(ids.map(\.rawValue))
        return try read {
            let columns = try ids.map { id -> (id: String, name: String, events: ComparedEvents) in
                let agent = try loadAgent(id)
                return (id.rawValue, agent.name, try comparedEvents(where: "agent_id = ?", id.rawValue))
            }
            return Bootstrap.compare(kind: "agents", columns)
        }
    }

    private func checkCompared(_ ids: [String]) throws {
        guard ids.count >= 2 else { throw SandboxError.invalidInput("compare needs at least two to compare, the first being the baseline") }
        guard ids.count <= 20 else { throw SandboxError.invalidInput("compare takes at most 20 at once, got \(ids.count)") }
        guard Set(ids).count == ids.count else { throw SandboxError.invalidInput("compare names the same one twice") }
    }

    /// The usage costs, revenue amounts and tokens of the records matching `filter`.
    private func comparedEvents(where filter: String, _ value: String) throws -> ComparedEvents {
        var events = ComparedEvents(costs: [], revenues: [], tokens: 0)
        try db.forEachRow("SELECT cost_micros, input_tokens + output_tokens + cache_read_tokens + cache_write_tokens FROM api_costs WHERE \(filter)", [value]) { row in
            events.costs.append(row.int64(0))
            events.tokens &+= row.int64(1)
        }
        try db.forEachRow("SELECT amount_micros FROM revenue WHERE \(filter)", [value]) { row in
            events.revenues.append(row.int64(0))
        }
        return events
    }
}
