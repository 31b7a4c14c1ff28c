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

// The commands that change production after promotion: its ledger, guardrails, checks,
// rollbacks and retirements.
extension ProductionCommand {
    struct Usage: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "usage",
            abstract: "Record an API call of a live production agent, as 'sandbox usage' does.",
            discussion: "Only a slot's live version records; its token budget is its normal budget, and reaching it pauses the agent."
        )

        @Argument(help: "The agent (prd_...) or its slot.") var agent: String
        @OptionGroup var call: UsageFlags
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let record = try global.productionLedger(in: context).recordUsage(
                agent: agent, model: call.model, tokens: call.tokens, batch: call.batch, cacheDuration: call.cacheTTL, operation: call.operation, cost: call.cost
            )
            record.budgetWarnings.forEach(context.warn)
            try context.emit(record, json: global.json)
        }
    }

    struct Revenue: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "revenue", abstract: "Record revenue a live production agent earned.")

        @Argument(help: "The agent (prd_...) or its slot.") var agent: String
        @Argument(help: "The amount in dollars, like 49.99.", transform: moneyArgument) var amount: Money
        @Option(help: "Where the money came from (default: manual).") var source: String?
        @Option(help: "A note.") var description: String = ""
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let ledger = try global.productionLedger(in: context)
            try context.emit(try ledger.recordRevenue(agent: agent, amount: amount, source: source, description: description), json: global.json)
        }
    }

    struct Import: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Import usage and revenue events of live production agents from JSON Lines, all or nothing.",
            discussion: "The lines of 'sandbox import', with production agent IDs (prd_...) as agent_id."
        )

        @Argument(help: "A JSON Lines file, or - for standard input.") var file: String = "-"
        @Flag(name: .customLong("skip-invalid"), help: "Record the valid lines and report the rejected ones, instead of committing nothing.")
        var skipInvalid = false
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let ledger = try global.productionLedger(in: context)
            try importEventFile(file, context: context, json: global.json) { fileDescriptor, progress in
                try ledger.importEvents(fileDescriptor: fileDescriptor, source: file, options: ImportOptions(skipInvalid: skipInvalid), progress: progress)
            }
        }
    }

    struct Run: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run a live production agent's program, record its usage live, and stop it at its normal budget.",
            discussion: """
                As 'sandbox run' (the same flags, event protocol, isolation and exit statuses), in the agent's \
                production workspace HOME/production/agents/<id>, with NOVAOS_SLOT set instead of NOVAOS_PROJECT_ID. \
                The agent is stopped (exit 4) when it is rolled back or retired.
                """
        )

        @Argument(help: "The agent (prd_...) or its slot.") var agent: String
        @OptionGroup var flags: RunFlags
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let ledger = try global.productionLedger(in: context)
            try flags.supervise(in: context, json: global.json) { options in
                try ledger.runAgent(agent, command: flags.command, options: options)
            }
        }
    }

    struct Runs: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "runs", abstract: "List a production agent's runs, newest first.")

        @Argument(help: "The agent (prd_...) or its slot.") var agent: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            try context.emit(try global.productionLedger(in: context).runs(of: agent), json: global.json)
        }
    }

    struct Budget: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "budget",
            abstract: "Set a production agent's token budget (its normal budget at promotion).",
            discussion: """
                The history records the change. A budget at or below what the agent used pauses it; raising it \
                above resumes an agent its budget had paused.
                """
        )

        @Argument(help: "The agent (prd_...) or its slot.") var agent: String
        @Option(parsing: .unconditional, help: ArgumentHelp("The new token budget.", valueName: "n")) var tokens: Int64
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let change = try global.productionLedger(in: context).setTokenBudget(of: agent, tokens: tokens)
            change.budgetWarnings.forEach(context.warn)
            try context.emit(change, json: global.json)
        }
    }

    struct Metrics: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "metrics",
            abstract: "Cost, revenue, profit, ROI and tokens of a production agent over a period, beside its sandbox period."
        )

        @Argument(help: "The agent (prd_...) or its slot.") var agent: String
        @Option(help: "The start (2026-11-22 or 2026-11-22T04:30:00Z); default: one window before now.", transform: dateArgument) var since: Date?
        @Option(help: ArgumentHelp("The length of the period (24h, 7d); default 7d, ending now unless --since is given.", valueName: "duration"), transform: durationArgument)
        var window: TimeInterval?
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            try context.emit(try global.productionLedger(in: context).metrics(of: agent, since: since, window: window), json: global.json)
        }
    }

    struct Guardrail: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "guardrail",
            abstract: "Show or change the guardrails of a production agent.",
            discussion: """
                Keys: min_roi (percent, default 0), min_roi_vs_sandbox (percent of the sandbox ROI, default 50), \
                min_events (default 20), window (default 24h), bake_time (default 24h, or 0), failure_limit (default 3). \
                Each change is written to the history.
                """
        )

        @Argument(help: "The agent (prd_...) or its slot.") var agent: String
        @Argument(help: ArgumentHelp("Guardrails to set; none: show them.", valueName: "KEY=VALUE")) var settings: [String] = []
        @OptionGroup var global: GlobalOptions

        func validate() throws { try validateGuardrails(settings) }

        func execute(in context: CommandContext) throws {
            let guardian = try global.productionGuard(in: context)
            try context.emit(settings.isEmpty ? try guardian.guardrails(of: agent) : try guardian.setGuardrails(of: agent, settings), json: global.json)
        }
    }

    struct Check: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Judge every live agent against its guardrails; roll back one that reached its failure limit.",
            discussion: """
                Each check is stored. Exit status: 3 when an agent was rolled back, else 0 (also with --dry-run, \
                which lists what would be rolled back in would_roll_back). Meant for cron or a CI job.
                """
        )

        @Flag(name: .customLong("dry-run"), help: "Show what the check would find and do; store and change nothing.") var dryRun = false
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            // Before any promotion there is nothing to judge: an empty report, for cron.
            let paths = global.paths(in: context)
            guard paths.productionRegistryURL != nil || FileManager.default.fileExists(atPath: paths.productionDatabase.path) else {
                try context.emit(CheckReport.empty(at: context.clock(), dryRun: dryRun), json: global.json)
                return
            }
            let report = try global.productionGuard(in: context).check(dryRun: dryRun, step: context.testCrashHook())
            try context.emit(report, json: global.json)
            if !report.rolledBack.isEmpty { throw ExitCode(3) }
        }
    }

    struct Rollback: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "rollback",
            abstract: "Roll back a live version by hand: its slot's newest standby version (or --to) goes live again.",
            discussion: "Asks for confirmation on a terminal; without a terminal, pass --yes. An agent already rolled back is left as it is."
        )

        @Argument(help: "The live agent (prd_...) or its slot.") var agent: String
        @Option(help: ArgumentHelp("The standby version to put live (default: the newest).", valueName: "agent-id")) var to: String?
        @Option(help: "Why, for the history.") var reason: String?
        @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.") var yes = false
        @OptionGroup var global: GlobalOptions

        func validate() throws { try validateReason(reason) }

        func execute(in context: CommandContext) throws {
            let guardian = try global.productionGuard(in: context)
            let preview = try guardian.preview(.rollback, agent, to: to)
            try confirmSlotChange(preview, yes: yes, context: context)
            // The agent the preview named (and the user confirmed), not the slot again: if the
            // slot changed meanwhile, or on a re-run, nothing is rolled back twice.
            let change = try guardian.rollback(preview.agentID.rawValue, to: to, reason: reason, expected: preview, step: context.testCrashHook())
            try context.emit(change, json: global.json)
        }
    }

    struct Retire: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "retire",
            abstract: "Take a production version out of service for good; retiring the live one puts the newest standby live.",
            discussion: "Asks for confirmation on a terminal when it changes the live version; without a terminal, pass --yes."
        )

        @Argument(help: "The version, prd_...") var agent: String
        @Option(help: "Why, for the history.") var reason: String?
        @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.") var yes = false
        @OptionGroup var global: GlobalOptions

        func validate() throws { try validateReason(reason) }

        func execute(in context: CommandContext) throws {
            let guardian = try global.productionGuard(in: context)
            let preview = try guardian.preview(.retire, agent)
            try confirmSlotChange(preview, yes: yes, context: context)
            let change = try guardian.retire(agent, reason: reason, expected: preview, step: context.testCrashHook())
            try context.emit(change, json: global.json)
        }
    }
}

