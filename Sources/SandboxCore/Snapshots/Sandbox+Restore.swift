#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB
import Supervision

extension Sandbox {
    /// Recreates a snapshot as a new active project called `name`, with new IDs for it and
    /// its agents (their records, runs, experiments and evaluations come along, re-numbered),
    /// and its workspace files. All or nothing: the rows go in one transaction, and the
    /// workspace is unpacked beside the projects first and moved into place inside it.
    ///
    /// The copy has no expiry, no promotion, and its usage and revenue records no event IDs
    /// (the originals keep theirs, which are unique). A run that was going when the snapshot
    /// was taken comes back closed as `lost`.
    public func restoreSnapshot(_ reference: String, as name: String, hook: (RestoreStep) throws -> Void = { _ in }) throws -> RestoreResult {
        try validateText(name, field: "project name", maximumLength: Self.maximumNameLength)
        try requireWritable()
        let file = try snapshotFile(reference)
        let info = try readSnapshotInfo(file)
        let result: RestoreResult = try withSnapshotAttached(file) {
            try checkAttachedSnapshot(info)
            let staging = try unpackWorkspace(for: info.projectID)
            do {
                try hook(.afterUnpacking)
                return try write {
                    var project = ProjectID.random()
                    while try db.scalarInt("SELECT count(*) FROM projects WHERE id = ?", [project.rawValue]) > 0
                        || Self.entryExists(at: paths.workspace(for: project)) {
                        project = ProjectID.random()
                    }
                    let agents = try db.query("SELECT id FROM snap.agents ORDER BY rowid") { AgentID(unchecked: $0.text(0)) }
                    var mapping: [RestoreResult.AgentMapping] = []
                    for agent in agents {
                        var fresh = AgentID.randomSandbox()
                        while try db.scalarInt("SELECT count(*) FROM agents WHERE id = ?", [fresh.rawValue]) > 0
                            || mapping.contains(where: { $0.agentID == fresh }) {
                            fresh = AgentID.randomSandbox()
                        }
                        mapping.append(.init(snapshotAgentID: agent, agentID: fresh))
                    }
                    try copyRows(into: project, name: name, mapping: mapping, takenAt: info.takenAt)
                    // The unpacked folder becomes the workspace right after the commit (or at the
                    // next opening, if this process dies first): never a folder without its rows.
                    try db.run(
                        "INSERT INTO workspace_swaps (project_id, staging, started_at) VALUES (?, ?, ?)",
                        project.rawValue, staging, Timestamp.string(from: now())
                    )
                    return RestoreResult(snapshotID: info.id, mode: .copy, projectID: project, name: name, agents: mapping)
                }
            } catch {
                removeStaging(staging)
                throw error
            }
        }
        try hook(.afterCommit)
        try finishWorkspaceSwaps()
        return result
    }

