import Foundation
import SQLiteDB

extension Sandbox {
    /// Runs an agent program and records its usage live.
    ///
    /// The command runs in the project's workspace, in its own process group, with
    /// `NOVAOS_AGENT_ID`, `NOVAOS_PROJECT_ID`, `NOVAOS_TOKEN_BUDGET` (tokens left),
    /// `NOVAOS_AGENT_CONFIG` and `NOVAOS_EVENTS` (a named pipe) added to its environment.
    /// Each line the agent writes to the pipe is an `AgentEvent`, recorded and committed as it
    /// arrives; a malformed line is noted with its line number and skipped. When the agent's
    /// tokens reach its budget, the project's cost passes its cap, the timeout expires or
    /// `shouldInterrupt` says so, the group gets SIGTERM, then SIGKILL after the grace period.
    /// The agent's stdout and stderr go to `options.output` and to
    /// `WORKSPACE/logs/<agent-id>/<run-id>.log`.
    ///
    /// - Throws: for an agent that is not active, has no tokens left, or a command that
    ///   cannot start (the run is then recorded as `failed_to_start`).
    public func runAgent(_ id: AgentID, command: [String], options: RunOptions = RunOptions()) throws -> RunRecord {
        guard let program = command.first else { throw SandboxError.invalidInput("no command to run: give it after --") }
        let started = now()
        let (agent, runID, logURL): (Agent, Int64, URL) = try write {
            let agent = try loadAgent(id)
            guard agent.status == .active else {
                throw SandboxError.invalidState("agent \(id) is \(agent.status.rawValue); only active agents run")
            }
            let projectStatus = try db.scalarText("SELECT status FROM projects WHERE id = ?", [agent.projectID.rawValue])
            guard projectStatus == ProjectStatus.active.rawValue else {
                throw SandboxError.invalidState("agent \(id) belongs to project \(agent.projectID), which is \(projectStatus ?? "gone"); only agents of active projects run")
            }
            guard agent.tokensUsed < agent.tokenBudget else {
                throw SandboxError.invalidState("agent \(id) has used \(agent.tokensUsed) of its \(agent.tokenBudget) tokens; nothing left to run on")
            }
            try db.run(
                "INSERT INTO runs (agent_id, command, log_path, started_at) VALUES (?, ?, '', ?)",
                id.rawValue, JSONValue.array(command.map(JSONValue.string)).jsonText, Timestamp.string(from: started)
            )
            let runID = db.lastInsertRowID
            let logURL = paths.workspace(for: agent.projectID)
                .appendingPathComponent("logs", isDirectory: true)
                .appendingPathComponent(id.rawValue, isDirectory: true)
                .appendingPathComponent("\(runID).log")
            try db.run("UPDATE runs SET log_path = ? WHERE id = ?", logURL.path, runID)
            return (agent, runID, logURL)
        }

        var session = RunSession(sandbox: self, agent: agent, runID: runID, options: options)
        do {
            try session.start(program: program, command: command, logURL: logURL)
        } catch {
            try? write {
                try db.run(
                    "UPDATE runs SET ended_at = ?, stop_reason = 'failed_to_start', exit_code = 127 WHERE id = ?",
                    Timestamp.string(from: now()), runID
                )
            }
            session.cleanUp()
            throw error
        }
        try session.superviseUntilDone()
        return try read { try loadRun(runID) }
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
            try db.run("UPDATE agents SET status = ? WHERE id = ?", to.rawValue, id.rawValue)
            return try loadAgent(id)
        }
    }

    static let runColumns = """
        id, agent_id, command, started_at, ended_at, exit_code, signal, stop_reason, tokens_used, cost_micros, revenue_micros, \
        events, rejected_events, log_path
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
            events: row.int(11), rejectedEvents: row.int(12), log: row.text(13)
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
            SELECT \(Self.runColumns.split(separator: ",").map { "r." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", "))
            FROM runs AS r JOIN agents AS a ON a.id = r.agent_id
            WHERE a.project_id = ? ORDER BY r.id DESC LIMIT ?
            """,
            [project.rawValue, limit], Self.decodeRun
        )
    }
}

/// The moving parts of one run: the child, its pipes, the event pipe and the log.
private struct RunSession {
    let sandbox: Sandbox
    let agent: Agent
    let runID: Int64
    let options: RunOptions

    var child: ChildProcess?
    var eventsFolder: String?
    var eventsRead: Int32 = -1
    var eventsKeepOpen: Int32 = -1
    var log: FileHandle?
    var eventBuffer: [UInt8] = []
    var eventLine = 0
    var stopReason: StopReason?
    var killDeadline: Date?

