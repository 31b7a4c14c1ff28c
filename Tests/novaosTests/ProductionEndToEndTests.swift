import Foundation
import PostgresTestSupport
import Testing
@testable import SandboxCore

/// Production after promotion, through the built binary: a failing agent is rolled back by
/// `production check` (the clock fixed by `NOVAOS_TEST_NOW`, a test-only hook), and the
/// history and `list --at` tell the story; SIGKILLed rollbacks leave one live version.
@Suite struct ProductionEndToEndTests {
    /// A home with slot `support-bot` holding two versions: v1 on standby, v2 live with tight
    /// guardrails (bake 1h, 3 events, window 1h, 2 failures). Both promoted at 2030-01-01T00:00:00Z.
    private func twoVersions(_ backend: ProductionBackend = .sqlite) throws -> (home: URL, v1: String, v2: String) {
        let home = try makeHome()
        try backend.use(in: home)
        let at = ["NOVAOS_TEST_NOW": "2030-01-01T00:00:00Z"]
        var promoted: [String] = []
        for (index, guardrails) in [[], ["bake_time=1h", "min_events=3", "window=1h", "failure_limit=2"]].enumerated() {
            let project = try runBinary(["sandbox", "create", "v\(index + 1)", "--json"], home: home, environment: at).decode(Project.self).id.rawValue
            let agent = try runBinary(["sandbox", "deploy", project, "assistant", "--name", "bot", "--json"], home: home, environment: at)
                .decode(Agent.self).id.rawValue
            _ = try runBinary(["sandbox", "usage", agent, "--model", "claude-haiku-3.5", "--input-tokens", "1000", "--output-tokens", "0"], home: home, environment: at)
            _ = try runBinary(["sandbox", "revenue", agent, "1"], home: home, environment: at)
            let promote = try runBinary(
                ["sandbox", "promote", project, "--yes", "--slot-map", "\(agent)=support-bot", "--json"] + guardrails.flatMap { ["--guardrail", $0] },
                home: home, environment: at
            )
            #expect(promote.exitCode == 0, "\(promote.stderr)")
            promoted.append(try #require(try promote.decode(PromotionResult.self).migratedAgents.first?.productionID.rawValue))
        }
        return (home, promoted[0], promoted[1])
    }

    @Test(arguments: ProductionBackend.available) func aFailingAgentIsRolledBackAndTheHistoryTellsTheStory(backend: ProductionBackend) throws {
        let (home, v1, v2) = try twoVersions(backend)
        let later = ["NOVAOS_TEST_NOW": "2030-01-01T02:00:00Z"]
        // v2 costs more than it earns: three $1 calls and $0.50 of revenue.
        for _ in 0..<3 {
            let usage = try runBinary(
                ["production", "usage", "support-bot", "--model", "claude-sonnet-4", "--input-tokens", "10", "--output-tokens", "10", "--cost", "1", "--json"],
                home: home, environment: later
            )
            #expect(try usage.decode(UsageRecord.self).agentID.rawValue == v2, "\(usage.stderr)")
        }
        #expect(try runBinary(["production", "revenue", "support-bot", "0.5"], home: home, environment: later).exitCode == 0)
        // The standby version records nothing.
        #expect(try runBinary(["production", "revenue", v1, "1"], home: home, environment: later).exitCode == 1)

        let metrics = try runBinary(["production", "metrics", "support-bot", "--window", "1d", "--json"], home: home, environment: later)
            .decode(ProductionMetrics.self)
        let (three, half, loss, one) = (try Money(parsing: "3"), try Money(parsing: "0.5"), try Money(parsing: "-2.5"), try Money(parsing: "1"))
        #expect(metrics.production.cost == three && metrics.production.revenue == half)
        #expect(metrics.production.profit == loss && metrics.sandbox?.revenue == one)

        // Before the bake time: inconclusive, exit 0. After it: a failure, then the second
        // failure reaches the limit and rolls v2 back, exit 3.
        let early = try runBinary(["production", "check", "--json"], home: home, environment: ["NOVAOS_TEST_NOW": "2030-01-01T00:30:00Z"])
        #expect(early.exitCode == 0)
        #expect(try early.decode(CheckReport.self).checks.map(\.verdict) == [.inconclusive])
        let first = try runBinary(["production", "check", "--json"], home: home, environment: later)
        #expect(first.exitCode == 0, "\(first.stderr)")
        let failed = try #require(try first.decode(CheckReport.self).checks.first)
        #expect(failed.verdict == .fail && failed.consecutiveFailures == 1 && failed.agentID.rawValue == v2)
        #expect(failed.criteria.contains { $0.name == "min_roi" && !$0.pass && $0.threshold == 0 && $0.value == -83.3333 })
        let dryRun = try runBinary(["production", "check", "--dry-run", "--json"], home: home, environment: later)
        let wouldDo = try dryRun.decode(CheckReport.self)
        #expect(dryRun.exitCode == 0 && wouldDo.checks.first?.action == .wouldRollBack)
        #expect(wouldDo.wouldRollBack.map(\.rawValue) == [v2] && wouldDo.rolledBack.isEmpty)
        let second = try runBinary(["production", "check", "--json"], home: home, environment: ["NOVAOS_TEST_NOW": "2030-01-01T02:05:00Z"])
        #expect(second.exitCode == 3, "\(second.stderr)")
        let report = try second.decode(CheckReport.self)
        #expect(report.rolledBack.map(\.rawValue) == [v2] && report.checks.first?.liveAfter?.rawValue == v1)

        let slot = try runBinary(["production", "slot", "support-bot", "--json"], home: home).decode(SlotDetail.self)
        #expect(slot.live?.rawValue == v1)
        #expect(slot.versions.map(\.id.rawValue) == [v2, v1] && slot.versions.map(\.state) == [.rolledBack, .live])
        let history = try runBinary(["production", "history", "support-bot", "--json"], home: home).decode(ProductionHistory.self)
        #expect(history.events.map(\.kind) == ["promotion", "promotion", "rollback"])
        #expect(history.events.map(\.liveAgentID?.rawValue) == [v1, v2, v1])
        #expect(history.events.last?.actor == "production check" && history.events.last?.reason.contains("failed check 2 of 2") == true)
        let text = try runBinary(["production", "history", "support-bot"], home: home).stdout
        #expect(text.contains("rollback") && text.contains("production check"))

        // What was live when: v2 before the rollback, v1 after it.
        let before = try runBinary(["production", "list", "--at", "2030-01-01T01:00:00Z", "--json"], home: home).decode(ProductionAgentList.self)
        #expect(before.agents.map(\.id.rawValue) == [v1, v2] && before.agents.map(\.state) == [.standby, .live])
        let after = try runBinary(["production", "list", "--at", "2030-01-01T03:00:00Z", "--json"], home: home).decode(ProductionAgentList.self)
        #expect(after.agents.map(\.state) == [.live, .rolledBack])
        let now = try runBinary(["production", "list", "--json"], home: home).decode(ProductionAgentList.self)
        #expect(after == now)

        // The rolled-back version records nothing more.
        #expect(try runBinary(["production", "revenue", v2, "1"], home: home, environment: later).exitCode == 1)
    }

    @Test(arguments: ProductionBackend.available) func guardrailsRollbackAndRetireByHand(backend: ProductionBackend) throws {
        let (home, v1, v2) = try twoVersions(backend)
        let shown = try runBinary(["production", "guardrail", "support-bot", "--json"], home: home).decode(AgentGuardrails.self)
        #expect(shown.agentID.rawValue == v2 && shown.policy.failureLimit == 2 && shown.policy.window == 3_600)
        let changed = try runBinary(["production", "guardrail", v2, "min_roi=10", "--json"], home: home).decode(AgentGuardrails.self)
        #expect(changed.changes == ["min_roi 0% → 10%"])
        let guardrailRow = try runBinary(["production", "history", "--json"], home: home).decode(ProductionHistory.self).events.last
        #expect(guardrailRow?.kind == "guardrail" && guardrailRow?.previousAgentID?.rawValue == v2 && guardrailRow?.liveAgentID?.rawValue == v2)
        #expect(try runBinary(["production", "guardrail", v2, "min_roi=ten"], home: home).exitCode == 64)
        #expect(try runBinary(["production", "guardrail", v2, "speed=3"], home: home).exitCode == 64)

        // Without a terminal and without --yes, a rollback is refused and changes nothing.
        let refused = try runBinary(["production", "rollback", "support-bot"], home: home)
        #expect(refused.exitCode == 1 && refused.stderr.contains("--yes"))
        let rollback = try runBinary(["production", "rollback", "support-bot", "--yes", "--reason", "angry customers", "--json"], home: home)
        #expect(rollback.exitCode == 0, "\(rollback.stderr)")
        let change = try rollback.decode(SlotChange.self)
        #expect(change.agentID.rawValue == v2 && change.liveAfter?.rawValue == v1 && change.changed)
        let again = try runBinary(["production", "rollback", v2, "--yes", "--json"], home: home)
        let changedAgain = try again.decode(SlotChange.self).changed
        #expect(again.exitCode == 0 && !changedAgain)

        let retire = try runBinary(["production", "retire", v1, "--yes", "--json"], home: home)
        let liveAfterRetire = try retire.decode(SlotChange.self).liveAfter
        #expect(retire.exitCode == 0 && liveAfterRetire == nil)
        let kinds = try runBinary(["production", "history", "--json"], home: home).decode(ProductionHistory.self).events.map(\.kind)
        #expect(kinds == ["promotion", "promotion", "guardrail", "rollback", "retire"])
        #expect(try runBinary(["production", "usage", "support-bot", "--model", "gpt-4o", "--input-tokens", "1", "--output-tokens", "1"], home: home).exitCode == 1)
    }

    /// SIGKILL inside a rollback, at every step, by `production check` and by hand: the slot
    /// is as before (v2 live), and the re-run rolls back exactly once.
    @Test(arguments: SlotChangeStep.allCases)
    func aKilledRollbackIsAllOrNothing(step: SlotChangeStep) throws {
        let (home, v1, v2) = try twoVersions()
        let later = ["NOVAOS_TEST_NOW": "2030-01-01T02:00:00Z"]
        _ = try runBinary(["production", "guardrail", v2, "failure_limit=1"], home: home)
        for _ in 0..<3 {
            _ = try runBinary(["production", "usage", "support-bot", "--model", "gpt-4o", "--input-tokens", "1", "--output-tokens", "1", "--cost", "1"], home: home, environment: later)
        }
        for command in [["production", "check"], ["production", "rollback", "support-bot", "--yes"]] {
            let killed = try runBinary(command, home: home, environment: later.merging(["NOVAOS_TEST_CRASH_AT": step.rawValue]) { $1 })
            #expect(killed.signaled && killed.exitCode == SIGKILL, "\(command) at \(step): \(killed.stderr)")
            let slot = try runBinary(["production", "slot", "support-bot", "--json"], home: home).decode(SlotDetail.self)
            #expect(slot.live?.rawValue == v2 && slot.versions.filter { $0.state == .live }.count == 1, "\(command) at \(step)")
            #expect(!slot.events.contains { $0.kind == "rollback" })
        }
        #expect(try runBinary(["production", "check"], home: home, environment: later).exitCode == 3)
        #expect(try runBinary(["production", "check"], home: home, environment: later).exitCode == 0) // v1 bakes afresh
        let slot = try runBinary(["production", "slot", "support-bot", "--json"], home: home).decode(SlotDetail.self)
        #expect(slot.live?.rawValue == v1 && slot.versions.map(\.state) == [.rolledBack, .live])
        #expect(slot.events.filter { $0.kind == "rollback" }.count == 1)
        #expect(sqliteScalar(home.appendingPathComponent("production.db").path, "PRAGMA integrity_check") == "ok")
    }

    @Test func aLiveAgentRunsInProductionAndStopsAtItsNormalBudget() throws {
        let (home, v1, v2) = try twoVersions()
        let script = home.appendingPathComponent("agent.sh")
        try """
            #!/bin/sh
            echo "$NOVAOS_SLOT ${NOVAOS_PROJECT_ID:-none}" > "$HOME/seen"
            echo '{"type":"usage","model":"claude-haiku-3.5","input_tokens":100,"output_tokens":10}' > "$NOVAOS_EVENTS"
            echo '{"type":"revenue","amount":0.5}' > "$NOVAOS_EVENTS"
            """.write(to: script, atomically: true, encoding: .utf8)
        let run = try runBinary(["production", "run", "support-bot", "--isolation", "none", "--json", "--", "sh", script.path], home: home)
        #expect(run.exitCode == 0, "\(run.stderr)")
        let record = try run.decode(RunRecord.self)
        #expect(record.agentID.rawValue == v2 && record.events == 2 && record.stopReason == .exited)
        let seen = try String(contentsOf: home.appendingPathComponent("production/agents/\(v2)/seen"), encoding: .utf8)
        #expect(seen == "support-bot none\n")
        #expect(record.log.hasPrefix(home.appendingPathComponent("production/logs/\(v2)/").path))
        let metrics = try runBinary(["production", "metrics", v2, "--json"], home: home).decode(ProductionMetrics.self)
        #expect(metrics.production.usageEvents == 1 && metrics.production.revenueEvents == 1 && metrics.production.tokens == 110)

        // A runaway is stopped at the normal budget (the assistant's 10,000 tokens), exit 3.
        let runaway = try runBinary(
            ["production", "run", "support-bot", "--isolation", "none", "--json", "--", "python3", exampleAgentPath, "--runaway", "--delay", "0.01"], home: home
        )
        #expect(runaway.exitCode == 3, "\(runaway.stderr)")
        #expect(try runaway.decode(RunRecord.self).stopReason == .budgetExceeded)

        // Out of service, it no longer runs.
        #expect(try runBinary(["production", "rollback", "support-bot", "--yes"], home: home).exitCode == 0)
        let refused = try runBinary(["production", "run", v2, "--isolation", "none", "--", "sh", script.path], home: home)
        #expect(refused.exitCode == 1 && refused.stderr.contains("rolled_back"))
        #expect(try runBinary(["production", "run", "support-bot", "--isolation", "none", "--json", "--", "sh", script.path], home: home)
            .decode(RunRecord.self).agentID.rawValue == v1)
    }