    /// Rolls an active project back to a snapshot of it: its rows become exactly the
    /// snapshot's (the same IDs; what was added since is gone) and its workspace the
    /// snapshot's files. Refused for a project that is promoted or killed, has a promotion or
    /// a run going, or for a snapshot of another project.
    ///
    /// Crash-safe: the workspace is unpacked beside the projects, then one transaction
    /// replaces the rows and records the swap of the folders (`workspace_swaps`), which is
    /// done right after, or by the next command that opens the sandbox if this one dies.
    public func restoreSnapshotInPlace(_ reference: String, hook: (RestoreStep) throws -> Void = { _ in }) throws -> RestoreResult {
        try requireWritable()
        let file = try snapshotFile(reference)
        let info = try readSnapshotInfo(file)
        let id = info.projectID
        _ = try checkInPlaceRestore(id)
        let result: RestoreResult = try withSnapshotAttached(file) {
            try checkAttachedSnapshot(info)
            guard try db.scalarText("SELECT status FROM snap.projects WHERE id = ?", [id.rawValue]) == ProjectStatus.active.rawValue else {
                throw SandboxError.invalidState("snapshot \(info.id) holds project \(id) as it was once promoted or killed; restore it with --as NAME instead")
            }
            let staging = try unpackWorkspace(for: id)
            do {
                try hook(.afterUnpacking)
                return try write {
                    let project = try checkInPlaceRestore(id)
                    for table in ["api_costs", "revenue"] {
                        if let taken = try db.scalarText(
                            """
                            SELECT s.event_id FROM snap.\(table) AS s JOIN main.\(table) AS m ON m.event_id = s.event_id
                            WHERE m.agent_id NOT IN (SELECT id FROM main.agents WHERE project_id = ?) LIMIT 1
                            """,
                            [id.rawValue]
                        ) {
                            throw SandboxError.invalidState(
                                "event \(quoted(taken)) of snapshot \(info.id) has since been recorded for another project; restore it with --as NAME instead"
                            )
                        }
                    }
                    // Rows of the project point at each other while both go; checked at commit.
                    try db.execute("PRAGMA defer_foreign_keys = ON")
                    for (table, filter) in SnapshotFile.projectRows.reversed() where table != "projects" {
                        try db.run("DELETE FROM main.\(table) WHERE \(filter)", id.rawValue)
                    }
                    // Its lifetime and state stay as they are now: a snapshot rolls back data,
                    // not the time the project was given (an extension is kept).
                    let kept: Set<String> = [
                        "id", "status", "promoted_at", "killed_at", "kill_reason", "expires_at", "delete_on_expiry", "workspace_deletion_pending",
                    ]
                    let columns = try columnNames("projects").filter { !kept.contains($0) }
                    try db.run(
                        "UPDATE main.projects SET (\(columns.joined(separator: ", "))) = (SELECT \(columns.joined(separator: ", ")) FROM snap.projects WHERE id = ?1) WHERE id = ?1",
                        id.rawValue
                    )
                    // The totals triggers add the agents back as they come in.
                    try db.run(
                        "UPDATE main.projects SET total_agents = 0, active_agents = 0, tokens_used = 0, cost_micros = 0, revenue_micros = 0 WHERE id = ?",
                        id.rawValue
                    )
                    let agents = try db.query("SELECT id FROM snap.agents ORDER BY rowid") { AgentID(unchecked: $0.text(0)) }
                    try copyRows(into: id, name: project.name, mapping: agents.map { .init(snapshotAgentID: $0, agentID: $0) }, takenAt: info.takenAt, inPlace: true)
                    try db.run(
                        "INSERT INTO workspace_swaps (project_id, staging, started_at) VALUES (?, ?, ?)",
                        id.rawValue, staging, Timestamp.string(from: now())
                    )
                    return RestoreResult(
                        snapshotID: info.id, mode: .inPlace, projectID: id, name: try db.scalarText("SELECT name FROM snap.projects") ?? project.name,
                        agents: agents.map { .init(snapshotAgentID: $0, agentID: $0) }
                    )
                }
            } catch {
                removeStaging(staging)
                throw error
            }
        }
        try hook(.afterCommit)
        try finishWorkspaceSwaps()
        return result
    }

    /// The project an in-place restore would roll back, or why it refuses.
    @discardableResult
    public func checkInPlaceRestore(_ id: ProjectID) throws -> Project {
        try read {
            let project = try loadProject(id)
            guard project.status == .active else {
                throw SandboxError.invalidState(
                    project.status == .promoted
                        ? "project \(id) is promoted: its agents live in production, so it cannot be rolled back; restore the snapshot with --as NAME"
                        : "project \(id) is killed; restore the snapshot with --as NAME"
                )
            }
            if try pendingPromotionExists(id) {
                throw SandboxError.invalidState("project \(id) has a promotion in progress; run 'novaos sandbox promote \(id)' to finish it first")
            }
            let going = try db.scalarInt(
                "SELECT count(*) FROM runs WHERE ended_at IS NULL AND agent_id IN (SELECT id FROM agents WHERE project_id = ?)", [id.rawValue]
            )
            if going > 0 {
                throw SandboxError.invalidState("project \(id) has \(going) run(s) going; wait for them or stop them, then restore")
            }
            if try db.scalarInt("SELECT count(*) FROM workspace_swaps WHERE project_id = ?", [id.rawValue]) > 0 {
                throw SandboxError.invalidState(
                    "the workspace of project \(id) from an earlier restore is not in place yet (see \(paths.restoringFolder.path)); run any command to finish it, then restore"
                )
            }
            return project
        }
    }

