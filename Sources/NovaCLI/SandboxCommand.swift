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

struct SandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Create sandbox projects, deploy agents, record usage, evaluate, promote and kill.",
        subcommands: [
            Create.self, Deploy.self, Usage.self, Revenue.self, Import.self, Run.self, Runs.self, Pause.self, Resume.self, Budget.self, Reprice.self,
            ExperimentCommand.self, TemplateCommand.self, List.self,
            ProjectShow.self, Status.self, Eval.self, Compare.self, Promote.self, Kill.self, Extend.self, Sweep.self, Snapshot.self, Snapshots.self, Restore.self, Report.self, Backup.self,
        ]
    )
}

extension SandboxCommand {
    struct Create: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a project with its own workspace folder.")

        @Argument(help: "The project's name.") var name: String
        @Option(help: "What the project is for.") var description: String = ""
        @Option(parsing: .unconditional, help: ArgumentHelp("A cost cap for the whole project, in dollars.", valueName: "usd"), transform: moneyArgument) var budget: Money?
        @OptionGroup var lifetime: LifetimeFlags
        @Option(help: ArgumentHelp("Create it from a template: its agents deployed, its experiments started (see 'sandbox template list').", valueName: "name"))
        var template: String?
        @Option(name: .customLong("set"), help: ArgumentHelp("A built-in template's setting (ab-test: KEY=A,B; model-sweep: model=M1,M2).", valueName: "key=value"))
        var settings: [String] = []
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try lifetime.check(templateGiven: template != nil)
            if !settings.isEmpty, template == nil { throw ValidationError("--set goes with --template") }
            do {
                _ = try BuiltInTemplate.parseSettings(settings)
            } catch let error as SandboxError {
                throw ValidationError(error.description)
            }
        }

        func execute(in context: CommandContext) throws {
            // Everything that can be refused is checked before the sandbox is opened to create:
            // a refused create leaves a fresh home as it was.
            let expiry = lifetime.expiry(now: context.clock())
            try Sandbox.checkNewProject(name: name, description: description, budget: budget, expiry: expiry, now: context.clock())
            let shape = try template.map { try global.sandbox(in: context).resolveTemplate($0, settings: settings, projectName: name) }
            if let shape, lifetime.deleteOnExpiry, expiry == nil, shape.expiresInSeconds == nil {
                throw ValidationError("--delete-on-expiry needs --expires-in or --expires-at (template \(shape.name) has no expiry)")
            }
            let sandbox = try global.sandbox(in: context, create: true)
            guard let shape else {
                try context.emit(try sandbox.createProject(name: name, description: description, budget: budget, expiry: expiry), json: global.json)
                return
            }
            let created = try sandbox.createProject(
                name: name, from: shape, description: description.isEmpty ? nil : description, budget: budget,
                expiry: expiry, deleteOnExpiry: lifetime.deleteOnExpiry
            )
            try context.emit(created, json: global.json)
        }
    }

    struct Deploy: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "deploy",
            abstract: "Deploy an agent into a project, with 10x its type's normal token budget."
        )

        @Argument(help: "The project, prj_XXXXXXXX.") var projectID: String
        @Argument(help: "The agent type (assistant, customer_support, researcher, ...).") var agentType: String
        @Option(help: "A display name (default: the type).") var name: String?
        @Option(help: ArgumentHelp("The agent's configuration: a JSON object, or @FILE. A token_budget key sets the budget.", valueName: "json"))
        var config: String = "{}"
        @Option(
            name: .customLong("budget-tokens"), parsing: .unconditional,
            help: ArgumentHelp("The agent's normal token budget (the sandbox gives it 10x), instead of its type's.", valueName: "n")
        ) var budgetTokens: Int64?
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let project = try ProjectID(projectID)
            let sandbox = try global.sandbox(in: context)
            let configText = try jsonArgument(config, flag: "--config")
            let agent = try sandbox.deployAgent(project: project, type: agentType, name: name, configJSON: configText, normalBudget: budgetTokens)
            // A typo'd type is accepted (types are open), but said out loud, with a guess.
            let budgetInConfig: Bool = if case .object(let object) = agent.config { object["token_budget"] != nil } else { false }
            if budgetTokens == nil, AgentTypes.normalBudgets[agentType] == nil, !budgetInConfig {
                let guess = CommandLineCheck.suggestion(for: agentType, among: AgentTypes.normalBudgets.keys.sorted()).map { "; did you mean '\($0)'?" } ?? ":"
                context.warn(
                    "unknown agent type '\(agentType)'\(guess) deployed with the default budget of \(groupedDigits(AgentTypes.defaultNormalBudget)) tokens "
                        + "(sandbox \(groupedDigits(AgentTypes.defaultNormalBudget * AgentTypes.sandboxMultiplier)))"
                )
            }
            if agent.pauseReason == .projectBudgetExceeded {
                context.warn("project \(project) is at or over its cost cap; agent \(agent.id) is deployed paused (raise the cap with 'novaos sandbox budget \(project) --usd X')")
            }
            try context.emit(agent, json: global.json)
        }
    }

    struct Usage: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "usage",
            abstract: "Record an agent's API call; the cost comes from the price table unless --cost is given.",
            discussion: """
                Input tokens do not include cached tokens: give cache hits as --cache-read-tokens and \
                tokens written to the cache as --cache-write-tokens. The agent's token budget counts all four.
                """
        )

        @Argument(help: "The agent: agt_XXXXXXXXXXXX, or PROJECT_ID/NAME.") var agentID: String
        // The flags of `UsageFlags`, spelled out: as an option group they cost `usage` 1.1 M
        // instructions (4.5 %) of argument-parser reflection (callgrind). `InProcessTests`
        // checks that both commands take the same flags.
        @Option(help: "The model called (claude-sonnet-4, gpt-4o, gemini-2.5-pro, ...; see 'novaos prices list').") var model: String
        @Option(name: .customLong("input-tokens"), parsing: .unconditional, help: "Input tokens, without cached ones.") var inputTokens: Int64
        @Option(name: .customLong("output-tokens"), parsing: .unconditional, help: "Output tokens.") var outputTokens: Int64
        @Option(name: .customLong("cache-read-tokens"), parsing: .unconditional, help: "Input tokens read from the prompt cache.")
        var cacheReadTokens: Int64 = 0
        @Option(name: .customLong("cache-write-tokens"), parsing: .unconditional, help: "Input tokens written to the prompt cache.")
        var cacheWriteTokens: Int64 = 0
        @Option(name: .customLong("cache-ttl"), help: ArgumentHelp("How long the written cache entries live: 5m or 1h.", valueName: "ttl"))
        var cacheTTL: CacheDuration = .fiveMinutes
        @Flag(help: "A call of the provider's batch API (priced with its batch discount).") var batch = false
        @Option(help: "What the call was for (default: api_call).") var operation: String?
        @Option(parsing: .unconditional, help: ArgumentHelp("The cost in dollars, overriding the price table.", valueName: "usd"), transform: moneyArgument) var cost: Money?
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let reference = try AgentReference(agentID)
            let sandbox = try global.sandbox(in: context)
            let agent = try sandbox.agentID(for: reference)
            let record = try sandbox.recordUsage(
                agent: agent, model: model, tokens: TokenCounts(input: inputTokens, output: outputTokens, cacheRead: cacheReadTokens, cacheWrite: cacheWriteTokens),
                batch: batch, cacheDuration: cacheTTL, operation: operation, cost: cost
            )
            record.budgetWarnings.forEach(context.warn)
            try context.emit(record, json: global.json)
        }
    }

    struct Revenue: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "revenue", abstract: "Record revenue an agent earned.")

        @Argument(help: "The agent: agt_XXXXXXXXXXXX, or PROJECT_ID/NAME.") var agentID: String
        @Argument(help: "The amount in dollars, like 49.99.", transform: moneyArgument) var amount: Money
        @Option(help: "Where the money came from (default: manual).") var source: String?
        @Option(help: "A note.") var description: String = ""
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let reference = try AgentReference(agentID)
            let sandbox = try global.sandbox(in: context)
            let agent = try sandbox.agentID(for: reference)
            try context.emit(try sandbox.recordRevenue(agent: agent, amount: amount, source: source, description: description), json: global.json)
        }
    }

    struct List: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List projects with their metrics.")

        enum StatusFilter: String, ExpressibleByArgument, CaseIterable {
            case active, promoted, killed, all
        }

        @Option(help: "Which projects: active, promoted, killed or all.") var status: StatusFilter = .all
        @OptionGroup var format: TableFormat
        @OptionGroup var global: GlobalOptions

        func validate() throws { try format.check(json: global.json) }

        func execute(in context: CommandContext) throws {
            let sandbox = try global.sandbox(in: context)
            let status = ProjectStatus(rawValue: status.rawValue)
            if format.csv || format.md {
                if global.json { throw ValidationError("Choose one of --json, --csv and --md.") }
                // Streamed too: the header, then each row as it is read.
                var table = ExportTable(headers: ProjectList.exportHeaders, textColumns: [1])
                let header = format.csv ? table.csv : table.markdown
                context.writeTable(header)
                try sandbox.eachProject(status: status) { project in
                    table.rows = [ProjectList.exportCells(project)]
                    let text = format.csv ? table.csv : table.markdown
                    // Each chunk without the header the table prints first.
                    context.writeTable(String(text.dropFirst(header.count)))
                }
                return
            }
            // One snapshot for both passes of the text table (widths, then rows).
            try sandbox.readingOneSnapshot {
                try context.emitList(
                    key: "projects", json: global.json, table: ProjectList.table, empty: ProjectList.empty,
                    cells: ProjectList.cells, produce: { try sandbox.eachProject(status: status, $0) }
                )
            }
        }
    }

    struct ProjectShow: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "project", abstract: "Show one project: metrics, agents, experiments, last evaluation."
        )

        @Argument(help: "The project, prj_XXXXXXXX.") var projectID: String
        @OptionGroup var format: TableFormat
        @OptionGroup var global: GlobalOptions

        func validate() throws { try format.check(json: global.json) }

        func execute(in context: CommandContext) throws {
            let project = try ProjectID(projectID)
            let sandbox = try global.sandbox(in: context)
            try context.emit(try sandbox.projectDetail(project), json: global.json, format: format)
        }
    }

    struct Status: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Show totals over the whole sandbox.")

        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let sandbox = try global.sandbox(in: context)
            try context.emit(try sandbox.status(), json: global.json)
            if !global.json { context.writeOutput("  home:     \(TerminalText.escape(sandbox.paths.home.path))\n") }
        }
    }

    struct Eval: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "eval",
            abstract: "Evaluate a project: ROI, criteria and a recommendation. The evaluation is stored."
        )

        @Argument(help: "The project, prj_XXXXXXXX.") var projectID: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let project = try ProjectID(projectID)
            let sandbox = try global.sandbox(in: context)
            try context.emit(try sandbox.evaluate(project), json: global.json)
        }
    }

    struct Promote: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "promote",
            abstract: "Promote a project's profitable agents to production, exactly once.",
            discussion: """
                Evaluates first and refuses NOT_READY unless --force. Asks for confirmation on a terminal; \
                without a terminal, pass --yes. If an earlier promote was interrupted, this finishes it.
                """
        )

        @Argument(help: "The project, prj_XXXXXXXX.") var projectID: String
        @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.") var yes = false
        @Flag(help: "Promote even when the evaluation is NOT_READY.") var force = false
        @Flag(name: .customLong("dry-run"), help: "Show what would happen and change nothing.") var dryRun = false
        @Option(
            name: .customLong("slot-map"),
            help: ArgumentHelp("Put an agent in the production slot you name (repeatable; by default an agent's slot is its name).", valueName: "AGENT_ID=SLOT")
        ) var slotMap: [String] = []
        @Option(
            help: ArgumentHelp(
                "Set a guardrail of the promoted agents (repeatable): min_roi, min_roi_vs_sandbox, min_events, window, bake_time, failure_limit; see 'production guardrail'.",
                valueName: "KEY=VALUE"
            )
        ) var guardrail: [String] = []
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try validateGuardrails(guardrail)
            var seen: Set<Substring> = []
            for pair in slotMap {
                guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex, pair.index(after: equals) != pair.endIndex else {
                    throw ValidationError("--slot-map expects AGENT_ID=SLOT, got \(pair.debugDescription)")
                }
                guard seen.insert(pair[..<equals]).inserted else {
                    throw ValidationError("--slot-map names agent \(String(pair[..<equals]).debugDescription) twice")
                }
                do { try PromotionRules.validateSlot(String(pair[pair.index(after: equals)...])) } catch let error as SandboxError {
                    throw ValidationError(error.description)
                }
            }
        }

        func execute(in context: CommandContext) throws {
            let project = try ProjectID(projectID)
            var slots: [AgentID: String] = [:]
            for pair in slotMap {
                let equals = pair.firstIndex(of: "=")!
                slots[try AgentID(String(pair[..<equals]))] = String(pair[pair.index(after: equals)...])
            }
            // Resolved first: `novaos` hands a promotion into a team's registry to `novaos-team`.
            let registry = try global.productionRegistry(in: context)
            let sandbox = try global.sandbox(in: context)
            if dryRun {
                try context.emit(try sandbox.promotionPreview(project, force: force, slotMap: slots), json: global.json)
                return
            }
            if !yes {
                guard context.stdinIsTerminal else {
                    throw SandboxError.promotionRefused("refusing to promote \(project) without confirmation: stdin is not a terminal; pass --yes")
                }
                let preview = try sandbox.promotionPreview(project, force: force, slotMap: slots)
                try context.confirm(
                    "Promote \(preview.agentsMigrated) agent(s) of \(project) to production (\(preview.skippedAgents.count) stay behind)?",
                    action: "promote \(project)"
                )
            }
            let result = try sandbox.promote(
                project, force: force, slotMap: slots, guardrails: guardrail, registry: registry, hook: context.testCrashHook()
            )
            try context.emit(result, json: global.json)
        }
    }

    struct Kill: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "kill",
            abstract: "Retire a project and its agents; --delete also removes its workspace folder.",
            discussion: "Asks for confirmation on a terminal; without a terminal, pass --yes. A promoted project cannot be killed."
        )

        @Argument(help: "The project, prj_XXXXXXXX.") var projectID: String
        @Flag(help: "Also delete the project's workspace folder (and nothing outside it).") var delete = false
        @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.") var yes = false
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let project = try ProjectID(projectID)
            let sandbox = try global.sandbox(in: context)
            // Refusals first, so they are not hidden behind a question.
            let found = try sandbox.checkKill(project, deleteWorkspace: delete)
            if !yes {
                let what = found.status == .killed ? "Delete the workspace of killed project \(project)" :
                    "Kill \(project) (\(TerminalText.escape(found.name))) and its agents" + (delete ? ", and delete its workspace" : "")
                try context.confirm(what + "?", action: "kill \(project)")
            }
            try context.emit(try sandbox.kill(project, deleteWorkspace: delete), json: global.json)
        }
    }

    struct Backup: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "backup",
            abstract: "Write a consistent copy of sandbox.db to a new file, while other commands keep writing."
        )

        @Argument(help: "The new file (never overwritten).") var path: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let destination = context.url(forPath: path)
            try context.emit(try global.sandbox(in: context).backup(to: destination), json: global.json)
        }
    }
}
