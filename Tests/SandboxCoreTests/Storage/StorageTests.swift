import Foundation
import SQLiteDB
import Testing
@testable import SandboxCore

@Suite struct StorageTests {
    @Test func createsAVersionedWALDatabase() throws {
        let sandbox = try makeSandbox()
        let db = try Connection(path: sandbox.paths.sandboxDatabase.path)
        #expect(try db.userVersion == Schema.sandboxMigrations.count)
        #expect(try db.scalarText("PRAGMA journal_mode") == "wal")
        #expect(try db.scalarInt("PRAGMA foreign_keys") == 1)
    }

    @Test func readingAFreshHomeWritesNothing() throws {
        let home = try makeHome()
        let sandbox = try Sandbox(paths: SandboxPaths(home: home), create: false)
        #expect(try sandbox.listProjects().projects.isEmpty)
        #expect(try sandbox.status().totalProjects == 0)
        #expect(throws: SandboxError.self) { try sandbox.evaluate(ProjectID("prj_00000000")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.path).isEmpty)
    }

    @Test func refusesADatabaseFromANewerNovaos() throws {
        let home = try makeHome()
        let sandbox = try makeSandbox(home: home)
        try sandbox.db.setUserVersion(99)
        #expect(throws: SandboxError.newerSchema(path: sandbox.paths.sandboxDatabase.path, found: 99, supported: Schema.sandboxMigrations.count)) {
            try makeSandbox(home: home)
        }
    }

    @Test func refusesAFileThatIsNotADatabaseAndLeavesItAlone() throws {
        let home = try makeHome()
        let paths = SandboxPaths(home: home)
        try FileManager.default.createDirectory(at: paths.sandboxFolder, withIntermediateDirectories: true)
        let junk = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7919) })
        try junk.write(to: paths.sandboxDatabase)
        #expect(throws: SandboxError.self) { try Sandbox(paths: paths) }
        #expect(try Data(contentsOf: paths.sandboxDatabase) == junk)
    }

    @Test func refusesADirectoryInPlaceOfTheDatabase() throws {
        let home = try makeHome()
        let paths = SandboxPaths(home: home)
        try FileManager.default.createDirectory(at: paths.sandboxDatabase, withIntermediateDirectories: true)
        #expect(throws: SandboxError.unreadableDatabase(path: paths.sandboxDatabase.path, reason: "it is a directory, not a database file")) {
            try Sandbox(paths: paths)
        }
    }

    @Test func refusesSomeoneElsesSQLiteDatabase() throws {
        let home = try makeHome()
        let paths = SandboxPaths(home: home)
        try FileManager.default.createDirectory(at: paths.sandboxFolder, withIntermediateDirectories: true)
        try Connection(path: paths.sandboxDatabase.path).execute("CREATE TABLE theirs (x)")
        #expect(throws: SandboxError.self) { try Sandbox(paths: paths) }
    }

    @Test func productionSharesTheLedgerSchema() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        _ = try sandbox.promote(seed.project)
        let sandboxDB = try Connection(path: sandbox.paths.sandboxDatabase.path)
        let productionDB = try Connection(path: sandbox.paths.productionDatabase.path)
        let ledger = "SELECT name, sql FROM sqlite_schema WHERE name IN ('api_costs', 'revenue') ORDER BY name"
        let a = try sandboxDB.query(ledger) { [$0.text(0), $0.text(1)] }
        let b = try productionDB.query(ledger) { [$0.text(0), $0.text(1)] }
        #expect(a == b && a.count == 2)
        // Production's agents have the sandbox's columns, then their slot, its state and since when live.
        let columns = "SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info('agents') ORDER BY cid"
        let sandboxColumns = try sandboxDB.query(columns) { "\($0.text(0)) \($0.text(1)) \($0.int64(2)) \($0.optionalText(3) ?? "")" }
        let productionColumns = try productionDB.query(columns) { "\($0.text(0)) \($0.text(1)) \($0.int64(2)) \($0.optionalText(3) ?? "")" }
        #expect(productionColumns == sandboxColumns + ["slot TEXT 0 ", "state TEXT 0 ", "live_since TEXT 0 "])
    }

    /// A production database of schema version 1 (before `pause_reason`) is still read by the
    /// read-only commands, and the next promotion migrates it.
    @Test func aVersionOneProductionDatabaseIsReadThenMigrated() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        do {
            let old = try Connection(path: sandbox.paths.productionDatabase.path)
            _ = try old.setJournalMode("WAL")
            try old.execute(Schema.ledger)
            try old.setUserVersion(1)
        }
        #expect(try Production(paths: sandbox.paths).listAgents().agents.isEmpty)
        _ = try sandbox.promote(seed.project)
        #expect(try Connection(path: sandbox.paths.productionDatabase.path).userVersion == Schema.productionMigrations.count)
        #expect(try Production(paths: sandbox.paths).listAgents().agents.count == 1)
    }

    @Test func pathsResolveFlagThenEnvironmentThenCurrentDirectory() {
        let environment = ["NOVAOS_HOME": "/env/home", "NOVAOS_PRODUCTION_DB": "/env/prod.db"]
        #expect(SandboxPaths.resolve(home: "/flag", productionDatabase: nil, environment: environment, currentDirectory: "/cwd").home.path == "/flag")
        #expect(SandboxPaths.resolve(home: nil, productionDatabase: nil, environment: environment, currentDirectory: "/cwd").productionDatabase.path == "/env/prod.db")
        let plain = SandboxPaths.resolve(home: nil, productionDatabase: nil, environment: [:], currentDirectory: "/cwd")
        #expect(plain.home.path == "/cwd")
        #expect(plain.productionDatabase.path == "/cwd/production.db")
        #expect(plain.sandboxDatabase.path == "/cwd/sandbox/sandbox.db")
        #expect(SandboxPaths.resolve(home: "rel", productionDatabase: nil, environment: [:], currentDirectory: "/cwd").home.path == "/cwd/rel")
    }
}