    /// Finishes the workspace swaps that restores committed: the unpacked folder takes the
    /// workspace's place (the old one, if any, is deleted after). Every opening of the sandbox
    /// calls this; with no `restoring` folder (nothing was left there) it costs one `lstat`.
    ///
    /// Each swap happens under the sandbox's write lock, so two processes never move the same
    /// folders at once, and a swap that fails (a folder that cannot be moved) is left for the
    /// next opening without holding up the others. A `restoring` that is a symbolic link, or not
    /// this user's folder, is never used.
    func finishWorkspaceSwaps() throws {
        guard !isEphemeral, !db.isReadOnly, let restoring = try restoringFolder(create: false) else { return }
        let swaps = try mappingErrors {
            try db.query("SELECT project_id, staging FROM workspace_swaps") { (ProjectID(unchecked: $0.text(0)), $0.text(1)) }
        }
        var failure: (any Error)?
        for (project, staging) in swaps {
            let workspace = paths.workspace(for: project).path
            let old = staging + ".old"
            do {
                try write {
                    guard try db.scalarInt("SELECT count(*) FROM workspace_swaps WHERE project_id = ? AND staging = ?", [project.rawValue, staging]) == 1 else {
                        return // another process finished it
                    }
                    if Self.entryExists(at: URL(fileURLWithPath: restoring + "/" + staging)) {
                        if Self.entryExists(at: URL(fileURLWithPath: workspace)) {
                            try renameOrThrow(workspace, restoring + "/" + old)
                        }
                        try renameOrThrow(restoring + "/" + staging, workspace)
                    }
                    try db.run("DELETE FROM workspace_swaps WHERE project_id = ?", project.rawValue)
                }
            } catch {
                failure = failure ?? error
                continue
            }
            // The replaced workspace; what cannot be deleted now goes with the leftovers below.
            _ = try? FileTree.remove(old, in: restoring)
        }
        // Unpacked or replaced folders left by restores that died, once an hour old (a restore
        // in another process may be unpacking right now). Only names restores make are touched.
        let pending = Set(try db.query("SELECT staging FROM workspace_swaps") { $0.text(0) })
        for name in (try? FileManager.default.contentsOfDirectory(atPath: restoring)) ?? [] where Self.isStagingName(name) {
            let base = name.hasSuffix(".old") ? String(name.dropLast(4)) : name
            var info = stat()
            guard !pending.contains(base), lstat(restoring + "/" + name, &info) == 0,
                  Double(info.st_mtim.tv_sec) < Date().timeIntervalSince1970 - 3600 else { continue }
            _ = try? FileTree.remove(name, in: restoring)
        }
        rmdir(restoring)
        if let failure { throw failure }
    }

