#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB

/// What `reprice` found (and, unless a dry run, changed).
public struct RepriceResult: Encodable, Sendable, Equatable {
    /// One model's records in scope, before and after.
    public struct ModelChange: Encodable, Sendable, Equatable {
        public var model: String
        /// Its table-priced records in scope.
        public var records: Int
        /// Those whose cost or price source changes.
        public var changedRecords: Int
        public var oldCost: Money
        public var newCost: Money
        public var difference: Money

        enum CodingKeys: String, CodingKey {
            case model, records, difference
            case changedRecords = "changed_records", oldCost = "old_cost", newCost = "new_cost"
        }
    }

    /// True when nothing was written.
    public var dryRun: Bool
    /// Table- and override-priced records in scope (explicit costs are never repriced).
    public var examinedRecords: Int
    public var changedRecords: Int
    /// Records whose model has no price in today's table at their time: left as they were.
    public var unpricedRecords: Int
    /// The models with at least one changed record.
    public var models: [ModelChange]
    public var oldCost: Money
    public var newCost: Money
    /// The agents the new costs paused, when a project reached its cost cap.
    public var pausedAgents: [AgentID] = []
    public var budgetExceeded = false
    /// One line per cap reached, for people (not part of the JSON).
    public var budgetWarnings: [String] = []

    enum CodingKeys: String, CodingKey {
        case models
        case dryRun = "dry_run", examinedRecords = "examined_records", changedRecords = "changed_records"
        case unpricedRecords = "unpriced_records", oldCost = "old_cost", newCost = "new_cost"
        case pausedAgents = "paused_agents", budgetExceeded = "budget_exceeded"
    }
}

extension Sandbox {
    /// Recomputes the cost of every table-priced usage record (`price_source` `table:` or
    /// `override:`) against today's price table, each at the entry in force at the record's
    /// time, and, unless `dryRun`, stores the new costs and sources.
    ///
    /// One transaction: the records, their agents' totals and the sandbox totals change
    /// together, so every total stays exactly the sum of its records. Explicit costs are
    /// never repriced; a record whose model no longer has a price is left as it was and
    /// counted in `unpricedRecords`. A project the new costs take to its cap is paused, as
    /// recording would.
    ///
    /// - Parameters:
    ///   - project: only this project's agents; nil: the whole sandbox.
    ///   - since: only records at or after this time.
    public func reprice(project: ProjectID? = nil, since: Date? = nil, dryRun: Bool = false) throws -> RepriceResult {
        let prices = try prices()
        let body = { () throws -> RepriceResult in
            if let project { _ = try self.loadProject(project) }
            return try self.repriceRecords(prices: prices, project: project, since: since, dryRun: dryRun)
        }
        return try dryRun ? read(body) : write(body)
    }

    private func repriceRecords(prices: PriceCatalog, project: ProjectID?, since: Date?, dryRun: Bool) throws -> RepriceResult {
        var sql = """
            SELECT c.id, c.agent_id, c.model, c.input_tokens, c.output_tokens, c.cache_read_tokens, c.cache_write_tokens,
                   c.cache_ttl, c.batch, c.cost_micros, c.price_source, c.recorded_at, a.project_id
            FROM api_costs c JOIN agents a ON a.id = c.agent_id
            WHERE c.price_source <> 'explicit' AND a.project_id IS NOT NULL
            """
        var arguments: [any SQLiteBindable] = []
        if let project {
            sql += " AND a.project_id = ?"
            arguments.append(project.rawValue)
        }
        if let since {
            // Compared as (length, text): a year past 9999 has five digits and sorts after.
            let time = Timestamp.string(from: since)
            sql += " AND (length(c.recorded_at), c.recorded_at) >= (?, ?)"
            arguments += [Int64(time.utf8.count), time]
        }
        sql += " ORDER BY c.id"

        struct Change { var id: Int64; var cost: Int64; var source: String }
        var changes: [Change] = []
        var byModel: [String: RepriceResult.ModelChange] = [:]
        var agentDeltas: [String: (project: String, delta: Money)] = [:]
        var examined = 0
        var unpriced = 0
        // Read row by row: the changes are kept, not the rows.
        _ = try db.query(sql, arguments) { row -> Void in
            examined += 1
            let model = row.text(2)
            let oldCost = row.int64(9)
            guard let ttl = CacheDuration(rawValue: row.text(7)) else {
                throw SandboxError.database(path: paths.sandboxDatabase.path, message: "usage record \(row.int64(0)) has an unknown cache_ttl")
            }
            let tokens = TokenCounts(input: row.int64(3), output: row.int64(4), cacheRead: row.int64(5), cacheWrite: row.int64(6))
            let entry: PriceEntry
            let newCost: Int64
            do {
                entry = try prices.entry(for: model, at: row.text(11))
                newCost = try entry.cost(of: tokens, batch: row.int64(8) == 1, cacheDuration: ttl).micros
            } catch is SandboxError {
                unpriced += 1
                return
            }
            var summary = byModel[model] ?? .init(model: model, records: 0, changedRecords: 0, oldCost: .zero, newCost: .zero, difference: .zero)
            summary.records += 1
            summary.oldCost = try summary.oldCost.adding(Money(micros: oldCost))
            summary.newCost = try summary.newCost.adding(Money(micros: newCost))
            if newCost != oldCost || entry.priceSource != row.text(10) {
                summary.changedRecords += 1
                changes.append(Change(id: row.int64(0), cost: newCost, source: entry.priceSource))
                let agent = row.text(1)
                let previous = agentDeltas[agent]?.delta ?? .zero
                agentDeltas[agent] = (row.text(12), try previous.adding(Money(micros: newCost - oldCost)))
            }
            byModel[model] = summary
        }

        let changedModels = byModel.values.filter { $0.changedRecords > 0 }.sorted { $0.model < $1.model }.map { model -> RepriceResult.ModelChange in
            var model = model
            model.difference = model.newCost - model.oldCost
            return model
        }
        var result = RepriceResult(
            dryRun: dryRun, examinedRecords: examined, changedRecords: changes.count, unpricedRecords: unpriced, models: changedModels,
            oldCost: try changedModels.reduce(.zero) { try $0.adding($1.oldCost) },
            newCost: try changedModels.reduce(.zero) { try $0.adding($1.newCost) }
        )
        guard !dryRun, !changes.isEmpty else { return result }

        let update = try db.prepare("UPDATE api_costs SET cost_micros = ?, price_source = ? WHERE id = ?")
        for change in changes {
            try update.run([change.cost, change.source, change.id])
        }
        // Agents' totals move by exactly their records' differences (the sandbox totals follow
        // through their trigger); a project whose cost rose may now be at its cap.
        var outcome = BudgetOutcome()
        var raisedProjects: [String: Money] = [:]
        for (agent, change) in agentDeltas.sorted(by: { $0.key < $1.key }) where change.delta != .zero {
            try addToTotals(agent: agent, EventEffect(cost: change.delta.micros))
            raisedProjects[change.project] = try (raisedProjects[change.project] ?? .zero).adding(change.delta)
        }
        for (project, delta) in raisedProjects.sorted(by: { $0.key < $1.key }) where delta > .zero {
            outcome.merge(try enforceCap(project: project, addedCost: delta.micros))
        }
        result.pausedAgents = outcome.pausedAgents
        result.budgetExceeded = outcome.budgetExceeded
        result.budgetWarnings = outcome.warnings
        return result
    }
}
