import Foundation
import SQLiteDB
import Testing
@testable import SandboxCore

@Suite struct LifecycleTests {
    @Test func createMakesAnActiveProjectWithItsWorkspace() throws {
        let sandbox = try makeSandbox()
        let project = try sandbox.createProject(name: "pricing", description: "try prices", budget: dollars("50"))
        #expect(project.id.rawValue.hasPrefix("prj_"))
        #expect(project.status == .active)
        #expect(project.createdAt == fixedDate)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: project.workspace, isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(project.workspace == sandbox.paths.projectsFolder.appendingPathComponent(project.id.rawValue).path)
        #expect(try sandbox.project(project.id) == project)
    }

    @Test func deployStoresTheConfigAsGivenAndGrantsTenTimesTheBudget() throws {
        let sandbox = try makeSandbox()
        let project = try sandbox.createProject(name: "p")
        let config = #"{"tone": "warm", "nested": {"n": [1, 2.5, null, true]}}"#
        let agent = try sandbox.deployAgent(project: project.id, type: "customer_support", configJSON: config)
        #expect(agent.status == .active)
        #expect(agent.name == "customer_support")
        #expect(agent.tokenBudget == 200_000)
        #expect(agent.config == .object(["tone": .string("warm"), "nested": .object(["n": .array([.integer(1), .number(2.5), .null, .bool(true)])])]))
        let stored = try sandbox.db.scalarText("SELECT config FROM agents WHERE id = ?", [agent.id.rawValue])
        #expect(stored == config)
        #expect(try sandbox.agent(agent.id).config == agent.config)
    }

    @Test(arguments: ["not json", "[1, 2]", "\"text\"", "42", "{\"a\": }"])
    func deployRefusesAConfigThatIsNotAJSONObject(config: String) throws {
        let sandbox = try makeSandbox()
        let project = try sandbox.createProject(name: "p")
        #expect(throws: SandboxError.self) { try sandbox.deployAgent(project: project.id, type: "assistant", configJSON: config) }
        #expect(try sandbox.projectDetail(project.id).agents.isEmpty)
    }

    @Test func deployRefusesAHugeConfig() throws {
        let sandbox = try makeSandbox()
        let project = try sandbox.createProject(name: "p")
        let huge = "{\"x\": \"" + String(repeating: "a", count: 1 << 20) + "\"}"
        #expect(throws: SandboxError.self) { try sandbox.deployAgent(project: project.id, type: "assistant", configJSON: huge) }
    }

