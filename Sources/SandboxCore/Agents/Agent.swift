#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Where an agent is in its life.
public enum AgentStatus: String, Codable, Sendable, CaseIterable {
    case active, paused, killed
}

/// Why an agent is paused.
public enum PauseReason: String, Codable, Sendable, CaseIterable {
    /// `sandbox pause`.
    case manual
    /// Its tokens used reached its token budget.
    case budgetExceeded = "budget_exceeded"
    /// Its project's cost reached the project's cap.
    case projectBudgetExceeded = "project_budget_exceeded"
}

/// An AI agent deployed in a sandbox project, with its running totals.
public struct Agent: Codable, Sendable, Equatable {
    public var id: AgentID
    public var projectID: ProjectID
    public var type: String
    public var name: String
    public var status: AgentStatus
    /// The sandbox budget: 10× the type's normal budget unless the config set `token_budget`.
    public var tokenBudget: Int64
    /// The user's configuration, exactly as given (sandbox metadata is kept apart).
    public var config: JSONValue
    public var deployedAt: Date
    public var tokensUsed: Int64
    public var totalCost: Money
    public var totalRevenue: Money
    public var profit: Money
    public var roi: Double
    /// Why the agent is paused; null unless it is.
    @NullEncoded public var pauseReason: PauseReason?
    /// Tokens used as a percentage of the token budget, to one decimal (over 100 when over budget).
    public var budgetUsedPercent: Double

    enum CodingKeys: String, CodingKey {
        case id, type, name, status, config, profit, roi
        case projectID = "project_id", tokenBudget = "token_budget", deployedAt = "deployed_at"
        case tokensUsed = "tokens_used", totalCost = "total_cost", totalRevenue = "total_revenue"
        case pauseReason = "pause_reason", budgetUsedPercent = "budget_used_percent"
    }

    /// True when the agent has used its whole token budget.
    public var isOverBudget: Bool { tokensUsed >= tokenBudget }
}

/// The agent types novaos knows, with their normal (production) token budgets.
public enum AgentTypes {
    /// Normal token budgets per agent type. A sandbox agent gets ten times as much.
    public static let normalBudgets: [String: Int64] = [
        "assistant": 10_000,
        "chatbot": 10_000,
        "customer_support": 20_000,
        "sales": 20_000,
        "content_writer": 30_000,
        "data_analyst": 40_000,
        "researcher": 50_000,
        "coder": 100_000,
    ]
    /// The normal budget of a type not in the table.
    public static let defaultNormalBudget: Int64 = 1_000
    /// The largest normal budget an agent may be given (`--budget-tokens`, templates).
    public static let maximumNormalBudget: Int64 = 100_000_000_000
    /// The sandbox gives an agent this many times its normal budget.
    public static let sandboxMultiplier: Int64 = 10

    /// The normal token budget of `type`.
    public static func normalBudget(for type: String) -> Int64 {
        normalBudgets[type] ?? defaultNormalBudget
    }

    /// Checks an agent type: 1–64 characters of lowercase letters, digits, `_`, `-` and `.`.
    public static func validate(_ type: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_-.")
        guard !type.isEmpty, type.count <= 64, type.allSatisfy({ allowed.contains($0) }) else {
            throw SandboxError.invalidInput("invalid agent type \(quoted(type)): use 1-64 lowercase letters, digits, '_', '-' or '.'")
        }
    }
}

/// The budgets an agent is deployed with.
struct AgentBudget: Equatable {
    /// What the agent may use in the sandbox.
    var sandbox: Int64
    /// What it gets in production: the sandbox budget without the 10× multiplier.
    var normal: Int64

    /// The sandbox budget is 10× the type's normal budget; a positive integer `token_budget`
    /// in the configuration replaces it, and then the normal budget is a tenth of it.
    static func resolve(type: String, config: [String: JSONValue]) throws -> AgentBudget {
        guard let override = config["token_budget"] else {
            let normal = AgentTypes.normalBudget(for: type)
            return AgentBudget(sandbox: normal * AgentTypes.sandboxMultiplier, normal: normal)
        }
        let maximum: Int64 = 1_000_000_000_000
        let value: Int64
        switch override {
        case .integer(let integer): value = integer
        case .number(let number) where number.rounded() == number && abs(number) <= Double(maximum): value = Int64(number)
        default: value = 0
        }
        guard value > 0, value <= maximum else {
            throw SandboxError.invalidInput("token_budget in --config must be a whole number from 1 to \(maximum)")
        }
        return AgentBudget(sandbox: value, normal: max(1, value / AgentTypes.sandboxMultiplier))
    }
}
