#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SQLiteDB

/// A project's cost and revenue on one day (UTC).
public struct DailyFigures: Codable, Sendable, Equatable {
    /// `YYYY-MM-DD`.
    public var day: String
    public var cost: Money
    public var revenue: Money
}

extension Sandbox {
    /// The project's cost and revenue per day, oldest first, only the days with records: what
    /// the dashboard's chart draws. Summed in SQL over the records of the project's agents.
    public func dailyFigures(project id: ProjectID) throws -> [DailyFigures] {
        try read {
            _ = try loadProject(id)
            var days: [String: (cost: Int64, revenue: Int64)] = [:]
            let agents = "(SELECT id FROM agents WHERE project_id = ?1)"
            try db.forEachRow(
                "SELECT substr(recorded_at, 1, 10), sum(cost_micros) FROM api_costs WHERE agent_id IN \(agents) GROUP BY 1", [id.rawValue]
            ) { days[$0.text(0), default: (0, 0)].cost = $0.int64(1) }
            try db.forEachRow(
                "SELECT substr(recorded_at, 1, 10), sum(amount_micros) FROM revenue WHERE agent_id IN \(agents) GROUP BY 1", [id.rawValue]
            ) { days[$0.text(0), default: (0, 0)].revenue = $0.int64(1) }
            return days.keys.sorted().map { day in
                DailyFigures(day: day, cost: Money(micros: days[day]!.cost), revenue: Money(micros: days[day]!.revenue))
            }
        }
    }
}
