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
        guard let program = command.first else { throw SandboxError.invalidInput("no command to run: give it after --") }
        let passed = try Self.agentVariables(options.passing, from: options.environment)
        let redactor = Redactor(secrets: Array(passed.values))
        let bubblewrap: Bubblewrap? = options.isolation == .namespace
            ? try mappingLowerErrors { try Bubblewrap.locate(path: options.environment["PATH"], only: nonEmpty(options.environment["NOVAOS_TEST_BWRAP"])) } : nil
        // Read before anything starts: a malformed price file refuses the run with nothing recorded.
        let prices = try prices()
        let started = now()
        let supervisor = ProcessIdentity.current
        // Each argument is redacted before JSON escapes could hide a secret's characters.
        let storedCommand = JSONValue.array(command.map { .string(redactor.redact($0)) }).jsonText
        let (agent, runID, tokensLeft): (Agent, Int64, Int64) = try write {
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
            try db.run(
                """
                INSERT INTO runs (agent_id, command, log_path, started_at, isolation, supervisor_pid, supervisor_start)
                VALUES (?, ?, '', ?, ?, ?, ?)
                """,
                id.rawValue, storedCommand, Timestamp.string(from: started), options.isolation.rawValue, Int64(supervisor.pid), supervisor.startTime
            )
            let runID = db.lastInsertRowID
            let tokensLeft = max(0, agent.tokenBudget - agent.tokensUsed - (try tokensReserved(agent: id, excludingRun: runID)))
            let log = logsFolder.appendingPathComponent("\(agent.projectID.rawValue)/\(id.rawValue)/\(runID).log").path
            try db.run("UPDATE runs SET log_path = ? WHERE id = ?", log, runID)
            return (agent, runID, tokensLeft)
        }

        let child: ChildProcess
        let log: RunLog
        let eventsRead: Int32
        let repliesWrite: Int32
        do {
            (child, log, eventsRead, repliesWrite) = try mappingLowerErrors {
                try startAgent(agent, runID: runID, tokensLeft: tokensLeft, program: program, command: command, passed: passed,
                               bubblewrap: bubblewrap, options: options)
            }
        } catch {
            try? write {
                try db.run(
                    "UPDATE runs SET ended_at = ?, stop_reason = 'failed_to_start', exit_code = 127 WHERE id = ? AND ended_at IS NULL",
                    Timestamp.string(from: now()), runID
                )
            }
            throw error
        }

        // The supervisor records through a connection of its own with a short busy timeout,
        // so a lock held elsewhere delays recording without ever blocking the loop.
        let recording = try Sandbox(
            paths: paths, create: false, clock: clock, busyTimeoutMilliseconds: 50, maximumPageCount: maximumPageCount
        )
        let recorder = RunRecorder(
            sandbox: recording, agent: agent, runID: runID, prices: prices, redactor: redactor, note: options.note, warn: options.warn ?? options.note
        )
        var settings = SupervisorOptions()
        settings.timeout = options.timeout
        settings.gracePeriod = options.gracePeriod
        settings.unavailableLimit = options.unavailableLimit
        settings.maximumLineBytes = EventParser.maximumLineBytes
        settings.shouldInterrupt = options.shouldInterrupt
        settings.output = options.output
        settings.note = options.note
        let outcome = Supervisor(
            child: child, isolated: bubblewrap != nil, events: eventsRead, replies: repliesWrite, log: log, ledger: recorder, redactor: redactor,
            options: settings
        ).run()
        var run = try read { try loadRun(runID) }
        if run.stopReason == nil {
            // The database never let the run be closed; the caller still learns how it ended,
            // and the next command that can write closes the row as `lost`.
            run.stopReason = outcome.stopReason
            run.exitCode = outcome.exitCode
            run.signal = outcome.signal
            run.endedAt = now()
        }
        run.budgetExceeded = run.stopReason == .budgetExceeded || run.stopReason == .projectBudgetExceeded || recorder.budgetReached
        run.pausedAgents = recorder.pausedAgents
        return run
    }

    /// Opens the log, makes the event pipe and starts the agent, isolated when `bubblewrap` is given.
    private func startAgent(
        _ agent: Agent, runID: Int64, tokensLeft: Int64, program: String, command: [String], passed: [String: String], bubblewrap: Bubblewrap?,
        options: RunOptions
    ) throws -> (ChildProcess, RunLog, Int32, Int32) {
        let workspace = paths.workspace(for: agent.projectID).path
        guard Bubblewrap.isRealDirectory(workspace) else {
            throw SandboxError.fileSystem(path: workspace, message: "the project's workspace is missing or is not a folder")
        }
        // The log is opened through folders novaos opened itself, never by a path an agent could have replaced.
        let folder = try Directory.open(paths.sandboxFolder.path).subdirectory("logs", mode: 0o700)
            .subdirectory(agent.projectID.rawValue, mode: 0o700).subdirectory(agent.id.rawValue, mode: 0o700)
        let log = RunLog(fd: try folder.createFile("\(runID).log", readable: true), path: folder.path + "/\(runID).log", limit: options.logLimit)
        let pipe = try makePipe()
        defer { close(pipe.write) }
        let replies: (read: Int32, write: Int32)
        do { replies = try makePipe() } catch {
            close(pipe.read)
            throw error
        }
        defer { close(replies.read) }

        var environment = passed
        for key in ["PATH", "LANG", "TZ", "TERM"] { environment[key] = nonEmpty(options.environment[key]) }
        environment["PATH"] = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        environment["HOME"] = workspace
        environment["NOVAOS_AGENT_ID"] = agent.id.rawValue
        environment["NOVAOS_PROJECT_ID"] = agent.projectID.rawValue
        environment["NOVAOS_RUN_ID"] = String(runID)
        environment["NOVAOS_TOKEN_BUDGET"] = String(tokensLeft) // less what other runs of it hold reserved
        environment["NOVAOS_AGENT_CONFIG"] = agent.config.jsonText
        environment["NOVAOS_EVENTS"] = "/dev/fd/3"
        environment["NOVAOS_REPLIES"] = "/dev/fd/4"
        let executable = try ChildProcess.resolve(program, path: options.environment["PATH"], currentDirectory: options.currentDirectory)
        let child: ChildProcess
        do {
            if let bubblewrap {
                var layout = agentLayout(workspace: workspace, network: options.network, environment: options.environment)
                layout.readable = Self.foldersOfFiles(named: [executable] + command.dropFirst(), currentDirectory: options.currentDirectory)
                let argv = bubblewrap.arguments(layout: layout, program: executable, arguments: Array(command.dropFirst()))
                // bwrap is started with the agent's environment: its init (PID 1 inside) shows it in /proc/1/environ.
                child = try ChildProcess(executable: bubblewrap.executable, arguments: argv, environment: environment, directory: "/",
                                         passing: [pipe.write, replies.read])
            } else {
                child = try ChildProcess(executable: executable, arguments: command, environment: environment, directory: workspace,
                                         passing: [pipe.write, replies.read])
            }
        } catch {
            close(pipe.read)
            close(replies.write)
            throw error
        }
        return (child, log, pipe.read, replies.write)
    }

    /// What an isolated agent sees: its workspace, writable; the system read-only; none of
    /// novaos's data (the sandbox folder, the production database) but the agent programs
    /// shipped in `HOME/sandbox/agents`; none of the user's credential files.
    func agentLayout(workspace: String, network: Bool, environment: [String: String]) -> SandboxLayout {
        SandboxLayout(
            writable: [workspace], hidden: hiddenFromUntrustedCode(environment: environment),
            revealed: [paths.sandboxFolder.appendingPathComponent("agents").path], network: network, directory: workspace
        )
    }

    /// novaos's data and the user's credential files, hidden from everything novaos runs.
    func hiddenFromUntrustedCode(environment: [String: String]) -> [String] {
        var hidden = [paths.sandboxFolder.path]
        let production = paths.productionDatabase.path
        hidden += ["", "-wal", "-shm", "-journal"].map { production + $0 }
        if let home = nonEmpty(environment["HOME"]), home != "/" {
            hidden += SandboxLayout.credentialEntries.map { home + "/" + $0 }
        }
        return hidden
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
    static func agentVariables(_ specifications: [String], from environment: [String: String]) throws -> [String: String] {
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
        guard !isEphemeral, !db.isReadOnly,
              let open = try? db.query("SELECT id, supervisor_pid, supervisor_start FROM runs WHERE ended_at IS NULL", [], {
                  ($0.int64(0), $0.optionalInt64(1), $0.optionalInt64(2))
              }), !open.isEmpty else { return }
        let lost = open.filter { _, pid, start in !Self.supervisorIsAlive(pid: pid, start: start) }
        guard !lost.isEmpty else { return }
        let stamp = Timestamp.string(from: now())
        _ = try? db.inTransaction(.immediate) {
            for (id, _, _) in lost {
                try db.run("UPDATE runs SET ended_at = ?, stop_reason = 'lost' WHERE id = ? AND ended_at IS NULL", stamp, id)
            }
        }
    }

    /// The runs of an agent, newest first.
    public func runs(agent id: AgentID) throws -> RunList {
        try read {
            _ = try loadAgent(id)
            return RunList(runs: try db.query("SELECT \(Self.runColumns) FROM runs WHERE agent_id = ? ORDER BY id DESC", [id.rawValue], Self.decodeRun))
        }
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

    static func decodeRun(_ row: Row) -> RunRecord {
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

    func loadRun(_ id: Int64) throws -> RunRecord {
        guard let run = try db.queryFirst("SELECT \(Self.runColumns) FROM runs WHERE id = ?", [id], Self.decodeRun) else {
            throw SandboxError.notFound(kind: "run", id: String(id))
        }
        return run
    }

    /// The latest runs of a project's agents, newest first.
    func loadLatestRuns(project: ProjectID, limit: Int = 10) throws -> [RunRecord] {
        try db.query(
            """
            SELECT \(Self.runColumns.split(separator: ",").map { "r." + $0.filter { $0 != " " } }.joined(separator: ", "))
            FROM runs AS r JOIN agents AS a ON a.id = r.agent_id
            WHERE a.project_id = ? ORDER BY r.id DESC LIMIT ?
            """,
            [project.rawValue, limit], Self.decodeRun
        )
    }
}

