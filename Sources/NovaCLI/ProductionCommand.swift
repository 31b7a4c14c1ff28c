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

struct ProductionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "production",
        abstract: "Production: slots and versions, the ledger of live agents, guardrails, rollbacks and the history.",
        discussion: """
            Agents arrive only by 'sandbox promote'. A slot's live version records usage and revenue; \
            'production check' judges live versions against their guardrails and rolls back one that \
            fails too often. Wherever AGENT_OR_SLOT is asked, a slot means its live version.
            """,
        subcommands: [
            List.self, Slot.self, History.self, Usage.self, Revenue.self, Import.self, Run.self, Runs.self, Budget.self, Metrics.self, Guardrail.self, Check.self,
            Rollback.self, Retire.self, Backup.self,
        ]
    )
}

extension ProductionCommand {
    struct List: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List production agents, their slots and where they came from.")

        @Option(
            help: ArgumentHelp("Show production as it was at this day or time, from its history (2026-11-22T04:30:00Z).", valueName: "time"),
            transform: dateArgument
        ) var at: Date?
        @OptionGroup var format: TableFormat
        @OptionGroup var global: GlobalOptions

        func validate() throws { try format.check(json: global.json) }

        func execute(in context: CommandContext) throws {
            let production = try global.production(in: context)
            try context.emit(try at.map(production.listAgents(at:)) ?? production.listAgents(), json: global.json, format: format)
        }
    }

    struct Slot: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "slot", abstract: "Show a slot: its live version, every version and its history.")

        @Argument(help: "The slot's name (by default, the promoted agent's name).") var name: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            try context.emit(try global.production(in: context).slot(name), json: global.json)
        }
    }

    struct History: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "history",
            abstract: "List every change to production, oldest first: promotions (and later rollbacks, retirements, guardrail and budget changes), who made them and why."
        )

        @Argument(help: "Only the changes of this slot or agent.") var subject: String?
        @Option(help: "Only changes at or after this day or time (2026-11-22 or 2026-11-22T04:30:00Z).", transform: dateArgument) var since: Date?
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            try context.emit(try global.production(in: context).history(of: subject, since: since), json: global.json)
        }
    }

    struct Backup: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "backup", abstract: "Write a consistent copy of production.db to a new file.")

        @Argument(help: "The new file (never overwritten).") var path: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let destination = context.url(forPath: path)
            // A registry's URL is checked (no password in it) before it is shown.
            if let registry = try global.productionRegistry(in: context) {
                throw SandboxError.invalidInput(
                    "the production registry is on PostgreSQL: back it up with pg_dump --format=custom --file=\(shellQuoted(destination.path)) \(shellQuoted(registry.location)) (restore with pg_restore); nothing was written"
                )
            }
            try context.emit(try global.production(in: context).backup(to: destination, now: context.clock()), json: global.json)
        }
    }
}

/// `text` as one word for a POSIX shell: in single quotes, each `'` as `'\''`.
func shellQuoted(_ text: String) -> String {
    "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
}