    init(sandbox: Sandbox, agent: Agent, runID: Int64, options: RunOptions) {
        self.sandbox = sandbox
        self.agent = agent
        self.runID = runID
        self.options = options
    }

    mutating func start(program: String, command: [String], logURL: URL) throws {
        let workspace = sandbox.paths.workspace(for: agent.projectID)
        do {
            try FileManager.default.createDirectory(at: logURL.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: logURL.path, contents: nil) else {
                throw SandboxError.fileSystem(path: logURL.path, message: "cannot create the log file")
            }
            log = try FileHandle(forWritingTo: logURL)
        } catch let error as SandboxError {
            throw error
        } catch {
            throw SandboxError.fileSystem(path: logURL.path, message: "cannot create the log (\(firstLine(of: error)))")
        }

        // The event pipe lives in a private temporary folder, not in the workspace, so the
        // agent cannot confuse it with its own files.
        eventsFolder = try makeTemporaryFolder(prefix: "novaos-run")
        let fifo = eventsFolder! + "/events"
        guard mkfifo(fifo, 0o600) == 0 else {
            throw SandboxError.fileSystem(path: fifo, message: "cannot create the event pipe: \(String(cString: strerror(errno)))")
        }
        eventsRead = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        // A writer of our own keeps the pipe from reporting end-of-file whenever the agent
        // closes it between events.
        eventsKeepOpen = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard eventsRead >= 0, eventsKeepOpen >= 0 else {
            throw SandboxError.fileSystem(path: fifo, message: "cannot open the event pipe: \(String(cString: strerror(errno)))")
        }

        var environment = options.environment
        environment["NOVAOS_AGENT_ID"] = agent.id.rawValue
        environment["NOVAOS_PROJECT_ID"] = agent.projectID.rawValue
        environment["NOVAOS_TOKEN_BUDGET"] = String(max(0, agent.tokenBudget - agent.tokensUsed))
        environment["NOVAOS_AGENT_CONFIG"] = agent.config.jsonText
        environment["NOVAOS_EVENTS"] = fifo
        environment["NOVAOS_RUN_ID"] = String(runID)
        let executable = try ChildProcess.resolve(program, path: environment["PATH"], currentDirectory: options.currentDirectory)
        child = try ChildProcess(executable: executable, arguments: command, environment: environment, directory: workspace.path)
    }

    mutating func superviseUntilDone() throws {
        guard let child else { return }
        let deadline = options.timeout.map { Date().addingTimeInterval($0) }
        var exitedAt: Date?
        var outputOpen = (stdout: true, stderr: true)
        while true {
            var fds = [
                pollfd(fd: eventsRead, events: Int16(POLLIN), revents: 0),
                pollfd(fd: outputOpen.stdout ? child.stdout : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: outputOpen.stderr ? child.stderr : -1, events: Int16(POLLIN), revents: 0),
            ]
            _ = Glibc.poll(&fds, nfds_t(fds.count), 50)
            try drainEvents()
            if outputOpen.stdout { outputOpen.stdout = pump(child.stdout, isError: false) }
            if outputOpen.stderr { outputOpen.stderr = pump(child.stderr, isError: true) }

            if stopReason == nil {
                if let deadline, Date() >= deadline {
                    stop(.timeout, "stopped: the run passed its timeout of \(formatSeconds(options.timeout!))")
                } else if options.shouldInterrupt() {
                    stop(.interrupted, "stopped: novaos was interrupted")
                }
            }
            if let killDeadline, Date() >= killDeadline, !child.poll() {
                child.signalGroup(SIGKILL)
                self.killDeadline = nil
            }
            if child.poll() {
                exitedAt = exitedAt ?? Date()
                // Once the agent has exited, read what is left; a descendant that keeps the
                // pipes open gets one second before the whole group is killed.
                if (!outputOpen.stdout && !outputOpen.stderr) || Date().timeIntervalSince(exitedAt!) > 1 {
                    child.signalGroup(SIGKILL)
                    try drainEvents(final: true)
                    break
                }
            }
        }
        try finish(child)
    }

    /// Sends SIGTERM to the agent's group and schedules SIGKILL.
    mutating func stop(_ reason: StopReason, _ message: String) {
        guard stopReason == nil, let child else { return }
        stopReason = reason
        options.note(message)
        child.signalGroup(SIGTERM)
        killDeadline = Date().addingTimeInterval(options.gracePeriod)
    }

    /// Copies available output to the sink and the log; false at end of file.
    func pump(_ fd: Int32, isError: Bool) -> Bool {
        readAvailable(fd) { data in
            options.output(data, isError)
            log?.write(data)
        }
    }

