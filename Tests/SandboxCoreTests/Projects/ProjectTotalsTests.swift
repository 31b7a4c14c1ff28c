import Foundation
import SQLiteDB
import Testing
@testable import SandboxCore

/// Projects keep their agents' totals (schema version 8), so `sandbox list` reads one row per
/// project. The totals must always be the sums over the agents, whatever changed them.
@Suite struct ProjectTotalsTests {
    /// The projects whose stored totals differ from the sums over their agents.
    private func mismatched(_ sandbox: Sandbox) throws -> [String] {
        try sandbox.db.query("""
            SELECT p.id FROM projects AS p
            WHERE (p.total_agents, p.active_agents, p.tokens_used, p.cost_micros, p.revenue_micros) IS NOT (
                SELECT count(*), coalesce(sum(status = 'active'), 0), coalesce(sum(tokens_used), 0),
                       coalesce(sum(cost_micros), 0), coalesce(sum(revenue_micros), 0)
                FROM agents WHERE project_id = p.id)
            """) { $0.text(0) }
    }

    @Test func totalsFollowEveryChangeToAgents() throws {
        let sandbox = try makeSandbox()
        let seeded = try seededProject(sandbox)
        let capped = try sandbox.createProject(name: "capped", budget: dollars("0.01"))
        let spender = try sandbox.deployAgent(project: capped.id, type: "assistant")
        let idle = try sandbox.deployAgent(project: capped.id, type: "assistant")
        #expect(try mismatched(sandbox).isEmpty)

        // Usage that reaches the cap pauses every agent of the project.
        _ = try? sandbox.recordUsage(agent: spender.id, model: "claude-opus-4", inputTokens: 10_000, outputTokens: 1_000)
        _ = try sandbox.recordRevenue(agent: seeded.winner, amount: dollars("2.5"))
        _ = try sandbox.pauseAgent(seeded.loser)
        #expect(try mismatched(sandbox).isEmpty)
        _ = try sandbox.resumeAgent(seeded.loser)

        let events = try makeHome().appendingPathComponent("events.jsonl")
        try """
            {"type":"usage","agent_id":"\(seeded.winner.rawValue)","id":"e1","model":"claude-haiku-3.5","input_tokens":100,"output_tokens":10}
            {"type":"revenue","agent_id":"\(seeded.loser.rawValue)","id":"e2","amount":1.25}
            {"type":"usage","agent_id":"\(idle.id.rawValue)","id":"e3","model":"claude-haiku-3.5","input_tokens":5,"output_tokens":5}
            """.write(to: events, atomically: true, encoding: .utf8)
        let handle = try FileHandle(forReadingFrom: events)
        _ = try sandbox.importEvents(fileDescriptor: handle.fileDescriptor, source: events.path)
        try handle.close()
        #expect(try mismatched(sandbox).isEmpty)

        _ = try sandbox.reprice()
        _ = try sandbox.kill(capped.id)
        _ = try sandbox.promote(seeded.project)
        #expect(try mismatched(sandbox).isEmpty)

        // What `list` shows is what the agents add up to.
        let listed = try sandbox.listProjects().projects
        for project in listed {
            #expect(project.metrics == (try sandbox.metrics(of: project.id)))
        }
        #expect(listed.map(\.id) == [seeded.project, capped.id])
    }

    /// A version 7 database gets its totals computed from its agents when it is upgraded.
    @Test func anUpgradedDatabaseGetsItsTotals() throws {
        let home = try makeHome()
        let paths = SandboxPaths(home: home)
        try FileManager.default.createDirectory(at: paths.projectsFolder, withIntermediateDirectories: true)
        let db = try Connection(path: paths.sandboxDatabase.path)
        for migration in Schema.sandboxMigrations.prefix(7) { try db.execute(migration) }
        try db.setUserVersion(7)
        try db.execute("""
            INSERT INTO projects (id, name, status, created_at) VALUES
                ('prj_0000000b', 'second', 'active', '2026-01-02T00:00:00Z'),
                ('prj_0000000a', 'first', 'killed', '2026-01-01T00:00:00Z'),
                ('prj_0000000c', 'empty', 'active', '2026-01-03T00:00:00Z');
            INSERT INTO agents (id, project_id, type, name, status, token_budget, normal_token_budget, deployed_at, tokens_used, cost_micros, revenue_micros)
                VALUES ('agt_00000000000a', 'prj_0000000a', 't', 't', 'killed', 1000000, 100000, '2026-01-01T00:00:00Z', 10, 100, 1000),
                       ('agt_00000000000b', 'prj_0000000b', 't', 't', 'active', 1000000, 100000, '2026-01-02T00:00:00Z', 20, 200, 0),
                       ('agt_00000000000c', 'prj_0000000b', 't', 't', 'paused', 1000000, 100000, '2026-01-02T00:00:00Z', 30, 300, 5);
            """)
        let sandbox = try Sandbox(paths: paths)
        #expect(try mismatched(sandbox).isEmpty)
        let listed = try sandbox.listProjects().projects
        #expect(listed.map(\.id.rawValue) == ["prj_0000000a", "prj_0000000b", "prj_0000000c"])
        #expect(listed[1].metrics == Metrics(totalAgents: 2, activeAgents: 1, tokensUsed: 50, totalCost: Money(micros: 500), totalRevenue: Money(micros: 5)))
        #expect(listed[2].metrics.totalAgents == 0)
    }
}
