import Foundation
import PostgresDB
import PostgresTestSupport
import SandboxCore
import Testing
@testable import TeamRegistry

/// `sandbox promote` into a registry on PostgreSQL: each agent exactly once, one live version
/// per slot, whatever step a promotion stops at and however many sandboxes promote at once.
@Suite(.enabled(if: TestPostgres.url != nil, Comment(rawValue: TestPostgres.skipReason)))
struct PromotionIntoRegistryTests {
    /// A sandbox in a new home with a project of `agents` profitable agents named `prefix0`….
    static func promotableSandbox(agents: Int, prefix: String = "slot") throws -> (Sandbox, ProjectID) {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("novaos-team-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let sandbox = try Sandbox(paths: SandboxPaths(home: home))
        let project = try sandbox.createProject(name: "team")
        for index in 0..<agents {
            let agent = try sandbox.deployAgent(project: project.id, type: "customer_support", name: "\(prefix)\(index)")
            _ = try sandbox.recordUsage(agent: agent.id, model: "claude-haiku-3.5", inputTokens: 10_000, outputTokens: 1_000)
            _ = try sandbox.recordRevenue(agent: agent.id, amount: try Money(parsing: "5"))
        }
        return (sandbox, project.id)
    }

    static func migratedRegistry() throws -> String {
        let url = try TestPostgres.freshDatabase()
        try RegistrySchema.migrate(try PostgresConnection(url), name: "test")
        return url
    }

    static func target(_ url: String) throws -> PostgresPromotionTarget {
        PostgresPromotionTarget(try PostgresConnection(url), name: "test registry")
    }

    static func count(_ db: PostgresConnection, _ sql: String) throws -> Int64 {
        try db.query(sql)[0].int64(at: 0)
    }

    @Test func aPromotionWritesEachAgentOnceWithItsGuardrailsAndHistory() throws {
        let url = try Self.migratedRegistry()
        let (sandbox, project) = try Self.promotableSandbox(agents: 3)
        let result = try sandbox.promote(project, target: try Self.target(url))
        #expect(result.migratedAgents.count == 3)
        let db = try PostgresConnection(url)
        #expect(try Self.count(db, "SELECT count(*) FROM agents WHERE state = 'live'") == 3)
        #expect(try Self.count(db, "SELECT count(*) FROM guardrails") == 3)
        #expect(try Self.count(db, "SELECT count(*) FROM production_events WHERE kind = 'promotion'") == 3)
        let details = try #require(try db.query("SELECT details FROM production_events ORDER BY id LIMIT 1")[0].text(at: 0))
        let object = try JSONValue.parseObject(details, what: "details")
        #expect(object["project_id"] == .string(project.rawValue) && object["guardrails"] != nil && object["learned"] != nil)
        // The production IDs are the plan's.
        let ids = Set(try db.query("SELECT id FROM agents").compactMap { $0.text(at: 0) })
        #expect(ids == Set(result.migratedAgents.map { $0.productionID.rawValue }))
        #expect(throws: SandboxError.self) { try sandbox.promote(project, target: try Self.target(url)) } // already promoted
    }

    /// Stopped after the plan, halfway through the copy, and after the registry's commit: the
    /// next `promote` completes the plan, and every agent is in the registry exactly once.
    @Test(arguments: [PromotionStep.planned, .copying, .copied])
    func aPromotionStoppedAtAnyStepCompletesExactlyOnce(step: PromotionStep) throws {
        struct Stop: Error {}
        let url = try Self.migratedRegistry()
        let (sandbox, project) = try Self.promotableSandbox(agents: 6)
        #expect(throws: Stop.self) {
            try sandbox.promote(project, target: try Self.target(url)) { if $0 == step { throw Stop() } }
        }
        let result = try sandbox.promote(project, target: try Self.target(url))
        #expect(result.migratedAgents.count == 6)
        let db = try PostgresConnection(url)
        #expect(try Self.count(db, "SELECT count(*) FROM agents") == 6)
        #expect(try Self.count(db, "SELECT count(DISTINCT promoted_from_agent_id) FROM agents") == 6)
        #expect(try Self.count(db, "SELECT count(*) FROM production_events") == 6)
        #expect(try Self.count(db, "SELECT count(*) FROM agents WHERE state = 'live'") == 6)
    }

    /// The registry's connection is cut halfway through the copy (as a server restart would):
    /// the promotion fails saying the registry cannot be reached, nothing of the copy stays,
    /// and the next `promote` completes the plan exactly once.
    @Test func aConnectionLostMidPromotionLeavesAPlanTheNextPromoteCompletes() throws {
        let url = try Self.migratedRegistry()
        let (sandbox, project) = try Self.promotableSandbox(agents: 6)
        let connection = try PostgresConnection(url)
        let admin = try PostgresConnection(url)
        do {
            _ = try sandbox.promote(project, target: PostgresPromotionTarget(connection, name: "test registry")) { step in
                if step == .copying { try admin.query("SELECT pg_terminate_backend($1)", [connection.backendPID]) }
            }
            Issue.record("the promotion went through a cut connection")
        } catch let error as SandboxError {
            guard case .unavailable(let message) = error else { Issue.record("\(error)"); return }
            #expect(message.contains("test registry"))
        }
        #expect(try Self.count(admin, "SELECT count(*) FROM agents") == 0)
        let result = try sandbox.promote(project, target: try Self.target(url))
        #expect(result.migratedAgents.count == 6)
        #expect(try Self.count(admin, "SELECT count(*) FROM agents") == 6)
        #expect(try Self.count(admin, "SELECT count(*) FROM production_events") == 6)
    }

    /// Eight sandboxes promote projects whose agents fill the same 25 slots, at the same
    /// moment: every agent once, one live version per slot, one history row per promotion.
    @Test func sandboxesPromotingAtOnceKeepOneLiveVersionPerSlot() throws {
        let url = try Self.migratedRegistry()
        let sandboxes = try (0..<8).map { _ in try Self.promotableSandbox(agents: 25) }
        let lock = NSLock()
        nonisolated(unsafe) var errors: [String] = []
        nonisolated(unsafe) var migrated = 0
        DispatchQueue.concurrentPerform(iterations: sandboxes.count) { index in
            do {
                // Each thread its own connections: a Sandbox of its own on the same home.
                let sandbox = try Sandbox(paths: sandboxes[index].0.paths)
                let result = try sandbox.promote(sandboxes[index].1, target: try Self.target(url))
                lock.withLock { migrated += result.migratedAgents.count }
            } catch {
                lock.withLock { errors.append("\(error)") }
            }
        }
        #expect(errors.isEmpty, "\(errors)")
        #expect(migrated == 200)
        let db = try PostgresConnection(url)
        #expect(try Self.count(db, "SELECT count(*) FROM agents") == 200)
        #expect(try Self.count(db, "SELECT count(DISTINCT promoted_from_agent_id) FROM agents") == 200)
        #expect(try Self.count(db, "SELECT count(*) FROM agents WHERE state = 'live'") == 25)
        #expect(try Self.count(db, "SELECT count(*) FROM (SELECT slot FROM agents GROUP BY slot HAVING count(*) FILTER (WHERE state = 'live') <> 1) AS bad") == 0)
        #expect(try Self.count(db, "SELECT count(*) FROM production_events WHERE kind = 'promotion'") == 200)
        // Each promotion's history row names the version live before it: a chain per slot.
        #expect(try Self.count(db, "SELECT count(*) FROM production_events WHERE previous_agent_id IS NULL") == 25)
    }
}
