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

struct RepoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repo",
        abstract: "Git repositories for experiments: test and analyse revisions, record and commit the results.",
        subcommands: [Create.self, List.self, Run.self, Results.self]
    )
}

extension CommandContext {
    var repositoryOptions: RepositoryOptions {
        RepositoryOptions(environment: environment, currentDirectory: currentDirectory, warn: { self.warn($0) })
    }
}

extension RepoCommand {
    struct Create: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Create an experiment repository under HOME/sandbox/repositories/.",
            discussion: """
                Remote: --remote or EXPERIMENT_REPOSITORY_URL; else, with GITHUB_TOKEN and GITHUB_USERNAME, a private GitHub \
                repository (GITHUB_API_URL for GitHub Enterprise). EXPERIMENT_BRANCH sets the default branch, \
                EXPERIMENT_AUTO_PUSH=false stops pushes, NOVAOS_GIT_NAME and NOVAOS_GIT_EMAIL the commit identity.
                """
        )

        @Option(help: "The sandbox project it belongs to.") var project: String?
        @Option(help: "Its name (default: ai-sandbox-experiments-YYYYMMDD_HHMMSS).") var name: String?
        @Option(help: "What it is for.") var description: String = ""
        @Option(help: "The branch (default: $EXPERIMENT_BRANCH, else main).") var branch: String?
        @Option(help: "The remote to push to, as origin.") var remote: String?
        @Option(name: .customLong("agent-type"), help: "The type of agent its experiments are for.") var agentType: String?
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let project = try project.map(ProjectID.init)
            try Sandbox.validateRepositoryArguments(name: name, branch: branch, remote: remote)
            let sandbox = try global.sandbox(in: context, create: true)
            let repository = try sandbox.createRepository(
                name: name, project: project, description: description, branch: branch, remote: remote, agentType: agentType,
                options: context.repositoryOptions
            )
            try context.emit(repository, json: global.json)
        }
    }

    struct List: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List experiment repositories, with counts from git and the database.")

        @Option(help: "Only this project's repositories.") var project: String?
        @OptionGroup var format: TableFormat
        @OptionGroup var global: GlobalOptions

        func validate() throws { try format.check(json: global.json) }

        func execute(in context: CommandContext) throws {
            let project = try project.map(ProjectID.init)
            let sandbox = try global.sandbox(in: context)
            try context.emit(try sandbox.listRepositories(project: project, options: context.repositoryOptions), json: global.json, format: format)
        }
    }

    struct Run: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Test and analyse revisions; record each result and commit it into the experiment repository.",
            discussion: """
                Each revision's test suites run isolated (bubblewrap): a private checkout and temporary folder are \
                all they can write, no network unless --network, no secrets. Exit status 0 when every revision \
                succeeded, 1 otherwise (the results are recorded either way).
                """
        )

        @Argument(help: "The experiment repository, by ID or name.") var repository: String
        @Option(help: ArgumentHelp("The code under test: a git repository path or URL (default: the experiment repository).", valueName: "git-repo"))
        var source: String?
        @Option(name: .customLong("rev"), help: "A revision to test (repeatable).") var revisions: [String] = []
        @Option(help: "Test the last N commits.") var last: Int?
        @Option(help: ArgumentHelp("Time limit for each test suite (default 10m).", valueName: "duration"), transform: durationArgument) var timeout: TimeInterval?
        @Option(help: ArgumentHelp("A running sandbox experiment to complete with these results.", valueName: "experiment-id")) var experiment: String?
        @Flag(help: "Let test suites reach the network.") var network = false
        @Option(help: ArgumentHelp("namespace (default: bubblewrap) or none (no isolation, knowingly).", valueName: "mode")) var isolation: String = "namespace"
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if !revisions.isEmpty && last != nil { throw ValidationError("Use --rev or --last, not both.") }
            guard IsolationMode(rawValue: isolation) != nil else { throw ValidationError("--isolation must be namespace or none, not \(isolation.debugDescription)") }
        }

        func execute(in context: CommandContext) throws {
            let timeout = timeout ?? 600
            let experiment = try experiment.map(parseExperimentID)
            let sandbox = try global.sandbox(in: context)
            var options = context.repositoryOptions
            options.isolation = IsolationMode(rawValue: isolation) ?? .namespace
            options.network = network
            if options.isolation == .none {
                context.warn("--isolation none: test suites run unisolated, with novaos's file access and network")
            }
            let summary = try sandbox.runRepository(
                repository, source: source, revisions: revisions, last: last, timeout: timeout, experiment: experiment, options: options
            )
            try context.emit(summary, json: global.json)
            if summary.successfulExperiments < summary.experimentsRun { throw ExitCode(1) }
        }
    }

    struct Results: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "results", abstract: "Show one recorded result.")

        @Argument(help: "The result's experiment ID (exp_...).") var experimentID: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            try context.emit(try global.sandbox(in: context).experimentResult(experimentID), json: global.json)
        }
    }
}
