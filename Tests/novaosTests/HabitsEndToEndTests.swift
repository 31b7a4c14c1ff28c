import Foundation
import Testing
@testable import SandboxCore

/// The small things a daily user expects (issue 13), through the built binary.
@Suite struct HabitsEndToEndTests {
    @Test func aTypoedAgentTypeIsSaidOutLoudAndABudgetCanBeGiven() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "p", "--json"], home: home).decode(Project.self).id.rawValue
        let typo = try runBinary(["sandbox", "deploy", project, "assistnt", "--json"], home: home)
        #expect(typo.exitCode == 0)
        #expect(typo.stderr == "warning: unknown agent type 'assistnt'; did you mean 'assistant'? deployed with the default budget of 1,000 tokens (sandbox 10,000)\n")
        #expect(try typo.decode(Agent.self).tokenBudget == 10_000)
        let unknown = try runBinary(["sandbox", "deploy", project, "translator"], home: home)
        #expect(unknown.stderr.contains("unknown agent type 'translator': deployed with the default budget"))

        let given = try runBinary(["sandbox", "deploy", project, "translator", "--budget-tokens", "5000", "--json"], home: home)
        #expect(given.exitCode == 0 && given.stderr.isEmpty)
        #expect(try given.decode(Agent.self).tokenBudget == 50_000)
        #expect(try runBinary(["sandbox", "deploy", project, "assistant", "--json"], home: home).stderr.isEmpty)

        #expect(try runBinary(["sandbox", "deploy", project, "coder", "--budget-tokens", "0"], home: home).exitCode == 1)
        #expect(try runBinary(["sandbox", "deploy", project, "coder", "--budget-tokens", "many"], home: home).exitCode == 64)
        let both = try runBinary(["sandbox", "deploy", project, "coder", "--budget-tokens", "5", "--config", #"{"token_budget": 9}"#], home: home)
        #expect(both.exitCode == 1 && both.stderr.contains("not both"))
    }
}
