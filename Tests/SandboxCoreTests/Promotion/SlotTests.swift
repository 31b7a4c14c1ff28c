import Foundation
import PostgresTestSupport
import SQLiteDB
import Testing
@testable import SandboxCore

/// Production slots (schema version 4): a promoted agent goes live in the slot of its name,
/// the version live before stands by, and every change is in the append-only history.
@Suite struct SlotTests {
    /// A project whose one agent, named `name`, earns its promotion.
    private func profitableProject(_ sandbox: Sandbox, agentName name: String) throws -> (project: ProjectID, agent: AgentID) {
        let project = try sandbox.createProject(name: "for \(name)")
        let agent = try sandbox.deployAgent(project: project.id, type: "customer_support", name: name)
        _ = try sandbox.recordUsage(agent: agent.id, model: "claude-haiku-3.5", inputTokens: 10_000, outputTokens: 1_000)
        _ = try sandbox.recordRevenue(agent: agent.id, amount: dollars("5"))
        return (project.id, agent.id)
    }

    @Test func anAgentWhoseNameIsNoSlotNeedsOneGiven() throws {
        let sandbox = try makeSandbox()
        let (project, agent) = try profitableProject(sandbox, agentName: "evil\nname\u{1B}[31m")
        #expect(throws: SandboxError.self) { try sandbox.promotionPreview(project) }
        #expect(throws: SandboxError.self) { try sandbox.promote(project) }
        #expect(try sandbox.promote(project, slotMap: [agent: "support"]).migratedAgents.map(\.slot) == ["support"])
        #expect(throws: SandboxError.self) { try PromotionRules.validateSlot("prd_0123456789abcdef") }
        #expect(throws: Never.self) { try PromotionRules.validateSlot("prd_support") }
    }

    @Test(arguments: ProductionBackend.available) func aSecondPromotionIntoASlotGoesLiveAndTheFirstStandsBy(backend: ProductionBackend) throws {
        let sandbox = try makeSandbox()
        let registry = try backend.registry()
        let first = try profitableProject(sandbox, agentName: "support-bot")
        let firstID = try #require(try sandbox.promote(first.project, registry: registry).migratedAgents.first?.productionID)
        let second = try profitableProject(sandbox, agentName: "support-bot")
        let secondID = try #require(try sandbox.promote(second.project, registry: registry).migratedAgents.first?.productionID)
        let other = try profitableProject(sandbox, agentName: "triage")
        _ = try sandbox.promote(other.project, registry: registry)

        let production = Production(paths: sandbox.paths, registry: registry)
        let slot = try production.slot("support-bot")
        #expect(slot.live == secondID)
        #expect(slot.versions.map(\.id) == [secondID, firstID])
        #expect(slot.versions.map(\.state) == [.live, .standby])
        #expect(slot.events.map(\.kind) == ["promotion", "promotion"])
        #expect(slot.events.map(\.agentID) == [firstID, secondID])
        #expect(slot.events.map(\.previousAgentID) == [nil, firstID])
        #expect(slot.events.allSatisfy { $0.actor == "sandbox promote" })
        guard case .object(let details) = slot.events[1].details else { Issue.record("details is not an object"); return }
        #expect(details["project_id"] == .string(second.project.rawValue) && details["sandbox_agent_id"] == .string(second.agent.rawValue))

        let listed = try production.listAgents().agents
        #expect(listed.map(\.slot) == ["support-bot", "support-bot", "triage"])
        #expect(listed.map(\.state) == [.standby, .live, .live])
        #expect(try production.history().events.count == 3)
        #expect(try production.history(of: "triage").events.count == 1)
        #expect(try production.history(of: firstID.rawValue).events.count == 2) // its promotion, and the one that replaced it
        #expect(try production.history(since: Date(timeIntervalSince1970: 4_000_000_000)).events.isEmpty)
        #expect(throws: SandboxError.self) { try production.slot("nobody") }
        #expect(throws: SandboxError.self) { try production.history(of: "nobody") }
    }

