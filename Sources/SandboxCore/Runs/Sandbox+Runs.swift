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
    /// `HOME/sandbox/logs`: run logs, outside every workspace.
    var logsFolder: URL { paths.sandboxFolder.appendingPathComponent("logs", isDirectory: true) }

    /// Runs an agent program and records its usage live.
    ///
    /// The command runs in the project's workspace, isolated by default (see
    /// `RunOptions.isolation`), with an environment built from nothing: `PATH`, `LANG`, `TZ`,
    /// `TERM`, `HOME` (the workspace), `NOVAOS_AGENT_ID`, `NOVAOS_PROJECT_ID`, `NOVAOS_RUN_ID`,
    /// `NOVAOS_TOKEN_BUDGET` (tokens left), `NOVAOS_AGENT_CONFIG`, `NOVAOS_EVENTS` (the event
    /// pipe, `/dev/fd/3`), `NOVAOS_REPLIES` (answers to `reserve` events, `/dev/fd/4`) and the
    /// variables in `options.passing`. Each line the agent writes
    /// to the pipe is an `AgentEvent`; lines are committed in batches (one transaction at
    /// least every 100 ms). The agent is stopped (SIGTERM to every process of it, SIGKILL
    /// after the grace period) when its tokens reach its budget, the project's cost passes its
    /// cap, it is paused or killed (or its project is), the timeout expires, `shouldInterrupt`
    /// says so, its output is no longer read, the database stays locked past
    /// `unavailableLimit`, or the disk fills. Its output goes to `options.output` and to
    /// `HOME/sandbox/logs/<project-id>/<agent-id>/<run-id>.log`, capped at `logLimit`.
    ///
    /// - Throws: before anything is recorded, for an agent that may not run, a bad `passing`
    ///   entry, or isolation that cannot be had; after the run is recorded, for a command that
    ///   cannot start (the run is then closed as `failed_to_start`).
    public func runAgent(_ id: AgentID, command: [String], options: RunOptions = RunOptions()) throws -> RunRecord {
        let record = try superviseRun(command: command, options: options, paths: paths, open: { start in
            try write {
                let agent = try loadAgent(id)
                guard agent.status == .active else {
                    let why = agent.pauseReason.map { " (\($0.rawValue))" } ?? ""
                    throw SandboxError.invalidState("agent \(id) is \(agent.status.rawValue)\(why); only active agents run")
                }
                let project = try loadProject(agent.projectID)
                guard project.status == .active else {
                    throw SandboxError.invalidState("agent \(id) belongs to project \(agent.projectID), which is \(project.status.rawValue); only agents of active projects run")
                }
                guard agent.tokensUsed < agent.tokenBudget else {
                    throw SandboxError.invalidState("agent \(id) has used \(agent.tokensUsed) of its \(agent.tokenBudget) tokens; nothing left to run on (raise it with 'novaos sandbox budget \(id) --tokens N')")
                }
                if let (cost, cap) = try capReached(project) {
                    throw SandboxError.invalidState("project \(agent.projectID) has cost \(cost) of its \(cap) cap; nothing is left to run on (raise it with 'novaos sandbox budget \(agent.projectID) --usd X')")
                }
                let runID = try insertRun(agent: id, start)
                let log = logsFolder.appendingPathComponent("\(agent.projectID.rawValue)/\(id.rawValue)/\(runID).log").path
                try db.run("UPDATE runs SET log_path = ? WHERE id = ?", log, runID)
                return OpenedRun(
                    agentID: id, runID: runID, tokensLeft: max(0, agent.tokenBudget - agent.tokensUsed - (try tokensReserved(agent: id, excludingRun: runID))),
                    config: agent.config, workspace: paths.workspace(for: agent.projectID).path, workspaceName: "the project's workspace",
                    logRoot: paths.sandboxFolder.path, logComponents: ["logs", agent.projectID.rawValue, id.rawValue],
                    variables: ["NOVAOS_PROJECT_ID": agent.projectID.rawValue]
                )
            }
        }, recordingBook: {
            try Sandbox(paths: paths, create: false, clock: clock, busyTimeoutMilliseconds: 50, maximumPageCount: maximumPageCount)
        })
        // The agent stopped at its project's expiry: the project ends with the run, not at the
        // next command. Best effort; any later opening does it otherwise.
        if record.stopReason == .projectExpired { _ = try? applyExpiry(at: now()) }
        return record
    }

    /// The folders of the program and of every file its arguments name (relative ones taken
    /// from `currentDirectory`), so a script kept in `/tmp` still runs; read-only inside.
    static func foldersOfFiles(named arguments: [String], currentDirectory: String) -> [String] {
        var folders: [String] = []
        for argument in arguments where !argument.isEmpty && !argument.hasPrefix("-") && argument.utf8.count < 4096 {
            let path = argument.hasPrefix("/") ? argument : joinedPath(currentDirectory, argument)
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            let folder = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().path
            if folder != "/", !folders.contains(folder) { folders.append(folder) }
        }
        return folders
    }

    /// The variables named by `--env`: `NAME` takes its value from `environment`, `NAME=VALUE` gives it.
    public static func agentVariables(_ specifications: [String], from environment: [String: String]) throws -> [String: String] {
        var variables: [String: String] = [:]
        for specification in specifications {
            let name: String
            let value: String
            if let equals = specification.firstIndex(of: "=") {
                name = String(specification[..<equals])
                value = String(specification[specification.index(after: equals)...])
            } else {
                name = specification
                guard let inherited = environment[name] else {
                    throw SandboxError.invalidInput("--env \(quoted(name)): no such variable in novaos's environment; give a value with --env \(name)=VALUE")
                }
                value = inherited
            }
            let first = name.unicodeScalars.first
            guard let first, first == "_" || (first.isASCII && first.properties.isAlphabetic),
                  name.unicodeScalars.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) })
            else {
                throw SandboxError.invalidInput("--env \(quoted(name)): a variable name is letters, digits and '_', not starting with a digit")
            }
            guard !name.hasPrefix("NOVAOS_"), name != "HOME" else {
                throw SandboxError.invalidInput("--env \(name): novaos sets this variable itself")
            }
            guard !value.utf8.contains(0) else { throw SandboxError.invalidInput("--env \(name): the value contains a NUL byte") }
            variables[name] = value
        }
        return variables
    }

    /// True while the supervisor a run row names (its PID and start time) is running.
    static func supervisorIsAlive(pid: Int64?, start: Int64?) -> Bool {
        guard let pid, let start else { return false }
        return ProcessIdentity(pid: Int32(truncatingIfNeeded: pid), startTime: start).isAlive
    }

    /// Closes the runs whose supervisor is gone (killed, or the machine lost power) as `lost`.
    /// Cheap when there are none: one look-up in a partial index of open runs. Called when a
    /// command opens the sandbox for writing; a busy database is left for the next command.
    func closeLostRuns() {
        guard !isEphemeral else { return }
        closeRunsOfDeadSupervisors()
    }

    /// The runs of an agent, newest first.
    public func runs(agent id: AgentID) throws -> RunList {
        try read {
            _ = try loadAgent(id)
            return RunList(runs: try db.query("SELECT \(Self.runColumns) FROM runs WHERE agent_id = ? ORDER BY id DESC", [id.rawValue]) { Self.decodeRun($0) })
        }
    }

    /// One page of an agent's runs, newest first, those older than the run `cursor`.
    public func runs(agent id: AgentID, cursor: String?, limit: Int) throws -> Page<RunRecord> {
        try Page<RunRecord>.check(limit: limit)
        let before = try Page<RunRecord>.rowID(cursor)
        return try read {
            _ = try loadAgent(id)
            return try Self.runsPage(in: ledgerDatabase, agent: id, before: before, limit: limit)
        }
    }

    /// A page of the runs of `agent` in `db` (a sandbox or production): newest first, older
    /// than the run `before`.
    static func runsPage(in db: any LedgerDatabase, agent: AgentID, before: Int64?, limit: Int) throws -> Page<RunRecord> {
        let rows = try db.query(
            "SELECT \(runColumns) FROM runs WHERE agent_id = ?\(before == nil ? "" : " AND id < ?") ORDER BY id DESC LIMIT \(limit + 1)",
            [agent.rawValue] + (before.map { [$0] } ?? []), decodeRun
        )
        return Page(key: "runs", rows: rows, limit: limit) { String($0.id) }
    }

    /// Pauses an active agent: it keeps its data, may still be promoted, and does not run.
    public func pauseAgent(_ id: AgentID) throws -> Agent {
        try setAgentStatus(id, from: .active, to: .paused)
    }

    /// Resumes a paused agent.
    public func resumeAgent(_ id: AgentID) throws -> Agent {
        try setAgentStatus(id, from: .paused, to: .active)
    }

    private func setAgentStatus(_ id: AgentID, from: AgentStatus, to: AgentStatus) throws -> Agent {
        try write {
            let agent = try loadAgent(id)
            guard agent.status == from else {
                throw SandboxError.invalidState("agent \(id) is \(agent.status.rawValue), not \(from.rawValue)")
            }
            let project = try loadProject(agent.projectID)
            guard project.status == .active else {
                throw SandboxError.invalidState("agent \(id) belongs to project \(project.id), which is \(project.status.rawValue)")
            }
            if to == .active {
                // Resuming does not lift a budget: raise it first.
                guard agent.tokensUsed < agent.tokenBudget else {
                    throw SandboxError.invalidState("agent \(id) is over its token budget (\(groupedDigits(agent.tokensUsed)) of \(groupedDigits(agent.tokenBudget))); raise it with 'novaos sandbox budget \(id) --tokens N' first")
                }
                if let (cost, cap) = try capReached(project) {
                    throw SandboxError.invalidState("project \(project.id) is at or over its cost cap (\(cost) of \(cap)); raise it with 'novaos sandbox budget \(project.id) --usd X' or remove it with --none first")
                }
            }
            try db.run("UPDATE agents SET status = ?, pause_reason = ? WHERE id = ?", to.rawValue, to == .paused ? PauseReason.manual.rawValue : nil, id.rawValue)
            return try loadAgent(id)
        }
    }

    static let runColumns = """
        id, agent_id, command, started_at, ended_at, exit_code, signal, stop_reason, tokens_used, cost_micros, revenue_micros, \
        events, rejected_events, log_path, isolation
        """

    static func decodeRun(_ row: any LedgerRow) -> RunRecord {
        var command: [String] = []
        if case .array(let items) = JSONValue.decodeStored(row.text(2)) {
            command = items.map { if case .string(let text) = $0 { text } else { $0.jsonText } }
        }
        return RunRecord(
            id: row.int64(0), agentID: AgentID(unchecked: row.text(1)), command: command, startedAt: Timestamp.date(from: row.text(3)),
            endedAt: Timestamp.date(from: row.optionalText(4)), exitCode: row.optionalInt64(5).map { Int32($0) },
            signal: row.optionalInt64(6).map { Int32($0) }, stopReason: row.optionalText(7).flatMap(StopReason.init(rawValue:)),
            tokensUsed: row.int64(8), cost: Money(micros: row.int64(9)), revenue: Money(micros: row.int64(10)),
            events: row.int(11), rejectedEvents: row.int(12), log: row.text(13),
            isolation: IsolationMode(rawValue: row.text(14)) ?? .none,
            budgetExceeded: [StopReason.budgetExceeded.rawValue, StopReason.projectBudgetExceeded.rawValue].contains(row.optionalText(7) ?? "")
        )
    }

    /// The latest runs of a project's agents, newest first.
    func loadLatestRuns(project: ProjectID, limit: Int = 10) throws -> [RunRecord] {
        try db.query(
            """
            SELECT \(Self.runColumns.split(separator: ",").map { "r." + $0.filter { $0 != " " } }.joined(separator: ", "))
            FROM runs AS r JOIN agents AS a ON a.id = r.agent_id
            WHERE a.project_id = ? ORDER BY r.id DESC LIMIT ?
            """,
            [project.rawValue, limit]
        ) { Self.decodeRun($0) }
    }
}

