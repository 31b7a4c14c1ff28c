import Foundation
import SQLiteDB

extension Sandbox {
    /// Records one API call of an agent and adds it to the agent's running totals, in one
    /// transaction. Never refused for being over budget (the money was spent), but the same
    /// transaction pauses the agent when it reaches its token budget, and every active agent
    /// of the project when the project reaches its cost cap (see `BudgetOutcome`).
    ///
    /// - Parameters:
    ///   - model: the model called; priced from `PriceTable.standard` unless `cost` is given.
    ///   - operation: what the call was for; defaults to `api_call`.
    ///   - cost: an explicit cost, which overrides the price table.
    /// - Throws: `SandboxError.unknownModel` for a model without a price and no `cost`.
    public func recordUsage(
        agent id: AgentID, model: String, inputTokens: Int64, outputTokens: Int64,
        operation: String? = nil, cost: Money? = nil
    ) throws -> UsageRecord {
        let recordedAt = now()
        let priced = try PricedUsage(
            AgentEvent.Usage(agentID: nil, eventID: nil, model: model, operation: operation, inputTokens: inputTokens, outputTokens: outputTokens, cost: cost, timestamp: nil),
            now: Timestamp.string(from: recordedAt)
        )
        return try write {
            _ = try loadRecordingAgent(id)
            let recordID = try insertUsage(agent: id.rawValue, priced)!
            try addToTotals(agent: id.rawValue, EventEffect(tokens: priced.totalTokens, cost: priced.cost.micros))
            let budgets = try enforceBudgets(agent: id.rawValue, added: priced.totalTokens, addedCost: priced.cost.micros)
            return UsageRecord(
                id: recordID, agentID: id, model: priced.model, operation: priced.operation, inputTokens: inputTokens,
                outputTokens: outputTokens, totalTokens: priced.totalTokens, cost: priced.cost, recordedAt: recordedAt,
                budgetExceeded: budgets.budgetExceeded, pausedAgents: budgets.pausedAgents, budgetWarnings: budgets.warnings
            )
        }
    }

    /// Records revenue an agent earned and adds it to the agent's running total.
    ///
    /// - Parameter amount: greater than zero, at most six decimal places.
    public func recordRevenue(agent id: AgentID, amount: Money, source: String? = nil, description: String = "") throws -> RevenueRecord {
        let recordedAt = now()
        let checked = try CheckedRevenue(
            AgentEvent.Revenue(agentID: nil, eventID: nil, amount: amount, source: source, description: description, timestamp: nil),
            now: Timestamp.string(from: recordedAt)
        )
        return try write {
            _ = try loadRecordingAgent(id)
            let recordID = try insertRevenue(agent: id.rawValue, checked)!
            try addToTotals(agent: id.rawValue, EventEffect(revenue: amount.micros))
            return RevenueRecord(
                id: recordID, agentID: id, amount: amount, source: checked.source, description: checked.description, recordedAt: recordedAt
            )
        }
    }
}