    /// `prj_xxxxxxxx.yyyyyyyy`, with `.old` after it for a replaced workspace.
    static func isStagingName(_ name: String) -> Bool {
        let base = name.hasSuffix(".old") ? String(name.dropLast(4)) : name
        let parts = base.split(separator: ".", omittingEmptySubsequences: false)
        let hex = { (text: Substring) in text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) } }
        return parts.count == 2 && (try? ProjectID(String(parts[0]))) != nil && parts[1].utf8.count == 8 && hex(parts[1])
    }

    /// `HOME/sandbox/restoring` when it is a real folder of this user (created when asked);
    /// nil when it does not exist. A link or someone else's folder there is refused.
    func restoringFolder(create: Bool) throws -> String? {
        let path = paths.restoringFolder.path
        if create, mkdir(path, 0o700) != 0, errno != EEXIST {
            throw SandboxError.fileSystem(path: path, message: "cannot create the folder: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        guard (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == geteuid() else {
            throw SandboxError.fileSystem(path: path, message: "not a folder of this user (a symbolic link?); refusing to use it for restores")
        }
        return path
    }

    // MARK: - Steps

    /// Refuses a snapshot file whose rows are not one project's, consistent with themselves:
    /// one project, its ID the one the snapshot names; every agent of it; every record, run,
    /// experiment and evaluation of those; agents' totals the sums of their records and the
    /// project's the sums of its agents; IDs in range. A file edited by hand could otherwise
    /// put rows under other projects or totals no record explains.
    func checkAttachedSnapshot(_ info: SnapshotInfo) throws {
        let id = info.projectID.rawValue
        let agents = "(SELECT id FROM snap.agents)"
        let checks: [(String, String)] = [
            ("SELECT (SELECT count(*) FROM snap.projects) <> 1 OR (SELECT count(*) FROM snap.projects WHERE id = ?1) <> 1", "it must hold exactly its project"),
            ("SELECT count(*) FROM snap.agents WHERE project_id IS NOT ?1", "an agent belongs to another project"),
            ("SELECT count(*) FROM snap.api_costs WHERE agent_id NOT IN \(agents) OR id > 4611686018427387903", "a usage record is not its agents'"),
            ("SELECT count(*) FROM snap.revenue WHERE agent_id NOT IN \(agents) OR id > 4611686018427387903", "a revenue record is not its agents'"),
            ("SELECT count(*) FROM snap.runs WHERE agent_id NOT IN \(agents) OR id > 4611686018427387903", "a run is not its agents'"),
            ("SELECT count(*) FROM snap.experiments WHERE project_id IS NOT ?1 OR id > 4611686018427387903", "an experiment is not the project's"),
            ("SELECT count(*) FROM snap.evaluations WHERE project_id IS NOT ?1 OR id > 4611686018427387903", "an evaluation is not the project's"),
            ("SELECT count(*) FROM snap.budget_changes WHERE (target_id IS NOT ?1 AND target_id NOT IN \(agents)) OR id > 4611686018427387903",
             "a budget change is not the project's"),
            ("""
             SELECT count(*) FROM snap.agents AS a
             WHERE a.cost_micros <> (SELECT coalesce(sum(cost_micros), 0) FROM snap.api_costs WHERE agent_id = a.id)
                OR a.revenue_micros <> (SELECT coalesce(sum(amount_micros), 0) FROM snap.revenue WHERE agent_id = a.id)
             """, "an agent's totals are not the sums of its records"),
            ("""
             SELECT count(*) FROM snap.projects AS p
             WHERE p.total_agents <> (SELECT count(*) FROM snap.agents)
                OR p.cost_micros <> (SELECT coalesce(sum(cost_micros), 0) FROM snap.agents)
                OR p.revenue_micros <> (SELECT coalesce(sum(revenue_micros), 0) FROM snap.agents)
                OR p.tokens_used <> (SELECT coalesce(sum(tokens_used), 0) FROM snap.agents)
             """, "the project's totals are not the sums of its agents"),
        ]
        for (sql, problem) in checks where try mappingErrors({ try db.scalarInt(sql, sql.contains("?1") ? [id] : []) }) != 0 {
            throw SandboxError.invalidState("snapshot \(info.id) is damaged: \(problem); it cannot be restored")
        }
    }

    private func withSnapshotAttached<T>(_ file: URL, _ body: () throws -> T) throws -> T {
        try mappingErrors { try db.run("ATTACH DATABASE ? AS snap", file.path) }
        defer { try? db.execute("DETACH DATABASE snap") }
        return try body()
    }

    /// Unpacks the attached snapshot's workspace into a new folder in `HOME/sandbox/restoring`
    /// and returns its name. Entries are read one at a time, so memory holds one file at most.
    private func unpackWorkspace(for project: ProjectID) throws -> String {
        guard let restoring = try restoringFolder(create: true) else {
            throw SandboxError.fileSystem(path: paths.restoringFolder.path, message: "cannot create the folder")
        }
        let staging = project.rawValue + "." + randomHex(digits: 8)
        do {
            let statement = try mappingErrors { try db.prepare("SELECT path, kind, mode, contents FROM snap.workspace_entries ORDER BY seq") }
            let entries = SnapshotEntries(statement: statement)
            try mappingLowerErrors { try FileTreeArchive.write(staging, in: restoring, entries: IteratorSequence(entries.iterator())) }
            if let failure = entries.failure { throw failure }
        } catch {
            removeStaging(staging)
            throw error
        }
        return staging
    }

    private func removeStaging(_ staging: String) {
        _ = try? FileTree.remove(staging, in: paths.restoringFolder.path)
    }

    private func renameOrThrow(_ from: String, _ to: String) throws {
        guard rename(from, to) == 0 else {
            throw SandboxError.fileSystem(path: to, message: "cannot move \(from) there: \(String(cString: strerror(errno)))")
        }
    }

    /// The columns of a sandbox table, in order.
    private func columnNames(_ table: String) throws -> [String] {
        try db.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", [table]) { $0.text(0) }
    }

    /// Copies the attached snapshot's rows into the sandbox as project `project`, its agents
    /// renamed by `mapping`. A copy gets new row IDs, no event IDs, and (for the project) a
    /// fresh start; in place, rows keep their IDs except where another project's row took one
    /// since (then a new one: never anyone else's row overwritten).
    private func copyRows(into project: ProjectID, name: String, mapping: [RestoreResult.AgentMapping], takenAt: Date, inPlace: Bool = false) throws {
        try db.execute("CREATE TEMP TABLE IF NOT EXISTS restore_agents (old TEXT PRIMARY KEY, new TEXT NOT NULL) STRICT; DELETE FROM temp.restore_agents;")
        for pair in mapping {
            try db.run("INSERT INTO temp.restore_agents (old, new) VALUES (?, ?)", pair.snapshotAgentID.rawValue, pair.agentID.rawValue)
        }
        let newAgent = "(SELECT new FROM temp.restore_agents WHERE old = s.agent_id)"
        let stamp = Timestamp.string(from: takenAt)
        if !inPlace {
            var overrides: [String: String] = [
                "id": "?1", "name": "?2", "status": "'active'", "created_at": "?3", "promoted_at": "NULL", "killed_at": "NULL",
                "kill_reason": "NULL", "expires_at": "NULL", "delete_on_expiry": "0", "workspace_deletion_pending": "0",
            ]
            for total in ["total_agents", "active_agents", "tokens_used", "cost_micros", "revenue_micros"] { overrides[total] = "0" }
            try copy("projects", overrides: overrides, values: [project.rawValue, name, Timestamp.string(from: now())])
        }
        var agentOverrides = [
            "id": "(SELECT new FROM temp.restore_agents WHERE old = s.id)", "project_id": "?1",
            "promoted_from_project_id": "NULL", "promoted_from_agent_id": "NULL",
        ]
        if !inPlace {
            // Agents are killed only with their project: in a new, active project they run again.
            agentOverrides["status"] = "CASE WHEN s.status = 'killed' THEN 'active' ELSE s.status END"
        }
        try copy("agents", overrides: agentOverrides, values: [project.rawValue], inPlace: inPlace)
        let eventID = inPlace ? "s.event_id" : "NULL"
        try copy("api_costs", overrides: ["agent_id": newAgent, "event_id": eventID], values: [], inPlace: inPlace)
        try copy("revenue", overrides: ["agent_id": newAgent, "event_id": eventID], values: [], inPlace: inPlace)
        try copy("runs", overrides: [
            "agent_id": newAgent, "ended_at": "coalesce(s.ended_at, ?1)",
            "stop_reason": "CASE WHEN s.ended_at IS NULL THEN 'lost' ELSE s.stop_reason END",
            "reserved_tokens": "CASE WHEN s.ended_at IS NULL THEN 0 ELSE s.reserved_tokens END",
        ], values: [stamp], inPlace: inPlace)
        try copy("experiments", overrides: ["project_id": "?1"], values: [project.rawValue], inPlace: inPlace)
        try copy("evaluations", overrides: ["project_id": "?1"], values: [project.rawValue], inPlace: inPlace)
        try copy("budget_changes", overrides: [
            "target_id": "CASE WHEN s.target_kind = 'project' THEN ?1 ELSE coalesce((SELECT new FROM temp.restore_agents WHERE old = s.target_id), s.target_id) END",
        ], values: [project.rawValue], inPlace: inPlace)
        if inPlace {
            // Exactly the snapshot's totals (the triggers summed the same agents).
            try db.run(
                """
                UPDATE main.projects SET (total_agents, active_agents, tokens_used, cost_micros, revenue_micros) =
                    (SELECT total_agents, active_agents, tokens_used, cost_micros, revenue_micros FROM snap.projects WHERE id = ?1)
                WHERE id = ?1
                """,
                project.rawValue
            )
        } else {
            // The evaluations' documents name the snapshot's project and agents.
            var renames = mapping.map { ($0.snapshotAgentID.rawValue, $0.agentID.rawValue) }
            if let old = try db.scalarText("SELECT id FROM snap.projects") { renames.append((old, project.rawValue)) }
            for (old, new) in renames {
                try db.run(
                    "UPDATE main.evaluations SET criteria = replace(criteria, ?1, ?2), metrics = replace(metrics, ?1, ?2) WHERE project_id = ?3",
                    old, new, project.rawValue
                )
            }
        }
        try db.execute("DELETE FROM temp.restore_agents")
    }

    /// `INSERT INTO main.table SELECT … FROM snap.table AS s`, each column as stored unless
    /// `overrides` gives an expression for it. A copy numbers rows anew (`id` NULL, except for
    /// tables whose ID is text); in place, a row whose ID another project's row has taken since
    /// is numbered anew, the others keep theirs, inserted first so no new number lands on one.
    private func copy(_ table: String, overrides: [String: String], values: [any SQLiteBindable], inPlace: Bool = false) throws {
        let columns = try columnNames(table)
        let integerID = try db.scalarText("SELECT type FROM pragma_table_info(?) WHERE name = 'id'", [table]) == "INTEGER"
        func select(_ id: String?) -> String {
            columns.map { column in
                if column == "id", let id { return id }
                return overrides[column] ?? "s.\(column)"
            }.joined(separator: ", ")
        }
        let list = columns.joined(separator: ", ")
        guard integerID else {
            try db.prepare("INSERT INTO main.\(table) (\(list)) SELECT \(select(nil)) FROM snap.\(table) AS s ORDER BY s.rowid").run(values)
            return
        }
        guard inPlace else {
            try db.prepare("INSERT INTO main.\(table) (\(list)) SELECT \(select("NULL")) FROM snap.\(table) AS s ORDER BY s.rowid").run(values)
            return
        }
        let taken = "EXISTS (SELECT 1 FROM main.\(table) AS m WHERE m.id = s.id)"
        try db.execute("DROP TABLE IF EXISTS temp.restore_taken")
        try db.execute("CREATE TEMP TABLE restore_taken AS SELECT s.id FROM snap.\(table) AS s WHERE \(taken)")
        try db.prepare(
            "INSERT INTO main.\(table) (\(list)) SELECT \(select(nil)) FROM snap.\(table) AS s WHERE s.id NOT IN (SELECT id FROM temp.restore_taken) ORDER BY s.rowid"
        ).run(values)
        try db.prepare(
            "INSERT INTO main.\(table) (\(list)) SELECT \(select("NULL")) FROM snap.\(table) AS s WHERE s.id IN (SELECT id FROM temp.restore_taken) ORDER BY s.rowid"
        ).run(values)
        try db.execute("DROP TABLE temp.restore_taken")
    }
}

/// The workspace entries of an attached snapshot, read one row at a time.
private final class SnapshotEntries {
    let statement: Statement
    /// The first row that could not be read; the sequence ends there.
    private(set) var failure: (any Error)?

    init(statement: Statement) { self.statement = statement }

    func iterator() -> AnyIterator<FileTreeArchive.Entry> {
        AnyIterator { [self] in
            guard failure == nil else { return nil }
            do {
                guard try statement.step() else { return nil }
                let row = statement.currentRow
                guard case .blob(let path) = row.value(0), let kind = FileTreeArchive.Kind(rawValue: row.text(1)) else {
                    throw SandboxError.invalidState("the snapshot's list of workspace files is damaged")
                }
                let contents: [UInt8] = if case .blob(let bytes) = row.value(3) { bytes } else { [] }
                return FileTreeArchive.Entry(path: path, kind: kind, mode: UInt32(truncatingIfNeeded: row.int64(2)), contents: contents)
            } catch {
                failure = error
                return nil
            }
        }
    }
}