    /// libpq's key=value form is refused rather than taken for a file's name (nothing is made).
    @Test func aConnectionStringThatIsNoURLIsRefused() throws {
        let home = try makeHome()
        for given in ["host=db.internal dbname=prod", "dbname=prod", " user=nova host=db"] {
            for command in [["production", "list"], ["production", "usage", "bot", "--model", "gpt-4o", "--input-tokens", "1", "--output-tokens", "1"]] {
                let refused = try runBinary(command + ["--production-db", given], home: home)
                #expect(refused.exitCode != 0 && refused.stderr.contains("postgres://"), "\(given) \(command): \(refused.stderr)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.path).isEmpty)
    }

    @Test(arguments: ProductionBackend.available) func badProductionInputChangesNothing(backend: ProductionBackend) throws {
        let (home, v1, _) = try twoVersions(backend)
        let cases: [(arguments: [String], exit: Int32)] = [
            (["production", "guardrail", "support-bot", "min_roi=abc"], 64),
            (["production", "guardrail", "support-bot", "min_roi=0.00001"], 64),
            (["production", "guardrail", "support-bot", "speed=3"], 64),
            (["production", "guardrail", "support-bot", "window"], 64),
            (["production", "guardrail", "nobody", "min_roi=1"], 1),
            (["production", "rollback", "support-bot", "--yes", "--reason", ""], 64),
            (["production", "rollback", v1, "--yes"], 1), // a standby is not live
            (["production", "rollback", "support-bot", "--yes", "--to", "prd_0000000000000000"], 1),
            (["production", "retire", "support-bot", "--yes"], 1), // retire takes an ID
            (["production", "usage", "nobody", "--model", "gpt-4o", "--input-tokens", "1", "--output-tokens", "1"], 1),
            (["production", "usage", v1, "--model", "gpt-4o", "--input-tokens", "1", "--output-tokens", "1"], 1),
            (["production", "usage", "support-bot", "--model", "gpt-99", "--input-tokens", "1", "--output-tokens", "1"], 1),
            (["production", "revenue", "support-bot", "-5"], 64),
            (["production", "revenue", "support-bot", "0"], 1),
            (["production", "metrics", "support-bot", "--window", "forever"], 64),
            (["production", "metrics", "support-bot", "--since", "2999-01-01"], 1),
            (["production", "run", v1, "--isolation", "none", "--", "true"], 1),
            (["production", "check", "--bogus"], 64),
        ]
        for (arguments, exit) in cases {
            let before = try snapshot(home)
            let output = try runBinary(arguments, home: home)
            #expect(output.exitCode == exit, "\(arguments): exit \(output.exitCode), \(output.stderr)")
            let lines = output.stderr.split(separator: "\n").filter { !$0.isEmpty && !$0.hasPrefix("warning: --isolation none") }
            #expect(lines.count == 1 && lines[0].hasPrefix("Error: "), "\(arguments): \(output.stderr)")
            #expect(try snapshot(home) == before, "\(arguments) changed something")
        }
        // Without a production database, the production commands that write say so and create
        // nothing; a check (from cron, before the first promotion) has nothing to judge.
        let empty = try makeHome()
        let usage = try runBinary(["production", "usage", "x", "--model", "gpt-4o", "--input-tokens", "1", "--output-tokens", "1"], home: empty)
        #expect(usage.exitCode == 1 && usage.stderr.contains("no production database yet"), "\(usage.stderr)")
        let check = try runBinary(["production", "check", "--json"], home: empty)
        let nothingChecked = try check.decode(CheckReport.self).checks.isEmpty
        #expect(check.exitCode == 0 && nothingChecked, "\(check.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: empty.path).isEmpty)

        // A promoted project cannot be killed: its agents live in production.
        let promoted = try runBinary(["production", "list", "--json"], home: home).decode(ProductionAgentList.self).agents[0].promotedFrom?.projectID.rawValue
        let refusedKill = try runBinary(["sandbox", "kill", try #require(promoted), "--yes"], home: home)
        #expect(refusedKill.exitCode == 1 && refusedKill.stderr.contains("promoted"))

        // A slot name must be readable and must not look like an agent ID (exit 64 in --slot-map).
        let (other, project, winner, _) = try promotableHome()
        for slot in ["prd_0123456789abcdef", "a\u{1}b", " padded"] {
            let refused = try runBinary(["sandbox", "promote", project, "--yes", "--slot-map", "\(winner)=\(slot)"], home: other)
            #expect(refused.exitCode == 64, "\(slot): \(refused.stderr)")
        }
    }

    /// Isolated (bubblewrap), a production agent writes only its workspace and reads neither
    /// the sandbox, nor production's database, nor another agent's workspace; rolled back
    /// mid-run, it is stopped (exit 4) and what it reports after is not recorded.
    @Test func aProductionRunIsIsolatedAndStopsWhenRolledBack() throws {
        let (home, v1, v2) = try twoVersions()
        // The first run makes v2's workspace; give v1 one with a secret in it.
        let secret = home.appendingPathComponent("production/agents/\(v1)")
        try FileManager.default.createDirectory(at: secret, withIntermediateDirectories: true)
        try "secret".write(to: secret.appendingPathComponent("secret.txt"), atomically: true, encoding: .utf8)
        let scripts = try makeHome()
        let probe = scripts.appendingPathComponent("probe.sh")
        try """
            #!/bin/sh
            echo ok > "$HOME/mine" && echo "wrote workspace"
            for f in "$ROOT/sandbox/sandbox.db" "$ROOT/production.db" "$ROOT/production.db-wal" "$ROOT/production/agents/$OTHER/secret.txt" \
                     "$ROOT/production/logs"; do
                if [ -s "$f" ] || [ -d "$f" ]; then echo "LEAK $f"; fi
            done
            echo '{"type":"revenue","amount":1}' > "$NOVAOS_EVENTS"
            """.write(to: probe, atomically: true, encoding: .utf8)
        // Production is written while nothing runs, so its -wal and -shm may be gone.
        _ = try runBinary(["production", "guardrail", "support-bot", "min_roi=1"], home: home)
        let run = try runBinary(
            ["production", "run", "support-bot", "--env", "ROOT=\(home.path)", "--env", "OTHER=\(v1)", "--json", "--", "sh", probe.path], home: home
        )
        #expect(run.exitCode == 0, "\(run.stderr)")
        #expect(run.stderr.contains("wrote workspace") && !run.stderr.contains("LEAK"), "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: home.appendingPathComponent("production/agents/\(v2)/mine").path))
        #expect(try run.decode(RunRecord.self).isolation == .namespace)

        // A long run, rolled back in the middle.
        let long = scripts.appendingPathComponent("long.sh")
        try """
            #!/bin/sh
            echo '{"type":"revenue","amount":1}' > "$NOVAOS_EVENTS"
            touch "$HOME/started"
            sleep 3
            echo '{"type":"revenue","amount":100}' > "$NOVAOS_EVENTS"
            sleep 30
            """.write(to: long, atomically: true, encoding: .utf8)
        let background = try BackgroundRun(["production", "run", "support-bot", "--json", "--", "sh", long.path], home: home)
        let started = home.appendingPathComponent("production/agents/\(v2)/started").path
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: started), Date() < deadline { usleep(20_000) }
        #expect(try runBinary(["production", "rollback", v2, "--yes"], home: home).exitCode == 0)
        #expect(background.wait(seconds: 20))
        #expect(background.process.terminationStatus == 4, "\(background.errors)")
        let stopped = try SandboxJSON.decoder().decode(RunRecord.self, from: Data(background.output.utf8))
        #expect(stopped.stopReason == .agentKilled)
        let runs = try runBinary(["production", "runs", v2, "--json"], home: home).decode(RunList.self)
        let one = try Money(parsing: "1")
        #expect(runs.runs.count == 2 && runs.runs.first?.revenue == one)
    }
}
