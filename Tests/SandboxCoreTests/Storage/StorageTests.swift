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
        let ledger = "SELECT name, sql FROM sqlite_schema WHERE name IN ('agents', 'api_costs', 'revenue') ORDER BY name"
        let a = try sandboxDB.query(ledger) { [$0.text(0), $0.text(1)] }
        let b = try productionDB.query(ledger) { [$0.text(0), $0.text(1)] }
        #expect(a == b && a.count == 3)
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
