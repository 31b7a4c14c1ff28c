import Foundation
import SandboxCore
import Testing

/// Runs the built binary as a user would, human and --json, and checks stdout, stderr and
/// the exit code.
@Suite struct EndToEndTests {
    @Test func seedWorkflowFromTheREADME() throws {
        let home = try makeHome()
        func nova(_ arguments: String...) throws -> CommandOutput {
            let output = try runBinary(arguments, home: home)
            #expect(output.exitCode == 0, "novaos \(arguments.joined(separator: " ")) failed: \(output.stderr)")
            return output
        }

        let created = try nova("sandbox", "create", "support-bot", "--description", "Cheaper support answers", "--json")
        #expect(try created.jsonKeys().isSuperset(of: ["id", "name", "description", "status", "workspace", "created_at"]))
        let project = try created.decode(Project.self)
        #expect(project.status == .active)
        #expect(project.workspace == home.appendingPathComponent("sandbox/projects/\(project.id)").path)

        let winner = try nova("sandbox", "deploy", project.id.rawValue, "customer_support", "--name", "Winner", "--config", #"{"tone":"friendly","model":"claude-haiku-3.5"}"#, "--json")
        #expect(try winner.jsonKeys().isSuperset(of: ["id", "project_id", "type", "name", "status", "token_budget", "config", "deployed_at"]))
        let winnerAgent = try winner.decode(Agent.self)
        #expect(winnerAgent.tokenBudget == 200_000)
        let loserAgent = try nova("sandbox", "deploy", project.id.rawValue, "researcher", "--config", #"{"depth":3}"#, "--json").decode(Agent.self)

        let usage = try nova("sandbox", "usage", winnerAgent.id.rawValue, "--model", "claude-haiku-3.5", "--input-tokens", "200000", "--output-tokens", "50000", "--operation", "answer", "--json")
        #expect(try usage.jsonKeys().isSuperset(of: ["id", "agent_id", "model", "operation", "input_tokens", "output_tokens", "total_tokens", "cost"]))
        #expect(try usage.decode(UsageRecord.self).cost.micros == 360_000)
        _ = try nova("sandbox", "usage", loserAgent.id.rawValue, "--model", "claude-opus-4", "--input-tokens", "100000", "--output-tokens", "20000")
        let revenue = try nova("sandbox", "revenue", winnerAgent.id.rawValue, "12.50", "--source", "stripe", "--json")
        #expect(try revenue.jsonKeys().isSuperset(of: ["id", "agent_id", "amount", "source"]))
        #expect(try revenue.json()["amount"] as? Double == 12.5)

        let experiment = try nova("sandbox", "experiment", "start", project.id.rawValue, "haiku-first", "--hypothesis", "Haiku answers 80% of tickets", "--json")
        #expect(try experiment.jsonKeys() == ["id", "project_id", "name", "hypothesis", "config", "results", "success", "started_at", "completed_at"])
        let experimentID = try experiment.decode(Experiment.self).id
        let completed = try nova("sandbox", "experiment", "complete", String(experimentID), "--success", "--results", #"{"resolved":0.82}"#, "--json").decode(Experiment.self)
        #expect(completed.success == true)
        #expect(try nova("sandbox", "experiment", "list", project.id.rawValue, "--json").decode(ExperimentList.self).experiments.count == 1)

        let evaluation = try nova("sandbox", "eval", project.id.rawValue, "--json")
        #expect(try evaluation.jsonKeys() == ["project_id", "recommendation", "reason", "criteria", "metrics", "evaluated_at", "warnings"])
        let criteria = try #require(try evaluation.json()["criteria"] as? [String: Any])
        #expect(Set(criteria.keys) == ["positive_roi", "profitable", "has_active_agents", "has_sufficient_data"])
        #expect(try evaluation.decode(Evaluation.self).recommendation == .recommend) // cost 3.36, revenue 12.50: ROI 272 %

        let dryRun = try nova("sandbox", "promote", project.id.rawValue, "--dry-run", "--json").decode(PromotionResult.self)
        #expect(dryRun.status == .dryRun)
        let promoted = try nova("sandbox", "promote", project.id.rawValue, "--yes", "--json")
        #expect(try promoted.jsonKeys() == ["status", "project_id", "agents_migrated", "migrated_agents", "skipped_agents", "evaluation"])
        let promotion = try promoted.decode(PromotionResult.self)
        #expect(promotion.status == .promoted && promotion.agentsMigrated == 1)
        #expect(promotion.migratedAgents.map(\.sandboxID) == [winnerAgent.id])
        #expect(promotion.skippedAgents.map(\.sandboxID) == [loserAgent.id])

        let production = try nova("production", "list", "--json").decode(ProductionAgentList.self)
        #expect(production.agents.count == 1)
        #expect(production.agents[0].name == "Winner")
        #expect(production.agents[0].tokenBudget == 20_000)
        #expect(production.agents[0].promotedFrom?.sandboxAgentID == winnerAgent.id)
        #expect(production.agents[0].config == winnerAgent.config)
        #expect(production.agents[0].slot == "Winner" && production.agents[0].state == .live)
        let listed = try #require(try nova("production", "list", "--json").json()["agents"] as? [[String: Any]])
        #expect(Set(listed[0].keys) == ["id", "name", "type", "status", "token_budget", "config", "deployed_at", "promoted_from", "slot", "state"])

        let slot = try nova("production", "slot", "Winner", "--json")
        #expect(try slot.jsonKeys() == ["slot", "live", "versions", "events"])
        let slotDetail = try slot.decode(SlotDetail.self)
        #expect(slotDetail.live == production.agents[0].id && slotDetail.versions.count == 1)
        let history = try nova("production", "history", "--json")
        let events = try #require(try history.json()["events"] as? [[String: Any]])
        #expect(Set(events[0].keys) == ["id", "at", "kind", "slot", "agent_id", "previous_agent_id", "live_agent_id", "actor", "reason", "details"])
        #expect(try history.decode(ProductionHistory.self).events.map(\.kind) == ["promotion"])
        let slotText = try nova("production", "slot", "Winner").stdout
        #expect(slotText.contains("Slot Winner: \(production.agents[0].id.rawValue) live"))
        #expect(slotText.contains("evaluation RECOMMEND") && slotText.contains("experiment haiku-first: succeeded"), "\(slotText)")
        #expect(try nova("production", "history", "Winner").stdout.contains("promoted from project \(project.id.rawValue)"))

        let detail = try nova("sandbox", "project", project.id.rawValue, "--json")
        #expect(try detail.jsonKeys().isSuperset(of: ["id", "name", "description", "status", "workspace", "created_at", "promoted_at", "metrics", "agents", "experiments", "last_evaluation"]))
        let agents = try #require(try detail.json()["agents"] as? [[String: Any]])
        #expect(Set(agents[0].keys).isSuperset(of: ["tokens_used", "token_budget", "total_cost", "total_revenue", "profit", "roi"]))
        #expect(try detail.decode(ProjectDetail.self).status == .promoted)

        let other = try nova("sandbox", "create", "dead-end", "--json").decode(Project.self)
        _ = try nova("sandbox", "deploy", other.id.rawValue, "assistant")
        let killed = try nova("sandbox", "kill", other.id.rawValue, "--delete", "--yes", "--json")
        #expect(try killed.jsonKeys() == ["project_id", "status", "agents_killed", "workspace_deleted"])
        let kill = try killed.decode(KillResult.self)
        #expect(kill.projectID == other.id && kill.status == .killed && kill.agentsKilled == 1 && kill.workspaceDeleted)
        #expect(!FileManager.default.fileExists(atPath: other.workspace))

        let list = try nova("sandbox", "list", "--json")
        #expect(try list.decode(ProjectList.self).projects.count == 2)
        let projects = try #require(try list.json()["projects"] as? [[String: Any]])
        #expect(Set(projects[0].keys) == ["id", "name", "description", "status", "created_at", "metrics", "budget", "budget_used_percent", "expires_at", "kill_reason"])
        let metrics = try #require(projects[0]["metrics"] as? [String: Any])
        #expect(Set(metrics.keys) == ["total_agents", "active_agents", "tokens_used", "total_cost", "total_revenue", "profit", "roi"])
        #expect(try nova("sandbox", "list", "--status", "killed", "--json").decode(ProjectList.self).projects.map(\.id) == [other.id])

        let status = try nova("sandbox", "status", "--json")
        #expect(try status.jsonKeys() == ["total_projects", "active_projects", "promoted_projects", "killed_projects", "total_agents", "active_agents", "total_cost", "total_revenue"])
        let totals = try status.decode(SandboxStatus.self)
        #expect(totals.totalProjects == 2 && totals.promotedProjects == 1 && totals.killedProjects == 1)
        #expect(totals.totalCost == (try Money(parsing: "3.36")))
    }

    @Test func everyCommandPrintsReadableText() throws {
        let home = try makeHome()
        func nova(_ arguments: String...) throws -> String {
            let output = try runBinary(arguments, home: home)
            #expect(output.exitCode == 0, "novaos \(arguments.joined(separator: " ")) failed: \(output.stderr)")
            #expect(output.stderr.isEmpty)
            #expect(!output.stdout.contains("\u{1B}["), "no colour when stdout is not a terminal")
            return output.stdout
        }
        let created = try nova("sandbox", "create", "text-mode")
        #expect(created.contains("Project prj_") && created.contains("status:") && created.contains("workspace:"))
        let project = String(created.split(separator: " ")[1].prefix(12))
        let agentText = try nova("sandbox", "deploy", project, "assistant", "--name", "Helper")
        #expect(agentText.contains("token budget: 100,000"))
        let agent = String(agentText.split(separator: " ")[1].prefix(16))
        #expect(try nova("sandbox", "usage", agent, "--model", "claude-sonnet-4", "--input-tokens", "1000", "--output-tokens", "1000").contains("cost $0.018"))
        #expect(try nova("sandbox", "revenue", agent, "1").contains("$1.00"))
        #expect(try nova("sandbox", "experiment", "start", project, "e1").contains("Experiment 1"))
        #expect(try nova("sandbox", "experiment", "complete", "1", "--failure").contains("failed"))
        #expect(try nova("sandbox", "experiment", "list", project).contains("ID  NAME"))
        let list = try nova("sandbox", "list")
        #expect(list.hasPrefix("ID            NAME       STATUS  AGENTS  TOKENS"))
        #expect(try nova("sandbox", "project", project).contains("Helper"))
        #expect(try nova("sandbox", "status").contains("projects: 1 (1 active, 0 promoted, 0 killed)"))
        #expect(try nova("sandbox", "eval", project).contains("STRONGLY_RECOMMEND"))
        #expect(try nova("sandbox", "promote", project, "--dry-run").contains("Dry run"))
        #expect(try nova("sandbox", "promote", project, "--yes").contains("Promoted \(project)"))
        #expect(try nova("production", "list").contains("Helper"))
        #expect(try nova("production", "history").contains("sandbox promote"))
        let other = String(try nova("sandbox", "create", "to-kill").split(separator: " ")[1].prefix(12))
        #expect(try nova("sandbox", "kill", other, "--yes").contains("Killed \(other)"))
    }

    /// `promote --slot-map`: the agent goes live in the slot named; a second project's agent
    /// mapped to the same slot replaces it, and the first stands by.
    @Test func promoteIntoChosenSlots() throws {
        let (home, project, winner, _) = try promotableHome()
        let dryRun = try runBinary(["sandbox", "promote", project, "--dry-run", "--slot-map", "\(winner)=support-bot", "--json"], home: home)
        #expect(try dryRun.decode(PromotionResult.self).migratedAgents.map(\.slot) == ["support-bot"])
        let first = try runBinary(["sandbox", "promote", project, "--yes", "--slot-map", "\(winner)=support-bot", "--json"], home: home)
        #expect(first.exitCode == 0, "\(first.stderr)")
        let other = try runBinary(["sandbox", "create", "v2", "--json"], home: home).decode(Project.self).id.rawValue
        let agent = try runBinary(["sandbox", "deploy", other, "assistant", "--name", "v2", "--json"], home: home).decode(Agent.self).id.rawValue
        _ = try runBinary(["sandbox", "usage", agent, "--model", "claude-haiku-3.5", "--input-tokens", "1000", "--output-tokens", "0"], home: home)
        _ = try runBinary(["sandbox", "revenue", agent, "1"], home: home)
        #expect(try runBinary(["sandbox", "promote", other, "--yes", "--slot-map", "\(agent)=support-bot"], home: home).exitCode == 0)
        let slot = try runBinary(["production", "slot", "support-bot", "--json"], home: home).decode(SlotDetail.self)
        #expect(slot.versions.map(\.promotedFrom?.sandboxAgentID.rawValue) == [agent, winner])
        #expect(slot.versions.map(\.state) == [.live, .standby])
        #expect(try runBinary(["production", "history", "support-bot"], home: home).stdout.contains("promoted from project \(other)"))
        // Before any promotion, production was empty; now, as listed.
        #expect(try runBinary(["production", "list", "--at", "2000-01-01", "--json"], home: home).decode(ProductionAgentList.self).agents.isEmpty)
        let later = try runBinary(["production", "list", "--at", "9999-01-01", "--json"], home: home).decode(ProductionAgentList.self)
        #expect(later == (try runBinary(["production", "list", "--json"], home: home).decode(ProductionAgentList.self)))
        #expect(try runBinary(["production", "list", "--at", "soon"], home: home).exitCode == 64)
    }

    @Test func homeComesFromTheFlagAnywhereThenTheEnvironmentThenTheCurrentDirectory() throws {
        let home = try makeHome()
        let elsewhere = try makeHome()
        _ = try runBinary(["--home", elsewhere.path, "sandbox", "create", "a"], home: home)
        _ = try runBinary(["sandbox", "create", "b", "--home", elsewhere.path], home: home)
        _ = try runBinary(["sandbox", "create", "c"], home: home, environment: ["NOVAOS_HOME": elsewhere.path])
        _ = try runBinary(["sandbox", "create", "d"], home: home)
        let inElsewhere = try runBinary(["sandbox", "list", "--json"], home: elsewhere).decode(ProjectList.self)
        #expect(inElsewhere.projects.map(\.name).sorted() == ["a", "b", "c"])
        #expect(try runBinary(["--json", "sandbox", "list"], home: home).decode(ProjectList.self).projects.map(\.name) == ["d"])
    }

    @Test func errorsAreOneLineOnStderrWithExitCodeOneAndChangeNothing() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "p", "--json"], home: home).decode(Project.self)
        let agent = try runBinary(["sandbox", "deploy", project.id.rawValue, "assistant", "--json"], home: home).decode(Agent.self)
        let before = try snapshot(home)
        let p = project.id.rawValue, a = agent.id.rawValue
        let failures: [[String]] = [
            ["sandbox", "deploy", "prj_00000000", "assistant"],
            ["sandbox", "deploy", "prj_../../x", "assistant"],
            ["sandbox", "deploy", "prj_1' OR '1'='1", "assistant"],
            ["sandbox", "deploy", p, "assistant", "--config", "not json"],
            ["sandbox", "deploy", p, "assistant", "--config", "[1,2]"],
            ["sandbox", "deploy", p, "Bad Type"],
            ["sandbox", "usage", a, "--model", "gpt-99", "--input-tokens", "1", "--output-tokens", "1"],
            ["sandbox", "usage", a, "--model", "claude-opus-4", "--input-tokens", "-5", "--output-tokens", "1"],
            ["sandbox", "usage", "agt_000000000000", "--model", "claude-opus-4", "--input-tokens", "1", "--output-tokens", "1"],
            ["sandbox", "revenue", a, "--", "-3"],
            ["sandbox", "experiment", "complete", "42", "--success"],
            ["sandbox", "experiment", "start", p, "x", "--config", "{"],
            ["sandbox", "project", "/etc"],
            ["sandbox", "eval", "prj_00000000"],
            ["sandbox", "promote", p],
            ["sandbox", "promote", p, "--yes"],
            ["sandbox", "kill", "prj_00000000", "--delete"],
            ["sandbox", "create", "nul-free name", "--budget", "-5"],
        ]
        for arguments in failures {
            let output = try runBinary(arguments, home: home)
            #expect(output.exitCode == 1, "\(arguments): exit \(output.exitCode)")
            #expect(output.stdout.isEmpty, "\(arguments)")
            let lines = output.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("Error: "), "\(arguments): \(output.stderr)")
        }
        #expect(try snapshot(home) == before)
    }

    @Test func usageErrorsExitWith64() throws {
        let home = try makeHome()
        for arguments in [["sandbox", "create"], ["sandbox", "usage", "agt_000000000000", "--model", "x"], ["sandbox", "experiment", "complete", "1"],
                          ["sandbox", "experiment", "complete", "1", "--success", "--failure"], ["sandbox", "list", "--status", "zombie"], ["sandbox", "nope"], ["sandbox", "revenue", "agt_000000000000", "-3"]] {
            let output = try runBinary(arguments, home: home)
            #expect(output.exitCode == 64, "\(arguments): \(output.exitCode) \(output.stderr)")
            #expect(output.stdout.isEmpty)
            #expect(output.stderr.hasPrefix("Error: ") && output.stderr.split(separator: "\n").count == 1, "\(output.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.path).isEmpty)
    }

    @Test func promoteWithoutATerminalOrYesIsRefusedAndChangesNothing() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "p", "--json"], home: home).decode(Project.self)
        let agent = try runBinary(["sandbox", "deploy", project.id.rawValue, "assistant", "--json"], home: home).decode(Agent.self)
        _ = try runBinary(["sandbox", "usage", agent.id.rawValue, "--model", "claude-haiku-3.5", "--input-tokens", "1000", "--output-tokens", "10"], home: home)
        _ = try runBinary(["sandbox", "revenue", agent.id.rawValue, "5"], home: home)
        let before = try snapshot(home)
        let output = try runBinary(["sandbox", "promote", project.id.rawValue], home: home)
        #expect(output.exitCode == 1)
        #expect(output.stderr.contains("pass --yes"))
        #expect(try snapshot(home) == before)
    }

    @Test func readCommandsOnAFreshHomeLeaveNoTrace() throws {
        let home = try makeHome()
        #expect(try runBinary(["sandbox", "list", "--json"], home: home).decode(ProjectList.self).projects.isEmpty)
        #expect(try runBinary(["sandbox", "status", "--json"], home: home).decode(SandboxStatus.self).totalProjects == 0)
        #expect(try runBinary(["production", "list", "--json"], home: home).decode(ProductionAgentList.self).agents.isEmpty)
        #expect(try runBinary(["sandbox", "list"], home: home).stdout == "No projects in \(home.path).\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.path).isEmpty)
    }

    @Test func aDatabaseThatIsNotADatabaseIsNamedInTheError() throws {
        let home = try makeHome()
        try FileManager.default.createDirectory(at: home.appendingPathComponent("sandbox"), withIntermediateDirectories: true)
        let junk = Data(repeating: 0x5A, count: 4096)
        let path = home.appendingPathComponent("sandbox/sandbox.db")
        try junk.write(to: path)
        let output = try runBinary(["sandbox", "list"], home: home)
        #expect(output.exitCode == 1)
        #expect(output.stderr.contains(path.path) && output.stderr.contains("not a SQLite database"))
        #expect(try Data(contentsOf: path) == junk)
    }
}