    /// Two agents of one project with one name go live side by side, in `name` and `name-2`.
    @Test func agentsOfOneProjectNeverShareASlot() throws {
        let sandbox = try makeSandbox()
        let project = try sandbox.createProject(name: "twins")
        for _ in 0..<3 {
            let agent = try sandbox.deployAgent(project: project.id, type: "assistant", name: "worker")
            _ = try sandbox.recordUsage(agent: agent.id, model: "claude-haiku-3.5", inputTokens: 10_000, outputTokens: 1_000)
            _ = try sandbox.recordRevenue(agent: agent.id, amount: dollars("5"))
        }
        #expect(try sandbox.promotionPreview(project.id).migratedAgents.map(\.slot) == ["worker", "worker-2", "worker-3"])
        let result = try sandbox.promote(project.id)
        #expect(result.migratedAgents.map(\.slot) == ["worker", "worker-2", "worker-3"])
        let listed = try Production(paths: sandbox.paths).listAgents().agents
        #expect(listed.map(\.slot) == ["worker", "worker-2", "worker-3"] && listed.allSatisfy { $0.state == .live })
        #expect(try Production(paths: sandbox.paths).history().events.allSatisfy { $0.previousAgentID == nil })
    }

    /// `--slot-map`: the slot chosen for an agent is fixed in the plan, so a promotion killed
    /// after planning fills it on the re-run; bad maps are refused with nothing changed.
    @Test func slotsChosenAtPromotionAreKeptAcrossACrash() throws {
        struct Crash: Error {}
        let sandbox = try makeSandbox()
        let project = try sandbox.createProject(name: "support")
        var agents: [AgentID] = []
        for name in ["haiku-first", "sonnet-fallback", "loser"] {
            let agent = try sandbox.deployAgent(project: project.id, type: "customer_support", name: name)
            _ = try sandbox.recordUsage(agent: agent.id, model: "claude-haiku-3.5", inputTokens: 10_000, outputTokens: 1_000)
            if name != "loser" { _ = try sandbox.recordRevenue(agent: agent.id, amount: dollars("5")) }
            agents.append(agent.id)
        }
        let stranger = try profitableProject(sandbox, agentName: "other").agent
        for (map, _) in [
            ([agents[2]: "support-bot"], "an agent that stays behind"),
            ([stranger: "support-bot"], "an agent of another project"),
            ([agents[0]: "support-bot", agents[1]: "support-bot"], "two agents in one slot"),
            ([agents[0]: ""], "an empty slot"),
            ([agents[0]: "bad\u{1b}[31m"], "an escape"),
            ([agents[0]: " padded"], "white space"),
        ] as [([AgentID: String], String)] {
            #expect(throws: SandboxError.self) { try sandbox.promotionPreview(project.id, slotMap: map) }
            #expect(throws: SandboxError.self) { try sandbox.promote(project.id, slotMap: map) }
        }
        #expect(try sandbox.db.scalarInt("SELECT count(*) FROM promotions") == 0)
        #expect(!FileManager.default.fileExists(atPath: sandbox.paths.productionDatabase.path))

        let map = [agents[0]: "support-bot"]
        #expect(try sandbox.promotionPreview(project.id, slotMap: map).migratedAgents.map(\.slot) == ["support-bot", "sonnet-fallback"])
        #expect(throws: Crash.self) { try sandbox.promote(project.id, slotMap: map) { if $0 == .planned { throw Crash() } } }
        // The pending plan keeps its slots: asking for others is refused, re-running completes it.
        #expect(throws: SandboxError.self) { try sandbox.promote(project.id, slotMap: [agents[0]: "elsewhere"]) }
        let result = try sandbox.promote(project.id)
        #expect(result.migratedAgents.map(\.slot) == ["support-bot", "sonnet-fallback"])
        let production = Production(paths: sandbox.paths)
        #expect(try production.slot("support-bot").versions.map(\.promotedFrom?.sandboxAgentID) == [agents[0]])
        #expect(try production.slot("sonnet-fallback").live != nil)
    }