/// Asks before a change of a slot's live version, as `promote` asks: on a terminal, or not at
/// all with `--yes`; without a terminal and without `--yes`, refused.
private func confirmSlotChange(_ preview: SlotChange, yes: Bool, context: CommandContext) throws {
    guard preview.changesLiveVersion, !yes else { return }
    let verb = preview.kind == .rollback ? "roll back" : "retire"
    let next = preview.liveAfter.map { "\($0.rawValue) goes live" } ?? "the slot is left empty"
    try context.confirm(
        "\(verb.prefix(1).uppercased() + verb.dropFirst()) \(preview.agentID) in slot \(TerminalText.escape(preview.slot)); \(next)?",
        action: "\(verb) \(preview.agentID)"
    )
}

/// A `--reason` checked while parsing: a bad one is a malformed command line.
private func validateReason(_ reason: String?) throws {
    guard let reason else { return }
    do { try ProductionGuard.validateReason(reason) } catch let error as SandboxError { throw ValidationError(error.description) }
}

/// `KEY=VALUE` guardrails checked while parsing: a malformed one is a malformed command line.
func validateGuardrails(_ pairs: [String]) throws {
    var policy = GuardrailPolicy()
    do {
        try policy.apply(pairs)
    } catch let error as SandboxError {
        throw ValidationError(error.description)
    }
}
