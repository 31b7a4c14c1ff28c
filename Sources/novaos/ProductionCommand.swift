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
        abstract: "Inspect the production ledger (only 'sandbox promote' writes to it).",
        subcommands: [List.self, Backup.self]
    )
}

extension ProductionCommand {
    struct List: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List production agents and where they came from.")

        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            try context.emit(try Production(paths: global.paths(in: context)).listAgents(), json: global.json)
        }
    }

    struct Backup: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "backup", abstract: "Write a consistent copy of production.db to a new file.")

        @Argument(help: "The new file (never overwritten).") var path: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let destination = context.url(forPath: path)
            try context.emit(try Production(paths: global.paths(in: context)).backup(to: destination, now: context.clock()), json: global.json)
        }
    }
}
