#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A snapshot of one project, kept in one file: `HOME/sandbox/snapshots/<snapshot-id>.db`.
public struct SnapshotInfo: Codable, Sendable, Equatable {
    /// `snp_` + 8 hex digits.
    public var id: String
    @NullEncoded public var name: String?
    public var projectID: ProjectID
    /// The project's name when the snapshot was taken.
    public var projectName: String
    public var takenAt: Date
    /// The snapshot's file.
    public var path: String
    public var bytes: Int64
    public var agents: Int
    public var usageEvents: Int
    public var revenueEvents: Int
    public var runs: Int
    public var experiments: Int
    public var evaluations: Int
    /// Files, folders and links of the workspace kept.
    public var workspaceEntries: Int
    /// Workspace entries left out: FIFOs, sockets, devices, other mounts, unreadable ones.
    public var skippedEntries: Int

    enum CodingKeys: String, CodingKey {
        case id, name, path, bytes, agents, runs, experiments, evaluations
        case projectID = "project_id", projectName = "project_name", takenAt = "taken_at", usageEvents = "usage_events"
        case revenueEvents = "revenue_events", workspaceEntries = "workspace_entries", skippedEntries = "skipped_entries"
    }
}

/// The snapshots `sandbox snapshots` lists, oldest first.
public struct SnapshotList: Codable, Sendable, Equatable {
    public var snapshots: [SnapshotInfo]
}

/// How a snapshot is restored.
public enum RestoreMode: String, Codable, Sendable {
    /// `--as NAME`: a new project, with new IDs for it and its agents.
    case copy
    /// `--in-place`: the project itself, rolled back to the snapshot.
    case inPlace = "in_place"
}

/// What `sandbox restore` did.
public struct RestoreResult: Codable, Sendable, Equatable {
    public var snapshotID: String
    public var mode: RestoreMode
    public var projectID: ProjectID
    public var name: String
    /// Each agent of the snapshot and the agent it is now (the same IDs in place).
    public var agents: [AgentMapping]

    public struct AgentMapping: Codable, Sendable, Equatable {
        public var snapshotAgentID: AgentID
        public var agentID: AgentID

        enum CodingKeys: String, CodingKey {
            case snapshotAgentID = "snapshot_agent_id", agentID = "agent_id"
        }
    }

    enum CodingKeys: String, CodingKey {
        case mode, name, agents
        case snapshotID = "snapshot_id", projectID = "project_id"
    }
}

/// The points of a restore where a test can stop the process, to show that the next command
/// finishes what was committed.
public enum RestoreStep: String, Sendable, CaseIterable {
    /// The workspace is unpacked beside the projects; nothing is committed.
    case afterUnpacking = "after_unpacking"
    /// The database holds the restored rows; the workspace is not swapped yet.
    case afterCommit = "after_commit"
}
