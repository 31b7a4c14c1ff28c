#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SQLiteDB
import Supervision

/// When a time-limited project ends, and what its end does.
public struct ProjectExpiry: Sendable, Equatable {
    /// The longest time a project may be given at once: `--expires-in` and `extend`.
    public static let maximumDuration: TimeInterval = 366 * 86_400

    /// The moment the project is killed (whole seconds).
    public var at: Date
    /// Also delete the project's workspace then (`--delete-on-expiry`).
    public var deleteWorkspace: Bool

    public init(at: Date, deleteWorkspace: Bool = false) {
        self.at = at
        self.deleteWorkspace = deleteWorkspace
    }

    /// An expiry `duration` (rounded up to whole seconds) after `now`'s whole second, so a
    /// project created with `--expires-in 7d` lives exactly 7 days by its timestamps. A project
    /// is over once its expiry second has passed (`expires_at < now`), so it never ends before
    /// the time asked for, at most a second after.
    public init(after duration: TimeInterval, from now: Date, deleteWorkspace: Bool = false) {
        self.init(at: wholeSeconds(now).addingTimeInterval(duration.rounded(.up)), deleteWorkspace: deleteWorkspace)
    }

    /// Refuses an expiry that is not in the future, or further away than 366 days.
    public func check(now: Date) throws {
        guard wholeSeconds(at) > now else {
            throw SandboxError.invalidInput("the expiry \(Timestamp.text(at)) is not in the future (now is \(Timestamp.text(now)))")
        }
        guard at.timeIntervalSince(now) <= Self.maximumDuration else {
            throw SandboxError.invalidInput("the expiry \(Timestamp.text(at)) is more than 366 days away")
        }
    }
}

/// A project an expiry killed.
public struct ExpiredProject: Codable, Sendable, Equatable {
    public var projectID: ProjectID
    public var name: String
    public var expiresAt: Date
    public var agentsKilled: Int
    /// True when its workspace was deleted (`--delete-on-expiry`); false also while a deletion
    /// that failed waits for the next pass.
    public var workspaceDeleted: Bool
    /// True when this pass killed it (not only finished deleting its workspace).
    public var killedNow = false

    enum CodingKeys: String, CodingKey {
        case name
        case projectID = "project_id", expiresAt = "expires_at", agentsKilled = "agents_killed", workspaceDeleted = "workspace_deleted"
    }
}

/// What `sandbox sweep` did.
public struct SweepResult: Codable, Sendable, Equatable {
    public var sweptAt: Date
    /// The projects that expired, in order of their expiry.
    public var expired: [ExpiredProject]

    enum CodingKeys: String, CodingKey {
        case expired
        case sweptAt = "swept_at"
    }
}

extension Sandbox {
    /// Kills every active project whose expiry has come (`kill_reason: expired`), deleting the
    /// workspaces of those created with `--delete-on-expiry`, and finishes deletions a crash
    /// interrupted. Every opening of a writable sandbox does this (`expiredOnOpening` says
    /// what it found); `sandbox sweep` does it on its own, for cron.
    ///
    /// Cheap when nothing expired: one probe of a partial index, no write. The projects this
    /// opening expired are reported by the first sweep only.
    public func sweep() throws -> SweepResult {
        try requireWritable()
        let sweptAt = now()
        let expired = try applyExpiry(at: sweptAt)
        defer { expiredOnOpening = [] }
        return SweepResult(sweptAt: sweptAt, expired: expiredOnOpening + expired)
    }

