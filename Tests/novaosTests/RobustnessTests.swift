import Foundation
import SandboxCore
import Testing

/// Makes a file unwritable even for root (`chattr +i`; chmod for other users) until `restore`.
struct WriteProtection {
    let path: String

    init(_ path: String) throws {
        self.path = path
        if getuid() == 0 {
            try #require(shell(["chattr", "+i", path]) == 0, "chattr +i failed: this test needs a file system with the immutable attribute")
        } else {
            chmod(path, 0o444)
        }
    }

    func restore() {
        if getuid() == 0 { _ = shell(["chattr", "-i", path]) } else { chmod(path, 0o644) }
    }
}

@discardableResult
func shell(_ arguments: [String]) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try? process.run()
    process.waitUntilExit()
    return process.terminationStatus
}

/// A home with a promotable project: one profitable agent, one not.
func promotableHome() throws -> (home: URL, project: String, winner: String, loser: String) {
    let home = try makeHome()
    let project = try runBinary(["sandbox", "create", "p", "--json"], home: home).decode(Project.self).id.rawValue
    let winner = try runBinary(["sandbox", "deploy", project, "assistant", "--name", "winner", "--json"], home: home).decode(Agent.self).id.rawValue
    let loser = try runBinary(["sandbox", "deploy", project, "assistant", "--name", "loser", "--json"], home: home).decode(Agent.self).id.rawValue
    for agent in [winner, loser] {
        _ = try runBinary(["sandbox", "usage", agent, "--model", "claude-haiku-3.5", "--input-tokens", "100000", "--output-tokens", "0"], home: home)
    }
    _ = try runBinary(["sandbox", "revenue", winner, "2"], home: home)
    return (home, project, winner, loser)
}

