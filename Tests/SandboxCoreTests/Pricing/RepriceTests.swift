import Foundation
import SQLiteDB
import Testing
@testable import SandboxCore

/// The whole ledger of a sandbox, to show that nothing changed.
private func ledger(_ sandbox: Sandbox) throws -> [String] {
    try sandbox.db.query("SELECT id, cost_micros, price_source FROM api_costs ORDER BY id") { "\($0.int64(0)) \($0.int64(1)) \($0.text(2))" }
        + sandbox.db.query("SELECT id, cost_micros, status FROM agents ORDER BY id") { "\($0.text(0)) \($0.int64(1)) \($0.text(2))" }
        + sandbox.db.query("SELECT cost_micros FROM sandbox_totals") { "\($0.int64(0))" }
}

/// Every total equals the sum of its records.
private func expectTotalsExact(_ sandbox: Sandbox, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let mismatched = try sandbox.db.scalarInt("""
        SELECT count(*) FROM agents a
        WHERE a.cost_micros <> (SELECT coalesce(sum(cost_micros), 0) FROM api_costs WHERE agent_id = a.id)
        """)
    #expect(mismatched == 0, sourceLocation: sourceLocation)
    let total = try sandbox.db.scalarInt("SELECT cost_micros FROM sandbox_totals")
    #expect(total == (try sandbox.db.scalarInt("SELECT coalesce(sum(cost_micros), 0) FROM api_costs")), sourceLocation: sourceLocation)
}

/// Every stored cost is explained by its price source: recomputed from the entry it names, it is the same.
private func expectCostsExplained(_ sandbox: Sandbox, sourceLocation: SourceLocation = #_sourceLocation) throws {
    // `table:` names a built-in entry; `override:` the user's file as it is now.
    let entries = PriceCatalog.builtIn.entries + (try sandbox.prices().entries)
    let rows = try sandbox.db.query("""
        SELECT model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_ttl, batch, cost_micros, price_source, recorded_at
        FROM api_costs
        """) { row in
        (row.text(0), TokenCounts(input: row.int64(1), output: row.int64(2), cacheRead: row.int64(3), cacheWrite: row.int64(4)),
         CacheDuration(rawValue: row.text(5))!, row.int64(6) == 1, row.int64(7), row.text(8), row.text(9))
    }
    for (model, tokens, ttl, batch, cost, source, time) in rows where source != "explicit" {
        let entry = try #require(entries.first { $0.model == model && $0.priceSource == source && $0.isInForce(at: time) }, sourceLocation: sourceLocation)
        #expect(try entry.cost(of: tokens, batch: batch, cacheDuration: ttl).micros == cost, sourceLocation: sourceLocation)
    }
}

