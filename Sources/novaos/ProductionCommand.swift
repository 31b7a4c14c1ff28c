import ArgumentParser
import SandboxCore

struct ProductionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "production",
        abstract: "Inspect the production ledger (only 'sandbox promote' writes to it).",
        subcommands: [List.self]
    )
}

extension ProductionCommand {
    struct List: ContextCommand {
        static let configuration = CommandConfiguration(abstract: "List production agents and where they came from.")

        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            try context.emit(try Production(paths: global.paths(in: context)).listAgents(), json: global.json)
        }
    }
}
