import Foundation
import SandboxCore
import Testing

let exampleAgentPath = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("sandbox/agents/example_agent.py").path

@Suite(.serialized) struct RunAndImportEndToEndTests {
    func setUp(budget: Int = 50_000) throws -> (home: URL, project: ProjectID, agent: AgentID) {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "runner", "--json"], home: home).decode(Project.self)
        let agent = try runBinary(["sandbox", "deploy", project.id.rawValue, "assistant", "--config", #"{"token_budget": \#(budget)}"#, "--json"], home: home).decode(Agent.self)
        return (home, project.id, agent.id)
    }

    @Test func runStreamsOutputAndExitsWithTheAgentsStatus() throws {
        let setUp = try setUp()
        let text = try runBinary(["sandbox", "run", setUp.agent.rawValue, "--", "python3", exampleAgentPath, "--calls", "2", "--delay", "0"], home: setUp.home)
        #expect(text.exitCode == 0, "\(text.stderr)")
        #expect(text.stdout.contains("call 2: 1200 in, 300 out"))
        #expect(text.stdout.contains("Run 1 of \(setUp.agent): exited with 0"))
        #expect(text.stderr.contains("done"))

        let json = try runBinary(["sandbox", "run", setUp.agent.rawValue, "--json", "--", "sh", "-c", "echo noise; exit 9"], home: setUp.home)
        #expect(json.exitCode == 9)
        #expect(json.stderr.contains("noise"))
        #expect(try json.jsonKeys().isSuperset(of: ["id", "agent_id", "command", "started_at", "ended_at", "exit_code", "signal", "stop_reason", "tokens_used", "cost", "events"]))
        #expect(try json.decode(RunRecord.self).exitCode == 9)

        let runs = try runBinary(["sandbox", "runs", setUp.agent.rawValue, "--json"], home: setUp.home).decode(RunList.self)
        #expect(runs.runs.map(\.id) == [2, 1])
        #expect(try runBinary(["sandbox", "runs", setUp.agent.rawValue], home: setUp.home).stdout.contains("exited with 9"))
        #expect(try runBinary(["sandbox", "project", setUp.project.rawValue, "--json"], home: setUp.home).decode(ProjectDetail.self).runs.count == 2)
    }

    @Test func runStopsARunawayAtItsBudgetWithExitCode3() throws {
        let setUp = try setUp(budget: 6_000)
        let output = try runBinary(["sandbox", "run", setUp.agent.rawValue, "--json", "--", "python3", exampleAgentPath, "--runaway", "--delay", "0.01"], home: setUp.home)
        #expect(output.exitCode == 3)
        let run = try output.decode(RunRecord.self)
        #expect(run.stopReason == .budgetExceeded && run.tokensUsed >= 6_000)
        #expect(output.stderr.contains("stopped: agent \(setUp.agent) used"))
        #expect(FileManager.default.fileExists(atPath: run.log))
    }

    @Test func runTimesOutWithExitCode124() throws {
        let setUp = try setUp()
        let output = try runBinary(["sandbox", "run", setUp.agent.rawValue, "--timeout", "300ms", "--", "sleep", "30"], home: setUp.home, environment: ["NOVAOS_KILL_GRACE_MS": "200"])
        #expect(output.exitCode == 124)
        #expect(output.stdout.contains("timeout"))
    }

    @Test func pausedAgentsDoNotRunAndResumeBringsThemBack() throws {
        let setUp = try setUp()
        let paused = try runBinary(["sandbox", "pause", setUp.agent.rawValue, "--json"], home: setUp.home)
        #expect(try paused.decode(Agent.self).status == .paused)
        let refused = try runBinary(["sandbox", "run", setUp.agent.rawValue, "--", "true"], home: setUp.home)
        #expect(refused.exitCode == 1 && refused.stderr == "Error: agent \(setUp.agent) is paused (manual); only active agents run\n")
        #expect(try runBinary(["sandbox", "resume", setUp.agent.rawValue, "--json"], home: setUp.home).decode(Agent.self).status == .active)
        #expect(try runBinary(["sandbox", "run", setUp.agent.rawValue, "--", "true"], home: setUp.home).exitCode == 0)
        #expect(try runBinary(["sandbox", "run", setUp.agent.rawValue], home: setUp.home).exitCode == 64)
    }

    @Test func importIsAllOrNothingAndIdempotent() throws {
        let setUp = try setUp()
        let agent = setUp.agent.rawValue
        let good = (0..<100).map { #"{"type":"usage","agent_id":"\#(agent)","id":"u\#($0)","model":"claude-haiku-3.5","input_tokens":1000,"output_tokens":100}"# }
            + [#"{"type":"revenue","agent_id":"\#(agent)","id":"r1","amount":12.5,"source":"stripe"}"#]
        let file = setUp.home.appendingPathComponent("events.jsonl")
        try (good.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let bad = setUp.home.appendingPathComponent("bad.jsonl")
        try ((good.prefix(50) + ["oops"] + good.suffix(51)).joined(separator: "\n") + "\n").write(to: bad, atomically: true, encoding: .utf8)

        let before = try snapshot(setUp.home)
        let rejected = try runBinary(["sandbox", "import", bad.path], home: setUp.home)
        #expect(rejected.exitCode == 1)
        #expect(rejected.stdout.isEmpty)
        #expect(rejected.stderr.contains("line 51: not valid JSON"))
        #expect(rejected.stderr.hasSuffix("nothing was committed (use --skip-invalid to record the valid lines)\n"))
        #expect(try snapshot(setUp.home) == before)

        let rejectedJSON = try runBinary(["sandbox", "import", bad.path, "--json"], home: setUp.home)
        #expect(rejectedJSON.exitCode == 1)
        #expect(try rejectedJSON.decode(ImportSummary.self).committed == false)

        let first = try runBinary(["sandbox", "import", file.path, "--json"], home: setUp.home)
        #expect(first.exitCode == 0)
        #expect(try first.jsonKeys() == ["source", "lines", "new", "duplicate", "rejected", "usage_events", "revenue_events", "tokens", "cost", "revenue", "committed", "errors", "budget_exceeded", "paused_agents"])
        let summary = try first.decode(ImportSummary.self)
        #expect(summary.new == 101 && summary.duplicate == 0 && summary.tokens == 110_000)
        let afterFirst = try snapshot(setUp.home)
        let second = try runBinary(["sandbox", "import", file.path, "--json"], home: setUp.home).decode(ImportSummary.self)
        #expect(second.new == 0 && second.duplicate == 101)
        #expect(try snapshot(setUp.home) == afterFirst)

        let skipped = try runBinary(["sandbox", "import", bad.path, "--skip-invalid"], home: setUp.home)
        #expect(skipped.exitCode == 0)
        #expect(skipped.stdout.contains("0 new event(s)") && skipped.stdout.contains("101 duplicate(s) skipped, 1 rejected"))

        let agentAfter = try runBinary(["sandbox", "project", setUp.project.rawValue, "--json"], home: setUp.home).decode(ProjectDetail.self).agents[0]
        #expect(agentAfter.tokensUsed == 110_000)
        #expect(agentAfter.totalRevenue == (try Money(parsing: "12.5")))
    }

    @Test func importReadsStandardInputAndRefusesAMissingFile() throws {
        let setUp = try setUp()
        let file = setUp.home.appendingPathComponent("stdin.jsonl")
        try #"{"type":"revenue","agent_id":"\#(setUp.agent)","amount":1}"#.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = novaosBinary
        process.arguments = ["sandbox", "import", "-", "--json", "--home", setUp.home.path]
        process.standardInput = try FileHandle(forReadingFrom: file)
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(try SandboxJSON.decoder().decode(ImportSummary.self, from: data).new == 1)

        let missing = try runBinary(["sandbox", "import", "/nonexistent/events.jsonl"], home: setUp.home)
        #expect(missing.exitCode == 1 && missing.stderr.hasPrefix("Error: /nonexistent/events.jsonl: cannot open"))
    }
}
