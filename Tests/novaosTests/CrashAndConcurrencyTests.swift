import Foundation
import SandboxCore
import SQLiteDB
import Testing

/// Promotion is exactly-once whatever kills it, and concurrent writers lose nothing.
@Suite(.serialized) struct CrashAndConcurrencyTests {
    /// Sandbox agents of `project` that production holds, and how many production rows each has.
    func productionCopies(_ home: URL) throws -> [String: Int] {
        let path = home.appendingPathComponent("production.db").path
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        let db = try Connection(path: path, mode: .readOnly)
        var copies: [String: Int] = [:]
        for origin in try db.query("SELECT promoted_from_agent_id FROM agents", [], { $0.text(0) }) {
            copies[origin, default: 0] += 1
        }
        return copies
    }

    func expectPromotedExactlyOnce(_ home: URL, project: String, eligible: Set<String>) throws {
        let copies = try productionCopies(home)
        #expect(Set(copies.keys) == eligible, "production holds the wrong agents")
        #expect(copies.values.allSatisfy { $0 == 1 }, "an agent was promoted twice")
        let detail = try runBinary(["sandbox", "project", project, "--json"], home: home).decode(ProjectDetail.self)
        #expect(detail.status == .promoted && !detail.promotionPending)
    }

    @Test(arguments: PromotionStep.allCases)
    func aPromotionKilledAtAnyStepIsCompletedByTheNextPromote(step: PromotionStep) throws {
        let (home, project, winner, _) = try promotableHome()
        let killed = try runBinary(["sandbox", "promote", project, "--yes"], home: home, environment: ["NOVAOS_TEST_CRASH_AT": step.rawValue])
        #expect(killed.signaled && killed.exitCode == SIGKILL, "\(step): \(killed.stderr)")
        if step == .completed {
            let again = try runBinary(["sandbox", "promote", project, "--yes"], home: home)
            #expect(again.exitCode == 1 && again.stderr.contains("already promoted"))
        } else {
            let pending = try runBinary(["sandbox", "project", project, "--json"], home: home).decode(ProjectDetail.self)
            #expect(pending.promotionPending && pending.status == .active)
            #expect(try runBinary(["sandbox", "kill", project], home: home).exitCode == 1)
            let resumed = try runBinary(["sandbox", "promote", project, "--yes", "--json"], home: home)
            #expect(resumed.exitCode == 0, "\(step): \(resumed.stderr)")
            #expect(try resumed.decode(PromotionResult.self).migratedAgents.map(\.sandboxID.rawValue) == [winner])
        }
        try expectPromotedExactlyOnce(home, project: project, eligible: [winner])
    }

    @Test func twoThousandAgentsSurviveRandomKills() throws {
        // A template home: one project, 2,000 agents, every other one profitable.
        let template = try makeHome()
        let sandbox = try Sandbox(paths: SandboxPaths(home: template))
        let project = try sandbox.createProject(name: "big").id
        var eligible: Set<String> = []
        var events = ""
        for index in 0..<2_000 {
            let agent = try sandbox.deployAgent(project: project, type: "assistant", name: "agent-\(index)").id.rawValue
            events += #"{"type":"usage","agent_id":"\#(agent)","model":"claude-haiku-3.5","input_tokens":10000,"output_tokens":0}"# + "\n"
            if index % 2 == 0 {
                events += #"{"type":"revenue","agent_id":"\#(agent)","amount":1}"# + "\n"
                eligible.insert(agent)
            }
        }
        let file = template.appendingPathComponent("events.jsonl")
        try events.write(to: file, atomically: true, encoding: .utf8)
        #expect(try runBinary(["sandbox", "import", file.path], home: template).exitCode == 0)

        // How long an uninterrupted promotion takes, to spread the kills over it.
        let timing = try copyHome(template)
        let start = Date()
        #expect(try runBinary(["sandbox", "promote", project.rawValue, "--yes"], home: timing).exitCode == 0)
        let duration = Date().timeIntervalSince(start)
        try expectPromotedExactlyOnce(timing, project: project.rawValue, eligible: eligible)

        var generator = SystemRandomNumberGenerator()
        for _ in 0..<8 {
            let home = try copyHome(template)
            var kills = 0
            // Up to three kills in a row, each at a random moment, then a run to completion.
            for _ in 0..<3 {
                let delay = Double.random(in: 0...(duration * 1.2), using: &generator)
                if try promoteAndKill(home: home, project: project.rawValue, after: delay) { kills += 1 }
            }
            let final = try runBinary(["sandbox", "promote", project.rawValue, "--yes"], home: home)
            #expect(final.exitCode == 0 || final.stderr.contains("already promoted"), "\(final.stderr)")
            try expectPromotedExactlyOnce(home, project: project.rawValue, eligible: eligible)
        }
    }

    /// Starts `promote`, SIGKILLs it after `delay` seconds; true if it was still running then.
    func promoteAndKill(home: URL, project: String, after delay: TimeInterval) throws -> Bool {
        let process = Process()
        process.executableURL = novaosBinary
        process.arguments = ["sandbox", "promote", project, "--yes", "--home", home.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: delay)
        let wasRunning = process.isRunning
        if wasRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return wasRunning
    }

