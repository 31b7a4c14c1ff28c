import ArgumentParser
import SandboxCore

struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Log named hypotheses per project, with their config, results and success.",
        subcommands: [Start.self, Complete.self, List.self]
    )
}

extension ExperimentCommand {
    struct Start: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "start", abstract: "Start an experiment in an active project.")

        @Argument(help: "The project, prj_XXXXXXXX.") var projectID: String
        @Argument(help: "The experiment's name.") var name: String
        @Option(help: "What you expect to happen.") var hypothesis: String = ""
        @Option(help: ArgumentHelp("The setup: a JSON object, or @FILE.", valueName: "json")) var config: String = "{}"
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let project = try ProjectID(projectID)
            let sandbox = try global.sandbox(in: context)
            try context.emit(try sandbox.startExperiment(project: project, name: name, hypothesis: hypothesis, configJSON: jsonArgument(config, flag: "--config")), json: global.json)
        }
    }

    struct Complete: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "complete", abstract: "Complete an experiment with --success or --failure.")

        @Argument(help: "The experiment's ID (an integer).") var experimentID: String
        @Flag(exclusivity: .exclusive, help: "Whether the hypothesis held.") var outcome: Outcome?
        @Option(help: ArgumentHelp("What was observed: a JSON object, or @FILE.", valueName: "json")) var results: String = "{}"
        @OptionGroup var global: GlobalOptions

        enum Outcome: String, EnumerableFlag {
            case success, failure
        }

        func execute(in context: CommandContext) throws {
            // Checked here rather than in validate(), so an unknown option is reported first.
            guard outcome != nil else { throw ValidationError("Pass --success or --failure.") }
            let id = try parseExperimentID(experimentID)
            let sandbox = try global.sandbox(in: context)
            try context.emit(try sandbox.completeExperiment(id, success: outcome == .success, resultsJSON: jsonArgument(results, flag: "--results")), json: global.json)
        }
    }

    struct List: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List a project's experiments.")

        @Argument(help: "The project, prj_XXXXXXXX.") var projectID: String
        @OptionGroup var format: TableFormat
        @OptionGroup var global: GlobalOptions

        func validate() throws { try format.check(json: global.json) }

        func execute(in context: CommandContext) throws {
            let project = try ProjectID(projectID)
            let sandbox = try global.sandbox(in: context)
            try context.emit(try sandbox.experiments(project: project), json: global.json, format: format)
        }
    }
}