/// Hostile and broken input: a clear one-line error, a non-zero exit, and both databases and
/// the home folder exactly as before.
@Suite(.serialized) struct RobustnessTests {
    func expectRefusedWithoutChange(_ arguments: [String], home: URL, environment: [String: String] = [:], exitCode: Int32 = 1, mentioning text: String? = nil) throws {
        let before = try snapshot(home)
        let output = try runBinary(arguments, home: home, environment: environment)
        #expect(output.exitCode == exitCode, "\(arguments): exit \(output.exitCode), \(output.stderr)")
        let lines = output.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        #expect(lines.count == 1 && lines[0].hasPrefix("Error: "), "\(arguments): \(output.stderr)")
        if let text { #expect(output.stderr.contains(text), "\(arguments): \(output.stderr)") }
        #expect(output.stdout.isEmpty, "\(arguments)")
        #expect(try snapshot(home) == before, "\(arguments) changed something")
    }

    @Test func hostileValuesAreRefused() throws {
        let (home, project, winner, loser) = try promotableHome()
        let huge = home.appendingPathComponent("huge.json")
        try ("{\"x\": \"" + String(repeating: "y", count: 1 << 20) + "\"}").write(to: huge, atomically: true, encoding: .utf8)
        #expect(try runBinary(["sandbox", "experiment", "start", project, "e"], home: home).exitCode == 0)
        let cases: [[String]] = [
            ["sandbox", "deploy", project, "assistant", "--config", "{\"a\":"],
            ["sandbox", "deploy", project, "assistant", "--config", "\"just a string\""],
            ["sandbox", "deploy", project, "assistant", "--config", "@\(huge.path)"],
            ["sandbox", "deploy", project, "assistant", "--config", "@/nonexistent.json"],
            ["sandbox", "deploy", project, "assistant", "--config", #"{"token_budget": -1}"#],
            ["sandbox", "experiment", "start", project, "e", "--config", "[]"],
            ["sandbox", "experiment", "complete", "1", "--success", "--results", "not json"],
            ["sandbox", "experiment", "complete", "1", "--success", "--results", "[1, 2]"],
            ["sandbox", "experiment", "complete", "1", "--success", "--results", "@\(huge.path)"],
            ["sandbox", "usage", winner, "--model", "claude-opus-4", "--input-tokens", "-1", "--output-tokens", "0"],
            ["sandbox", "usage", winner, "--model", "claude-opus-4", "--input-tokens", "99999999999", "--output-tokens", "0"],
            ["sandbox", "revenue", winner, "0"],
            ["sandbox", "create", String(repeating: "n", count: 1_001)],
            ["sandbox", "create", " \n "],
            ["sandbox", "create", "x", "--budget", "0"],
            ["sandbox", "promote", project, "--yes", "--slot-map", "\(loser)=bot"],
            ["sandbox", "promote", project, "--yes", "--slot-map", "agt_../../x=bot"],
        ]
        for arguments in cases {
            try expectRefusedWithoutChange(arguments, home: home)
        }
        // A malformed number, amount or duration on the command line is a usage error.
        let usageErrors: [[String]] = [
            ["sandbox", "promote", project, "--yes", "--slot-map", "no-equals-sign"],
            ["sandbox", "promote", project, "--yes", "--slot-map", "\(winner)="],
            ["sandbox", "promote", project, "--yes", "--slot-map", "\(winner)=bad\u{1b}[2J"],
            ["sandbox", "promote", project, "--yes", "--slot-map", "\(winner)=a", "--slot-map", "\(winner)=b"],
            ["sandbox", "usage", winner, "--model", "x", "--input-tokens", "NaN", "--output-tokens", "1"],
            ["sandbox", "usage", winner, "--model", "x", "--input-tokens", "1", "--output-tokens", "1", "--cost", "NaN"],
            ["sandbox", "usage", winner, "--model", "x", "--input-tokens", "1", "--output-tokens", "1", "--cost", "inf"],
            ["sandbox", "usage", winner, "--model", "x", "--input-tokens", "1", "--output-tokens", "1", "--cost", "1e300"],
            ["sandbox", "usage", winner, "--model", "x", "--input-tokens", "1", "--output-tokens", "1", "--cost", "0.1234567"],
            ["sandbox", "revenue", winner, "0.0000001"],
            ["sandbox", "revenue", winner, "10000000000"],
            ["sandbox", "run", winner, "--timeout", "forever", "--", "true"],
        ]
        for arguments in usageErrors {
            try expectRefusedWithoutChange(arguments, home: home, exitCode: 64)
        }
    }

    @Test func malformedAndUnknownIDsAreRefused() throws {
        let (home, project, _, _) = try promotableHome()
        #expect(try runBinary(["sandbox", "promote", project, "--yes"], home: home).exitCode == 0)
        for id in ["../..", "/etc", "prj_../../x", "prj_1' OR '1'='1", "prj_0000000", "PRJ_00000000", "prj_00000000"] {
            try expectRefusedWithoutChange(["sandbox", "project", id], home: home)
            try expectRefusedWithoutChange(["sandbox", "kill", id, "--delete"], home: home)
            try expectRefusedWithoutChange(["sandbox", "deploy", id, "assistant"], home: home)
        }
        for slot in ["nobody", "../..", "x' OR '1'='1", ""] {
            try expectRefusedWithoutChange(["production", "slot", slot], home: home)
            try expectRefusedWithoutChange(["production", "history", slot], home: home)
        }
        try expectRefusedWithoutChange(["production", "history", "--since", "yesterday"], home: home, exitCode: 64)
        for id in ["agt_../../etc", "agt_000000000000", "1; DROP TABLE agents"] {
            try expectRefusedWithoutChange(["sandbox", "revenue", id, "1"], home: home)
            try expectRefusedWithoutChange(["sandbox", "pause", id], home: home)
        }
        for id in ["0", "-1", "1.5", "99", "abc"] {
            try expectRefusedWithoutChange(["sandbox", "experiment", "complete", id, "--success"], home: home, exitCode: id == "-1" ? 64 : 1)
        }
    }

    @Test func operationsInTheWrongStateAreRefused() throws {
        let (home, project, winner, _) = try promotableHome()
        let experiment = try runBinary(["sandbox", "experiment", "start", project, "e", "--json"], home: home).decode(Experiment.self)
        _ = try runBinary(["sandbox", "experiment", "complete", String(experiment.id), "--success"], home: home)
        try expectRefusedWithoutChange(["sandbox", "experiment", "complete", String(experiment.id), "--failure"], home: home, mentioning: "already completed")
        _ = try runBinary(["sandbox", "pause", winner], home: home)
        try expectRefusedWithoutChange(["sandbox", "run", winner, "--", "true"], home: home, mentioning: "paused")
        try expectRefusedWithoutChange(["sandbox", "pause", winner], home: home)
        _ = try runBinary(["sandbox", "resume", winner], home: home)
        #expect(try runBinary(["sandbox", "promote", project, "--yes"], home: home).exitCode == 0)
        try expectRefusedWithoutChange(["sandbox", "promote", project, "--yes"], home: home, mentioning: "already promoted")
        try expectRefusedWithoutChange(["sandbox", "deploy", project, "assistant"], home: home, mentioning: "promoted")
        try expectRefusedWithoutChange(["sandbox", "kill", project, "--yes"], home: home, mentioning: "promoted")
        try expectRefusedWithoutChange(["sandbox", "kill", project], home: home, mentioning: "promoted") // refusals before the question
        let other = try runBinary(["sandbox", "create", "q", "--json"], home: home).decode(Project.self).id.rawValue
        let agent = try runBinary(["sandbox", "deploy", other, "assistant", "--json"], home: home).decode(Agent.self).id.rawValue
        try expectRefusedWithoutChange(["sandbox", "kill", other], home: home, mentioning: "--yes")
        #expect(try runBinary(["sandbox", "kill", other, "--yes"], home: home).exitCode == 0)
        try expectRefusedWithoutChange(["sandbox", "kill", other, "--yes"], home: home, mentioning: "already killed")
        try expectRefusedWithoutChange(["sandbox", "promote", other, "--yes", "--force"], home: home)
        try expectRefusedWithoutChange(["sandbox", "deploy", other, "assistant"], home: home, mentioning: "killed")
        try expectRefusedWithoutChange(["sandbox", "run", agent, "--", "true"], home: home, mentioning: "killed")
        try expectRefusedWithoutChange(["sandbox", "usage", agent, "--model", "claude-opus-4", "--input-tokens", "1", "--output-tokens", "1"], home: home)
        try expectRefusedWithoutChange(["sandbox", "experiment", "start", other, "late"], home: home)
    }

    @Test func textIsStoredExactlyAndTablesStayAligned() throws {
        let home = try makeHome()
        let names = ["quote ' and \" and `", "new\nline", "rtl \u{202E}olleh", "tab\there", "emoji 🧪 and CJK 漢字", String(repeating: "long ", count: 200)]
        let description = String(repeating: "0123456789", count: 10_000) // 100 KB
        var ids: [String] = []
        for name in names {
            let project = try runBinary(["sandbox", "create", name, "--description", description, "--json"], home: home).decode(Project.self)
            #expect(project.name == name)
            ids.append(project.id.rawValue)
        }
        for (id, name) in zip(ids, names) {
            let detail = try runBinary(["sandbox", "project", id, "--json"], home: home).decode(ProjectDetail.self)
            #expect(detail.name == name && detail.description == description)
        }
        let table = try runBinary(["sandbox", "list"], home: home).stdout.split(separator: "\n").map(String.init)
        #expect(table.count == names.count + 1)
        let statusColumn = try #require(table[0].range(of: "STATUS")).lowerBound.utf16Offset(in: table[0])
        for row in table.dropFirst() where !row.contains("漢字") && !row.contains("🧪") {
            #expect(String(Array(row)[statusColumn..<(statusColumn + 6)]) == "active", "\(row)")
        }
        #expect(!table.joined().contains("\u{202E}") && !table.joined().contains("\t"))
    }

    @Test func brokenDatabasesAreNamedAndLeftAlone() throws {
        for damage in ["random", "truncated", "newer", "foreign", "directory"] {
            let (home, _, _, _) = try promotableHome()
            let database = home.appendingPathComponent("sandbox/sandbox.db")
            switch damage {
            case "random":
                try Data((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }).write(to: database)
            case "truncated":
                let data = try Data(contentsOf: database)
                try data.prefix(50).write(to: database)
            case "newer":
                #expect(shell(["sqlite3", database.path, "PRAGMA user_version = 999"]) == 0)
            case "foreign":
                try FileManager.default.removeItem(at: database)
                #expect(shell(["sqlite3", database.path, "CREATE TABLE theirs (x)"]) == 0)
            default:
                try FileManager.default.removeItem(at: database)
                try FileManager.default.createDirectory(at: database, withIntermediateDirectories: false)
            }
            for arguments in [["sandbox", "list"], ["sandbox", "status", "--json"], ["sandbox", "create", "x"]] {
                try expectRefusedWithoutChange(arguments, home: home, mentioning: database.path)
            }
        }
    }

    @Test func aBrokenProductionDatabaseIsNamedAndLeftAlone() throws {
        for damage in ["random", "newer", "directory"] {
            let (home, project, _, _) = try promotableHome()
            let database = home.appendingPathComponent("production.db")
            switch damage {
            case "random": try Data(repeating: 0xA5, count: 8_192).write(to: database)
            case "newer": #expect(shell(["sqlite3", database.path, "PRAGMA user_version = 42"]) == 0)
            default: try FileManager.default.createDirectory(at: database, withIntermediateDirectories: false)
            }
            try expectRefusedWithoutChange(["sandbox", "promote", project, "--yes"], home: home, mentioning: database.path)
            try expectRefusedWithoutChange(["production", "list"], home: home, mentioning: database.path)
        }
    }

    @Test func aReadOnlySandboxStillReadsAndRefusesWritesCleanly() throws {
        let (home, project, winner, _) = try promotableHome()
        let protection = try WriteProtection(home.appendingPathComponent("sandbox/sandbox.db").path)
        defer { protection.restore() }
        #expect(try runBinary(["sandbox", "list", "--json"], home: home).decode(ProjectList.self).projects.count == 1)
        #expect(try runBinary(["sandbox", "project", project], home: home).exitCode == 0)
        for arguments in [["sandbox", "create", "x"], ["sandbox", "revenue", winner, "1"], ["sandbox", "eval", project], ["sandbox", "promote", project, "--yes"]] {
            try expectRefusedWithoutChange(arguments, home: home, mentioning: "read-only")
        }
    }

    @Test func aFullDiskFailsCleanlyAndLeavesTheDatabaseIntact() throws {
        let (home, _, winner, _) = try promotableHome()
        let pageCount = try runSQLite(home.appendingPathComponent("sandbox/sandbox.db").path, "PRAGMA page_count")
        let pages = try #require(pageCount.flatMap { Int($0) })
        let lines = (0..<20_000).map { #"{"type":"usage","agent_id":"\#(winner)","id":"full-\#($0)","model":"claude-opus-4","input_tokens":1,"output_tokens":1,"operation":"\#(String(repeating: "x", count: 100))"}"# }
        let file = home.appendingPathComponent("big.jsonl")
        try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        try expectRefusedWithoutChange(
            ["sandbox", "import", file.path], home: home, environment: ["NOVAOS_TEST_MAX_PAGE_COUNT": String(pages + 5)], mentioning: "full"
        )
        #expect(try runSQLite(home.appendingPathComponent("sandbox/sandbox.db").path, "PRAGMA integrity_check") == "ok")
        #expect(try runBinary(["sandbox", "import", file.path], home: home).exitCode == 0)
    }

    @Test func aReadOnlyOrLockedProductionRefusesPromotionAndARetrySucceeds() throws {
        let (home, project, _, _) = try promotableHome()
        let production = home.appendingPathComponent("production.db")
        #expect(shell(["sqlite3", production.path, "PRAGMA user_version"]) == 0) // an empty file: a new database
        let protection = try WriteProtection(production.path)
        try expectRefusedWithoutChange(["sandbox", "promote", project, "--yes"], home: home, mentioning: production.path)
        protection.restore()

        // Another process holds production's write lock past our busy timeout.
        let locker = try holdingWriteLock(on: production.path, forSeconds: 3)
        try expectRefusedWithoutChange(["sandbox", "promote", project, "--yes"], home: home, environment: ["NOVAOS_BUSY_TIMEOUT_MS": "300"], mentioning: "locked")
        locker.waitUntilExit()

        let retry = try runBinary(["sandbox", "promote", project, "--yes", "--json"], home: home)
        #expect(retry.exitCode == 0)
        #expect(try retry.decode(PromotionResult.self).agentsMigrated == 1)
    }

    @Test func nothingButPromoteWritesProduction() throws {
        let (home, project, winner, loser) = try promotableHome()
        #expect(try runBinary(["sandbox", "promote", project, "--yes"], home: home).exitCode == 0)
        let other = try runBinary(["sandbox", "create", "q", "--json"], home: home).decode(Project.self).id.rawValue
        let agent = try runBinary(["sandbox", "deploy", other, "assistant", "--json"], home: home).decode(Agent.self).id.rawValue
        let production = home.appendingPathComponent("production.db").path
        let before = try Data(contentsOf: URL(fileURLWithPath: production))
        let protection = try WriteProtection(production)
        defer { protection.restore() }
        let events = home.appendingPathComponent("e.jsonl")
        try #"{"type":"revenue","agent_id":"\#(agent)","amount":1}"#.write(to: events, atomically: true, encoding: .utf8)
        let commands: [[String]] = [
            ["sandbox", "create", "r"], ["sandbox", "deploy", other, "coder"], ["sandbox", "usage", agent, "--model", "claude-opus-4", "--input-tokens", "5", "--output-tokens", "5"],
            ["sandbox", "revenue", agent, "3"], ["sandbox", "import", events.path], ["sandbox", "run", agent, "--", "true"], ["sandbox", "runs", agent],
            ["sandbox", "pause", agent], ["sandbox", "resume", agent], ["sandbox", "experiment", "start", other, "e"], ["sandbox", "experiment", "list", other],
            ["sandbox", "experiment", "complete", "1", "--success"], ["sandbox", "list"], ["sandbox", "project", project], ["sandbox", "status"],
            ["sandbox", "eval", other], ["sandbox", "promote", other, "--dry-run"], ["sandbox", "backup", home.appendingPathComponent("copy.db").path],
            ["production", "list"], ["production", "slot", "winner"], ["production", "history"], ["production", "history", "winner", "--since", "2026-01-01"],
            ["production", "backup", home.appendingPathComponent("prod-copy.db").path], ["sandbox", "kill", other, "--delete", "--yes"],
        ]
        for arguments in commands {
            let output = try runBinary(arguments, home: home)
            #expect(output.exitCode == 0, "\(arguments): \(output.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: production)) == before)
        _ = (winner, loser)
    }

    @Test func backupsAreConsistentCopiesAndNeverOverwrite() throws {
        let (home, project, winner, _) = try promotableHome()
        #expect(try runBinary(["sandbox", "promote", project, "--yes"], home: home).exitCode == 0)
        let copy = home.appendingPathComponent("backup.db")
        // Writers keep going while the backup is taken.
        let writer = Process()
        writer.executableURL = novaosBinary
        let events = home.appendingPathComponent("stream.jsonl")
        let other = try runBinary(["sandbox", "create", "busy", "--json"], home: home).decode(Project.self).id.rawValue
        let agent = try runBinary(["sandbox", "deploy", other, "assistant", "--json"], home: home).decode(Agent.self).id.rawValue
        let line = #"{"type":"usage","agent_id":"\#(agent)","model":"claude-haiku-3.5","input_tokens":1,"output_tokens":1}"#
        try Array(repeating: line, count: 200_000).joined(separator: "\n").write(to: events, atomically: true, encoding: .utf8)
        writer.arguments = ["sandbox", "import", events.path, "--home", home.path]
        writer.standardOutput = FileHandle.nullDevice
        try writer.run()
        let output = try runBinary(["sandbox", "backup", copy.path, "--json"], home: home)
        writer.waitUntilExit()
        #expect(output.exitCode == 0, "\(output.stderr)")
        #expect(try output.decode(BackupResult.self).path == copy.path)
        #expect(try runSQLite(copy.path, "PRAGMA integrity_check") == "ok")
        // The copy holds a consistent state: every agent's totals match its records, and the
        // import is either wholly in it or not at all.
        let mismatches = try runSQLite(copy.path, """
            SELECT count(*) FROM agents AS a WHERE a.cost_micros <> (SELECT coalesce(sum(cost_micros), 0) FROM api_costs WHERE agent_id = a.id)
            """)
        #expect(mismatches == "0")
        let importedText = try runSQLite(copy.path, "SELECT count(*) FROM api_costs WHERE agent_id = '\(agent)'")
        let imported = try #require(importedText.flatMap { Int($0) })
        #expect(imported == 0 || imported == 200_000)
        #expect(try runSQLite(copy.path, "SELECT status FROM projects WHERE id = '\(project)'") == "promoted")
        _ = winner
        try expectRefusedWithoutChange(["sandbox", "backup", copy.path], home: home, mentioning: "already exists")

        let productionCopy = home.appendingPathComponent("production-backup.db")
        #expect(try runBinary(["production", "backup", productionCopy.path], home: home).exitCode == 0)
        #expect(try runSQLite(productionCopy.path, "SELECT count(*) FROM agents") == "1")
        let fresh = try makeHome()
        #expect(try runBinary(["production", "backup", fresh.appendingPathComponent("x.db").path], home: fresh).exitCode == 1)
    }
}

/// The first line the sqlite3 shell prints for `sql`.
func runSQLite(_ database: String, _ sql: String) throws -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["sqlite3", database, sql]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init)
}
