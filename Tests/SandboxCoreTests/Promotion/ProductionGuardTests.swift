import Foundation
import PostgresTestSupport
import SQLiteDB
import Testing
@testable import SandboxCore

/// Production after promotion (schema version 5): the ledger of live agents, guardrails,
/// checks that roll back a failing agent, rollbacks and retirements by hand, and the history
/// of every change.
@Suite struct ProductionGuardTests {
    final class Clock: @unchecked Sendable {
        var now = Date(timeIntervalSince1970: 1_800_000_000)
        func advance(hours: Double) { now = now.addingTimeInterval(hours * 3_600) }
    }

    /// A sandbox and production sharing one home and one clock; production in `production.db`
    /// or in a registry on PostgreSQL of its own (`backend`).
    struct World {
        let clock = Clock()
        let sandbox: Sandbox
        let registry: ProductionRegistry?
        let ledger: () throws -> ProductionLedger
        let guardian: () throws -> ProductionGuard
        let production: () -> Production

        init(_ backend: ProductionBackend = .sqlite) throws {
            let home = try makeHome()
            let clock = clock
            sandbox = try Sandbox(paths: SandboxPaths(home: home), clock: { clock.now })
            let paths = sandbox.paths
            let registry = try backend.registry()
            self.registry = registry
            ledger = { try ProductionLedger(paths: paths, registry: registry, clock: { clock.now }) }
            guardian = { try ProductionGuard(paths: paths, registry: registry, clock: { clock.now }) }
            production = { Production(paths: paths, registry: registry) }
        }

        /// Promotes a new project whose one agent, `name`, made `revenue` on $0.012 of
        /// sandbox cost (haiku, 10k in and 1k out: ROI 41,567% for $5).
        @discardableResult
        func promote(_ name: String, revenue: String = "5", guardrails: [String] = []) throws -> AgentID {
            let project = try sandbox.createProject(name: "for \(name)")
            let agent = try sandbox.deployAgent(project: project.id, type: "customer_support", name: name)
            _ = try sandbox.recordUsage(agent: agent.id, model: "claude-haiku-3.5", inputTokens: 10_000, outputTokens: 1_000)
            _ = try sandbox.recordRevenue(agent: agent.id, amount: dollars(revenue))
            return try #require(try sandbox.promote(project.id, guardrails: guardrails, registry: registry).migratedAgents.first?.productionID)
        }

        /// The first column of the first row of `sql`, read from production (either backend).
        func storedText(_ sql: String) throws -> String? {
            try ledger().db.scalarText(sql)
        }

        /// `count` usage events of $1 each and `revenue` in all, recorded now.
        func trade(_ subject: String, events count: Int, revenue: String) throws {
            let ledger = try ledger()
            for _ in 0..<count {
                _ = try ledger.recordUsage(agent: subject, model: "claude-sonnet-4", tokens: TokenCounts(input: 10, output: 10), cost: dollars("1"))
            }
            if dollars(revenue).micros > 0 { _ = try ledger.recordRevenue(agent: subject, amount: dollars(revenue)) }
        }
    }

    @Test(arguments: ProductionBackend.available) func promotionGivesEachAgentItsGuardrailsAndSandboxFigures(backend: ProductionBackend) throws {
        let world = try World(backend)
        let agent = try world.promote("support", guardrails: ["min_roi=10", "window=7d", "bake_time=0", "min_roi=12.5"])
        let shown = try world.guardian().guardrails(of: "support")
        #expect(shown.agentID == agent)
        #expect(shown.policy.minROI == 12.5 && shown.policy.window == 7 * 86_400 && shown.policy.bakeTime == 0)
        #expect(shown.policy.minROIVsSandbox == 50 && shown.policy.minEvents == 20 && shown.policy.failureLimit == 3)
        let metrics = try world.ledger().metrics(of: agent.rawValue)
        #expect(metrics.sandbox?.revenue == dollars("5"))
        #expect(metrics.sandbox?.usageEvents == 1 && metrics.sandbox?.tokens == 11_000)
        #expect(metrics.production.usageEvents == 0)

        // A bad guardrail is refused before anything is planned.
        let project = try world.sandbox.createProject(name: "bad").id
        for pair in ["min_roi=abc", "windw=1h", "failure_limit=0", "window=0", "min_events=-1", "min_roi=1e3", "min_roi=nan", "=3", "min_roi="] {
            #expect(throws: SandboxError.self, "\(pair)") { try world.sandbox.promote(project, guardrails: [pair]) }
        }
        #expect(try world.sandbox.promotionState(project) == nil)
    }

