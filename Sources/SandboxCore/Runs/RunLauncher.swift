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

/// The row of a run about to start, as written before the agent starts.
struct RunStart {
    var storedCommand: String
    var startedAt: Date
    var supervisor: ProcessIdentity
    var isolation: IsolationMode
}

/// A run whose row its book has written: what starting the agent needs.
struct OpenedRun {
    var agentID: AgentID
    var runID: Int64
    /// The agent's budget less what it used and what its other runs hold reserved.
    var tokensLeft: Int64
    var config: JSONValue
    /// The agent's workspace: its `HOME`, and the only place it can write.
    var workspace: String
    /// How an error names the workspace ("the project's workspace").
    var workspaceName: String
    /// The log's folder: `logRoot`, then each of `logComponents`, opened (and created) one
    /// at a time, never by a path an agent could have replaced.
    var logRoot: String
    var logComponents: [String]
    /// Variables the book adds (`NOVAOS_PROJECT_ID` in the sandbox).
    var variables: [String: String]
}

extension RunBook {
    /// Runs an agent program under supervision and records its usage live, as
    /// `Sandbox.runAgent` documents, for any book: `open` checks in one write transaction
    /// that the agent may run and writes the run's row; the supervisor records through
    /// `recordingBook`, a second connection with a short busy timeout.
    func superviseRun(
        command: [String], options: RunOptions, paths: SandboxPaths,
        open: (RunStart) throws -> OpenedRun, recordingBook: () throws -> any RunBook
    ) throws -> RunRecord {
        guard let program = command.first else { throw SandboxError.invalidInput("no command to run: give it after --") }
        let passed = try Sandbox.agentVariables(options.passing, from: options.environment)
        let redactor = Redactor(secrets: Array(passed.values))
        let bubblewrap: Bubblewrap? = options.isolation == .namespace
            ? try mappingLowerErrors { try Bubblewrap.locate(path: options.environment["PATH"], only: nonEmpty(options.environment["NOVAOS_TEST_BWRAP"])) } : nil
        // Read before anything starts: a malformed price file refuses the run with nothing recorded.
        let prices = try prices()
        // Each argument is redacted before JSON escapes could hide a secret's characters.
        let start = RunStart(
            storedCommand: JSONValue.array(command.map { .string(redactor.redact($0)) }).jsonText, startedAt: now(),
            supervisor: ProcessIdentity.current, isolation: options.isolation
        )
        let run = try open(start)

        let child: ChildProcess
        let log: RunLog
        let eventsRead: Int32
        let repliesWrite: Int32
        let recording: any RunBook
        do {
            // Opened before the agent starts: a database that cannot be opened now is a run
            // that failed to start, not an agent left running unrecorded.
            recording = try recordingBook()
            (child, log, eventsRead, repliesWrite) = try mappingLowerErrors {
                try startAgent(run, program: program, command: command, passed: passed, bubblewrap: bubblewrap, options: options, paths: paths)
            }
        } catch {
            _ = try? write {
                try ledgerDatabase.run(
                    "UPDATE runs SET ended_at = ?, stop_reason = 'failed_to_start', exit_code = 127 WHERE id = ? AND ended_at IS NULL",
                    Timestamp.string(from: now()), run.runID
                )
            }
            // "cannot start "/path/…"" names the command, which may hold a passed value, and
            // quotes it as Swift does (`debugDescription`): the quoted forms are redacted too.
            let message = (error as? SandboxError)?.description ?? "\(error)"
            let quotedForms = passed.values.map { String($0.debugDescription.dropFirst().dropLast()) }
            let redacted = Redactor(secrets: Array(passed.values) + quotedForms).redact(message)
            throw redacted == message ? error : SandboxError.invalidInput(redacted)
        }

        let recorder = RunRecorder(
            book: recording, agent: run.agentID, runID: run.runID, prices: prices, redactor: redactor, note: options.note,
            warn: options.warn ?? options.note
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
        var record = try read { try loadRun(run.runID) }
        if record.stopReason == nil {
            // The database never let the run be closed; the caller still learns how it ended,
            // and the next command that can write closes the row as `lost`.
            record.stopReason = outcome.stopReason
            record.exitCode = outcome.exitCode
            record.signal = outcome.signal
            record.endedAt = now()
        }
        record.budgetExceeded = record.stopReason == .budgetExceeded || record.stopReason == .projectBudgetExceeded || recorder.budgetReached
        record.pausedAgents = recorder.pausedAgents
        return record
    }

    /// Opens the log, makes the event pipe and starts the agent, isolated when `bubblewrap` is given.
    private func startAgent(
        _ run: OpenedRun, program: String, command: [String], passed: [String: String], bubblewrap: Bubblewrap?, options: RunOptions,
        paths: SandboxPaths
    ) throws -> (ChildProcess, RunLog, Int32, Int32) {
        let workspace = run.workspace
        guard Bubblewrap.isRealDirectory(workspace) else {
            throw SandboxError.fileSystem(path: workspace, message: "\(run.workspaceName) is missing or is not a folder")
        }
        var folder = try Directory.open(run.logRoot)
        for component in run.logComponents { folder = try folder.subdirectory(component, mode: 0o700) }
        let log = RunLog(fd: try folder.createFile("\(run.runID).log", readable: true), path: folder.path + "/\(run.runID).log", limit: options.logLimit)
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
        environment["NOVAOS_AGENT_ID"] = run.agentID.rawValue
        for (name, value) in run.variables { environment[name] = value }
        environment["NOVAOS_RUN_ID"] = String(run.runID)
        environment["NOVAOS_TOKEN_BUDGET"] = String(run.tokensLeft) // less what other runs of it hold reserved
        environment["NOVAOS_AGENT_CONFIG"] = run.config.jsonText
        environment["NOVAOS_EVENTS"] = "/dev/fd/3"
        environment["NOVAOS_REPLIES"] = "/dev/fd/4"
        let executable = try ChildProcess.resolve(program, path: options.environment["PATH"], currentDirectory: options.currentDirectory)
        let child: ChildProcess
        do {
            if let bubblewrap {
                paths.prepareHiding()
                var layout = paths.agentLayout(workspace: workspace, network: options.network, environment: options.environment)
                layout.readable = Sandbox.foldersOfFiles(named: [executable] + command.dropFirst(), currentDirectory: options.currentDirectory)
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

    func loadRun(_ id: Int64) throws -> RunRecord {
        guard let run = try ledgerDatabase.queryFirst("SELECT \(Sandbox.runColumns) FROM runs WHERE id = ?", [id], Sandbox.decodeRun) else {
            throw SandboxError.notFound(kind: "run", id: String(id))
        }
        return run
    }
}

extension SandboxPaths {
    /// What an isolated agent sees: its workspace, writable; the system read-only; none of
    /// novaos's data (the sandbox folder, production's folder and database) but the agent
    /// programs shipped in `HOME/sandbox/agents`; none of the user's credential files.
    func agentLayout(workspace: String, network: Bool, environment: [String: String]) -> SandboxLayout {
        SandboxLayout(
            writable: [workspace], hidden: hiddenFromUntrustedCode(environment: environment),
            revealed: [sandboxFolder.appendingPathComponent("agents").path], network: network, directory: workspace
        )
    }

    /// Makes what isolated code must not see exist before a run starts, since only what
    /// exists can be hidden, and the host's folders are seen live: `HOME/production` (made
    /// empty, 0700), and when `production.db` exists, its `-wal` and `-shm` files (made empty,
    /// which SQLite reads as no log; production connections then keep them). A production
    /// database made later by a promotion is visible to runs already going (README,
    /// "Containment").
    func prepareHiding() {
        if let home = try? Directory.open(home.path) { _ = try? home.subdirectory("production", mode: 0o700) }
        let database = productionDatabase.path
        var info = stat()
        guard lstat(database, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return }
        for suffix in ["-wal", "-shm"] {
            let fd = open(database + suffix, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(info.st_mode & 0o666))
            if fd >= 0 { close(fd) }
        }
    }

    /// novaos's data and the user's credential files, hidden from everything novaos runs.
    func hiddenFromUntrustedCode(environment: [String: String]) -> [String] {
        var hidden = [sandboxFolder.path, productionFolder.path]
        let production = productionDatabase.path
        hidden += ["", "-wal", "-shm", "-journal"].map { production + $0 }
        if let home = nonEmpty(environment["HOME"]), home != "/" {
            hidden += SandboxLayout.credentialEntries.map { home + "/" + $0 }
        }
        // libpq's password file, client key and service files where the environment or the
        // registry's URL moves them (team mode).
        hidden += ["PGPASSFILE", "PGSSLKEY", "PGSERVICEFILE", "PGSYSCONFDIR"].compactMap { nonEmpty(environment[$0]) }.filter { $0.hasPrefix("/") }
        hidden += Self.filesNamed(byRegistryURL: productionRegistryURL).filter { $0.hasPrefix("/") }
        // More to hide, named by the user (or by `novaos serve`, its token file): absolute
        // paths separated by ':'.
        hidden += (environment["NOVAOS_HIDE"] ?? "").split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
        return hidden
    }
}

extension SandboxPaths {
    /// The files a registry URL's parameters name that hold secrets (`passfile`, `sslkey`,
    /// `sslcert`), percent-decoded.
    static func filesNamed(byRegistryURL url: String?) -> [String] {
        guard let url, let query = url.split(separator: "?", maxSplits: 1).dropFirst().first else { return [] }
        return query.split(separator: "&").compactMap { pair -> String? in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, ["passfile", "sslkey", "sslcert"].contains(parts[0].lowercased()) else { return nil }
            // A broken escape is kept as written (libpq refuses such a URL anyway).
            return PercentEncoding.decoded(String(parts[1])) ?? String(parts[1])
        }
    }
}

extension RunBook {
    /// Closes the runs whose supervisor is gone (killed, or the machine lost power) as `lost`.
    /// Cheap when there are none: one look-up in a partial index of open runs. A busy
    /// database is left for the next command.
    func closeRunsOfDeadSupervisors() {
        Self.closeRunsOfDeadSupervisors(in: ledgerDatabase, now: now())
    }

    /// `closeRunsOfDeadSupervisors` on any database with `runs`: of a shared one, only the
    /// runs this machine supervised (another machine's processes cannot be looked at here).
    static func closeRunsOfDeadSupervisors(in db: any LedgerDatabase, now: Date) {
        let host = db.supervisorHost
        guard !db.isReadOnly,
              let open = try? db.query(
                  "SELECT id, supervisor_pid, supervisor_start FROM runs WHERE ended_at IS NULL\(host == nil ? "" : " AND supervisor_host = ?")",
                  host.map { [$0] } ?? [], { ($0.int64(0), $0.optionalInt64(1), $0.optionalInt64(2)) }
              ), !open.isEmpty else { return }
        let lost = open.filter { _, pid, start in !Sandbox.supervisorIsAlive(pid: pid, start: start) }
        guard !lost.isEmpty else { return }
        let stamp = Timestamp.string(from: now)
        _ = try? db.write {
            for (id, _, _) in lost {
                try db.run("UPDATE runs SET ended_at = ?, stop_reason = 'lost' WHERE id = ? AND ended_at IS NULL", stamp, id)
            }
        }
    }

    /// Writes the row of a run about to start (its log path follows once its ID is known).
    func insertRun(agent: AgentID, _ start: RunStart) throws -> Int64 {
        let db = ledgerDatabase
        let host = db.supervisorHost
        return try db.insertReturningID(
            """
            INSERT INTO runs (agent_id, command, log_path, started_at, isolation, supervisor_pid, supervisor_start\(host == nil ? "" : ", supervisor_host"))
            VALUES (?, ?, '', ?, ?, ?, ?\(host == nil ? "" : ", ?"))
            """,
            [agent.rawValue, start.storedCommand, Timestamp.string(from: start.startedAt), start.isolation.rawValue, Int64(start.supervisor.pid),
             start.supervisor.startTime] + (host.map { [$0] } ?? [])
        )!
    }
}