    /// Moves a project's expiry `duration` later: from its expiry, or from now when it has
    /// none (then it gets one).
    public func extendProject(_ id: ProjectID, by duration: TimeInterval) throws -> Project {
        guard duration > 0, duration <= ProjectExpiry.maximumDuration else {
            throw SandboxError.invalidInput("the extension must be more than 0 and at most 366 days")
        }
        let current = now()
        return try write {
            let project = try loadProject(id)
            guard project.status == .active else {
                let why = project.killReason == .expired ? " (it expired at \(project.expiresAt.map(Timestamp.text) ?? "?"))" : ""
                throw SandboxError.invalidState("project \(id) is \(project.status.rawValue)\(why); only an active project can be extended")
            }
            let base = max(project.expiresAt ?? current, current)
            let expiry = ProjectExpiry(after: duration, from: base)
            guard expiry.at.timeIntervalSince(current) <= ProjectExpiry.maximumDuration else {
                throw SandboxError.invalidInput("the new expiry \(Timestamp.text(expiry.at)) would be more than 366 days away")
            }
            try db.run("UPDATE projects SET expires_at = ? WHERE id = ?", Timestamp.string(from: expiry.at), id.rawValue)
            return try loadProject(id)
        }
    }

    /// The projects whose expiry second is over by `?1`, and those whose workspace deletion a crash
    /// interrupted: one statement over two partial indexes (named, so the planner cannot take
    /// the status index and read every active project instead). A project with a promotion in
    /// progress is left to `promote`, which finishes it.
    static let dueForExpiry = """
        SELECT id FROM projects INDEXED BY projects_expiring
        WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at < ?1
          AND NOT EXISTS (SELECT 1 FROM promotions WHERE project_id = projects.id)
        UNION
        SELECT id FROM projects INDEXED BY projects_deleting WHERE workspace_deletion_pending = 1
        """

    /// The expiry pass of `sweep`, at `time`. Returns the projects it killed and those whose
    /// workspace it finished deleting. A workspace that cannot be deleted yet is not an error
    /// here: its project is killed all the same (the commit comes first), it is reported with
    /// `workspace_deleted: false`, and the deletion is tried again by the next pass.
    func applyExpiry(at time: Date) throws -> [ExpiredProject] {
        guard !isEphemeral, !db.isReadOnly else { return [] }
        applyingExpiry = true
        defer { applyingExpiry = false }
        let stamp = Timestamp.string(from: time)
        // Nothing else runs when this finds nothing.
        let due = try mappingErrors { try db.query(Self.dueForExpiry, [stamp]) { $0.text(0) } }
        guard !due.isEmpty else {
            expiriesAppliedAt = time
            return []
        }
        var results: [ExpiredProject] = try write {
            var killed: [ExpiredProject] = []
            // Asked again under the lock: another process may have done some of it meanwhile.
            for id in try db.query(Self.dueForExpiry, [stamp], { $0.text(0) }) {
                guard let project = try db.queryFirst(
                    "SELECT name, status, expires_at, delete_on_expiry FROM projects WHERE id = ?",
                    [id], { ($0.text(0), $0.text(1), $0.text(2), $0.int64(3) != 0) }
                ) else { continue }
                let (name, status, expiresAt, deleteWorkspace) = project
                var result = ExpiredProject(
                    projectID: ProjectID(unchecked: id), name: name, expiresAt: Timestamp.date(from: expiresAt),
                    agentsKilled: 0, workspaceDeleted: deleteWorkspace
                )
                if status == ProjectStatus.active.rawValue {
                    try db.run("UPDATE agents SET status = 'killed' WHERE project_id = ? AND status <> 'killed'", id)
                    result.agentsKilled = db.changes
                    result.killedNow = true
                    // Killed at its expiry, not at the moment someone noticed.
                    try db.run(
                        """
                        UPDATE projects SET status = 'killed', killed_at = expires_at, kill_reason = 'expired',
                                            workspace_deletion_pending = delete_on_expiry
                        WHERE id = ?
                        """,
                        id
                    )
                }
                killed.append(result)
            }
            return killed
        }
        expiriesAppliedAt = time
        // The deletions come after the commit (a folder cannot be put back by a rollback); the
        // flag stays until each is done, so a crash or a failure here is finished later.
        for index in results.indices where results[index].workspaceDeleted {
            let id = results[index].projectID
            let removal = try? FileTree.remove(id.rawValue, in: paths.projectsFolder.path)
            guard let removal, removal.complete else {
                results[index].workspaceDeleted = false
                continue
            }
            _ = try? write { try db.run("UPDATE projects SET workspace_deletion_pending = 0 WHERE id = ?", id.rawValue) }
        }
        return results
    }
}
