import ArgumentParser
import Foundation
import SandboxCore

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The home folder (default: $NOVAOS_HOME, else the current directory).", valueName: "dir"))
    var home: String?

    @Option(name: .customLong("production-db"), help: ArgumentHelp("The production database (default: $NOVAOS_PRODUCTION_DB, else HOME/production.db).", valueName: "path"))
    var productionDatabase: String?

    @Flag(name: .long, help: "Print one JSON document on stdout instead of text.")
    var json = false

    func paths(in context: CommandContext) -> SandboxPaths {
        SandboxPaths.resolve(
            home: home, productionDatabase: productionDatabase,
            environment: context.environment, currentDirectory: context.currentDirectory
        )
    }

    /// Opens the sandbox. Only commands that create something pass `create: true`, so that
    /// reading a fresh home leaves no file behind.
    func sandbox(in context: CommandContext, create: Bool = false) throws -> Sandbox {
        try Sandbox(
            paths: paths(in: context), create: create, clock: context.clock,
            busyTimeoutMilliseconds: context.busyTimeoutMilliseconds
        )
    }
}
