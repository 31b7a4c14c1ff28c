import ArgumentParser
import Foundation
import SandboxCore

/// Set from a signal handler; read by the run loop.
nonisolated(unsafe) private var interruptRequested: sig_atomic_t = 0

extension SandboxCommand {
    struct Run: ContextCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run an agent program, record the usage it reports live, and stop it at its budget.",
            discussion: """
                The command runs in the project's workspace with NOVAOS_AGENT_ID, NOVAOS_PROJECT_ID, \
                NOVAOS_TOKEN_BUDGET (tokens left), NOVAOS_AGENT_CONFIG and NOVAOS_EVENTS (a pipe for one JSON \
                event per line) in its environment. Exit status: the agent's own; 3 when novaos stopped it \
                for a budget, 124 for --timeout, 130 when novaos was interrupted; 128+N when signal N killed it.
                """
        )

        @Argument(help: "The agent, agt_XXXXXXXXXXXX.") var agentID: String
        @Option(help: ArgumentHelp("Stop the agent after this long (30s, 5m, 1h).", valueName: "duration")) var timeout: String?
        @Argument(parsing: .postTerminator, help: "The command to run, after --.") var command: [String] = []
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard !command.isEmpty else { throw ValidationError("Give the command to run after --, e.g. novaos sandbox run AGENT_ID -- python3 agent.py") }
        }

        func execute(in context: CommandContext) throws {
            let agent = try AgentID(agentID)
            let timeout = try timeout.map(parseDuration)
            let sandbox = try global.sandbox(in: context)
            let grace = context.environment["NOVAOS_KILL_GRACE_MS"].flatMap(Double.init).map { $0 / 1000 } ?? 2
            interruptRequested = 0
            let previousInterrupt = signal(SIGINT) { _ in interruptRequested = 1 }
            let previousTerminate = signal(SIGTERM) { _ in interruptRequested = 1 }
            defer {
                signal(SIGINT, previousInterrupt)
                signal(SIGTERM, previousTerminate)
            }
            let json = global.json
            let options = RunOptions(
                timeout: timeout, gracePeriod: grace, environment: context.environment,
                currentDirectory: context.currentDirectory,
                shouldInterrupt: { interruptRequested != 0 },
                // With --json, stdout carries only the result, so the agent's stdout goes to stderr.
                output: { data, isError in context.writeData(data, isError || json) },
                note: { context.writeError("novaos: \($0)\n") }
            )
            let run = try sandbox.runAgent(agent, command: command, options: options)
            try context.emit(run, json: json)
            if let code = Self.exitCode(of: run), code != 0 {
                throw ExitCode(code)
            }
        }

        /// The exit status `run` ends with, as documented above.
        static func exitCode(of run: RunRecord) -> Int32? {
            switch run.stopReason {
            case .budgetExceeded?, .projectBudgetExceeded?: return 3
            case .timeout?: return 124
            case .interrupted?: return 130
            case .signaled?: return 128 + (run.signal ?? 0)
            case .exited?, .failedToStart?, nil: return run.exitCode
            }
        }
    }

    struct Runs: ContextCommand {
        static let configuration = CommandConfiguration(abstract: "List an agent's runs, newest first.")

        @Argument(help: "The agent, agt_XXXXXXXXXXXX.") var agentID: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let agent = try AgentID(agentID)
            try context.emit(try global.sandbox(in: context).runs(agent: agent), json: global.json)
        }
    }

    struct Pause: ContextCommand {
        static let configuration = CommandConfiguration(abstract: "Pause an active agent: it keeps its data and can still be promoted, but does not run.")

        @Argument(help: "The agent, agt_XXXXXXXXXXXX.") var agentID: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let agent = try AgentID(agentID)
            try context.emit(try global.sandbox(in: context).pauseAgent(agent), json: global.json)
        }
    }

    struct Resume: ContextCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused agent.")

        @Argument(help: "The agent, agt_XXXXXXXXXXXX.") var agentID: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let agent = try AgentID(agentID)
            try context.emit(try global.sandbox(in: context).resumeAgent(agent), json: global.json)
        }
    }
}
