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

extension SandboxCommand {
    struct Budget: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "budget",
            abstract: "Set an agent's token budget, or a project's cost cap.",
            discussion: """
                novaos sandbox budget AGENT_ID --tokens N sets the agent's sandbox token budget; \
                novaos sandbox budget PROJECT_ID --usd X sets the project's cost cap, --none removes it. \
                Every change is recorded with its time. Raising a budget resumes nothing: use resume.
                """
        )

        @Argument(help: "An agent (agt_… or PROJECT_ID/NAME) or a project (prj_…).") var id: String
        @Option(parsing: .unconditional, help: ArgumentHelp("The agent's new token budget.", valueName: "n")) var tokens: Int64?
        @Option(parsing: .unconditional, help: ArgumentHelp("The project's new cost cap, in dollars.", valueName: "usd"), transform: moneyArgument) var usd: Money?
        @Flag(help: "Remove the project's cost cap.") var none = false
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if id.hasPrefix("agt_") || id.contains("/") {
                guard tokens != nil, usd == nil, !none else { throw ValidationError("An agent's budget is set with --tokens N.") }
            } else if id.hasPrefix("prj_") {
                guard tokens == nil, (usd != nil) != none else { throw ValidationError("A project's cap is set with --usd X, or removed with --none.") }
            } else {
                throw ValidationError("Give an agent (agt_…) or a project (prj_…), not \(id.debugDescription).")
            }
        }

        func execute(in context: CommandContext) throws {
            let change: BudgetChange
            if let tokens {
                let reference = try AgentReference(id)
                let sandbox = try global.sandbox(in: context)
                change = try sandbox.setTokenBudget(agent: try sandbox.agentID(for: reference), tokens: tokens)
            } else {
                let project = try ProjectID(id)
                change = try global.sandbox(in: context).setCostCap(project: project, cap: usd)
            }
            change.budgetWarnings.forEach(context.warn)
            try context.emit(change, json: global.json)
        }
    }
}

extension BudgetChange: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        func describe(_ value: BudgetValue?) -> String {
            switch value {
            case .tokens(let tokens)?: "\(formatTokens(tokens)) tokens"
            case .money(let money)?: money.description
            case nil: "no cap"
            }
        }
        let used = budgetUsedPercent.map { " (\(budgetUsed($0, over: budgetExceeded || $0 >= 100)) used)" } ?? ""
        return "Budget of \(kind) \(id): \(describe(previous)) → \(describe(budget))\(used)"
    }
}