    /// A promotion planned, then overtaken by another into the same slot, then completed: it
    /// goes live last, so it is live, it is the newest version, and its event comes last.
    @Test func aResumedPromotionIsTheNewestVersionOfItsSlot() throws {
        struct Crash: Error {}
        let sandbox = try makeSandbox()
        let early = try profitableProject(sandbox, agentName: "bot")
        #expect(throws: Crash.self) { try sandbox.promote(early.project) { if $0 == .planned { throw Crash() } } }
        let late = try profitableProject(sandbox, agentName: "bot")
        let lateID = try #require(try sandbox.promote(late.project).migratedAgents.first?.productionID)
        let earlyID = try #require(try sandbox.promote(early.project).migratedAgents.first?.productionID)
        let slot = try Production(paths: sandbox.paths).slot("bot")
        #expect(slot.live == earlyID)
        #expect(slot.versions.map(\.id) == [earlyID, lateID])
        #expect(slot.events.map(\.agentID) == [lateID, earlyID])
        #expect(slot.events.last?.previousAgentID == lateID)
    }

    /// What was learned travels with the agents: the evaluation that promoted them and the
    /// project's completed experiments, in the promotion's history row.
    @Test func aPromotionCarriesItsEvaluationAndExperiments() throws {
        let sandbox = try makeSandbox()
        let seeded = try profitableProject(sandbox, agentName: "bot")
        let done = try sandbox.startExperiment(project: seeded.project, name: "haiku-first", hypothesis: "Haiku answers most tickets", configJSON: #"{"model":"claude-haiku-3.5"}"#)
        _ = try sandbox.completeExperiment(done.id, success: true, resultsJSON: #"{"resolved":0.82}"#)
        _ = try sandbox.startExperiment(project: seeded.project, name: "still-running")
        let result = try sandbox.promote(seeded.project)
        let event = try #require(try Production(paths: sandbox.paths).slot("bot").events.first)
        guard case .object(let details) = event.details, let learned = details["learned"] else { Issue.record("no learnings"); return }
        let decoded = try SandboxJSON.decoder().decode(PromotionLearnings.self, from: Data(learned.jsonText.utf8))
        #expect(decoded.experiments.map(\.name) == ["haiku-first"])
        #expect(decoded.experiments.first?.results == .object(["resolved": .number(0.82)]))
        #expect(decoded.evaluation?.recommendation == result.evaluation.recommendation)
        #expect(decoded.evaluation?.metrics == result.evaluation.metrics)
    }

    /// `production list --at`: what was live when, read from the history.
    @Test(arguments: ProductionBackend.available) func productionAtATimeIsReadFromTheHistory(backend: ProductionBackend) throws {
        final class Clock: @unchecked Sendable { var now = Date(timeIntervalSince1970: 1_800_000_000) }
        let clock = Clock()
        let start = clock.now
        let registry = try backend.registry()
        let sandbox = try Sandbox(paths: SandboxPaths(home: try makeHome()), clock: { clock.now })
        let firstID = try #require(try sandbox.promote(try profitableProject(sandbox, agentName: "bot").project, registry: registry).migratedAgents.first?.productionID)
        clock.now = start.addingTimeInterval(3_600)
        let secondID = try #require(try sandbox.promote(try profitableProject(sandbox, agentName: "bot").project, registry: registry).migratedAgents.first?.productionID)
        let production = Production(paths: sandbox.paths, registry: registry)
        #expect(try production.listAgents(at: start.addingTimeInterval(-1)).agents.isEmpty)
        let between = try production.listAgents(at: start.addingTimeInterval(1_800)).agents
        #expect(between.map(\.id) == [firstID] && between.map(\.state) == [.live])
        let after = try production.listAgents(at: start.addingTimeInterval(7_200)).agents
        #expect(Dictionary(uniqueKeysWithValues: after.map { ($0.id, $0.state) }) == [firstID: .standby, secondID: .live])
        #expect(try production.history().events.map(\.liveAgentID) == [firstID, secondID])
    }

    @Test func theHistoryIsAppendOnly() throws {
        let sandbox = try makeSandbox()
        _ = try sandbox.promote(try profitableProject(sandbox, agentName: "bot").project)
        let db = try Connection(path: sandbox.paths.productionDatabase.path)
        #expect(throws: SQLiteError.self) { try db.execute("UPDATE production_events SET reason = 'rewritten'") }
        #expect(throws: SQLiteError.self) { try db.execute("DELETE FROM production_events") }
        // A REPLACE deletes without the delete trigger: refused before it gets there.
        #expect(throws: SQLiteError.self) {
            try db.execute("INSERT OR REPLACE INTO production_events (id, at, kind, actor) VALUES (1, '2026-01-01T00:00:00Z', 'retire', 'someone')")
        }
        #expect(try db.scalarInt("SELECT count(*) FROM production_events WHERE reason LIKE 'promoted from project %'") == 1)
        // Two live versions in one slot are impossible, whoever writes.
        #expect(throws: SQLiteError.self) {
            try db.execute("""
                INSERT INTO agents (id, type, name, status, token_budget, normal_token_budget, deployed_at, slot, state)
                VALUES ('agt_p000000000ff', 't', 'bot', 'active', 1, 1, '2026-01-01T00:00:00Z', 'bot', 'live')
                """)
        }
    }

