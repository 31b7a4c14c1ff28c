#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// An agent that a promotion copies to production.
public struct MigratedAgent: Codable, Sendable, Equatable {
    public var sandboxID: AgentID
    public var productionID: AgentID
    public var name: String
    public var type: String
    public var roi: Double
    /// The production slot it goes live in: its name (see `PromotionRules.slots`).
    public var slot: String

    enum CodingKeys: String, CodingKey {
        case sandboxID = "sandbox_id", productionID = "production_id", name, type, roi, slot
    }
}

/// An agent that a promotion leaves behind, and why.
public struct SkippedAgent: Codable, Sendable, Equatable {
    public var sandboxID: AgentID
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case sandboxID = "sandbox_id", reason
    }
}

/// What a promotion did, or would do (`status` = `dry_run`).
public struct PromotionResult: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case promoted
        case dryRun = "dry_run"
    }

    public var status: Status
    public var projectID: ProjectID
    public var agentsMigrated: Int
    public var migratedAgents: [MigratedAgent]
    public var skippedAgents: [SkippedAgent]
    /// The evaluation the promotion was decided on.
    public var evaluation: Evaluation

    enum CodingKeys: String, CodingKey {
        case status, evaluation
        case projectID = "project_id", agentsMigrated = "agents_migrated"
        case migratedAgents = "migrated_agents", skippedAgents = "skipped_agents"
    }
}

/// The rule that decides which agents earned production.
public enum PromotionRules {
    /// An agent goes to production when it is active or paused and its revenue exceeds its
    /// cost (strictly: breaking even is not enough). Otherwise the reason it stays.
    public static func skipReason(for agent: Agent) -> String? {
        switch agent.status {
        case .killed:
            return "agent is killed"
        case .active, .paused:
            guard agent.totalRevenue > agent.totalCost else {
                return "not profitable: revenue \(agent.totalRevenue) does not exceed cost \(agent.totalCost)"
            }
            return nil
        }
    }
}

/// The points of a promotion at which a test can stop the process (`NOVAOS_TEST_CRASH_AT`),
/// to prove that a re-run completes the promotion whatever the point.
public enum PromotionStep: String, Sendable, CaseIterable {
    /// The plan is committed to the sandbox; production is untouched.
    case planned = "after_plan"
    /// Some agents (the first half) are written to production but not committed.
    case copying = "during_copy"
    /// Production has every agent; the sandbox still says pending.
    case copied = "after_copy"
    /// The sandbox says promoted.
    case completed = "after_complete"
}

/// An agent in production.
public struct ProductionAgent: Codable, Sendable, Equatable {
    /// Where a production agent came from.
    public struct Origin: Codable, Sendable, Equatable {
        public var projectID: ProjectID
        public var sandboxAgentID: AgentID

        enum CodingKeys: String, CodingKey {
            case projectID = "project_id", sandboxAgentID = "sandbox_agent_id"
        }
    }

    public var id: AgentID
    public var name: String
    public var type: String
    public var status: AgentStatus
    /// The normal budget: the sandbox budget without the 10× multiplier.
    public var tokenBudget: Int64
    public var config: JSONValue
    public var deployedAt: Date
    @NullEncoded public var promotedFrom: Origin?
    /// The slot the agent fills (null for an agent that was not promoted), and its state there.
    @NullEncoded public var slot: String?
    @NullEncoded public var state: ProductionState?

    enum CodingKeys: String, CodingKey {
        case id, name, type, status, config, slot, state
        case tokenBudget = "token_budget", deployedAt = "deployed_at", promotedFrom = "promoted_from"
    }
}

/// Where a version stands in its slot: `live` serves; `standby` is kept for a rollback;
/// `rolled_back` and `retired` are out of service.
public enum ProductionState: String, Codable, Sendable, Equatable {
    case live, standby
    case rolledBack = "rolled_back"
    case retired
}

/// The agents `production list` shows.
public struct ProductionAgentList: Codable, Sendable, Equatable {
    public var agents: [ProductionAgent]
}

/// One change to production, as the append-only history keeps it.
public struct ProductionEvent: Codable, Sendable, Equatable {
    public var id: Int64
    public var at: Date
    /// `promotion`, `rollback`, `retire`, `guardrail` or `budget`.
    public var kind: String
    @NullEncoded public var slot: String?
    @NullEncoded public var agentID: AgentID?
    /// The slot's live version before the change, when there was one.
    @NullEncoded public var previousAgentID: AgentID?
    /// The slot's live version after the change (null: the slot is empty).
    @NullEncoded public var liveAgentID: AgentID?
    /// Who or what made the change (`sandbox promote`, …).
    public var actor: String
    public var reason: String
    public var details: JSONValue

    enum CodingKeys: String, CodingKey {
        case id, at, kind, slot, actor, reason, details
        case agentID = "agent_id", previousAgentID = "previous_agent_id", liveAgentID = "live_agent_id"
    }
}

/// What a promoted agent takes to production besides itself: the evaluation that promoted it
/// and the project's completed experiments. Kept in its promotion's history row, under
/// `details.learned`, and shown by `production slot` and `production history`.
public struct PromotionLearnings: Codable, Sendable, Equatable {
    @NullEncoded public var evaluation: Evaluation?
    public var experiments: [Experiment]
}

/// What `production history` shows, oldest first.
public struct ProductionHistory: Codable, Sendable, Equatable {
    public var events: [ProductionEvent]
}

/// One slot: its live version, every version newest first, and its history.
public struct SlotDetail: Codable, Sendable, Equatable {
    public var slot: String
    @NullEncoded public var live: AgentID?
    public var versions: [ProductionAgent]
    public var events: [ProductionEvent]
}

extension PromotionRules {
    /// The slots that the agents of one promotion (in promotion order) go live in: the slot
    /// `chosen` for an agent (`--slot-map`), else its own name; agents of one promotion never
    /// share a slot, so a name already taken becomes `name-2`, `name-3`… The same agents and
    /// choices always give the same slots. Two agents chosen into one slot are refused.
    public static func slots(for agents: [(id: AgentID, name: String)], chosen: [AgentID: String] = [:]) throws -> [String] {
        var used: Set<String> = []
        for agent in agents {
            guard let slot = chosen[agent.id] else { continue }
            guard used.insert(slot).inserted else {
                throw SandboxError.invalidInput("two agents are mapped to slot \(quoted(slot)); each slot takes one agent of a promotion")
            }
        }
        return agents.map { agent in
            if let slot = chosen[agent.id] { return slot }
            var slot = agent.name
            var number = 2
            while used.contains(slot) {
                slot = "\(agent.name)-\(number)"
                number += 1
            }
            used.insert(slot)
            return slot
        }
    }

    /// Refuses a slot name people could not read or type back: empty, longer than 200
    /// characters, with control or format characters, or with white space at either end; and
    /// one shaped like a production agent ID (`prd_` and 16 hex digits), which commands that
    /// take an agent or a slot would read as the agent.
    public static func validateSlot(_ slot: String) throws {
        let readable = !slot.isEmpty && slot.count <= 200 && slot.first?.isWhitespace == false && slot.last?.isWhitespace == false
            && TerminalText.escape(slot) == slot
        guard readable else {
            throw SandboxError.invalidInput("invalid slot name \(quoted(slot)): expected 1 to 200 printable characters, without white space at either end")
        }
        let hex = slot.utf8.dropFirst(4)
        if slot.hasPrefix("prd_"), hex.count == 16, hex.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) {
            throw SandboxError.invalidInput("invalid slot name \(quoted(slot)): it has the form of a production agent ID")
        }
    }
}
