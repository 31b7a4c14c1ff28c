#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Where a project is in its life.
public enum ProjectStatus: String, Codable, Sendable, CaseIterable {
    case active, promoted, killed
}

/// Why a project was killed.
public enum KillReason: String, Codable, Sendable, CaseIterable {
    /// `sandbox kill`.
    case manual
    /// It reached its expiry time (`create --expires-in` / `--expires-at`).
    case expired
}

/// A sandbox project: a named experiment space with its own workspace folder.
public struct Project: Codable, Sendable, Equatable {
    public var id: ProjectID
    public var name: String
    public var description: String
    public var status: ProjectStatus
    /// The absolute path of the project's workspace folder.
    public var workspace: String
    public var createdAt: Date
    @NullEncoded public var promotedAt: Date?
    @NullEncoded public var killedAt: Date?
    /// The project's cost cap, if it has one.
    @NullEncoded public var budget: Money?
    /// When the project is killed by itself, if ever.
    @NullEncoded public var expiresAt: Date?
    /// True when its expiry also deletes its workspace.
    public var deleteOnExpiry: Bool
    /// Why it was killed; null unless it was.
    @NullEncoded public var killReason: KillReason?

    enum CodingKeys: String, CodingKey {
        case id, name, description, status, workspace, budget
        case createdAt = "created_at", promotedAt = "promoted_at", killedAt = "killed_at"
        case expiresAt = "expires_at", deleteOnExpiry = "delete_on_expiry", killReason = "kill_reason"
    }
}

/// Money and agent figures of a project, or of the whole sandbox.
public struct Metrics: Codable, Sendable, Equatable {
    public var totalAgents: Int
    public var activeAgents: Int
    public var tokensUsed: Int64
    public var totalCost: Money
    public var totalRevenue: Money
    /// Revenue minus cost.
    public var profit: Money
    /// (revenue − cost) / cost × 100, rounded to 4 decimals; 0 when there is no cost.
    public var roi: Double

    public init(totalAgents: Int, activeAgents: Int, tokensUsed: Int64, totalCost: Money, totalRevenue: Money) {
        self.totalAgents = totalAgents
        self.activeAgents = activeAgents
        self.tokensUsed = tokensUsed
        self.totalCost = totalCost
        self.totalRevenue = totalRevenue
        self.profit = totalRevenue - totalCost
        self.roi = ROI.percent(revenue: totalRevenue, cost: totalCost)
    }

    enum CodingKeys: String, CodingKey {
        case totalAgents = "total_agents", activeAgents = "active_agents", tokensUsed = "tokens_used"
        case totalCost = "total_cost", totalRevenue = "total_revenue", profit, roi
    }
}

/// Return on investment.
public enum ROI {
    /// (revenue − cost) / cost × 100, rounded to 4 decimal places; 0 when cost is 0.
    ///
    /// For display only: decisions compare the exact integer amounts instead.
    public static func percent(revenue: Money, cost: Money) -> Double {
        guard cost.micros > 0 else { return 0 }
        let ratio = (Double(revenue.micros) - Double(cost.micros)) / Double(cost.micros) * 100
        return (ratio * 10_000).rounded() / 10_000
    }
}

/// One row of `sandbox list`.
public struct ProjectSummary: Codable, Sendable, Equatable {
    public var id: ProjectID
    public var name: String
    public var description: String
    public var status: ProjectStatus
    public var createdAt: Date
    public var metrics: Metrics
    /// The project's cost cap, and its cost as a percentage of it (both null without a cap).
    @NullEncoded public var budget: Money?
    @NullEncoded public var budgetUsedPercent: Double?
    /// When the project expires, if it does.
    @NullEncoded public var expiresAt: Date?
    /// Why it was killed; null unless it was.
    @NullEncoded public var killReason: KillReason?

    enum CodingKeys: String, CodingKey {
        case id, name, description, status, metrics, budget
        case createdAt = "created_at", budgetUsedPercent = "budget_used_percent"
        case expiresAt = "expires_at", killReason = "kill_reason"
    }
}