extension Sandbox: RunBook {
    var databasePath: String { paths.sandboxDatabase.path }

    /// A sandbox agent runs while it and its project are active and under budget and cap.
    func runState(of agentID: AgentID) throws -> RunRecorder.RunState {
        typealias RunState = RunRecorder.RunState
        guard let row = try db.queryFirst(
            """
            SELECT a.status, a.pause_reason, p.status, a.tokens_used, a.token_budget, p.budget_micros,
                   (SELECT coalesce(sum(cost_micros), 0) FROM agents WHERE project_id = a.project_id), a.project_id,
                   p.expires_at, p.kill_reason, EXISTS (SELECT 1 FROM promotions WHERE project_id = p.id)
            FROM agents AS a JOIN projects AS p ON p.id = a.project_id WHERE a.id = ?
            """,
            [agentID.rawValue], {
                ($0.text(0), $0.optionalText(1), $0.text(2), $0.int64(3), $0.int64(4), $0.optionalInt64(5), $0.int64(6), $0.text(7),
                 $0.optionalText(8), $0.optionalText(9), $0.int64(10) != 0)
            }
        ) else {
            return .drop(.agentKilled, "stopped: agent \(agentID) is gone")
        }
        let (agentStatus, pauseReason, projectStatus, tokensUsed, budget, cap, projectCost, projectID, expiresAt, killReason, promoting) = row
        // At its expiry the run stops, whether or not a command has killed the project yet
        // (`run` applies the expiry when the agent is gone); a project being promoted does not
        // expire (`promote` finishes first), as `applyExpiry` sees it.
        let expired = projectStatus == ProjectStatus.active.rawValue
            ? !promoting && expiresAt.map { $0 < Timestamp.string(from: now()) } == true
            : killReason == KillReason.expired.rawValue
        if expired, let expiresAt {
            return .drop(.projectExpired, "stopped: project \(projectID) expired at \(expiresAt)")
        }
        if projectStatus != ProjectStatus.active.rawValue {
            return .drop(.agentKilled, "stopped: project \(projectID) was \(projectStatus)")
        }
        if agentStatus == AgentStatus.killed.rawValue { return .drop(.agentKilled, "stopped: agent \(agentID) was killed") }
        let overBudget = RunState.stopAfterRecording(.budgetExceeded, "stopped: agent \(agentID) used \(tokensUsed) of its \(budget) tokens")
        let overCap = cap.map {
            RunState.stopAfterRecording(.projectBudgetExceeded, "stopped: project \(projectID) cost \(Money(micros: projectCost)) reached its cap of \(Money(micros: $0))")
        }
        if agentStatus == AgentStatus.paused.rawValue {
            switch pauseReason.flatMap(PauseReason.init(rawValue:)) {
            case .budgetExceeded?: return overBudget
            case .projectBudgetExceeded?: return overCap ?? overBudget
            case .manual?, nil: return .drop(.agentPaused, "stopped: agent \(agentID) was paused")
            }
        }
        if tokensUsed >= budget { return overBudget }
        if let cap, projectCost >= cap, let overCap { return overCap }
        return .runnable
    }
}