    @Test func usageAndRevenueKeepRunningTotalsEqualToTheirRecords() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let winner = try sandbox.agent(seed.winner)
        #expect(winner.tokensUsed == 120_000)
        #expect(winner.totalCost == dollars("0.6"))      // 0.3 + 0.3
        #expect(winner.totalRevenue == dollars("10"))
        #expect(winner.roi == 1566.6667)
        let sums = try sandbox.db.queryFirst(
            "SELECT (SELECT sum(cost_micros) FROM api_costs), (SELECT sum(amount_micros) FROM revenue), (SELECT sum(input_tokens + output_tokens) FROM api_costs)"
        ) { [$0.int64(0), $0.int64(1), $0.int64(2)] }
        let status = try sandbox.status()
        #expect(sums == [status.totalCost.micros, status.totalRevenue.micros, 131_000])
    }

    @Test func usageWithExplicitCostAcceptsUnknownModels() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let record = try sandbox.recordUsage(agent: seed.winner, model: "my-local-llm", inputTokens: 5, outputTokens: 6, operation: "draft", cost: dollars("0.000123"))
        #expect(record.cost.micros == 123)
        #expect(record.totalTokens == 11)
        #expect(record.operation == "draft")
        #expect(throws: SandboxError.unknownModel("my-local-llm")) {
            try sandbox.recordUsage(agent: seed.winner, model: "my-local-llm", inputTokens: 5, outputTokens: 6)
        }
    }

    @Test func refusesBadNumbers() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        #expect(throws: SandboxError.self) { try sandbox.recordUsage(agent: seed.winner, model: "claude-opus-4", inputTokens: -1, outputTokens: 0) }
        #expect(throws: SandboxError.self) { try sandbox.recordUsage(agent: seed.winner, model: "claude-opus-4", inputTokens: TokenCounts.maximumPerKind + 1, outputTokens: 0) }
        #expect(throws: SandboxError.self) { try sandbox.recordRevenue(agent: seed.winner, amount: dollars("-1")) }
        #expect(throws: SandboxError.self) { try sandbox.recordRevenue(agent: seed.winner, amount: .zero) }
        #expect(throws: SandboxError.self) { try sandbox.recordUsage(agent: seed.winner, model: "x", inputTokens: 1, outputTokens: 1, cost: dollars("-0.01")) }
    }

    @Test func unknownIDsAreReportedAsNotFound() throws {
        let sandbox = try makeSandbox()
        let missingProject = try ProjectID("prj_00000000")
        let missingAgent = try AgentID("agt_000000000000")
        #expect(throws: SandboxError.notFound(kind: "project", id: "prj_00000000")) { try sandbox.deployAgent(project: missingProject, type: "assistant") }
        #expect(throws: SandboxError.notFound(kind: "agent", id: "agt_000000000000")) { try sandbox.recordRevenue(agent: missingAgent, amount: dollars("1")) }
        #expect(throws: SandboxError.notFound(kind: "experiment", id: "99")) { try sandbox.completeExperiment(99, success: true) }
        #expect(throws: SandboxError.notFound(kind: "project", id: "prj_00000000")) { try sandbox.evaluate(missingProject) }
    }

    @Test func namesAreKeptExactlyAndNULIsRefused() throws {
        let sandbox = try makeSandbox()
        let tricky = "quote ' \" newline\nrtl \u{202E}mark tab\t"
        let project = try sandbox.createProject(name: tricky, description: String(repeating: "long text ", count: 10_000))
        #expect(try sandbox.project(project.id).name == tricky)
        #expect(try sandbox.project(project.id).description.count == 100_000)
        #expect(throws: SandboxError.self) { try sandbox.createProject(name: "nul\u{0}byte") }
        #expect(throws: SandboxError.self) { try sandbox.createProject(name: "   ") }
    }

    @Test func listAndStatusAggregateInSQL() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let other = try sandbox.createProject(name: "empty")
        _ = try sandbox.kill(other.id)
        let all = try sandbox.listProjects()
        let listed: Set<ProjectID> = Set(all.projects.map(\.id))
        #expect(listed == [seed.project, other.id])
        let active = try sandbox.listProjects(status: .active)
        #expect(active.projects.map(\.id) == [seed.project])
        let metrics = active.projects[0].metrics
        #expect(metrics.totalAgents == 2 && metrics.activeAgents == 2)
        #expect(metrics.totalCost == dollars("0.825"))   // 0.6 + opus 0.15 + 0.075
        #expect(metrics.profit == dollars("9.175"))
        let status = try sandbox.status()
        #expect(status.totalProjects == 2 && status.activeProjects == 1 && status.killedProjects == 1 && status.promotedProjects == 0)
        #expect(status.totalAgents == 2 && status.activeAgents == 2)
        #expect(status.totalRevenue == dollars("10"))
    }

    @Test func evaluationsAreStoredAndTheLastOneIsShown() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        #expect(try sandbox.projectDetail(seed.project).lastEvaluation == nil)
        let evaluation = try sandbox.evaluate(seed.project)
        #expect(evaluation.recommendation == .stronglyRecommend)
        _ = try sandbox.evaluate(seed.project)
        #expect(try sandbox.db.scalarInt("SELECT count(*) FROM evaluations") == 2)
        #expect(try sandbox.projectDetail(seed.project).lastEvaluation == evaluation)
    }

    @Test func experimentsStartCompleteOnceAndList() throws {
        let sandbox = try makeSandbox()
        let project = try sandbox.createProject(name: "p")
        let started = try sandbox.startExperiment(project: project.id, name: "cheaper model", hypothesis: "haiku is enough", configJSON: #"{"model":"claude-haiku-3.5"}"#)
        #expect(started.success == nil && started.completedAt == nil && started.results == .null)
        let done = try sandbox.completeExperiment(started.id, success: true, resultsJSON: #"{"quality": 0.93}"#)
        #expect(done.success == true)
        #expect(done.results == .object(["quality": .number(0.93)]))
        #expect(done.completedAt == fixedDate)
        #expect(throws: SandboxError.invalidState("experiment \(started.id) is already completed")) {
            try sandbox.completeExperiment(started.id, success: false)
        }
        #expect(throws: SandboxError.self) { try sandbox.completeExperiment(started.id, success: false, resultsJSON: "[1]") }
        #expect(try sandbox.experiments(project: project.id).experiments == [done])
    }

    @Test func killRetiresAgentsAndRefusesFurtherWork() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let result = try sandbox.kill(seed.project)
        #expect(result == KillResult(projectID: seed.project, status: .killed, agentsKilled: 2, workspaceDeleted: false))
        #expect(throws: SandboxError.invalidState("project \(seed.project) is already killed")) { try sandbox.kill(seed.project) }
        #expect(throws: SandboxError.self) { try sandbox.deployAgent(project: seed.project, type: "assistant") }
        #expect(throws: SandboxError.self) { try sandbox.recordRevenue(agent: seed.winner, amount: dollars("1")) }
        #expect(throws: SandboxError.self) { try sandbox.startExperiment(project: seed.project, name: "late") }
        #expect(throws: SandboxError.self) { try sandbox.promote(seed.project, force: true) }
        #expect(FileManager.default.fileExists(atPath: sandbox.paths.workspace(for: seed.project).path))
        // A second kill with --delete finishes the job.
        #expect(try sandbox.kill(seed.project, deleteWorkspace: true).workspaceDeleted)
    }

    /// A sandbox with a project, and a folder outside the sandbox holding a file to keep.
    func projectBesideAPreciousFolder() throws -> (sandbox: Sandbox, project: Project, outside: URL, workspace: URL) {
        let home = try makeHome()
        let sandbox = try makeSandbox(home: home)
        let project = try sandbox.createProject(name: "p")
        let outside = home.appendingPathComponent("precious")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: outside.appendingPathComponent("file.txt"))
        return (sandbox, project, outside, sandbox.paths.workspace(for: project.id))
    }

    @Test func killDeleteRemovesALinkButNotItsTarget() throws {
        let (sandbox, project, outside, workspace) = try projectBesideAPreciousFolder()
        try FileManager.default.removeItem(at: workspace)
        try FileManager.default.createSymbolicLink(at: workspace, withDestinationURL: outside)
        #expect(try sandbox.kill(project.id, deleteWorkspace: true).workspaceDeleted)
        #expect(!Sandbox.entryExists(at: workspace))
        #expect(FileManager.default.fileExists(atPath: outside.appendingPathComponent("file.txt").path))
    }

    @Test func killDeleteDoesNotFollowLinksInsideTheWorkspace() throws {
        let (sandbox, project, outside, workspace) = try projectBesideAPreciousFolder()
        try FileManager.default.createSymbolicLink(at: workspace.appendingPathComponent("link"), withDestinationURL: outside)
        try Data("scratch".utf8).write(to: workspace.appendingPathComponent("notes.txt"))
        #expect(try sandbox.kill(project.id, deleteWorkspace: true).workspaceDeleted)
        #expect(!Sandbox.entryExists(at: workspace))
        #expect(FileManager.default.fileExists(atPath: outside.appendingPathComponent("file.txt").path))
    }
}

