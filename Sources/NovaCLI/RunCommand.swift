import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SandboxCore

/// Set from a signal handler; read by the run loop.
nonisolated(unsafe) private var interruptRequested: sig_atomic_t = 0

extension SandboxCommand {
    struct Run: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run an agent program, record the usage it reports live, and stop it at its budget.",
            discussion: """
                The command runs isolated (bubblewrap) in the project's workspace, with PATH, LANG, TZ, TERM, \
                HOME (the workspace), NOVAOS_AGENT_ID, NOVAOS_PROJECT_ID, NOVAOS_RUN_ID, NOVAOS_TOKEN_BUDGET \
                (tokens left), NOVAOS_AGENT_CONFIG, NOVAOS_EVENTS (/dev/fd/3, one JSON event per line) and the \
                variables named with --env, and nothing else. Exit status: the agent's own; 3 when novaos stopped \
                it for a budget, 4 when it was paused or killed, 124 for --timeout, 130 when novaos was \
                interrupted, 74 for a full disk, 75 when the database stayed locked; 128+N when signal N killed it.
                """
        )

        @Argument(help: "The agent: agt_XXXXXXXXXXXX, or PROJECT_ID/NAME.") var agentID: String
        @OptionGroup var flags: RunFlags
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let reference = try AgentReference(agentID)
            let sandbox = try global.sandbox(in: context)
            let agent = try sandbox.agentID(for: reference)
            try flags.supervise(in: context, json: global.json) { options in
                try sandbox.runAgent(agent, command: flags.command, options: options)
            }
        }

        /// The exit status `run` ends with, as documented above.
        static func exitCode(of run: RunRecord) -> Int32? {
            switch run.stopReason {
            case .budgetExceeded?, .projectBudgetExceeded?: return 3
            case .agentPaused?, .agentKilled?, .projectExpired?: return 4
            case .timeout?: return 124
            case .interrupted?: return 130
            case .diskFull?: return 74
            case .databaseUnavailable?, .lost?: return 75
            case .signaled?: return 128 + (run.signal ?? 0)
            case .exited?, .failedToStart?, nil: return run.exitCode
            }
        }
    }

    struct Runs: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "runs", abstract: "List an agent's runs, newest first.")

        @Argument(help: "The agent: agt_XXXXXXXXXXXX, or PROJECT_ID/NAME.") var agentID: String
        @OptionGroup var format: TableFormat
        @OptionGroup var global: GlobalOptions

        func validate() throws { try format.check(json: global.json) }

        func execute(in context: CommandContext) throws {
            let reference = try AgentReference(agentID)
            let sandbox = try global.sandbox(in: context)
            try context.emit(try sandbox.runs(agent: try sandbox.agentID(for: reference)), json: global.json, format: format)
        }
    }

    struct Pause: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause an active agent: it keeps its data and can still be promoted, but does not run.")

        @Argument(help: "The agent: agt_XXXXXXXXXXXX, or PROJECT_ID/NAME.") var agentID: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let reference = try AgentReference(agentID)
            let sandbox = try global.sandbox(in: context)
            try context.emit(try sandbox.pauseAgent(try sandbox.agentID(for: reference)), json: global.json)
        }
    }

    struct Resume: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused agent.")

        @Argument(help: "The agent: agt_XXXXXXXXXXXX, or PROJECT_ID/NAME.") var agentID: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let reference = try AgentReference(agentID)
            let sandbox = try global.sandbox(in: context)
            try context.emit(try sandbox.resumeAgent(try sandbox.agentID(for: reference)), json: global.json)
        }
    }
}

/// A size: bytes, or with K/KB/KiB, M/MB/MiB, G/GB/GiB (all powers of 1024); at least 1 KiB, at most 1 TiB.
func parseSize(_ text: String) -> Int? {
    let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30),
                                  ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1)]
    var number = Substring(text)
    var scale = 1
    for (suffix, factor) in units where text.hasSuffix(suffix) {
        number = text.dropLast(suffix.count)
        scale = factor
        break
    }
    guard !number.isEmpty, number.allSatisfy(\.isASCII), let value = Int(number), value > 0 else { return nil }
    let (bytes, overflow) = value.multipliedReportingOverflow(by: scale)
    guard !overflow, bytes >= 1 << 10, bytes <= 1 << 40 else { return nil }
    return bytes
}