    @Test(arguments: ProductionBackend.available) func onlyTheLiveVersionRecordsAndItsBudgetBinds(backend: ProductionBackend) throws {
        let world = try World(backend)
        let first = try world.promote("support")
        let second = try world.promote("support")
        let ledger = try world.ledger()
        #expect(throws: SandboxError.self) { try ledger.recordRevenue(agent: first.rawValue, amount: dollars("1")) }
        #expect(throws: SandboxError.self) { try ledger.recordRevenue(agent: "nobody", amount: dollars("1")) }
        #expect(try ledger.recordRevenue(agent: "support", amount: dollars("1")).agentID == second)

        // The normal budget (20,000 tokens for customer_support, a tenth of its sandbox budget)
        // binds: the call that reaches it pauses the agent, and the history says so.
        let record = try ledger.recordUsage(agent: "support", model: "claude-haiku-3.5", tokens: TokenCounts(input: 20_000, output: 0))
        #expect(record.budgetExceeded && record.pausedAgents == [second])
        var history = try world.production().history(of: "support").events
        #expect(history.last?.kind == "budget" && history.last?.actor == "budget" && history.last?.agentID == second)

        // Raised above what it used, the budget resumes it; lowered again, it pauses it at once.
        let raised = try ledger.setTokenBudget(of: "support", tokens: 50_000)
        #expect(raised.resumedAgents == [second] && !raised.budgetExceeded)
        let lowered = try ledger.setTokenBudget(of: second.rawValue, tokens: 1_000)
        #expect(lowered.pausedAgents == [second] && lowered.resumedAgents.isEmpty)
        #expect(throws: SandboxError.self) { try ledger.setTokenBudget(of: "support", tokens: 0) }
        history = try world.production().history(of: "support").events
        #expect(history.suffix(3).map(\.actor) == ["production budget", "production budget", "budget"])
        #expect(history.suffix(3).allSatisfy { $0.kind == "budget" })
    }

    @Test(arguments: ProductionBackend.available) func productionImportTakesLiveAgentsOnly(backend: ProductionBackend) throws {
        let world = try World(backend)
        let first = try world.promote("support")
        let second = try world.promote("support")
        let file = world.sandbox.paths.home.appendingPathComponent("events.jsonl")
        let good = #"{"type":"usage","agent_id":"\#(second)","model":"claude-sonnet-4","input_tokens":1000,"output_tokens":100,"id":"u1"}"# + "\n"
            + #"{"type":"revenue","agent_id":"\#(second)","amount":2.5,"id":"r1"}"# + "\n"
        try good.write(to: file, atomically: true, encoding: .utf8)
        let summary = try importFile(file, into: world.ledger())
        #expect(summary.committed && summary.new == 2 && summary.revenue == dollars("2.5"))
        #expect(try importFile(file, into: world.ledger()).duplicate == 2)

        let mixed = good + #"{"type":"revenue","agent_id":"\#(first)","amount":1}"# + "\n"
        try mixed.write(to: file, atomically: true, encoding: .utf8)
        let refused = try importFile(file, into: world.ledger())
        #expect(!refused.committed && refused.rejected == 1)
        #expect(refused.errors.first?.message.contains("standby") == true)
        #expect(try world.ledger().metrics(of: "support").production.revenue == dollars("2.5"))
    }

