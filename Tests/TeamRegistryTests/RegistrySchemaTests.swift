import Foundation
import PostgresDB
import PostgresTestSupport
import SandboxCore
import Testing
@testable import TeamRegistry

@Suite(.enabled(if: TestPostgres.url != nil, Comment(rawValue: TestPostgres.skipReason)))
struct RegistrySchemaTests {
    @Test func aNewRegistryIsMigratedOnceAndAgainChangesNothing() throws {
        let db = try PostgresConnection(try TestPostgres.freshDatabase())
        #expect(try RegistrySchema.currentVersion(db) == 0)
        let first = try RegistrySchema.migrate(db, name: "test")
        #expect(first.from == 0 && first.to == RegistrySchema.version)
        let again = try RegistrySchema.migrate(db, name: "test")
        #expect(again.from == RegistrySchema.version && again.to == RegistrySchema.version)
        #expect(try db.query("SELECT count(*) AS n FROM schema_version")[0].int64("n") == Int64(RegistrySchema.version))
    }

    /// Eight teammates upgrading at the same moment: each migration is applied exactly once.
    @Test func teammatesMigratingAtOnceApplyEachMigrationOnce() throws {
        let url = try TestPostgres.freshDatabase()
        let failures = NSLock()
        nonisolated(unsafe) var errors: [String] = []
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            do {
                try RegistrySchema.migrate(try PostgresConnection(url), name: "test")
            } catch {
                failures.withLock { errors.append("\(error)") }
            }
        }
        #expect(errors.isEmpty, "\(errors)")
        let db = try PostgresConnection(url)
        #expect(try db.query("SELECT count(*) AS n, max(version) AS v FROM schema_version")[0].int64("n") == Int64(RegistrySchema.version))
    }

    /// A registry of version 1 with records upgrades in place: its records stay, they no
    /// longer have a foreign key (an import's per-row lookup), and agents can be neither
    /// deleted, renamed nor truncated, so no record loses its agent.
    @Test func aVersionOneRegistryUpgradesAndAgentsAreKeptForTheirRecords() throws {
        let db = try PostgresConnection(try TestPostgres.freshDatabase())
        try db.inTransaction {
            try db.execute("CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            try db.execute(RegistrySchema.migrations[0])
            try db.execute("INSERT INTO schema_version (version) VALUES (1)")
        }
        try db.execute(
            """
            INSERT INTO agents (id, type, name, status, token_budget, normal_token_budget, deployed_at) VALUES ('prod-1', 't', 'n', 'active', 10, 1, 'x');
            INSERT INTO api_costs (agent_id, event_id, model, operation, input_tokens, output_tokens, cost_micros, recorded_at)
                VALUES ('prod-1', 'e1', 'm', 'chat', 1, 2, 3, '2026-11-23T00:00:00Z');
            """
        )
        // A view of the team's own over a column the upgrade changes: refused, saying which
        // upgrade failed, and nothing changed.
        try db.execute("CREATE VIEW daily_cost AS SELECT agent_id, left(recorded_at, 10) AS day, sum(cost_micros) AS cost FROM api_costs GROUP BY 1, 2")
        #expect {
            try RegistrySchema.migrate(db, name: "test")
        } throws: { "\($0)".contains("upgrading the production registry test to schema version 2 failed, and nothing was changed") }
        #expect(try RegistrySchema.currentVersion(db) == 1)
        #expect(try db.query("SELECT count(*) AS n FROM pg_constraint WHERE contype = 'f' AND conrelid = 'api_costs'::regclass")[0].int64("n") == 1)
        try db.execute("DROP VIEW daily_cost")

        let upgrade = try RegistrySchema.migrate(db, name: "test")
        #expect(upgrade.from == 1 && upgrade.to == RegistrySchema.version)
        #expect(try db.query("SELECT count(*) AS n FROM api_costs WHERE event_id = 'e1'")[0].int64("n") == 1)
        #expect(try db.query("SELECT count(*) AS n FROM pg_constraint WHERE contype = 'f' AND conrelid IN ('api_costs'::regclass, 'revenue'::regclass)")[0].int64("n") == 0)
        for change in ["DELETE FROM agents", "UPDATE agents SET id = 'prod-2'", "TRUNCATE agents CASCADE"] {
            #expect(throws: PostgresError.self) { try db.execute(change) }
        }
        try db.execute("UPDATE agents SET status = 'paused', id = id")
        #expect(try db.query("SELECT id, status FROM agents")[0].text("status") == "paused")
        // Event IDs are compared byte by byte, as SQLite's BINARY does.
        #expect(try db.query("SELECT collation_name FROM information_schema.columns WHERE table_name = 'api_costs' AND column_name = 'event_id'")[0].text("collation_name") == "C")
    }

    @Test func aNewerRegistryIsRefusedAndLeftAlone() throws {
        let db = try PostgresConnection(try TestPostgres.freshDatabase())
        try RegistrySchema.migrate(db, name: "test")
        try db.run("INSERT INTO schema_version (version) VALUES ($1)", [RegistrySchema.version + 5])
        #expect(throws: SandboxError.newerSchema(path: "team", found: RegistrySchema.version + 5, supported: RegistrySchema.version)) {
            try RegistrySchema.migrate(db, name: "team")
        }
        #expect(try RegistrySchema.currentVersion(db) == RegistrySchema.version + 5)
    }

    /// The constraints that make promotion and rollback exactly-once hold in the schema itself.
    @Test func theSchemaIsTheArbiter() throws {
        let db = try PostgresConnection(try TestPostgres.freshDatabase())
        try RegistrySchema.migrate(db, name: "test")
        func insertAgent(_ id: String, from sandboxAgent: String, state: String) throws -> Int {
            try db.run(
                """
                INSERT INTO agents (id, type, name, status, token_budget, normal_token_budget, deployed_at, promoted_from_agent_id, slot, state)
                VALUES ($1, 'assistant', 'support', 'active', 1000, 1000, '2026-11-23T00:00:00Z', $2, 'support', $3)
                ON CONFLICT DO NOTHING
                """,
                [id, sandboxAgent, state]
            )
        }
        #expect(try insertAgent("prd_0000000000000001", from: "agt_000000000001", state: "live") == 1)
        // Promoting the same sandbox agent again inserts nothing; the verification read finds it.
        #expect(try insertAgent("prd_0000000000000001", from: "agt_000000000001", state: "live") == 0)
        #expect(try insertAgent("prd_0000000000000002", from: "agt_000000000001", state: "standby") == 0)
        // A second live version of one slot is refused.
        #expect { try db.run("INSERT INTO agents (id, type, name, status, token_budget, normal_token_budget, deployed_at, slot, state) VALUES ('prd_0000000000000003', 'a', 'support', 'active', 1, 1, 'x', 'support', 'live')") }
            throws: { ($0 as? PostgresError)?.isUniqueViolation == true }
        // JSON columns hold JSON.
        #expect { try db.run("INSERT INTO agents (id, type, name, status, token_budget, normal_token_budget, deployed_at, config) VALUES ('prd_0000000000000004', 'a', 'b', 'active', 1, 1, 'x', '{not json')") }
            throws: { ($0 as? PostgresError)?.sqlState == "22P02" }
        // The history is append-only.
        try db.run("INSERT INTO production_events (at, kind, actor) VALUES ('2026-11-23T00:00:00Z', 'promotion', 'test')")
        for statement in ["UPDATE production_events SET reason = 'rewritten'", "DELETE FROM production_events", "TRUNCATE production_events"] {
            #expect { try db.execute(statement) } throws: { ($0 as? PostgresError)?.sqlState == "23001" }
        }
        #expect(try db.query("SELECT count(*) AS n FROM production_events")[0].int64("n") == 1)
    }
}