@Suite struct RepriceTests {
    @Test func everyRecordSaysWhereItsCostCameFrom() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let cached = try sandbox.recordUsage(
            agent: seed.winner, model: "sonnet-4", tokens: TokenCounts(input: 2_000, output: 1_000, cacheRead: 50_000, cacheWrite: 10_000)
        )
        #expect(cached.cost.micros == 73_500 && cached.totalTokens == 63_000 && cached.priceSource == "table:claude-sonnet-4@2025-05-22")
        let batch = try sandbox.recordUsage(agent: seed.winner, model: "gpt-4o", tokens: TokenCounts(input: 1_000_000, output: 0), batch: true)
        #expect(batch.cost.micros == 1_250_000 && batch.batch)
        let explicit = try sandbox.recordUsage(agent: seed.winner, model: "my-own-model", inputTokens: 5, outputTokens: 5, cost: dollars("0.25"))
        #expect(explicit.priceSource == "explicit" && explicit.model == "my-own-model")
        #expect(throws: SandboxError.unknownModel("my-own-model")) {
            try sandbox.recordUsage(agent: seed.winner, model: "my-own-model", inputTokens: 5, outputTokens: 5)
        }
        try expectCostsExplained(sandbox)
        try expectTotalsExact(sandbox)
        // Budgets count all four kinds of tokens.
        #expect(try sandbox.agent(seed.winner).tokensUsed == 120_000 + 63_000 + 1_000_000 + 10)
    }

    @Test func aDryRunChangesNothingAndRepriceKeepsTotalsExact() throws {
        let home = try makeHome()
        var sandbox = try makeSandbox(home: home)
        let seed = try seededProject(sandbox)
        _ = try sandbox.recordUsage(agent: seed.loser, model: "claude-haiku-3.5", tokens: TokenCounts(input: 333_333, output: 77_777, cacheRead: 1_001))
        _ = try sandbox.recordUsage(agent: seed.loser, model: "claude-haiku-3.5", inputTokens: 10, outputTokens: 10, cost: dollars("9"))
        let other = try sandbox.createProject(name: "other")
        let bystander = try sandbox.deployAgent(project: other.id, type: "t")
        _ = try sandbox.recordUsage(agent: bystander.id, model: "claude-haiku-3.5", inputTokens: 1_000_000, outputTokens: 0)
        let before = try ledger(sandbox)

        // The user corrects Haiku 3.5's prices and adds nothing else.
        try Data(#"{"models": [{"model": "claude-haiku-3.5", "input": 1, "output": 5, "cache_read": 0.1}]}"#.utf8)
            .write(to: SandboxPaths(home: home).priceFile)
        sandbox = try makeSandbox(home: home)
        let preview = try sandbox.reprice(dryRun: true)
        #expect(try ledger(sandbox) == before)
        #expect(preview.dryRun && preview.changedRecords == 2 && preview.examinedRecords == 4 && preview.unpricedRecords == 0)
        #expect(preview.models.map(\.model) == ["claude-haiku-3.5"])
        let haiku = try #require(preview.models.first)
        // 333 333 × 0.8 + 77 777 × 4 + 1 001 × 0.08 = 577 854.48 → 577 854; then × 1, × 5, × 0.1: 722 318.1 → 722 318.
        #expect(haiku.oldCost.micros == 577_854 + 800_000 && haiku.newCost.micros == 722_318 + 1_000_000)
        #expect(haiku.difference.micros == 344_464)

        // One project only: the bystander keeps its cost.
        let applied = try sandbox.reprice(project: seed.project)
        #expect(!applied.dryRun && applied.changedRecords == 1)
        #expect(try sandbox.db.scalarInt("SELECT cost_micros FROM agents WHERE id = ?", [bystander.id.rawValue]) == 800_000)
        try expectTotalsExact(sandbox)
        try expectCostsExplained(sandbox)
        // The explicit $9 is never repriced.
        #expect(try sandbox.db.scalarInt("SELECT count(*) FROM api_costs WHERE cost_micros = 9000000 AND price_source = 'explicit'") == 1)

        // Everything else; a second run finds nothing left to change.
        #expect(try sandbox.reprice().changedRecords == 1)
        #expect(try sandbox.reprice().changedRecords == 0)
        try expectTotalsExact(sandbox)
        try expectCostsExplained(sandbox)
    }

    @Test func sinceLimitsTheRecordsAndAMissingPriceLeavesARecordAlone() throws {
        let home = try makeHome()
        var now = fixedDate
        var sandbox = try Sandbox(paths: SandboxPaths(home: home), clock: { now })
        let project = try sandbox.createProject(name: "p")
        let agent = try sandbox.deployAgent(project: project.id, type: "t", configJSON: #"{"token_budget": 100000000}"#)
        let file = SandboxPaths(home: home).priceFile
        try Data(#"{"models": [{"model": "local", "input": 1, "output": 1}]}"#.utf8).write(to: file)
        sandbox = try Sandbox(paths: SandboxPaths(home: home), clock: { now })
        _ = try sandbox.recordUsage(agent: agent.id, model: "local", inputTokens: 1_000_000, outputTokens: 0)
        _ = try sandbox.recordUsage(agent: agent.id, model: "gpt-4o", inputTokens: 1_000_000, outputTokens: 0)
        now = fixedDate.addingTimeInterval(86_400 * 2)
        _ = try sandbox.recordUsage(agent: agent.id, model: "gpt-4o", inputTokens: 1_000_000, outputTokens: 0)

        // The override file now drops "local" and doubles gpt-4o.
        try Data(#"{"models": [{"model": "gpt-4o", "input": 5, "output": 20}]}"#.utf8).write(to: file)
        sandbox = try Sandbox(paths: SandboxPaths(home: home), clock: { now })
        let result = try sandbox.reprice(since: fixedDate.addingTimeInterval(86_400))
        #expect(result.examinedRecords == 1 && result.changedRecords == 1 && result.newCost.micros == 5_000_000)
        let all = try sandbox.reprice()
        #expect(all.unpricedRecords == 1 && all.changedRecords == 1)
        #expect(try sandbox.db.scalarInt("SELECT cost_micros FROM api_costs WHERE model = 'local'") == 1_000_000)
        try expectTotalsExact(sandbox)
    }

    @Test func aRepriceThatReachesTheCapPausesTheProject() throws {
        let home = try makeHome()
        var sandbox = try makeSandbox(home: home)
        let project = try sandbox.createProject(name: "capped", budget: dollars("10"))
        let agent = try sandbox.deployAgent(project: project.id, type: "t", configJSON: #"{"token_budget": 100000000}"#)
        _ = try sandbox.recordUsage(agent: agent.id, model: "claude-opus-4", inputTokens: 500_000, outputTokens: 0) // $7.50
        try Data(#"{"models": [{"model": "claude-opus-4", "input": 30, "output": 150}]}"#.utf8).write(to: SandboxPaths(home: home).priceFile)
        sandbox = try makeSandbox(home: home)
        #expect(try sandbox.reprice(dryRun: true).pausedAgents.isEmpty)
        #expect(try sandbox.agent(agent.id).status == .active)
        let result = try sandbox.reprice()
        #expect(result.budgetExceeded && result.pausedAgents == [agent.id])
        #expect(try sandbox.agent(agent.id).pauseReason == .projectBudgetExceeded)
    }

    @Test func unknownProjectIsRefused() throws {
        let sandbox = try makeSandbox()
        #expect(throws: SandboxError.self) { try sandbox.reprice(project: ProjectID("prj_00000000")) }
    }
}

@Suite struct PricingMigrationTests {
    /// A version 6 database (before prices were stamped) is upgraded, and each old record is
    /// explained: a cost equal to the old table's price is `table:`, any other `explicit`.
    @Test func oldRecordsGetTheirPriceSource() throws {
        let home = try makeHome()
        let paths = SandboxPaths(home: home)
        try FileManager.default.createDirectory(at: paths.projectsFolder, withIntermediateDirectories: true)
        let db = try Connection(path: paths.sandboxDatabase.path)
        for migration in Schema.sandboxMigrations.prefix(6) { try db.execute(migration) }
        try db.setUserVersion(6)
        try db.execute("""
            INSERT INTO projects (id, name, status, created_at) VALUES ('prj_0000000a', 'old', 'active', '2026-01-01T00:00:00Z');
            INSERT INTO agents (id, project_id, type, name, status, token_budget, normal_token_budget, deployed_at, cost_micros)
                VALUES ('agt_00000000000a', 'prj_0000000a', 't', 't', 'active', 1000000, 100000, '2026-01-01T00:00:00Z', 9108100);
            INSERT INTO api_costs (agent_id, model, operation, input_tokens, output_tokens, cost_micros, recorded_at) VALUES
                ('agt_00000000000a', 'claude-sonnet-4', 'x', 1200, 300, 8100, '2026-01-01T00:00:00Z'),
                ('agt_00000000000a', 'gpt-4o', 'x', 1000000, 0, 2500000, '2026-01-01T00:00:00Z'),
                ('agt_00000000000a', 'gpt-4o-mini', 'x', 10, 0, 2, '2026-01-01T00:00:00Z'),
                ('agt_00000000000a', 'claude-sonnet-4', 'x', 1200, 300, 6600000, '2026-01-01T00:00:00Z');
            """)
        let sandbox = try Sandbox(paths: paths)
        let sources = try sandbox.db.query("SELECT price_source FROM api_costs ORDER BY id") { $0.text(0) }
        #expect(sources == ["table:claude-sonnet-4@2025-05-22", "table:gpt-4o@2024-10-02", "table:gpt-4o-mini@2024-07-18", "explicit"])
        try expectCostsExplained(sandbox)
        #expect(try sandbox.reprice().changedRecords == 0)
    }
}
