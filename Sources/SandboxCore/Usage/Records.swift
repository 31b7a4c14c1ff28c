#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// One API call's usage and cost.
public struct UsageRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var agentID: AgentID
    public var model: String
    public var operation: String
    /// Fresh input tokens: cached ones are in `cacheReadTokens` and `cacheWriteTokens`.
    public var inputTokens: Int64
    public var outputTokens: Int64
    public var cacheReadTokens: Int64
    public var cacheWriteTokens: Int64
    /// How long the written cache entries live (`5m` or `1h`), which decides their price.
    public var cacheTTL: CacheDuration
    public var batch: Bool
    /// All four kinds of tokens: what the call took from the agent's token budget.
    public var totalTokens: Int64
    public var cost: Money
    /// Where the cost came from: `table:<entry id>`, `override:<file>` or `explicit`.
    public var priceSource: String
    public var recordedAt: Date
    /// True when this record took its agent to its token budget or its project to its cap.
    public var budgetExceeded = false
    /// The agents this record paused for that.
    public var pausedAgents: [AgentID] = []
    /// One line per budget reached, for people (not part of the JSON).
    public var budgetWarnings: [String] = []

    enum CodingKeys: String, CodingKey {
        case id, model, operation, cost, batch
        case agentID = "agent_id", inputTokens = "input_tokens", outputTokens = "output_tokens"
        case cacheReadTokens = "cache_read_tokens", cacheWriteTokens = "cache_write_tokens", cacheTTL = "cache_ttl"
        case totalTokens = "total_tokens", priceSource = "price_source", recordedAt = "recorded_at"
        case budgetExceeded = "budget_exceeded", pausedAgents = "paused_agents"
    }
}

/// One amount of revenue an agent earned.
public struct RevenueRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var agentID: AgentID
    public var amount: Money
    public var source: String
    public var description: String
    public var recordedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, amount, source, description
        case agentID = "agent_id", recordedAt = "recorded_at"
    }
}