    /// Text with tabs, newlines, backslashes and quotes arrives exactly (PostgreSQL's COPY has
    /// its own escaping), an event ID repeated in the file counts once, and the totals are the
    /// sums of what was new.
    @Test(arguments: ProductionBackend.available) func anImportKeepsTextExactlyAndCountsDuplicatesInTheFile(backend: ProductionBackend) throws {
        let world = try World(backend)
        let agent = try world.promote("support")
        let hostile = #"tab\there \\N back\\slash \"quoted\" new\nline \r é 😀"#
        let lines = [
            #"{"type":"revenue","agent_id":"\#(agent)","amount":1.5,"id":"r1","source":"\#(hostile)","description":"\#(hostile)"}"#,
            #"{"type":"revenue","agent_id":"\#(agent)","amount":9,"id":"r1"}"#, // the same ID: a duplicate
            #"{"type":"usage","agent_id":"\#(agent)","model":"claude-sonnet-4","operation":"\#(hostile)","input_tokens":100,"output_tokens":10,"id":"u1"}"#,
            #"{"type":"usage","agent_id":"\#(agent)","model":"claude-sonnet-4","input_tokens":100,"output_tokens":10}"#,
        ]
        let file = world.sandbox.paths.home.appendingPathComponent("hostile.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let summary = try importFile(file, into: world.ledger())
        #expect(summary.committed && summary.lines == 4 && summary.new == 3 && summary.duplicate == 1)
        #expect(summary.usageEvents == 2 && summary.revenueEvents == 1 && summary.revenue == dollars("1.5") && summary.tokens == 220)
        let metrics = try world.ledger().metrics(of: "support").production
        #expect(metrics.revenue == dollars("1.5") && metrics.usageEvents == 2 && metrics.tokens == 220 && metrics.cost == summary.cost)
        // Again: the three with an ID are duplicates; the one without is recorded once more.
        let again = try importFile(file, into: world.ledger())
        #expect(again.committed && again.new == 1 && again.duplicate == 3 && again.tokens == 110)
        let expected = "tab\there \\N back\\slash \"quoted\" new\nline \r é 😀"
        #expect(try world.storedText("SELECT source FROM revenue WHERE event_id = 'r1'") == expected)
        #expect(try world.storedText("SELECT description FROM revenue WHERE event_id = 'r1'") == expected)
        #expect(try world.storedText("SELECT operation FROM api_costs WHERE event_id = 'u1'") == expected)
    }

    /// A large import (on PostgreSQL streamed into the table while it is read, in many pieces)
    /// with an agent first seen halfway, then one whose last line repeats an event ID from the
    /// first (on PostgreSQL the direct copy is undone and the records go in through staging):
    /// both count exactly what was new, and the agents' totals are the sums of their records.
    @Test(arguments: ProductionBackend.available) func aLargeImportCountsExactlyWhetherOrNotAnEventWasRecordedBefore(backend: ProductionBackend) throws {
        let world = try World(backend)
        let first = try world.promote("support")
        let second = try world.promote("billing")
        func usage(_ agent: AgentID, _ id: String, _ tokens: Int) -> String {
            #"{"type":"usage","agent_id":"\#(agent)","model":"claude-sonnet-4","input_tokens":\#(tokens),"output_tokens":7,"id":"\#(id)"}"#
        }
        var lines = (0..<12_000).map { usage(first, "a\($0)", 100 + $0 % 50) }
        lines += (0..<12_000).map { $0 % 3 == 0 ? #"{"type":"revenue","agent_id":"\#(second)","amount":0.25,"id":"r\#($0)"}"# : usage($0 % 2 == 0 ? first : second, "b\($0)", 40) }
        let file = world.sandbox.paths.home.appendingPathComponent("large.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let summary = try importFile(file, into: world.ledger())
        #expect(summary.committed && summary.new == 24_000 && summary.duplicate == 0)
        #expect(summary.usageEvents == 20_000 && summary.revenueEvents == 4_000 && summary.revenue == dollars("1000"))

        let later = (0..<5_000).map { usage(second, "c\($0)", 9) } + [usage(first, "a11999", 5), #"{"type":"revenue","agent_id":"\#(second)","amount":3,"id":"r0"}"#]
        try (later.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let again = try importFile(file, into: world.ledger())
        #expect(again.committed && again.new == 5_000 && again.duplicate == 2 && again.tokens == 5_000 * 16 && again.revenue == .zero)

        for agent in [first, second] {
            let recorded = try world.storedText(
                "SELECT (SELECT sum(input_tokens + output_tokens) FROM api_costs WHERE agent_id = '\(agent)') || ' ' || (SELECT coalesce(sum(amount_micros), 0) FROM revenue WHERE agent_id = '\(agent)')"
            )
            let totals = try world.storedText("SELECT tokens_used || ' ' || revenue_micros FROM agents WHERE id = '\(agent)'")
            #expect(recorded == totals)
        }
        #expect(try world.storedText("SELECT count(*) FROM api_costs") == "25000")
        #expect(try world.storedText("SELECT count(*) FROM revenue") == "4000")
    }

    /// Event IDs with quotes, backslashes, braces and commas are found again exactly (on
    /// PostgreSQL the first IDs of a file are looked up in an array before the direct copy).
    @Test(arguments: ProductionBackend.available) func eventIDsOfAnyTextAreFoundAgain(backend: ProductionBackend) throws {
        let world = try World(backend)
        let agent = try world.promote("support")
        let ids = [#"a\"b"#, #"c\\d"#, "{x,y}", " NULL ", "é😀", #"\\\""#] // as JSON: a"b, c\d, …, \"
        let lines = ids.map { #"{"type":"usage","agent_id":"\#(agent)","model":"claude-sonnet-4","input_tokens":1,"output_tokens":1,"id":"\#($0)"}"# }
            + ids.map { #"{"type":"revenue","agent_id":"\#(agent)","amount":1,"id":"\#($0)"}"# }
        let file = world.sandbox.paths.home.appendingPathComponent("ids.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let first = try importFile(file, into: world.ledger())
        #expect(first.committed && first.new == 12 && first.duplicate == 0, "\(first)")
        let again = try importFile(file, into: world.ledger())
        #expect(again.committed && again.new == 0 && again.duplicate == 12 && again.tokens == 0 && again.revenue == .zero)
        #expect(try world.storedText("SELECT count(*) FROM api_costs WHERE event_id = '{x,y}'") == "1")
    }

    /// Sums that would overflow only if the duplicates counted: one record, the rest skipped,
    /// on both backends (PostgreSQL learns which were new only at the end). Were they all new,
    /// the import is refused, and nothing recorded.
    @Test(arguments: ProductionBackend.available) func duplicatesNeverOverflowTheSums(backend: ProductionBackend) throws {
        let world = try World(backend)
        let agent = try world.promote("support")
        let file = world.sandbox.paths.home.appendingPathComponent("big.jsonl")
        let line = #"{"type":"revenue","agent_id":"\#(agent)","amount":1000000000,"id":"same"}"#
        try String(repeating: line + "\n", count: 9_300).write(to: file, atomically: true, encoding: .utf8)
        let summary = try importFile(file, into: world.ledger())
        #expect(summary.committed && summary.new == 1 && summary.duplicate == 9_299 && summary.revenue == dollars("1000000000"))

        let distinct = (0..<9_300).map { #"{"type":"revenue","agent_id":"\#(agent)","amount":1000000000,"id":"r\#($0)"}"# }
        try (distinct.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        #expect { try importFile(file, into: world.ledger()) } throws: { "\($0)".contains("total overflow") && "\($0)".contains("nothing was imported") }
        #expect(try world.storedText("SELECT count(*) FROM revenue") == "1")
    }

    private func importFile(_ file: URL, into ledger: ProductionLedger) throws -> ImportSummary {
        let descriptor = open(file.path, O_RDONLY)
        defer { close(descriptor) }
        return try ledger.importEvents(fileDescriptor: descriptor, source: file.path)
    }

    @Test(arguments: ProductionBackend.available) func checksAreInconclusiveWhileBakingOrWithFewEventsAndRollBackAtTheLimit(backend: ProductionBackend) throws {
        let world = try World(backend)
        let first = try world.promote("support")
        let second = try world.promote(
            "support", guardrails: ["min_events=5", "bake_time=2h", "window=1h", "failure_limit=2", "min_roi_vs_sandbox=0"]
        )
        let guardian = try world.guardian()

        // Baking: no verdict, whatever the figures.
        try world.trade("support", events: 5, revenue: "0")
        var check = try #require(try guardian.check().checks.first { $0.agentID == second })
        #expect(check.verdict == .inconclusive && check.reason.hasPrefix("baking"))

        // Baked, but too few events in the window (the first five are outside it now).
        world.clock.advance(hours: 3)
        try world.trade("support", events: 2, revenue: "1")
        check = try #require(try guardian.check().checks.first { $0.agentID == second })
        #expect(check.verdict == .inconclusive && check.measured.usageEvents == 2)

        // Unprofitable: a failure, then a pass resets the count, then two failures roll back.
        try world.trade("support", events: 5, revenue: "0")
        check = try #require(try guardian.check().checks.first { $0.agentID == second })
        #expect(check.verdict == .fail && check.consecutiveFailures == 1 && check.action == .none)
        #expect(check.criteria.first { $0.name == "min_roi" }?.pass == false)
        try world.trade("support", events: 0, revenue: "100")
        check = try #require(try guardian.check().checks.first { $0.agentID == second })
        #expect(check.verdict == .pass && check.consecutiveFailures == 0)

        world.clock.advance(hours: 1.5)
        try world.trade("support", events: 6, revenue: "1")
        check = try #require(try guardian.check().checks.first { $0.agentID == second })
        #expect(check.verdict == .fail && check.consecutiveFailures == 1)
        let dryRun = try guardian.check(dryRun: true)
        #expect(dryRun.wouldRollBack == [second] && dryRun.rolledBack.isEmpty)
        #expect(dryRun.checks.first { $0.agentID == second }?.action == .wouldRollBack)
        #expect(try world.production().slot("support").live == second) // the dry run changed nothing

        let report = try guardian.check()
        check = try #require(report.checks.first { $0.agentID == second })
        #expect(check.verdict == .fail && check.consecutiveFailures == 2 && check.action == .rolledBack && check.liveAfter == first)
        #expect(report.rolledBack == [second])
        let slot = try world.production().slot("support")
        #expect(slot.live == first)
        #expect(slot.versions.map(\.state) == [.rolledBack, .live])
        #expect(slot.events.last?.kind == "rollback" && slot.events.last?.actor == "production check" && slot.events.last?.liveAgentID == first)
        let stored = try guardian.checks(of: second.rawValue)
        #expect(stored.count == 6)
        #expect(stored.first?.action == .rolledBack && stored.first?.liveAfter == first && stored.first?.checkID != nil)

        // The rolled-back agent records no more; the restored one does, and bakes afresh.
        #expect(throws: SandboxError.self) { try world.ledger().recordRevenue(agent: second.rawValue, amount: dollars("1")) }
        #expect(try world.ledger().recordRevenue(agent: "support", amount: dollars("1")).agentID == first)
        #expect(try guardian.check().checks.map(\.verdict) == [.inconclusive])
    }

    @Test(arguments: ProductionBackend.available) func theSandboxComparisonFailsAnAgentThatEarnsFarLessThanItDidThere(backend: ProductionBackend) throws {
        let world = try World(backend)
        // Sandbox ROI: $0.012 of cost earned $0.024, 100%; production at 20% is under half of it.
        let agent = try world.promote("support", revenue: "0.024", guardrails: ["bake_time=0", "min_events=1", "failure_limit=1"])
        try world.trade("support", events: 5, revenue: "6")
        let check = try #require(try world.guardian().check(dryRun: true).checks.first)
        #expect(check.agentID == agent)
        #expect(check.verdict == .fail)
        let comparison = try #require(check.criteria.first { $0.name == "min_roi_vs_sandbox" })
        #expect(comparison.pass == false && comparison.threshold == 50 && comparison.value == 20)
        #expect(check.criteria.first { $0.name == "min_roi" }?.pass == true)
    }

    /// A confirmation never stands for a change it did not see: retiring a standby needs none,
    /// but if a rollback puts that standby live before the retirement runs, the retirement
    /// would empty the slot, so it is refused and nothing changes.
    @Test(arguments: ProductionBackend.available) func aChangeTheSlotOutranSinceItsPreviewIsRefused(backend: ProductionBackend) throws {
        let world = try World(backend)
        let first = try world.promote("support")
        let second = try world.promote("support")
        let guardian = try world.guardian()
        let retirePreview = try guardian.preview(.retire, first.rawValue)
        #expect(retirePreview.liveBefore == second && retirePreview.liveAfter == second)
        _ = try guardian.rollback("support", expected: try guardian.preview(.rollback, "support")) // first goes live
        #expect(throws: SandboxError.self) { try guardian.retire(first.rawValue, expected: retirePreview) }
        let slot = try world.production().slot("support")
        #expect(slot.live == first)
        #expect(try world.production().history(of: "support").events.filter { $0.kind == "retire" }.isEmpty)
        // Looked at again, it goes through, as confirmed.
        let fresh = try guardian.preview(.retire, first.rawValue)
        #expect(try guardian.retire(first.rawValue, expected: fresh).liveAfter == nil)
        #expect(throws: SandboxError.notFound(kind: "production slot named", id: "nothing", hint: "'novaos production list' shows the slots")) {
            try world.production().slot("nothing")
        }
    }

    @Test(arguments: ProductionBackend.available) func rollbackAndRetireByHand(backend: ProductionBackend) throws {
        let world = try World(backend)
        let first = try world.promote("support")
        let second = try world.promote("support")
        let third = try world.promote("support")
        let guardian = try world.guardian()

        #expect(throws: SandboxError.self) { try guardian.rollback(first.rawValue) } // a standby is not live
        #expect(throws: SandboxError.self) { try guardian.rollback("support", to: third.rawValue) } // the live one is no target
        #expect(throws: SandboxError.self) { try guardian.rollback("support", to: "prd_0000000000000000") }
        let preview = try guardian.preview(.rollback, "support", to: first.rawValue)
        #expect(preview.liveAfter == first && preview.eventID == nil)
        #expect(try world.production().slot("support").live == third)

        let change = try guardian.rollback("support", to: first.rawValue, reason: "complaints")
        #expect(change.changed && change.agentID == third && change.liveBefore == third && change.liveAfter == first && change.eventID != nil)
        // Named by its ID again (a re-run after a crash), it is left as it is.
        let again = try guardian.rollback(third.rawValue)
        #expect(!again.changed && again.eventID == nil)

        // Retiring a standby changes no live version; retiring the live one brings the newest standby.
        #expect(try guardian.retire(second.rawValue).liveAfter == first)
        let retired = try guardian.retire(first.rawValue, reason: "end of life")
        #expect(retired.liveAfter == nil)
        #expect(!(try guardian.retire(first.rawValue).changed))
        #expect(throws: SandboxError.self) { try guardian.rollback("support") } // the slot is empty
        #expect(throws: SandboxError.self) { try guardian.retire("support") } // retire takes an agent ID

        let slot = try world.production().slot("support")
        #expect(slot.live == nil)
        #expect(slot.versions.map(\.state) == [.rolledBack, .retired, .retired])
        #expect(slot.events.map(\.kind) == ["promotion", "promotion", "promotion", "rollback", "retire", "retire"])
        #expect(slot.events.map(\.liveAgentID) == [first, second, third, first, first, nil])
        #expect(slot.events[3].reason == "complaints" && slot.events[3].actor == "production rollback")
        // A new promotion fills the empty slot.
        let fourth = try world.promote("support")
        #expect(try world.production().slot("support").live == fourth)
    }

    @Test(arguments: ProductionBackend.available) func aCrashInsideARollbackLeavesTheSlotAsItWas(backend: ProductionBackend) throws {
        struct Crash: Error {}
        for step in SlotChangeStep.allCases {
            let world = try World(backend)
            let first = try world.promote("support", guardrails: ["bake_time=0", "min_events=1", "failure_limit=1"])
            let second = try world.promote("support", guardrails: ["bake_time=0", "min_events=1", "failure_limit=1"])
            try world.trade("support", events: 2, revenue: "0")
            #expect(throws: Crash.self) { try world.guardian().check { if $0 == step { throw Crash() } } }
            #expect(throws: Crash.self) { try world.guardian().rollback("support") { if $0 == step { throw Crash() } } }
            let slot = try world.production().slot("support")
            #expect(slot.live == second, "\(step)")
            #expect(slot.events.count == 2, "\(step)")
            // Run again, the check rolls back exactly once.
            let report = try world.guardian().check()
            #expect(report.rolledBack == [second])
            let after = try world.production().slot("support")
            #expect(after.live == first && after.events.filter { $0.kind == "rollback" }.count == 1, "\(step)")
        }
    }

    @Test func thresholdsAreJudgedExactlyAtTheBoundary() {
        // ROI exactly 0.07 %: at least 0.07 (floating point would say 700 < 700.0000000000001).
        #expect(ExactROI.atLeast(revenue: 10_007, cost: 10_000, percent: 0.07))
        #expect(!ExactROI.atLeast(revenue: 10_006, cost: 10_000, percent: 0.07))
        #expect(ExactROI.atLeast(revenue: 5, cost: 0, percent: 1_000))
        #expect(ExactROI.atLeast(revenue: 0, cost: 10, percent: -100) && !ExactROI.atLeast(revenue: 0, cost: 10, percent: -99.9999))
        // Production ROI 6.7568 % is exactly half of the sandbox's 13.5136 %.
        #expect(ExactROI.atLeast(revenue: 1_067_568, cost: 1_000_000, share: 50, ofRevenue: 1_135_136, cost: 1_000_000))
        #expect(!ExactROI.atLeast(revenue: 1_067_567, cost: 1_000_000, share: 50, ofRevenue: 1_135_136, cost: 1_000_000))
        // Amounts past 128 bits fall back to a ratio comparison rather than overflow.
        #expect(ExactROI.atLeast(revenue: .max, cost: .max / 2, share: 99, ofRevenue: .max, cost: .max / 2))
        #expect(!ExactROI.atLeast(revenue: .max, cost: .max / 2, share: 101, ofRevenue: .max, cost: .max / 2))
        var policy = GuardrailPolicy()
        #expect(throws: SandboxError.self) { try policy.set("min_roi", to: "0.00001") }
        #expect(throws: Never.self) { try policy.set("min_roi", to: "-12.3456%") }
        #expect(policy.minROI == -12.3456)
    }

    @Test(arguments: ProductionBackend.available) func aRollbackRestoresTheVersionLiveMostRecently(backend: ProductionBackend) throws {
        let world = try World(backend)
        let a = try world.promote("support")
        _ = try world.promote("support")
        _ = try world.promote("support")
        world.clock.advance(hours: 1)
        _ = try world.guardian().rollback("support", to: a.rawValue) // C rolled back, A live again (B stays standby)
        world.clock.advance(hours: 1)
        _ = try world.promote("support") // D live; A and B on standby, A live more recently
        #expect(try world.guardian().rollback("support").liveAfter == a)
    }

    @Test(arguments: ProductionBackend.available) func guardrailChangesAreInTheHistory(backend: ProductionBackend) throws {
        let world = try World(backend)
        let agent = try world.promote("support")
        let guardian = try world.guardian()
        let change = try guardian.setGuardrails(of: "support", ["min_roi=25", "failure_limit=5"])
        #expect(change.previous?.minROI == 0 && change.policy.minROI == 25 && change.changes == ["min_roi 0% → 25%", "failure_limit 3 → 5"])
        #expect(try guardian.setGuardrails(of: agent.rawValue, ["min_roi=25"]).changes.isEmpty)
        #expect(throws: SandboxError.self) { try guardian.setGuardrails(of: "support", ["bake_time=forever"]) }
        let events = try world.production().history(of: "support").events
        #expect(events.map(\.kind) == ["promotion", "guardrail"])
        #expect(events.last?.reason == "min_roi 0% → 25%, failure_limit 3 → 5")
        #expect(try guardian.guardrails(of: "support").policy.failureLimit == 5)
    }

    @Test(arguments: ProductionBackend.available) func metricsCoverTheirWindow(backend: ProductionBackend) throws {
        let world = try World(backend)
        let agent = try world.promote("support")
        try world.trade("support", events: 2, revenue: "3")
        world.clock.advance(hours: 48)
        try world.trade("support", events: 1, revenue: "0")
        let ledger = try world.ledger()
        let day = try ledger.metrics(of: "support", window: 86_400)
        #expect(day.production.usageEvents == 1 && day.production.cost == dollars("1") && day.production.revenue == .zero)
        let week = try ledger.metrics(of: agent.rawValue)
        #expect(week.production.usageEvents == 3 && week.production.profit == dollars("0") && week.production.roi == 0)
        let first = try ledger.metrics(of: "support", since: world.clock.now.addingTimeInterval(-49 * 3_600), window: 3_600)
        #expect(first.production.usageEvents == 2 && first.production.revenue == dollars("3"))
    }
}