/// One page of projects (`GET /api/v1/projects?limit=&cursor=`).
public struct ProjectPage: Codable, Sendable, Equatable {
    public var projects: [ProjectSummary]
    /// The cursor of the next page; null on the last.
    @NullEncoded public var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case projects
        case nextCursor = "next_cursor"
    }
}

/// The projects that `sandbox list` shows.
public struct ProjectList: Codable, Sendable, Equatable {
    public var projects: [ProjectSummary]
}

/// Everything about one project, for `sandbox project`.
public struct ProjectDetail: Codable, Sendable, Equatable {
    public var id: ProjectID
    public var name: String
    public var description: String
    public var status: ProjectStatus
    public var workspace: String
    public var createdAt: Date
    @NullEncoded public var promotedAt: Date?
    @NullEncoded public var killedAt: Date?
    @NullEncoded public var budget: Money?
    /// The project's cost as a percentage of its cap (null without a cap).
    @NullEncoded public var budgetUsedPercent: Double?
    @NullEncoded public var expiresAt: Date?
    public var deleteOnExpiry: Bool
    @NullEncoded public var killReason: KillReason?
    public var metrics: Metrics
    public var agents: [Agent]
    public var experiments: [Experiment]
    @NullEncoded public var lastEvaluation: Evaluation?
    /// The latest runs of the project's agents (at most 10), newest first.
    public var runs: [RunRecord]
    /// The project's experiment repositories.
    public var repositories: [ExperimentRepository]
    /// True while a promotion has been planned but not finished (after a crash, say):
    /// `promote` completes it.
    public var promotionPending: Bool

    enum CodingKeys: String, CodingKey {
        case id, name, description, status, workspace, budget, metrics, agents, experiments, runs, repositories
        case createdAt = "created_at", promotedAt = "promoted_at", killedAt = "killed_at"
        case lastEvaluation = "last_evaluation", promotionPending = "promotion_pending", budgetUsedPercent = "budget_used_percent"
        case expiresAt = "expires_at", deleteOnExpiry = "delete_on_expiry", killReason = "kill_reason"
    }
}

/// Counts and totals over the whole sandbox, for `sandbox status`.
public struct SandboxStatus: Codable, Sendable, Equatable {
    public var totalProjects: Int
    public var activeProjects: Int
    public var promotedProjects: Int
    public var killedProjects: Int
    public var totalAgents: Int
    public var activeAgents: Int
    public var totalCost: Money
    public var totalRevenue: Money

    enum CodingKeys: String, CodingKey {
        case totalProjects = "total_projects", activeProjects = "active_projects"
        case promotedProjects = "promoted_projects", killedProjects = "killed_projects"
        case totalAgents = "total_agents", activeAgents = "active_agents"
        case totalCost = "total_cost", totalRevenue = "total_revenue"
    }
}

/// What `kill` did.
public struct KillResult: Codable, Sendable, Equatable {
    public var projectID: ProjectID
    public var status: ProjectStatus
    public var agentsKilled: Int
    public var workspaceDeleted: Bool

    enum CodingKeys: String, CodingKey {
        case projectID = "project_id", status, agentsKilled = "agents_killed", workspaceDeleted = "workspace_deleted"
    }
}

extension Metrics: JSONObjectWritable {
    public func writeMembers(_ object: inout JSONWriter.Object) throws {
        object.member("active_agents", activeAgents)
        object.member("profit", profit)
        try object.member("roi", roi)
        object.member("tokens_used", tokensUsed)
        object.member("total_agents", totalAgents)
        object.member("total_cost", totalCost)
        object.member("total_revenue", totalRevenue)
    }
}

extension ProjectSummary: JSONObjectWritable {
    public func writeMembers(_ object: inout JSONWriter.Object) throws {
        object.member("budget", budget)
        try object.member("budget_used_percent", budgetUsedPercent)
        object.member("created_at", createdAt)
        object.member("description", description)
        object.member("expires_at", expiresAt)
        object.member("id", id.rawValue)
        object.member("kill_reason", killReason?.rawValue)
        try object.member("metrics", object: metrics.writeMembers)
        object.member("name", name)
        object.member("status", status.rawValue)
    }
}