@Suite struct SandboxTotalsTests {
    /// The totals the triggers keep, against the same figures computed from scratch.
    func recomputedStatus(_ sandbox: Sandbox) throws -> [Int64] {
        try sandbox.db.queryFirst(
            """
            SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM projects WHERE status = 'active'),
                   (SELECT count(*) FROM projects WHERE status = 'promoted'), (SELECT count(*) FROM projects WHERE status = 'killed'),
                   (SELECT count(*) FROM agents), (SELECT count(*) FROM agents WHERE status = 'active'),
                   (SELECT coalesce(sum(cost_micros), 0) FROM agents), (SELECT coalesce(sum(revenue_micros), 0) FROM agents)
            """
        ) { row in (0..<8).map { row.int64(Int32($0)) } }!
    }

    func statusFigures(_ status: SandboxStatus) -> [Int64] {
        [Int64(status.totalProjects), Int64(status.activeProjects), Int64(status.promotedProjects), Int64(status.killedProjects),
         Int64(status.totalAgents), Int64(status.activeAgents), status.totalCost.micros, status.totalRevenue.micros]
    }

    @Test func triggersKeepTheTotalsThroughEveryOperation() throws {
        let sandbox = try makeSandbox()
        func check() throws { #expect(try statusFigures(sandbox.status()) == recomputedStatus(sandbox)) }
        try check()
        let seed = try seededProject(sandbox)
        try check()
        _ = try sandbox.pauseAgent(seed.loser)
        try check()
        _ = try sandbox.promote(seed.project)
        try check()
        let other = try sandbox.createProject(name: "other")
        let agent = try sandbox.deployAgent(project: other.id, type: "assistant")
        _ = try sandbox.recordRevenue(agent: agent.id, amount: dollars("3"))
        try check()
        _ = try sandbox.kill(other.id)
        #expect(throws: SandboxError.self) { try sandbox.kill(seed.project) } // promoted: its agents live in production
        try check()
        #expect(try sandbox.status().killedProjects == 1 && sandbox.status().promotedProjects == 1)
    }
}