    /// Reads complete event lines from the pipe and records each one.
    mutating func drainEvents(final: Bool = false) throws {
        _ = readAvailable(eventsRead) { eventBuffer.append(contentsOf: $0) }
        while let newline = eventBuffer.firstIndex(of: 0x0A) {
            let line = Array(eventBuffer[..<newline])
            eventBuffer.removeSubrange(...newline)
            try handleEventLine(line)
        }
        if final, !eventBuffer.isEmpty {
            let line = eventBuffer
            eventBuffer.removeAll()
            try handleEventLine(line)
        }
        if eventBuffer.count > EventParser.maximumLineBytes {
            eventBuffer.removeAll()
            eventLine += 1
            try reject("line is too long (more than \(EventParser.maximumLineBytes) bytes)")
        }
    }

    mutating func handleEventLine(_ bytes: [UInt8]) throws {
        eventLine += 1
        guard bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { return }
        let event: AgentEvent
        do {
            event = try bytes.withUnsafeBufferPointer { try EventParser.parse($0) }
            if let other = event.agentID, other != agent.id.rawValue {
                throw SandboxError.invalidInput("event for agent \(quoted(other)) in a run of \(agent.id)")
            }
        } catch let error as SandboxError {
            try reject(error.description)
            return
        }
        let sandbox = self.sandbox
        let agentID = agent.id.rawValue
        let runID = self.runID
        let outcome: (effect: EventEffect?, tokensUsed: Int64, budget: Int64, projectCost: Int64, projectBudget: Int64?)
        do {
            outcome = try sandbox.write {
                let effect = try sandbox.recordEvent(event, agent: agentID, now: Timestamp.string(from: sandbox.now()))
                if let effect {
                    try sandbox.db.run(
                        "UPDATE runs SET events = events + 1, tokens_used = tokens_used + ?, cost_micros = cost_micros + ?, revenue_micros = revenue_micros + ? WHERE id = ?",
                        effect.tokens, effect.cost, effect.revenue, runID
                    )
                }
                let state = try sandbox.db.queryFirst(
                    """
                    SELECT a.tokens_used, a.token_budget, p.budget_micros,
                           (SELECT coalesce(sum(cost_micros), 0) FROM agents WHERE project_id = a.project_id)
                    FROM agents AS a JOIN projects AS p ON p.id = a.project_id WHERE a.id = ?
                    """,
                    [agentID]
                ) { ($0.int64(0), $0.int64(1), $0.optionalInt64(2), $0.int64(3)) }!
                return (effect, state.0, state.1, state.3, state.2)
            }
        } catch let error as SandboxError {
            try reject(error.description)
            return
        }
        if outcome.effect == nil {
            options.note("events line \(eventLine): duplicate event id, skipped")
        }
        if outcome.tokensUsed >= outcome.budget {
            stop(.budgetExceeded, "stopped: agent \(agent.id) used \(outcome.tokensUsed) of its \(outcome.budget) tokens")
        } else if let cap = outcome.projectBudget, outcome.projectCost > cap {
            stop(.projectBudgetExceeded, "stopped: project \(agent.projectID) cost \(Money(micros: outcome.projectCost)) is over its budget of \(Money(micros: cap))")
        }
    }

    mutating func reject(_ message: String) throws {
        options.note("events line \(eventLine): \(message); skipped")
        let runID = self.runID
        try sandbox.write { try sandbox.db.run("UPDATE runs SET rejected_events = rejected_events + 1 WHERE id = ?", runID) }
    }

    mutating func finish(_ child: ChildProcess) throws {
        let reason: StopReason = stopReason ?? (child.terminatingSignal != nil ? .signaled : .exited)
        let runID = self.runID
        let sandbox = self.sandbox
        try sandbox.write {
            try sandbox.db.run(
                "UPDATE runs SET ended_at = ?, exit_code = ?, signal = ?, stop_reason = ? WHERE id = ?",
                Timestamp.string(from: sandbox.now()), child.exitCode.map(Int64.init), child.terminatingSignal.map(Int64.init),
                reason.rawValue, runID
            )
        }
        cleanUp()
    }

    func cleanUp() {
        if eventsRead >= 0 { close(eventsRead) }
        if eventsKeepOpen >= 0 { close(eventsKeepOpen) }
        if let eventsFolder {
            unlink(eventsFolder + "/events")
            rmdir(eventsFolder)
        }
        try? log?.close()
    }
}

private func formatSeconds(_ seconds: TimeInterval) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds))s" : String(format: "%.3fs", seconds)
}