/// The flags of a supervised run, shared by `sandbox run` and `production run`.
struct RunFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Stop the agent after this long (30s, 5m, 1h).", valueName: "duration"), transform: durationArgument) var timeout: TimeInterval?
    @Option(name: .customLong("env"), help: ArgumentHelp(
        "Pass a variable to the agent: NAME takes novaos's value, NAME=VALUE gives one (repeatable). Values are redacted from logs and output.",
        valueName: "name[=value]"
    )) var environment: [String] = []
    @Flag(name: .customLong("no-network"), help: "Cut the agent off the network.") var noNetwork = false
    @Option(help: ArgumentHelp("namespace (default: bubblewrap) or none (no isolation, knowingly).", valueName: "mode")) var isolation: String = "namespace"
    @Option(name: .customLong("log-limit"), help: ArgumentHelp("The most the run's log keeps (default 64MiB; K, M, G, KiB, MiB, GiB).", valueName: "size"))
    var logLimit: String = "64MiB"
    @Argument(parsing: .postTerminator, help: "The command to run, after --.") var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("Give the command to run after --, e.g. -- python3 agent.py") }
        guard IsolationMode(rawValue: isolation) != nil else { throw ValidationError("--isolation must be namespace or none, not \(isolation.debugDescription)") }
        guard parseSize(logLimit) != nil else { throw ValidationError("invalid --log-limit \(logLimit.debugDescription): use a size like 64MiB, 512K or 1G (at least 1K)") }
        if noNetwork, isolation == "none" { throw ValidationError("--no-network needs isolation; it cannot be had with --isolation none") }
    }

/// Runs an agent under supervision with these flags (`start` starts it, in the sandbox or
/// production): signals and output handled, the result printed, and the exit status the
/// run's end calls for.
func supervise(in context: CommandContext, json: Bool, start: (RunOptions) throws -> RunRecord) throws {
        let grace = RunOptions.gracePeriod(in: context.environment)
        let mode = IsolationMode(rawValue: isolation) ?? .namespace
        if mode == .none {
            context.warn("--isolation none: the agent runs unisolated, with novaos's file access and network")
        }
        // Every way novaos can be told to stop ends the agent and closes the run: a closed
        // output pipe is seen as a failed write (SIGPIPE ignored), the others are flagged.
        interruptRequested = 0
        let previous = [SIGINT, SIGTERM, SIGHUP].map { ($0, signal($0) { _ in interruptRequested = 1 }) }
        let previousPipe = signal(SIGPIPE, SIG_IGN)
        defer {
            for (number, handler) in previous { signal(number, handler) }
            signal(SIGPIPE, previousPipe)
        }
        let pump = OutputPump(write: context.writeData)
        var options = RunOptions(
            timeout: timeout, gracePeriod: grace, environment: context.environment,
            currentDirectory: context.currentDirectory,
            shouldInterrupt: { interruptRequested != 0 },
            // With --json, stdout carries only the result, so the agent's stdout goes to stderr.
            output: { data, isError in pump.send(data, toError: isError || json) },
            // Notes go through the pump too: a stalled stderr must not stall supervision.
            note: { _ = pump.send(Data("novaos: \(TerminalText.escape($0))\n".utf8), toError: true) }
        )
        options.warn = { _ = pump.send(Data("warning: \(TerminalText.escape($0))\n".utf8), toError: true) }
        options.passing = environment
        options.isolation = mode
        options.network = !noNetwork
        options.logLimit = parseSize(logLimit) ?? options.logLimit
        if let limit = context.environment["NOVAOS_DB_UNAVAILABLE_LIMIT_MS"].flatMap(Double.init) {
            options.unavailableLimit = limit / 1000
        }
        let run = try start(options)
        pump.finish()
        if pump.dropped > 0 {
            context.warn("\(pump.dropped) bytes of the agent's output were not shown (the reader fell behind); the run's log keeps the output up to --log-limit")
        }
        try context.emit(run, json: json)
        if let code = SandboxCommand.Run.exitCode(of: run), code != 0 {
            throw ExitCode(code)
        }
    }
}
