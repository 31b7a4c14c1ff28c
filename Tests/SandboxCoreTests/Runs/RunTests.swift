import Foundation
import SQLiteDB
import Testing
@testable import SandboxCore

/// The example agent shipped in sandbox/agents/.
let exampleAgent = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("sandbox/agents/example_agent.py").path

@Suite(.serialized) struct RunTests {
    final class Captured: @unchecked Sendable {
        var output = Data()
        var notes: [String] = []
    }

    func options(_ captured: Captured, timeout: TimeInterval? = nil) -> RunOptions {
        RunOptions(
            timeout: timeout, gracePeriod: 0.5,
            output: { data, _ in captured.output.append(data); return true }, note: { captured.notes.append($0) }
        )
    }

    func agent(_ sandbox: Sandbox, budget: Int = 100_000, projectBudget: String? = nil) throws -> Agent {
        let project = try sandbox.createProject(name: "runs", budget: projectBudget.map(dollars))
        return try sandbox.deployAgent(project: project.id, type: "assistant", configJSON: #"{"token_budget": \#(budget), "style": "terse"}"#)
    }

    @Test func anAgentReportsUsageLiveAndItsOutputIsLogged() throws {
        let sandbox = try makeSandbox()
        let agent = try agent(sandbox)
        let captured = Captured()
        let run = try sandbox.runAgent(agent.id, command: ["python3", exampleAgent, "--calls", "3", "--bad-line", "--delay", "0"], options: options(captured))
        #expect(run.stopReason == .exited && run.exitCode == 0 && run.signal == nil)
        #expect(run.events == 4 && run.rejectedEvents == 1)
        #expect(run.tokensUsed == 3 * 1500)
        #expect(run.revenue == dollars("4.99"))
        #expect(captured.notes.contains { $0.contains("events line 1") })
        let output = String(decoding: captured.output, as: UTF8.self)
        #expect(output.contains("starting with 100000 tokens left") && output.contains("'style': 'terse'"))
        let log = try String(contentsOfFile: run.log, encoding: .utf8)
        #expect(log.contains("call 3") && log.contains("done"))
        #expect(run.log == sandbox.paths.sandboxFolder.appendingPathComponent("logs/\(agent.projectID)/\(agent.id)/\(run.id).log").path)
        let stored = try sandbox.agent(agent.id)
        #expect(stored.tokensUsed == 4_500 && stored.totalRevenue == dollars("4.99"))
        #expect(try sandbox.runs(agent: agent.id).runs == [run])
        #expect(try sandbox.projectDetail(agent.projectID).runs == [run])
    }

    @Test func aRunawayAgentIsStoppedAtItsBudget() throws {
        let sandbox = try makeSandbox()
        let agent = try agent(sandbox, budget: 10_000)
        let run = try sandbox.runAgent(agent.id, command: ["python3", exampleAgent, "--runaway", "--delay", "0.01"], options: options(Captured()))
        #expect(run.stopReason == .budgetExceeded)
        #expect(run.tokensUsed >= 10_000)
        #expect(try sandbox.agent(agent.id).tokensUsed == run.tokensUsed)
        #expect(run.endedAt != nil)
        #expect(throws: SandboxError.self) { try sandbox.runAgent(agent.id, command: ["true"], options: options(Captured())) }
    }

    @Test func aProjectOverItsCostCapIsStopped() throws {
        let sandbox = try makeSandbox()
        let agent = try agent(sandbox, budget: 1_000_000_000, projectBudget: "0.05")
        let run = try sandbox.runAgent(agent.id, command: ["python3", exampleAgent, "--runaway", "--delay", "0.01", "--model", "claude-opus-4"], options: options(Captured()))
        #expect(run.stopReason == .projectBudgetExceeded)
        #expect(run.cost > dollars("0.05"))
    }

    @Test func aTimeoutKillsTheWholeGroupEvenWhenItIgnoresSIGTERM() throws {
        let sandbox = try makeSandbox()
        let agent = try agent(sandbox)
        let marker = sandbox.paths.home.appendingPathComponent("survivor").path
        let script = "trap '' TERM; (sleep 3; touch \(marker)) & sleep 30"
        let started = Date()
        let run = try sandbox.runAgent(agent.id, command: ["sh", "-c", script], options: options(Captured(), timeout: 0.5))
        #expect(run.stopReason == .timeout)
        #expect(run.signal == SIGKILL)
        #expect(Date().timeIntervalSince(started) < 5)
        Thread.sleep(forTimeInterval: 3.5)
        #expect(!FileManager.default.fileExists(atPath: marker), "a child of the agent outlived the run")
    }

    @Test func theAgentSeesItsEnvironmentAndRunsInTheWorkspace() throws {
        let sandbox = try makeSandbox()
        let agent = try agent(sandbox, budget: 12_345)
        let captured = Captured()
        let run = try sandbox.runAgent(
            agent.id, command: ["sh", "-c", #"echo "$NOVAOS_AGENT_ID $NOVAOS_PROJECT_ID $NOVAOS_TOKEN_BUDGET $NOVAOS_AGENT_CONFIG"; pwd; test -p "$NOVAOS_EVENTS"; exit 7"#],
            options: options(captured)
        )
        #expect(run.exitCode == 7 && run.stopReason == .exited)
        let lines = String(decoding: captured.output, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.first == #"\#(agent.id) \#(agent.projectID) 12345 {"style":"terse","token_budget":12345}"#)
        #expect(lines.dropFirst().first == sandbox.paths.workspace(for: agent.projectID).path)
    }

    @Test func onlyActiveAgentsRun() throws {
        let sandbox = try makeSandbox()
        let agent = try agent(sandbox)
        _ = try sandbox.pauseAgent(agent.id)
        #expect(throws: SandboxError.invalidState("agent \(agent.id) is paused (manual); only active agents run")) {
            try sandbox.runAgent(agent.id, command: ["true"], options: options(Captured()))
        }
        #expect(throws: SandboxError.self) { try sandbox.pauseAgent(agent.id) }
        _ = try sandbox.resumeAgent(agent.id)
        _ = try sandbox.kill(agent.projectID)
        #expect(throws: SandboxError.self) { try sandbox.runAgent(agent.id, command: ["true"], options: options(Captured())) }
        #expect(throws: SandboxError.self) { try sandbox.resumeAgent(agent.id) }
    }

    @Test func aCommandThatCannotStartIsRecordedAsSuch() throws {
        let sandbox = try makeSandbox()
        let agent = try agent(sandbox)
        #expect(throws: SandboxError.self) { try sandbox.runAgent(agent.id, command: ["no-such-command-anywhere"], options: options(Captured())) }
        #expect(try sandbox.runs(agent: agent.id).runs.first?.stopReason == .failedToStart)
    }

    @Test func pausedAgentsAreStillPromoted() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        _ = try sandbox.pauseAgent(seed.winner)
        #expect(try sandbox.promote(seed.project).migratedAgents.map(\.sandboxID) == [seed.winner])
    }

    @Test(arguments: [("30s", 30.0), ("500ms", 0.5), ("5m", 300.0), ("1.5h", 5400.0), ("90", 90.0)])
    func parsesDurations(text: String, seconds: Double) throws {
        #expect(try parseDuration(text) == seconds)
    }

    @Test(arguments: ["", "-1s", "0", "abc", "5x", "1e9h"])
    func refusesBadDurations(text: String) {
        #expect(throws: SandboxError.self) { try parseDuration(text) }
    }
}