@Suite struct ExpiryTests {
    @Test func findingNothingExpiredIsOneProbeOfTwoPartialIndexes() throws {
        let sandbox = try makeSandbox()
        for index in 0..<50 {
            _ = try sandbox.createProject(name: "p\(index)", expiry: index % 2 == 0 ? ProjectExpiry(after: 3600, from: fixedDate) : nil)
        }
        let plan = try sandbox.db.query("EXPLAIN QUERY PLAN " + Sandbox.dueForExpiry, ["2026-01-01T00:00:00Z"]) { $0.text(3) }
        #expect(plan.contains { $0.contains("USING INDEX projects_expiring") || $0.contains("USING COVERING INDEX projects_expiring") }, "\(plan)")
        #expect(plan.contains { $0.contains("projects_deleting") }, "\(plan)")
        #expect(!plan.contains { $0.hasPrefix("SCAN projects") && !$0.contains("projects_deleting") }, "\(plan)")
        #expect(try sandbox.sweep().expired.isEmpty)
    }

    @Test func anExpiredProjectIsKilledAtItsExpiryOnce() throws {
        let home = try makeHome()
        var clock = fixedDate
        let sandbox = try Sandbox(paths: SandboxPaths(home: home), clock: { clock })
        let project = try sandbox.createProject(name: "p", expiry: ProjectExpiry(after: 60, from: fixedDate, deleteWorkspace: true))
        let agent = try sandbox.deployAgent(project: project.id, type: "assistant")
        #expect(throws: SandboxError.invalidInput("the expiry \(Timestamp.text(fixedDate)) is not in the future (now is \(Timestamp.text(fixedDate)))")) {
            try sandbox.createProject(name: "past", expiry: ProjectExpiry(at: fixedDate))
        }
        clock = fixedDate.addingTimeInterval(3600)
        let reopened = try Sandbox(paths: SandboxPaths(home: home), clock: { clock })
        #expect(reopened.expiredOnOpening.map(\.projectID) == [project.id])
        #expect(reopened.expiredOnOpening[0].agentsKilled == 1 && reopened.expiredOnOpening[0].workspaceDeleted)
        let killed = try reopened.project(project.id)
        #expect(killed.status == .killed && killed.killReason == .expired && killed.killedAt == fixedDate.addingTimeInterval(60))
        #expect(try reopened.agent(agent.id).status == .killed)
        #expect(!FileManager.default.fileExists(atPath: project.workspace))
        // The first sweep reports what the opening expired; nothing expires twice.
        #expect(try reopened.sweep().expired.map(\.projectID) == [project.id])
        #expect(try reopened.sweep().expired.isEmpty)
        #expect(try reopened.status().killedProjects == 1)
    }
}