    /// A production database of version 3 (before slots): read as it is by read-only
    /// commands, and upgraded by the next promotion, each agent in the slot of its name, the
    /// newest live, the history starting with their promotions.
    @Test func anOlderProductionGetsSlotsAndAHistory() throws {
        let sandbox = try makeSandbox()
        let db = try Connection(path: sandbox.paths.productionDatabase.path)
        for migration in Schema.productionMigrations.prefix(3) { try db.execute(migration) }
        try db.setUserVersion(3)
        try db.execute("""
            INSERT INTO agents (id, type, name, status, token_budget, normal_token_budget, deployed_at, promoted_from_project_id, promoted_from_agent_id) VALUES
                ('agt_p00000000001', 't', 'bot', 'active', 1, 1, '2026-01-01T00:00:00Z', 'prj_00000001', 'agt_000000000001'),
                ('agt_p00000000002', 't', 'bot', 'active', 1, 1, '2026-02-01T00:00:00Z', 'prj_00000002', 'agt_000000000002'),
                ('agt_p00000000003', 't', 'other', 'active', 1, 1, '2026-01-15T00:00:00Z', 'prj_00000003', 'agt_000000000003');
            """)
        let production = Production(paths: sandbox.paths)
        // Read-only: not upgraded, and shown as the upgrade will write it.
        #expect(try production.listAgents().agents.map(\.slot) == ["bot", "other", "bot"])
        #expect(try production.listAgents().agents.map(\.state) == [.standby, .live, .live])
        let old = try production.slot("bot")
        #expect(old.live?.rawValue == "agt_p00000000002" && old.versions.map(\.state) == [.live, .standby])
        #expect(old.events.map(\.previousAgentID?.rawValue) == [nil, "agt_p00000000001"])
        #expect(try production.history().events.count == 3)
        #expect(try db.userVersion == 3)

        let newer = try profitableProject(sandbox, agentName: "bot")
        let newest = try #require(try sandbox.promote(newer.project).migratedAgents.first?.productionID)
        #expect(try db.userVersion == 5)
        let slot = try production.slot("bot")
        #expect(slot.versions.map(\.id.rawValue) == [newest.rawValue, "agt_p00000000002", "agt_p00000000001"])
        #expect(slot.versions.map(\.state) == [.live, .standby, .standby])
        #expect(slot.events.map(\.agentID?.rawValue) == ["agt_p00000000001", "agt_p00000000002", newest.rawValue])
        // Version 5: agents promoted before guardrails get the default policy, and no sandbox
        // figures to compare with.
        #expect(try ProductionGuard(paths: sandbox.paths).guardrails(of: "agt_p00000000002").policy == GuardrailPolicy())
        #expect(try ProductionLedger(paths: sandbox.paths).metrics(of: "agt_p00000000002").sandbox == nil)
        #expect(slot.events.map(\.previousAgentID?.rawValue) == [nil, "agt_p00000000001", "agt_p00000000002"])
        #expect(slot.events.map(\.liveAgentID) == slot.events.map(\.agentID))
        // What the read-only view showed is what the upgrade wrote.
        #expect(slot.events.prefix(2).map(\.reason) == old.events.map(\.reason))
        #expect(try production.slot("other").live?.rawValue == "agt_p00000000003")
    }
}
