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
    /// The longest project or agent name accepted, in characters.
    public static let maximumNameLength = 1_000
    /// The longest description or hypothesis accepted, in characters.
    public static let maximumDescriptionLength = 100_000

    /// Creates an active project and its workspace folder.
    ///
    /// - Parameters:
    ///   - budget: an optional cost cap for the project.
    ///   - expiry: when the project is killed by itself (`kill_reason: expired`), and whether
    ///     that also deletes its workspace; it must lie in the future.
    /// - Returns: the new project, with an ID of the form `prj_` + 8 hex digits.
    public func createProject(name: String, description: String = "", budget: Money? = nil, expiry: ProjectExpiry? = nil) throws -> Project {
        let createdAt = now()
        try Self.checkNewProject(name: name, description: description, budget: budget, expiry: expiry, now: createdAt)
        guard !isEphemeral else {
            throw SandboxError.invalidState("the sandbox was opened without create: true; nothing can be created")
        }
        return try write {
            var id = ProjectID.random()
            // Eight hex digits collide now and then once there are tens of thousands of
            // projects; draw again under the write lock until the ID is free.
            while try db.scalarInt("SELECT count(*) FROM projects WHERE id = ?", [id.rawValue]) > 0 {
                id = ProjectID.random()
            }
            try db.run(
                """
                INSERT INTO projects (id, name, description, status, budget_micros, created_at, expires_at, delete_on_expiry)
                VALUES (?, ?, ?, 'active', ?, ?, ?, ?)
                """,
                id.rawValue, name, description, budget?.micros, Timestamp.string(from: createdAt),
                expiry.map { Timestamp.string(from: $0.at) }, (expiry?.deleteWorkspace ?? false) ? 1 : 0
            )
            // Made inside the transaction: if the folder cannot be made, the project is not
            // recorded either. A crash after this line leaves an empty folder, nothing else.
            let workspace = paths.workspace(for: id)
            do {
                try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
            } catch {
                throw SandboxError.fileSystem(path: workspace.path, message: "cannot create the workspace (\(firstLine(of: error)))")
            }
            return Project(
                id: id, name: name, description: description, status: .active, workspace: workspace.path,
                createdAt: createdAt, promotedAt: nil, killedAt: nil, budget: budget,
                expiresAt: expiry.map { wholeSeconds($0.at) }, deleteOnExpiry: expiry?.deleteWorkspace ?? false, killReason: nil
            )
        }
    }

    /// What `createProject` refuses, checked without a sandbox (so a command can refuse before
    /// it creates one): a name or description that is empty, too long or holds NUL, a budget
    /// that is not positive, an expiry not in the future or more than 366 days away.
    public static func checkNewProject(name: String, description: String, budget: Money?, expiry: ProjectExpiry?, now: Date) throws {
        try validateText(name, field: "project name", maximumLength: maximumNameLength)
        try validateText(description, field: "description", maximumLength: maximumDescriptionLength, allowEmpty: true)
        if let budget, budget.micros <= 0 {
            throw SandboxError.invalidInput("budget must be greater than zero")
        }
        if let expiry { try expiry.check(now: wholeSeconds(now)) }
    }

    /// The project with this ID.
    public func project(_ id: ProjectID) throws -> Project {
        try mappingErrors { try loadProject(id) }
    }

    func loadProject(_ id: ProjectID) throws -> Project {
        let project = try db.queryFirst(
            """
            SELECT id, name, description, status, created_at, promoted_at, killed_at, budget_micros, expires_at, delete_on_expiry, kill_reason
            FROM projects WHERE id = ?
            """,
            [id.rawValue]
        ) { row in
            Project(
                id: ProjectID(unchecked: row.text(0)), name: row.text(1), description: row.text(2),
                status: try decode(ProjectStatus.self, row.text(3)), workspace: paths.workspace(for: id).path,
                createdAt: Timestamp.date(from: row.text(4)), promotedAt: Timestamp.date(from: row.optionalText(5)),
                killedAt: Timestamp.date(from: row.optionalText(6)), budget: row.optionalInt64(7).map(Money.init(micros:)),
                expiresAt: Timestamp.date(from: row.optionalText(8)), deleteOnExpiry: row.int64(9) != 0,
                killReason: try row.optionalText(10).map { try decode(KillReason.self, $0) }
            )
        }
        guard let project else { throw SandboxError.notFound(kind: "project", id: id.rawValue) }
        return project
    }

    /// The project's metrics, computed in SQL from its agents' running totals.
    func loadMetrics(_ id: ProjectID) throws -> Metrics {
        try db.queryFirst(
            """
            SELECT count(*), coalesce(sum(status = 'active'), 0), coalesce(sum(tokens_used), 0),
                   coalesce(sum(cost_micros), 0), coalesce(sum(revenue_micros), 0)
            FROM agents WHERE project_id = ?
            """,
            [id.rawValue]
        ) { row in
            Metrics(
                totalAgents: row.int(0), activeAgents: row.int(1), tokensUsed: row.int64(2),
                totalCost: Money(micros: row.int64(3)), totalRevenue: Money(micros: row.int64(4))
            )
        } ?? Metrics(totalAgents: 0, activeAgents: 0, tokensUsed: 0, totalCost: .zero, totalRevenue: .zero)
    }

    /// The project's metrics.
    public func metrics(of id: ProjectID) throws -> Metrics {
        try read {
            _ = try loadProject(id)
            return try loadMetrics(id)
        }
    }

    /// Lists projects with their metrics, oldest first, in one query whatever their number.
    ///
    /// - Parameter status: only projects in this status; nil for all.
    public func listProjects(status: ProjectStatus? = nil) throws -> ProjectList {
        var projects: [ProjectSummary] = []
        try eachProject(status: status) { projects.append($0) }
        return ProjectList(projects: projects)
    }

    /// Hands each project `listProjects` would return to `body`, in the same order, one at
    /// a time from one read transaction: how `sandbox list` streams, in memory that does not
    /// grow with the number of projects.
    public func eachProject(status: ProjectStatus? = nil, _ body: (ProjectSummary) throws -> Void) throws {
        try read {
            try db.forEachRow(
                """
                SELECT \(Self.summaryColumns) FROM projects
                WHERE ?1 IS NULL OR status = ?1
                ORDER BY created_at, rowid
                """,
                [status?.rawValue]
            ) { row in try body(try decodeSummary(row)) }
        }
    }

    /// The columns `decodeSummary` reads, in its order.
    static let summaryColumns = """
        id, name, description, status, created_at,
        total_agents, active_agents, tokens_used, cost_micros, revenue_micros, budget_micros, expires_at, kill_reason
        """

    /// A `ProjectSummary` from `summaryColumns`.
    private func decodeSummary(_ row: Row) throws -> ProjectSummary {
        ProjectSummary(
            id: ProjectID(unchecked: row.text(0)), name: row.text(1), description: row.text(2),
            status: try decode(ProjectStatus.self, row.text(3)), createdAt: Timestamp.date(from: row.text(4)),
            metrics: Metrics(
                totalAgents: row.int(5), activeAgents: row.int(6), tokensUsed: row.int64(7),
                totalCost: Money(micros: row.int64(8)), totalRevenue: Money(micros: row.int64(9))
            ),
            budget: row.optionalInt64(10).map(Money.init(micros:)),
            budgetUsedPercent: row.optionalInt64(10).map { Budgets.percent(row.int64(8), of: $0) },
            expiresAt: Timestamp.date(from: row.optionalText(11)),
            killReason: try row.optionalText(12).map { try decode(KillReason.self, $0) }
        )
    }

    /// One page of `listProjects`: at most `limit` projects after the one with ID `after`
    /// (nil: from the first), in the same order, and the cursor of the next page (nil at the end).
    /// A cursor is a project ID, so pages stay right while projects are added.
    public func listProjects(status: ProjectStatus? = nil, after cursor: ProjectID?, limit: Int) throws -> ProjectPage {
        guard (1...1_000).contains(limit) else { throw SandboxError.invalidInput("limit must be from 1 to 1000, got \(limit)") }
        return try read {
            if let cursor { _ = try loadProject(cursor) }
            var projects: [ProjectSummary] = []
            try db.forEachRow(
                """
                SELECT \(Self.summaryColumns) FROM projects
                WHERE (?1 IS NULL OR status = ?1)
                  AND (?2 IS NULL OR (created_at, rowid) > (SELECT created_at, rowid FROM projects WHERE id = ?2))
                ORDER BY created_at, rowid
                LIMIT ?3
                """,
                [status?.rawValue, cursor?.rawValue, Int64(limit + 1)]
            ) { row in projects.append(try decodeSummary(row)) }
            let more = projects.count > limit
            if more { projects.removeLast() }
            return ProjectPage(projects: projects, nextCursor: more ? projects.last?.id.rawValue : nil)
        }
    }

    /// Everything about one project: metrics, agents, experiments, last evaluation.
    public func projectDetail(_ id: ProjectID) throws -> ProjectDetail {
        try read {
            let project = try loadProject(id)
            let metrics = try loadMetrics(id)
            return ProjectDetail(
                id: project.id, name: project.name, description: project.description, status: project.status,
                workspace: project.workspace, createdAt: project.createdAt, promotedAt: project.promotedAt,
                killedAt: project.killedAt, budget: project.budget,
                budgetUsedPercent: project.budget.map { Budgets.percent(metrics.totalCost.micros, of: $0.micros) },
                expiresAt: project.expiresAt, deleteOnExpiry: project.deleteOnExpiry, killReason: project.killReason, metrics: metrics,
                agents: try loadAgents(project: id), experiments: try loadExperiments(project: id),
                lastEvaluation: try loadLastEvaluation(id), runs: try loadLatestRuns(project: id),
                repositories: try loadRepositories(project: id),
                promotionPending: try pendingPromotionExists(id)
            )
        }
    }

    /// Counts and totals over the whole sandbox: one row, kept up to date by triggers in the
    /// same transactions as the changes they count, so the time is the same for ten projects
    /// or a hundred thousand.
    public func status() throws -> SandboxStatus {
        try read {
            try db.queryFirst(
                """
                SELECT total_projects, active_projects, promoted_projects, killed_projects, total_agents, active_agents,
                       cost_micros, revenue_micros
                FROM sandbox_totals WHERE id = 1
                """
            ) { row in
                SandboxStatus(
                    totalProjects: row.int(0), activeProjects: row.int(1), promotedProjects: row.int(2),
                    killedProjects: row.int(3), totalAgents: row.int(4), activeAgents: row.int(5),
                    totalCost: Money(micros: row.int64(6)), totalRevenue: Money(micros: row.int64(7))
                )
            }!
        }
    }

    /// Retires a project: its agents and the project become `killed`.
    ///
    /// With `deleteWorkspace`, also removes the project's workspace folder, and only it: the
    /// path comes from the validated ID, and a symbolic link there is removed as a link,
    /// never followed. Safe to re-run: killing a killed project again with
    /// `deleteWorkspace` finishes a deletion that an earlier run did not get to.
    public func kill(_ id: ProjectID, deleteWorkspace: Bool = false) throws -> KillResult {
        let workspace = paths.workspace(for: id)
        let agentsKilled: Int = try write {
            if try checkKill(id, deleteWorkspace: deleteWorkspace).status == .killed { return 0 }
            try db.run("UPDATE agents SET status = 'killed' WHERE project_id = ? AND status <> 'killed'", id.rawValue)
            let count = db.changes
            try db.run(
                "UPDATE projects SET status = 'killed', killed_at = ?, kill_reason = 'manual' WHERE id = ?",
                Timestamp.string(from: now()), id.rawValue
            )
            return count
        }
        var deleted = false
        if deleteWorkspace {
            deleted = try removeWorkspace(workspace)
        }
        return KillResult(projectID: id, status: .killed, agentsKilled: agentsKilled, workspaceDeleted: deleted)
    }

    /// The project `kill` would kill, or why it refuses: unknown, promoted (its agents live in
    /// production), already killed (unless `--delete` has a workspace left to remove), or a
    /// promotion in progress. Changes nothing; `kill` makes the same checks under its lock.
    @discardableResult
    public func checkKill(_ id: ProjectID, deleteWorkspace: Bool = false) throws -> Project {
        try read {
            let project = try loadProject(id)
            if try pendingPromotionExists(id) {
                throw SandboxError.invalidState("project \(id) has a promotion in progress; run 'novaos sandbox promote \(id)' to finish it first")
            }
            switch project.status {
            case .promoted:
                throw SandboxError.invalidState(
                    "project \(id) is promoted: its agents live in production ('novaos production list'), so it cannot be killed"
                )
            case .killed:
                guard deleteWorkspace, Self.entryExists(at: paths.workspace(for: id)) else {
                    throw SandboxError.invalidState("project \(id) is already killed")
                }
            case .active:
                break
            }
            return project
        }
    }

    /// True when something (a file, folder or link, even a dangling one) is at `url`.
    static func entryExists(at url: URL) -> Bool {
        var info = stat()
        return lstat(url.path, &info) == 0
    }

    /// A stored value of an enumeration, or an error naming it: never silently another value.
    func decode<T: RawRepresentable>(_ type: T.Type, _ text: String) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: text) else {
            throw SandboxError.database(path: paths.sandboxDatabase.path, message: "unknown \(T.self) \(quoted(text)) in the database")
        }
        return value
    }

    /// Deletes the workspace through directory descriptors (`FileTree.remove`): a symbolic
    /// link, there or inside, is removed as a link; a mount point inside is left alone. What
    /// cannot be deleted is named in the error, and a re-run of kill --delete finishes.
    func removeWorkspace(_ workspace: URL) throws -> Bool {
        precondition(workspace.deletingLastPathComponent().path == paths.projectsFolder.path)
        guard Self.entryExists(at: workspace) else { return false }
        let rerun = "the project is killed, run 'novaos sandbox kill \(workspace.lastPathComponent) --delete' again to finish"
        let removal: FileTree.Removal
        do {
            removal = try FileTree.remove(workspace.lastPathComponent, in: paths.projectsFolder.path)
        } catch {
            throw SandboxError.fileSystem(path: workspace.path, message: "cannot delete the workspace (\(firstLine(of: error))); \(rerun)")
        }
        guard removal.complete else {
            throw SandboxError.fileSystem(path: workspace.path, message: "could not delete everything: \(removal); \(rerun)")
        }
        return removal.existed
    }
}
