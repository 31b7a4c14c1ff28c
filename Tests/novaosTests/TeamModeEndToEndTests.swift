import Foundation
import PostgresDB
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
        let secretForms = [
            withPassword, url + "?sslpassword=hunter2", url + "?password=hunter2",
            withPassword.replacingOccurrences(of: "postgresql://", with: "POSTGRESQL://"),
        ]
        for registry in secretForms {
            for command in [["production", "list"], ["sandbox", "promote", "prj_00000000", "--yes"], ["production", "backup", "/tmp/never.db"]] {
                let refused = try runBinary(command, home: home, environment: ["NOVAOS_PRODUCTION_DB": registry])
                #expect(refused.exitCode != 0 && refused.stderr.contains("PGPASSWORD") && !refused.stderr.contains("hunter2"), "\(registry) \(command): \(refused.stderr)")
            }
        }
        // A URL libpq cannot parse is refused without repeating it (libpq's message would).
        for broken in ["postgresql://nova:hun%zzter2@127.0.0.1/db", "postgresql://nova@[::1:1/db?password=hunter2"] {
            let refused = try runBinary(["production", "list"], home: home, environment: ["NOVAOS_PRODUCTION_DB": broken])
            #expect(refused.exitCode != 0 && refused.stderr.contains("cannot be parsed") && !refused.stderr.contains("hunter2"), "\(refused.stderr)")
        }
        let backup = try runBinary(["production", "backup", home.appendingPathComponent("copy.db").path], home: home)
        #expect(backup.exitCode != 0 && backup.stderr.contains("pg_dump --format=custom"), "\(backup.stderr)")
        #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("copy.db").path))
    }

    /// Runs whose batches conflict (six at once, each reserving and recording for the same
    /// agent) have their transactions run again on PostgreSQL: each reservation is answered
    /// once all the same, and every usage is recorded once.
    @Test func concurrentRunsAnswerEachReservationOnce() throws {
        let home = try promoted(.postgres)
        let agent = home.appendingPathComponent("agent.py")
        try """
            import os, sys, time, json, fcntl, random
            ev = open(os.environ["NOVAOS_EVENTS"], "w")
            rp = os.open(os.environ["NOVAOS_REPLIES"], os.O_RDONLY)
            fcntl.fcntl(rp, fcntl.F_SETFL, os.O_NONBLOCK)
            n = int(sys.argv[1]); buf = b""
            def drain():
                global buf
                try:
                    while True:
                        d = os.read(rp, 65536)
                        if not d: return
                        buf += d
                except BlockingIOError:
                    pass
            for i in range(n):
                ev.write(json.dumps({"type": "reserve", "tokens": 1}) + "\\n")
                ev.write(json.dumps({"type": "usage", "model": "claude-sonnet-4", "input_tokens": 1, "output_tokens": 0}) + "\\n")
                ev.flush()
                time.sleep(random.random() * 0.004)
                drain()
            deadline = time.time() + 20
            while buf.count(b"\\n") < n and time.time() < deadline:
                time.sleep(0.05); drain()
            print("replies=%d" % buf.count(b"\\n"))
            """.write(to: agent, atomically: true, encoding: .utf8)
        let runs = (0..<6).map { _ in
            binaryProcess(["production", "run", "bot", "--isolation", "none", "--", "python3", agent.path, "150"], home: home)
        }
        let outputs = (0..<6).map { _ in Pipe() }
        for (run, output) in zip(runs, outputs) {
            run.standardOutput = output
            run.standardError = FileHandle.nullDevice
            try run.run()
        }
        for (run, output) in zip(runs, outputs) {
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            run.waitUntilExit()
            #expect(text.contains("replies=150"), "\(text)")
        }
        let metrics = try runBinary(["production", "metrics", "bot", "--json"], home: home).decode(ProductionMetrics.self)
        #expect(metrics.production.usageEvents == 900)
    }

    /// The server restarting under a production run (its connections cut): the run keeps its
    /// agent's events, connects again, and records every one.
    @Test func aRunOutlivesALostConnection() throws {
        let home = try promoted(.postgres)
        let url = try #require(TeamHomes.registry(of: home))
        let agent = home.appendingPathComponent("agent.py")
        try """
            import os, time, json
            ev = open(os.environ["NOVAOS_EVENTS"], "w")
            for i in range(30):
                ev.write(json.dumps({"type": "usage", "model": "claude-sonnet-4", "input_tokens": 1, "output_tokens": 0, "id": "k%d" % i}) + "\\n")
                ev.flush()
                time.sleep(0.1)
            """.write(to: agent, atomically: true, encoding: .utf8)
        let run = binaryProcess(["production", "run", "bot", "--isolation", "none", "--json", "--", "python3", agent.path], home: home)
        let output = Pipe()
        run.standardOutput = output
        run.standardError = FileHandle.nullDevice
        try run.run()
        usleep(1_200_000)
        let database = try #require(URLComponents(string: url)?.path.dropFirst())
        let admin = try PostgresConnection(try #require(TestPostgres.url))
        let cut = try admin.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [String(database)])
        #expect(try cut[0].int64(at: 0) > 0)
        let result = output.fileHandleForReading.readDataToEndOfFile()
        run.waitUntilExit()
        let record = try SandboxJSON.decoder().decode(RunRecord.self, from: result)
        #expect(run.terminationStatus == 0 && record.stopReason == .exited && record.events == 30, "\(String(decoding: result, as: UTF8.self))")
        let metrics = try runBinary(["production", "metrics", "bot", "--json"], home: home).decode(ProductionMetrics.self)
        #expect(metrics.production.usageEvents == 30)
    }

    /// Reading a registry no one has promoted into changes nothing: no table is made.
    @Test func readingAnEmptyRegistryCreatesNothing() throws {
        let home = try makeHome()
        try ProductionBackend.postgres.use(in: home)
        let url = try #require(TeamHomes.registry(of: home))
        for command in [["production", "list", "--json"], ["production", "history", "--json"], ["production", "list", "--at", "2030-01-01", "--json"]] {
            let output = try runBinary(command, home: home)
            #expect(output.exitCode == 0, "\(command): \(output.stderr)")
        }
        let db = try PostgresConnection(url)
        #expect(try db.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0].int64(at: 0) == 0)
    }
}