    func copyHome(_ template: URL) throws -> URL {
        let copy = try makeHome()
        try FileManager.default.removeItem(at: copy)
        try FileManager.default.copyItem(at: template, to: copy)
        return copy
    }

    @Test func concurrentPromotionsPromoteOnce() throws {
        let (home, project, winner, _) = try promotableHome()
        let processes = (0..<3).map { _ in
            let process = Process()
            process.executableURL = novaosBinary
            process.arguments = ["sandbox", "promote", project, "--yes", "--home", home.path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            return process
        }
        for process in processes { try process.run() }
        for process in processes { process.waitUntilExit() }
        let successes = processes.filter { $0.terminationStatus == 0 }.count
        #expect(successes == 1)
        #expect(processes.allSatisfy { $0.terminationStatus == 0 || $0.terminationStatus == 1 })
        try expectPromotedExactlyOnce(home, project: project, eligible: [winner])
    }

    @Test func concurrentWritersLoseNothing() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "busy", "--json"], home: home).decode(Project.self).id.rawValue
        var agents: [String] = []
        for index in 0..<4 {
            agents.append(try runBinary(["sandbox", "deploy", project, "assistant", "--name", "a\(index)", "--config", #"{"token_budget": 1000000000000}"#, "--json"], home: home).decode(Agent.self).id.rawValue)
        }
        let importFile = home.appendingPathComponent("import.jsonl")
        try (0..<20_000).map { #"{"type":"usage","agent_id":"\#(agents[$0 % 4])","id":"imp-\#($0)","model":"claude-haiku-3.5","input_tokens":10,"output_tokens":10}"# }
            .joined(separator: "\n").write(to: importFile, atomically: true, encoding: .utf8)

        func spawn(_ script: String) throws -> (Process, Pipe) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", script]
            var environment = ProcessInfo.processInfo.environment
            environment["NOVAOS_HOME"] = home.path
            environment["NOVA"] = novaosBinary.path
            process.environment = environment
            let errors = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
            return (process, errors)
        }
        var writers: [(Process, Pipe)] = []
        for index in 0..<8 {
            let agent = agents[index % 4]
            writers.append(try spawn("""
                i=0
                while [ $i -lt 500 ]; do
                  "$NOVA" sandbox usage \(agent) --model claude-sonnet-4 --input-tokens 100 --output-tokens 10 || exit 1
                  if [ $((i % 5)) -eq 0 ]; then "$NOVA" sandbox revenue \(agent) 0.01 || exit 1; fi
                  i=$((i + 1))
                done
                """))
        }
        let importer = try spawn(#"sleep 1; "$NOVA" sandbox import "\#(importFile.path)" || exit 1"#)
        // Readers: the CLI's own views, and the raw tables in one statement each (one snapshot),
        // which would show a record without its total, or the other way round.
        let database = home.appendingPathComponent("sandbox/sandbox.db").path
        let reader = try spawn("""
            while [ ! -f "\(home.path)/writers-done" ]; do
              "$NOVA" sandbox list --json > /dev/null || exit 1
              "$NOVA" sandbox eval \(project) --json > /dev/null || exit 1
              bad=$(sqlite3 -cmd ".timeout 10000" "\(database)" "SELECT count(*) FROM agents AS a WHERE a.cost_micros <> (SELECT coalesce(sum(cost_micros), 0) FROM api_costs WHERE agent_id = a.id) OR a.revenue_micros <> (SELECT coalesce(sum(amount_micros), 0) FROM revenue WHERE agent_id = a.id)") || exit 1
              [ "$bad" = "0" ] || { echo "half-applied state seen: $bad" >&2; exit 1; }
            done
            """)
        for (process, errors) in writers + [importer] {
            process.waitUntilExit()
            let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == 0, "a writer failed: \(stderr)")
            #expect(!stderr.contains("locked"))
        }
        _ = FileManager.default.createFile(atPath: home.appendingPathComponent("writers-done").path, contents: nil)
        reader.0.waitUntilExit()
        let readerErrors = String(decoding: reader.1.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(reader.0.terminationStatus == 0, "a reader failed: \(readerErrors)")

        let db = try Connection(path: database, mode: .readOnly)
        #expect(try db.scalarInt("SELECT count(*) FROM api_costs") == 8 * 500 + 20_000)
        #expect(try db.scalarInt("SELECT count(*) FROM revenue") == 8 * 100)
        #expect(try db.scalarInt("""
            SELECT count(*) FROM agents AS a WHERE
                a.tokens_used <> (SELECT coalesce(sum(input_tokens + output_tokens), 0) FROM api_costs WHERE agent_id = a.id)
             OR a.cost_micros <> (SELECT coalesce(sum(cost_micros), 0) FROM api_costs WHERE agent_id = a.id)
             OR a.revenue_micros <> (SELECT coalesce(sum(amount_micros), 0) FROM revenue WHERE agent_id = a.id)
            """) == 0)
        let status = try runBinary(["sandbox", "status", "--json"], home: home).decode(SandboxStatus.self)
        #expect(status.totalRevenue == Money(micros: 800 * 10_000))
        #expect(status.totalCost.micros == (try db.scalarInt("SELECT sum(cost_micros) FROM api_costs")))
    }
}
