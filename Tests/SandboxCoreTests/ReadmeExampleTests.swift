import Foundation
import Testing
import SandboxCore

// README-EXAMPLE-BEGIN
func runPilot(home: URL) throws -> PromotionResult? {
    let sandbox = try Sandbox(paths: SandboxPaths(home: home))
    let project = try sandbox.createProject(name: "support-bot", description: "Cheaper answers")
    let agent = try sandbox.deployAgent(
        project: project.id, type: "customer_support", name: "Haiku first",
        configJSON: #"{"model": "claude-haiku-3.5", "token_budget": 1000000}"#
    )
    _ = try sandbox.recordUsage(agent: agent.id, model: "claude-haiku-3.5", inputTokens: 200_000, outputTokens: 50_000)
    _ = try sandbox.recordRevenue(agent: agent.id, amount: try Money(parsing: "12.50"), source: "stripe")

    let evaluation = try sandbox.evaluate(project.id)
    print(evaluation.recommendation.rawValue, evaluation.metrics.roi)   // STRONGLY_RECOMMEND 3372.2222
    guard evaluation.recommendation != .notReady else { return nil }
    return try sandbox.promote(project.id)
}
// README-EXAMPLE-END

@Suite struct ReadmeExampleTests {
    @Test func theExampleRunsAndPromotesTheAgent() throws {
        let home = try makeHome()
        let result = try #require(try runPilot(home: home))
        #expect(result.agentsMigrated == 1)
        #expect(result.evaluation.recommendation == .stronglyRecommend)
        #expect(try Production(paths: SandboxPaths(home: home)).listAgents().agents.map(\.name) == ["Haiku first"])
    }

    @Test func theREADMEShowsExactlyThisExample() throws {
        let testFile = try String(contentsOfFile: #filePath, encoding: .utf8)
        let readme = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md"),
            encoding: .utf8
        )
        let begin = try #require(testFile.range(of: "// README-EXAMPLE-BEGIN\n"))
        let end = try #require(testFile.range(of: "// README-EXAMPLE-END"))
        let example = String(testFile[begin.upperBound..<end.lowerBound])
        #expect(readme.contains("```swift\nimport Foundation\nimport SandboxCore\n\n" + example + "```"))
    }
}
