import Testing
@testable import SandboxCore

@Suite struct AgentBudgetTests {
    @Test func sandboxGetsTenTimesTheNormalBudget() throws {
        #expect(try AgentBudget.resolve(type: "researcher", config: [:]) == AgentBudget(sandbox: 500_000, normal: 50_000))
        #expect(try AgentBudget.resolve(type: "never-heard-of-it", config: [:]) == AgentBudget(sandbox: 10_000, normal: 1_000))
    }

    @Test func tokenBudgetInConfigOverrides() throws {
        #expect(try AgentBudget.resolve(type: "researcher", config: ["token_budget": .integer(2_500)]) == AgentBudget(sandbox: 2_500, normal: 250))
        #expect(try AgentBudget.resolve(type: "researcher", config: ["token_budget": .number(3000)]) == AgentBudget(sandbox: 3_000, normal: 300))
    }

    @Test(arguments: [JSONValue.integer(0), .integer(-5), .number(1.5), .string("100"), .null, .integer(10_000_000_000_000)])
    func refusesABadTokenBudget(value: JSONValue) {
        #expect(throws: SandboxError.self) { try AgentBudget.resolve(type: "assistant", config: ["token_budget": value]) }
    }

    @Test(arguments: ["", "Upper", "has space", "../x", String(repeating: "a", count: 65)])
    func refusesABadType(type: String) {
        #expect(throws: SandboxError.self) { try AgentTypes.validate(type) }
    }
}
