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
    /// Records one API call of an agent and adds it to the agent's running totals, in one
    /// transaction. Never refused for being over budget (the money was spent), but the same
    /// transaction pauses the agent when it reaches its token budget, and every active agent
    /// of the project when the project reaches its cost cap (see `BudgetOutcome`).
    ///
    /// - Parameters:
    ///   - model: the model called; priced from `prices()` unless `cost` is given.
    ///   - tokens: input (without cached tokens), output, cache-read and cache-write tokens.
    ///   - batch: a call of the provider's batch API, priced with its batch discount.
    ///   - cacheDuration: the lifetime of the cache entries written, which decides their price.
    ///   - operation: what the call was for; defaults to `api_call`.
    ///   - cost: an explicit cost, which overrides the price table (`price_source` `explicit`).
    /// - Throws: `SandboxError.unknownModel` for a model without a price and no `cost`.
    public func recordUsage(
        agent id: AgentID, model: String, tokens: TokenCounts, batch: Bool = false,
        cacheDuration: CacheDuration = .fiveMinutes, operation: String? = nil, cost: Money? = nil
    ) throws -> UsageRecord {
        let (priced, recordedAt) = try priceCall(
            AgentEvent.Usage(model: model, operation: operation, tokens: tokens, batch: batch, cacheDuration: cacheDuration, cost: cost)
        )
        return try write {
            _ = try loadRecordingAgent(id)
            let recordID = try insertUsage(agent: id.rawValue, priced)!
            try addToTotals(agent: id.rawValue, EventEffect(tokens: priced.totalTokens, cost: priced.cost.micros))
            let budgets = try enforceBudgets(agent: id.rawValue, added: priced.totalTokens, addedCost: priced.cost.micros)
            return UsageRecord(id: recordID, agent: id, priced, recordedAt: recordedAt, budgets: budgets)
        }
    }

    /// Records one API call with input and output tokens only.
    public func recordUsage(
        agent id: AgentID, model: String, inputTokens: Int64, outputTokens: Int64, operation: String? = nil, cost: Money? = nil
    ) throws -> UsageRecord {
        try recordUsage(agent: id, model: model, tokens: TokenCounts(input: inputTokens, output: outputTokens), operation: operation, cost: cost)
    }

    /// Records revenue an agent earned and adds it to the agent's running total.
    ///
    /// - Parameter amount: greater than zero, at most six decimal places.
    public func recordRevenue(agent id: AgentID, amount: Money, source: String? = nil, description: String = "") throws -> RevenueRecord {
        let (checked, recordedAt) = try checkRevenue(
            AgentEvent.Revenue(agentID: nil, eventID: nil, amount: amount, source: source, description: description, timestamp: nil)
        )
        return try write {
            _ = try loadRecordingAgent(id)
            let recordID = try insertRevenue(agent: id.rawValue, checked)!
            try addToTotals(agent: id.rawValue, EventEffect(revenue: amount.micros))
            return RevenueRecord(id: recordID, agent: id, checked, recordedAt: recordedAt)
        }
    }
}

extension UsageRecord {
    /// The record of a priced usage event just inserted as `id`.
    init(id: Int64, agent: AgentID, _ priced: PricedUsage, recordedAt: Date, budgets: BudgetOutcome) {
        self.init(
            id: id, agentID: agent, model: priced.model, operation: priced.operation, inputTokens: priced.tokens.input,
            outputTokens: priced.tokens.output, cacheReadTokens: priced.tokens.cacheRead, cacheWriteTokens: priced.tokens.cacheWrite,
            cacheTTL: priced.cacheDuration, batch: priced.batch, totalTokens: priced.totalTokens, cost: priced.cost,
            priceSource: priced.priceSource, recordedAt: recordedAt,
            budgetExceeded: budgets.budgetExceeded, pausedAgents: budgets.pausedAgents, budgetWarnings: budgets.warnings
        )
    }
}

extension RevenueRecord {
    /// The record of a checked revenue event just inserted as `id`.
    init(id: Int64, agent: AgentID, _ revenue: CheckedRevenue, recordedAt: Date) {
        self.init(id: id, agentID: agent, amount: revenue.amount, source: revenue.source, description: revenue.description, recordedAt: recordedAt)
    }
}