extension ExpiryTests {
    @Test func aWriteAppliesAnExpiryTheOpeningCouldNotForABusyDatabase() throws {
        let home = try makeHome()
        var clock = fixedDate
        let sandbox = try Sandbox(paths: SandboxPaths(home: home), clock: { clock })
        let project = try sandbox.createProject(name: "p", expiry: ProjectExpiry(after: 60, from: fixedDate))
        let agent = try sandbox.deployAgent(project: project.id, type: "assistant")
        clock = fixedDate.addingTimeInterval(120)
        // Another process holds the write lock while this one opens: the opening cannot expire it.
        let blocker = try Connection(path: sandbox.paths.sandboxDatabase.path)
        try blocker.execute("BEGIN IMMEDIATE")
        let late = try Sandbox(paths: SandboxPaths(home: home), clock: { clock }, busyTimeoutMilliseconds: 50)
        #expect(late.expiredOnOpening.isEmpty)
        try blocker.execute("COMMIT")
        // Its first write does, before anything else: nothing is recorded for the expired project.
        #expect(throws: SandboxError.self) { try late.recordRevenue(agent: agent.id, amount: dollars("5")) }
        let killed = try late.project(project.id)
        #expect(killed.status == .killed && killed.killReason == .expired)
        #expect(try late.agent(agent.id).totalRevenue == .zero)
    }
}

@Suite struct TemplateTests {
    @Test func aChangedBudgetAndAnAliasedModelAreTakenAsMeant() throws {
        let sandbox = try makeSandbox()
        let project = try sandbox.createProject(name: "p")
        let agent = try sandbox.deployAgent(project: project.id, type: "assistant")
        _ = try sandbox.setTokenBudget(agent: agent.id, tokens: 12_345)
        let template = try sandbox.saveTemplate(project: project.id, name: "t")
        #expect(template.agents[0].budgetTokens == 10_000 && template.agents[0].sandboxBudgetTokens == 12_345)
        let made = try sandbox.createProject(name: "q", from: template)
        #expect(made.agents[0].tokenBudget == 12_345)
        #expect(throws: SandboxError.self) { try sandbox.resolveTemplate("model-sweep", settings: ["model=gpt-4o,GPT-4o"], projectName: "x") }
        #expect(throws: SandboxError.self) { try sandbox.resolveTemplate("ab-test", settings: ["temperature=1,1.0"], projectName: "x") }
        #expect(throws: SandboxError.self) {
            try ProjectTemplate.parse(Array(#"{"format":"novaos-template/1","name":"t","agents":[],"agents":[{"type":"x"}]}"#.utf8), source: "dup.json")
        }
    }

    @Test func aProjectFromATemplateIsAllOrNothing() throws {
        let home = try makeHome()
        let sandbox = try makeSandbox(home: home)
        _ = try sandbox.createProject(name: "first")
        let agents = (0..<1_000).map { ProjectTemplate.Agent(type: "assistant", name: "agent-\($0)", config: .object(["padding": .string(String(repeating: "x", count: 2_000))])) }
        let template = ProjectTemplate(name: "big", agents: agents)
        // A database that fills up halfway through the agents.
        let full = try Sandbox(paths: SandboxPaths(home: home), clock: { fixedDate }, maximumPageCount: 200)
        #expect(throws: (any Error).self) { try full.createProject(name: "too big", from: template) }
        #expect(try full.listProjects().projects.map(\.name) == ["first"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: full.paths.projectsFolder.path).count == 1)
        #expect(try full.status().totalAgents == 0)
    }
}
