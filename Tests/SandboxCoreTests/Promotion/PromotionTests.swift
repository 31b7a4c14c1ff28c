import Foundation
import SQLiteDB
import Testing
@testable import SandboxCore

@Suite struct PromotionTests {
    struct Crash: Error {}

    @Test func promotesOnlyProfitableAgentsWithNewIDsAndNormalBudgets() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let result = try sandbox.promote(seed.project)
        #expect(result.status == .promoted)
        #expect(result.agentsMigrated == 1)
        #expect(result.migratedAgents.map(\.sandboxID) == [seed.winner])
        #expect(result.skippedAgents.map(\.sandboxID) == [seed.loser])
        #expect(result.evaluation.recommendation == .stronglyRecommend)

        let production = try Production(paths: sandbox.paths).listAgents().agents
        #expect(production.count == 1)
        let promoted = try #require(production.first)
        #expect(promoted.id == result.migratedAgents[0].productionID)
        #expect(promoted.id != seed.winner && promoted.id.isProduction)
        #expect(promoted.tokenBudget == 20_000)
        #expect(promoted.config == .object(["tone": .string("warm")]))
        #expect(promoted.promotedFrom == ProductionAgent.Origin(projectID: seed.project, sandboxAgentID: seed.winner))

        let project = try sandbox.project(seed.project)
        #expect(project.status == .promoted && project.promotedAt != nil)
        #expect(throws: SandboxError.invalidState("project \(seed.project) is already promoted")) { try sandbox.promote(seed.project) }
    }

    @Test func notReadyIsRefusedUnlessForcedAndTheRefusalChangesNothing() throws {
        let sandbox = try makeSandbox()
        let project = try sandbox.createProject(name: "idle")
        _ = try sandbox.deployAgent(project: project.id, type: "assistant")
        #expect(throws: SandboxError.self) { try sandbox.promote(project.id) }
        #expect(try sandbox.db.scalarInt("SELECT count(*) FROM evaluations") == 0)
        #expect(try sandbox.db.scalarInt("SELECT count(*) FROM promotions") == 0)
        #expect(!FileManager.default.fileExists(atPath: sandbox.paths.productionDatabase.path))
        let forced = try sandbox.promote(project.id, force: true)
        #expect(forced.agentsMigrated == 0)
        #expect(try sandbox.project(project.id).status == .promoted)
    }

    @Test func dryRunChangesNothing() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let preview = try sandbox.promotionPreview(seed.project)
        #expect(preview.status == .dryRun)
        #expect(preview.migratedAgents.map(\.sandboxID) == [seed.winner])
        #expect(try sandbox.db.scalarInt("SELECT count(*) FROM evaluations") == 0)
        #expect(try sandbox.project(seed.project).status == .active)
        #expect(!FileManager.default.fileExists(atPath: sandbox.paths.productionDatabase.path))
    }

    @Test(arguments: PromotionStep.allCases)
    func aPromotionInterruptedAtAnyStepCompletesExactlyOnceWhenRerun(step: PromotionStep) throws {
        let sandbox = try makeSandbox()
        let project = try sandbox.createProject(name: "many")
        var profitable: Set<AgentID> = []
        for index in 0..<6 {
            let agent = try sandbox.deployAgent(project: project.id, type: "assistant", name: "agent \(index)")
            _ = try sandbox.recordUsage(agent: agent.id, model: "claude-haiku-3.5", inputTokens: 1_000, outputTokens: 1_000)
            if index % 3 != 0 {
                _ = try sandbox.recordRevenue(agent: agent.id, amount: dollars("1"))
                profitable.insert(agent.id)
            }
        }
        #expect(throws: Crash.self) {
            try sandbox.promote(project.id) { if $0 == step { throw Crash() } }
        }
        if step != .completed {
            #expect(try sandbox.projectDetail(project.id).promotionPending)
            #expect(throws: SandboxError.self) { try sandbox.kill(project.id) }
            let result = try sandbox.promote(project.id)
            #expect(Set(result.migratedAgents.map(\.sandboxID)) == profitable)
        } else {
            #expect(throws: SandboxError.invalidState("project \(project.id) is already promoted")) { try sandbox.promote(project.id) }
        }
        let production = try Production(paths: sandbox.paths).listAgents().agents
        #expect(production.count == profitable.count)
        #expect(Set(production.compactMap { $0.promotedFrom?.sandboxAgentID }) == profitable)
        // Each went live in the slot of its name, and the history tells each promotion once.
        #expect(production.allSatisfy { $0.state == .live && $0.slot == $0.name })
        let history = try Production(paths: sandbox.paths).history().events
        #expect(history.map(\.kind) == Array(repeating: "promotion", count: profitable.count))
        #expect(Set(history.compactMap(\.agentID)) == Set(production.map(\.id)))
        #expect(try sandbox.project(project.id).status == .promoted)
        #expect(!(try sandbox.projectDetail(project.id).promotionPending))
    }

    @Test func productionIsNeverOpenedByOtherOperations() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        _ = try sandbox.evaluate(seed.project)
        _ = try sandbox.listProjects()
        _ = try sandbox.status()
        _ = try sandbox.promotionPreview(seed.project)
        _ = try Production(paths: sandbox.paths).listAgents()
        _ = try sandbox.kill(seed.project, deleteWorkspace: true)
        #expect(!FileManager.default.fileExists(atPath: sandbox.paths.productionDatabase.path))
    }
}
