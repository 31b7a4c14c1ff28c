import Foundation
import SandboxCore
import Testing

/// Budgets bind the same way through every way in: `usage`, `import` and `run`.
@Suite struct BudgetEndToEndTests {
    func setUp(cap: String? = nil, budget: Int = 1_000_000) throws -> (home: URL, project: String, agent: String, other: String) {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "demo", "--json"] + (cap.map { ["--budget", $0] } ?? []), home: home).decode(Project.self).id.rawValue
        let config = #"{"token_budget": \#(budget)}"#
        let agent = try runBinary(["sandbox", "deploy", project, "assistant", "--config", config, "--json"], home: home).decode(Agent.self).id.rawValue
        let other = try runBinary(["sandbox", "deploy", project, "assistant", "--name", "other", "--json"], home: home).decode(Agent.self).id.rawValue
        return (home, project, agent, other)
    }

    func agent(_ id: String, home: URL) throws -> Agent {
        let detail = try runBinary(["sandbox", "project", try project(of: id, home: home), "--json"], home: home).decode(ProjectDetail.self)
        return try #require(detail.agents.first { $0.id.rawValue == id })
    }

    func project(of agent: String, home: URL) throws -> String {
        let list = try runBinary(["sandbox", "list", "--json"], home: home).decode(ProjectList.self)
        return try #require(list.projects.first).id.rawValue
    }

    /// The issue's example: a $25 cap and two records of $36. Both are recorded (the money was
    /// spent), the first pauses every active agent of the project, with one warning line.
    @Test func usageOverTheCapIsRecordedAndPausesTheProjectsAgents() throws {
        let (home, project, agent, other) = try setUp(cap: "25")
        let first = try runBinary(["sandbox", "usage", agent, "--model", "claude-sonnet-4", "--input-tokens", "1000", "--output-tokens", "100", "--cost", "36", "--json"], home: home)
        #expect(first.exitCode == 0)
        #expect(first.stderr == "warning: project \(project) reached its cost cap ($36.00 of $25.00); paused: \([agent, other].sorted().joined(separator: ", "))\n")
        let json = try first.json()
        #expect(json["budget_exceeded"] as? Bool == true)
        #expect(Set(json["paused_agents"] as? [String] ?? []) == [agent, other])
        let second = try runBinary(["sandbox", "usage", agent, "--model", "claude-sonnet-4", "--input-tokens", "1000", "--output-tokens", "100", "--cost", "36", "--json"], home: home)
        #expect(second.exitCode == 0 && second.stderr.isEmpty)
        #expect(try second.json()["budget_exceeded"] as? Bool == false)
        let detail = try runBinary(["sandbox", "project", project, "--json"], home: home).decode(ProjectDetail.self)
        #expect(detail.metrics.totalCost == Money(micros: 72_000_000))
        #expect(detail.budgetUsedPercent == 288)
        #expect(detail.agents.allSatisfy { $0.status == .paused && $0.pauseReason == .projectBudgetExceeded })
        #expect(try runBinary(["sandbox", "list"], home: home).stdout.contains("! 288.0%"))
        let evaluation = try runBinary(["sandbox", "eval", project, "--json"], home: home).decode(Evaluation.self)
        #expect(evaluation.warnings.contains { $0.hasPrefix("project \(project) is over its cost cap") })
    }

    @Test func anAgentReachingItsTokenBudgetIsPausedWithAWarningLine() throws {
        let (home, _, agent, other) = try setUp(budget: 1_000_000)
        let under = try runBinary(["sandbox", "usage", agent, "--model", "claude-haiku-3.5", "--input-tokens", "999000", "--output-tokens", "999"], home: home)
        #expect(under.exitCode == 0 && under.stderr.isEmpty)
        let over = try runBinary(["sandbox", "usage", agent, "--model", "claude-haiku-3.5", "--input-tokens", "100", "--output-tokens", "21", "--json"], home: home)
        #expect(over.exitCode == 0)
        #expect(over.stderr == "warning: agent \(agent) reached its token budget (1,000,120 of 1,000,000); it is paused\n")
        #expect(try over.json()["paused_agents"] as? [String] == [agent])
        let paused = try self.agent(agent, home: home)
        #expect(paused.status == .paused && paused.pauseReason == .budgetExceeded && paused.budgetUsedPercent == 100)
        #expect(try self.agent(other, home: home).status == .active)
    }

    @Test func anImportPausesTheSameWayAndSaysSo() throws {
        let (home, _, agent, _) = try setUp(budget: 10_000)
        let lines = (0..<20).map { #"{"type":"usage","agent_id":"\#(agent)","id":"e\#($0)","model":"claude-haiku-3.5","input_tokens":1000,"output_tokens":0}"# }
        let file = home.appendingPathComponent("events.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let imported = try runBinary(["sandbox", "import", file.path, "--json"], home: home)
        #expect(imported.exitCode == 0)
        #expect(imported.stderr == "warning: agent \(agent) reached its token budget (20,000 of 10,000); it is paused\n")
        let json = try imported.json()
        #expect(json["new"] as? Int == 20, "recording is never refused for being over budget")
        #expect(json["budget_exceeded"] as? Bool == true && json["paused_agents"] as? [String] == [agent])
        #expect(try self.agent(agent, home: home).pauseReason == .budgetExceeded)
    }

    @Test func aRunReachingItsBudgetPausesTheAgentAndWarns() throws {
        let (home, _, agent, _) = try setUp(budget: 6_000)
        let run = try runBinary(["sandbox", "run", agent, "--json", "--", "python3", exampleAgentPath, "--runaway", "--delay", "0.01"], home: home)
        #expect(run.exitCode == 3)
        #expect(run.stderr.contains("warning: agent \(agent) reached its token budget ("))
        let record = try run.decode(RunRecord.self)
        let agentID = try AgentID(agent)
        #expect(record.stopReason == .budgetExceeded && record.budgetExceeded && record.pausedAgents == [agentID])
        #expect(try self.agent(agent, home: home).pauseReason == .budgetExceeded)
    }

    @Test func runRefusesToStartOverACapAndRecordsNothing() throws {
        let (home, project, agent, other) = try setUp(cap: "1")
        #expect(try runBinary(["sandbox", "usage", agent, "--model", "claude-sonnet-4", "--input-tokens", "1", "--output-tokens", "1", "--cost", "1"], home: home).exitCode == 0)
        // The cap paused both agents; an agent deployed afterwards is active in a project at its cap.
        _ = other
        let deployed = try runBinary(["sandbox", "deploy", project, "assistant", "--name", "late", "--json"], home: home)
        let late = try deployed.decode(Agent.self)
        #expect(late.status == .paused && late.pauseReason == .projectBudgetExceeded, "a project at its cap takes new agents paused")
        #expect(deployed.stderr.hasPrefix("warning: project \(project) is at or over its cost cap; agent \(late.id) is deployed paused"))
        let before = try snapshot(home)
        let refused = try runBinary(["sandbox", "run", late.id.rawValue, "--", "true"], home: home)
        #expect(refused.exitCode == 1)
        #expect(refused.stderr.hasPrefix("Error: agent \(late.id) is paused (project_budget_exceeded)"))
        #expect(try snapshot(home) == before, "a refused run records nothing")
        let paused = try runBinary(["sandbox", "run", agent, "--", "true"], home: home)
        #expect(paused.exitCode == 1 && paused.stderr.contains("is paused (project_budget_exceeded)"))
    }

    @Test func resumeRefusesWhileOverBudgetAndBudgetRaisesIt() throws {
        let (home, project, agent, _) = try setUp(budget: 1_000)
        _ = try runBinary(["sandbox", "usage", agent, "--model", "claude-haiku-3.5", "--input-tokens", "2000", "--output-tokens", "0"], home: home)
        let refused = try runBinary(["sandbox", "resume", agent], home: home)
        #expect(refused.exitCode == 1)
        #expect(refused.stderr == "Error: agent \(agent) is over its token budget (2,000 of 1,000); raise it with 'novaos sandbox budget \(agent) --tokens N' first\n")
        let raised = try runBinary(["sandbox", "budget", agent, "--tokens", "5000", "--json"], home: home)
        #expect(raised.exitCode == 0)
        let change = try raised.decode(BudgetChange.self)
        #expect(change.previous == .tokens(1_000) && change.budget == .tokens(5_000) && change.budgetUsedPercent == 40)
        #expect(try self.agent(agent, home: home).status == .paused, "raising a budget resumes nothing by itself")
        #expect(try runBinary(["sandbox", "resume", agent], home: home).exitCode == 0)
        let removed = try runBinary(["sandbox", "budget", project, "--none", "--json"], home: home).decode(BudgetChange.self)
        #expect(removed.previous == nil && removed.budget == nil && removed.budgetUsedPercent == nil)
        let database = home.appendingPathComponent("sandbox/sandbox.db").path
        #expect(sqliteScalar(database, "SELECT count(*) FROM budget_changes") == "2")
    }

    @Test(arguments: [
        ["sandbox", "budget", "agt_000000000000"],
        ["sandbox", "budget", "agt_000000000000", "--usd", "5"],
        ["sandbox", "budget", "prj_00000000", "--tokens", "5"],
        ["sandbox", "budget", "prj_00000000", "--usd", "5", "--none"],
        ["sandbox", "budget", "nothing", "--tokens", "5"],
    ])
    func badBudgetCommandsAreUsageErrors(arguments: [String]) throws {
        let home = try makeHome()
        let output = try runBinary(arguments, home: home)
        #expect(output.exitCode == 64 && output.stderr.hasPrefix("Error: ") && output.stderr.split(separator: "\n").count == 1)
    }

    @Test func refusedBudgetValuesChangeNothing() throws {
        let (home, project, agent, _) = try setUp(cap: "10")
        let before = try snapshot(home)
        for arguments in [["sandbox", "budget", agent, "--tokens", "0"], ["sandbox", "budget", agent, "--tokens", "-5"],
                          ["sandbox", "budget", project, "--usd", "0"], ["sandbox", "budget", project, "--usd", "abc"],
                          ["sandbox", "budget", "agt_ffffffffffff", "--tokens", "5"]] {
            let output = try runBinary(arguments, home: home)
            #expect(output.exitCode != 0 && output.stderr.hasPrefix("Error: "), "\(arguments)")
        }
        #expect(try snapshot(home) == before)
    }

    /// Two runs of one agent at once, each reserving before every call: together they never
    /// spend more than the budget (reservations count until the usage that settles them).
    @Test func twoConcurrentRunsWithReservationsStayWithinTheBudget() throws {
        let (home, _, agent, _) = try setUp(budget: 30_000)
        let runs = try (0..<2).map { _ in
            try BackgroundRun(["sandbox", "run", agent, "--json", "--", "python3", exampleAgentPath, "--runaway", "--reserve", "--delay", "0.005"], home: home)
        }
        for run in runs { #expect(run.wait(seconds: 60)) }
        // Each run ends by itself when refused a reservation (exit 0), or is stopped when the
        // other one's usage reached the budget exactly (exit 3); neither overspends.
        for run in runs {
            #expect([0, 3].contains(run.process.terminationStatus), "\(run.errors.suffix(300))")
            #expect(run.output.contains(#""stop_reason" : "exited""#) || run.output.contains(#""stop_reason" : "budget_exceeded""#))
        }
        let final = try self.agent(agent, home: home)
        #expect(final.tokensUsed <= 30_000, "spent \(final.tokensUsed) of 30,000")
        #expect(final.tokensUsed >= 30_000 - 2 * 1_500, "the budget was used, not refused early: \(final.tokensUsed)")
        let database = home.appendingPathComponent("sandbox/sandbox.db").path
        #expect(sqliteScalar(database, "SELECT sum(reserved_tokens) FROM runs") == "0", "reservations end with their runs")
    }

    @Test func aReserveEventOutsideARunIsRefused() throws {
        let (home, _, agent, _) = try setUp()
        let file = home.appendingPathComponent("reserve.jsonl")
        try #"{"type":"reserve","agent_id":"\#(agent)","tokens":100}"#.write(to: file, atomically: true, encoding: .utf8)
        let imported = try runBinary(["sandbox", "import", file.path], home: home)
        #expect(imported.exitCode == 1 && imported.stderr.contains("a reserve event is answered only inside 'sandbox run'"))
    }

    /// An agent that reserves the most a call may cost, then reports what it really used: each
    /// usage settles its reservation whole, so the unused part goes back to the budget.
    @Test func reservationsAreSettledByUsageAndBadRequestsAreAnswered() throws {
        let (home, _, agent, _) = try setUp(budget: 10_000)
        let script = home.appendingPathComponent("reserver.py")
        try """
            import json, os
            events = open(os.environ["NOVAOS_EVENTS"], "w", buffering=1)
            replies = open(os.environ["NOVAOS_REPLIES"])
            for bad in ['{"type":"reserve","tokens":0}', '{"type":"reserve","tokens":"ten"}', '{"type":"reserve"}']:
                events.write(bad + "\\n")
                print("bad", replies.readline().strip(), flush=True)
            granted = 0
            for call in range(20):
                events.write(json.dumps({"type": "reserve", "tokens": 4000}) + "\\n")
                answer = json.loads(replies.readline())
                if not answer["granted"]:
                    print("refused", answer["reason"], flush=True)
                    break
                granted += 1
                events.write(json.dumps({"type": "usage", "model": "claude-haiku-3.5", "input_tokens": 1000, "output_tokens": 0}) + "\\n")
            print("granted", granted, flush=True)
            """.write(to: script, atomically: true, encoding: .utf8)
        let run = try runBinary(["sandbox", "run", agent, "--timeout", "20s", "--", "python3", script.path], home: home)
        #expect(run.exitCode == 0, "\(run.stderr)")
        #expect(run.stdout.components(separatedBy: #"bad {"granted":0,"reason":"invalid_request"}"#).count == 4, "\(run.stdout)")
        // 1,000 used per call; a call is granted while 4,000 more fit: after 6 calls 6,000 are used and the 7th fits exactly.
        #expect(run.stdout.contains("refused budget_exceeded\ngranted 7"), "\(run.stdout)")
    }

    @Test func loweringABudgetBelowWhatIsUsedPausesAtOnce() throws {
        let (home, project, agent, other) = try setUp(budget: 10_000)
        _ = try runBinary(["sandbox", "usage", agent, "--model", "claude-haiku-3.5", "--input-tokens", "5000", "--output-tokens", "0", "--cost", "2"], home: home)
        let lowered = try runBinary(["sandbox", "budget", agent, "--tokens", "4000", "--json"], home: home)
        #expect(lowered.stderr == "warning: agent \(agent) reached its token budget (5,000 of 4,000); it is paused\n")
        let change = try lowered.decode(BudgetChange.self)
        #expect(change.budgetExceeded && change.pausedAgents.map(\.rawValue) == [agent])
        let capped = try runBinary(["sandbox", "budget", project, "--usd", "1.5", "--json"], home: home)
        #expect(capped.stderr == "warning: project \(project) reached its cost cap ($2.00 of $1.50); paused: \(other)\n")
        #expect(try self.agent(other, home: home).pauseReason == .projectBudgetExceeded)
    }

    /// A cap crossed while no agent of the project is active still warns; an import that
    /// crosses several budgets warns once for each.
    @Test func everyCrossingWarnsEvenWithNobodyLeftToPause() throws {
        let (home, project, agent, other) = try setUp(cap: "1", budget: 1_000)
        _ = try runBinary(["sandbox", "pause", agent], home: home)
        _ = try runBinary(["sandbox", "pause", other], home: home)
        let usage = try runBinary(["sandbox", "usage", agent, "--model", "claude-haiku-3.5", "--input-tokens", "1", "--output-tokens", "0", "--cost", "5", "--json"], home: home)
        #expect(usage.stderr == "warning: project \(project) reached its cost cap ($5.00 of $1.00); no agent of it was active\n")
        #expect(try usage.json()["budget_exceeded"] as? Bool == true)

        let (home2, _, first, second) = try setUp(budget: 1_000)
        let lines = [first, second].map { #"{"type":"usage","agent_id":"\#($0)","model":"claude-haiku-3.5","input_tokens":1500,"output_tokens":0}"# }
        let file = home2.appendingPathComponent("two.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let imported = try runBinary(["sandbox", "import", file.path], home: home2)
        #expect(imported.stderr.components(separatedBy: "reached its token budget").count == 2, "\(imported.stderr)")
    }
}
