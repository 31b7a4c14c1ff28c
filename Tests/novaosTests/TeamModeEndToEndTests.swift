import Foundation
import PostgresTestSupport
import Testing
@testable import SandboxCore

/// Team mode through the built binaries: `novaos` hands a command on a postgres:// registry
/// over to `novaos-team`, which gives the same JSON as `production.db` does; a password in
/// the URL is refused before anything is opened; backup says how to use pg_dump.
@Suite(.enabled(if: TestPostgres.url != nil, Comment(rawValue: TestPostgres.skipReason)))
struct TeamModeEndToEndTests {
    /// A home with one promoted agent in slot `bot`, on `backend`.
    private func promoted(_ backend: ProductionBackend) throws -> URL {
        let home = try makeHome()
        try backend.use(in: home)
        let at = ["NOVAOS_TEST_NOW": "2030-01-01T00:00:00Z"]
        let project = try runBinary(["sandbox", "create", "team", "--json"], home: home, environment: at).decode(Project.self).id.rawValue
        let agent = try runBinary(["sandbox", "deploy", project, "assistant", "--name", "bot", "--json"], home: home, environment: at).decode(Agent.self).id.rawValue
        _ = try runBinary(["sandbox", "usage", agent, "--model", "claude-haiku-3.5", "--input-tokens", "1000", "--output-tokens", "0"], home: home, environment: at)
        _ = try runBinary(["sandbox", "revenue", agent, "1"], home: home, environment: at)
        let promote = try runBinary(["sandbox", "promote", project, "--yes", "--json"], home: home, environment: at)
        #expect(promote.exitCode == 0, "\(promote.stderr)")
        return home
    }

    /// Every production command's JSON has the same fields on both backends.
    @Test func theSameCommandsGiveTheSameJSONOnBothBackends() throws {
        let later = ["NOVAOS_TEST_NOW": "2030-01-02T00:00:00Z"]
        let commands: [[String]] = [
            ["production", "list", "--json"], ["production", "slot", "bot", "--json"], ["production", "history", "--json"],
            ["production", "usage", "bot", "--model", "claude-sonnet-4", "--input-tokens", "10", "--output-tokens", "10", "--json"],
            ["production", "revenue", "bot", "2", "--json"], ["production", "metrics", "bot", "--json"], ["production", "check", "--json"],
            ["production", "guardrail", "bot", "min_roi=5", "--json"], ["production", "budget", "bot", "--tokens", "5000", "--json"],
            ["production", "runs", "bot", "--json"], ["production", "list", "--at", "2030-01-01T12:00:00Z", "--json"],
            ["production", "rollback", "bot", "--yes", "--json"],
        ]
        let homes = try [ProductionBackend.sqlite, .postgres].map(promoted)
        for command in commands {
            let outputs = try homes.map { try runBinary(command, home: $0, environment: later) }
            #expect(outputs.map(\.exitCode) == [0, 0], "\(command): \(outputs.map(\.stderr))")
            #expect(try outputs[0].jsonKeys() == outputs[1].jsonKeys(), "\(command)")
        }
        // The registry holds what the commands did, and nothing is in the home's production.db.
        #expect(!FileManager.default.fileExists(atPath: homes[1].appendingPathComponent("production.db").path))
        let history = try runBinary(["production", "history", "--json"], home: homes[1]).decode(ProductionHistory.self).events
        #expect(history.map(\.kind) == ["promotion", "guardrail", "budget", "rollback"])
    }

    @Test func aPasswordInTheURLIsRefusedAndBackupPointsToPgDump() throws {
        let home = try promoted(.postgres)
        let url = try #require(TestPostgres.url)
        let withPassword = url.replacingOccurrences(of: "://postgres@", with: "://postgres:hunter2@")
        for command in [["production", "list"], ["sandbox", "promote", "prj_00000000", "--yes"]] {
            let refused = try runBinary(command, home: home, environment: ["NOVAOS_PRODUCTION_DB": withPassword])
            #expect(refused.exitCode != 0 && refused.stderr.contains("PGPASSWORD") && !refused.stderr.contains("hunter2"), "\(refused.stderr)")
        }
        let backup = try runBinary(["production", "backup", home.appendingPathComponent("copy.db").path], home: home)
        #expect(backup.exitCode != 0 && backup.stderr.contains("pg_dump --format=custom"), "\(backup.stderr)")
        #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("copy.db").path))
    }
}
