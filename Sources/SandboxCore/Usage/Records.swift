import Foundation

/// One API call's usage and cost.
public struct UsageRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var agentID: AgentID
    public var model: String
    public var operation: String
    public var inputTokens: Int64
    public var outputTokens: Int64
    public var totalTokens: Int64
    public var cost: Money
    public var recordedAt: Date
    /// True when this record took its agent to its token budget or its project to its cap.
    public var budgetExceeded = false
    /// The agents this record paused for that.
    public var pausedAgents: [AgentID] = []
    /// One line per budget reached, for people (not part of the JSON).
    public var budgetWarnings: [String] = []

    enum CodingKeys: String, CodingKey {
        case id, model, operation, cost
        case agentID = "agent_id", inputTokens = "input_tokens", outputTokens = "output_tokens"
        case totalTokens = "total_tokens", recordedAt = "recorded_at"
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

/// The limits on one usage record.
public enum UsageLimits {
    /// The most tokens one record may report on either side: ten billion.
    public static let maximumTokens: Int64 = 10_000_000_000

    static func validate(inputTokens: Int64, outputTokens: Int64) throws {
        for (name, value) in [("input tokens", inputTokens), ("output tokens", outputTokens)] {
            guard value >= 0, value <= maximumTokens else {
                throw SandboxError.invalidInput("\(name) must be between 0 and \(maximumTokens), got \(value)")
            }
        }
    }
}
