import Foundation
import PostgresDB
import PostgresTestSupport
import Testing
@testable import SandboxCore

/// Exactly once across machines (issue 15): 8 sandboxes in separate homes promote projects of
/// 250 agents each into one PostgreSQL registry at the same moment, three rounds over, while
/// promoting processes are SIGKILLed at random and the server is restarted once in the
/// middle; re-running `sandbox promote` completes every plan. In the end: every agent once,
/// none lost, one live version per slot, one history row per promotion.
@Suite(.enabled(if: TestPostgres.url != nil, Comment(rawValue: TestPostgres.skipReason)))
struct TeamCrashTests {
    static let sandboxes = 8
    static let agentsEach = 250
    static let rounds = 3

    /// A new home whose project has `agentsEach` profitable agents named slot0…; returns the
    /// project and the agents' IDs.
    static func teamSandbox() throws -> (home: URL, project: String, agents: [String]) {
        let home = try makeHome()
        let sandbox = try Sandbox(paths: SandboxPaths(home: home))
        let project = try sandbox.createProject(name: "team")
        var agents: [String] = []
        for index in 0..<agentsEach {
            let agent = try sandbox.deployAgent(project: project.id, type: "customer_support", name: "slot\(index)")
            _ = try sandbox.recordUsage(agent: agent.id, model: "claude-haiku-3.5", inputTokens: 10_000, outputTokens: 1_000)
            _ = try sandbox.recordRevenue(agent: agent.id, amount: try Money(parsing: "5"))
            agents.append(agent.id.rawValue)
        }
        return (home, project.id.rawValue, agents)
    }

    @Test func promotionsKilledAtRandomAndAServerRestartLeaveEveryAgentOnce() throws {
        let server = try PrivatePostgres()
        defer { server.stop() }
        let registry = ["NOVAOS_PRODUCTION_DB": server.url]
        var allAgents: Set<String> = []
        var projects: [(home: URL, project: String)] = []
        var killed = 0, failed = 0, reruns = 0
        for round in 0..<Self.rounds {
            let homes = try (0..<Self.sandboxes).map { _ in try Self.teamSandbox() }
            for home in homes { allAgents.formUnion(home.agents) }
            projects += homes.map { ($0.home, $0.project) }
            // All at once; about half are SIGKILLed at a random moment in their first second,
            // and in the middle round the server restarts under them.
            let processes = homes.map { binaryProcess(["sandbox", "promote", $0.project, "--yes", "--json"], home: $0.home, environment: registry) }
            for process in processes {
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
            }
            let start = Date()
            var pending = processes.enumerated().filter { _ in Bool.random() }.map { ($0.element, Double.random(in: 0.05...1.0)) }
            var restarted = round != 1
            while !pending.isEmpty || !restarted {
                let elapsed = Date().timeIntervalSince(start)
                if !restarted, elapsed > 0.3 {
                    try server.restart()
                    restarted = true
                }
                for (process, at) in pending where at <= elapsed && process.isRunning {
                    kill(process.processIdentifier, SIGKILL)
                }
                pending.removeAll { $0.1 <= elapsed }
                usleep(10_000)
            }
            for process in processes {
                process.waitUntilExit()
                if process.terminationReason == .uncaughtSignal { killed += 1 } else if process.terminationStatus != 0 { failed += 1 }
            }
            // Each plan is completed by running promote again (a lost connection fails a
            // promotion, which a re-run completes).
            for home in homes {
                var attempts = 0
                while try Sandbox(paths: SandboxPaths(home: home.home)).promotionState(ProjectID(home.project)) != "complete" {
                    attempts += 1
                    reruns += 1
                    try #require(attempts <= 5, "project \(home.project) could not be completed")
                    let again = try runBinary(["sandbox", "promote", home.project, "--yes", "--json"], home: home.home, environment: registry)
                    #expect(again.exitCode == 0 || again.stderr.contains("cannot be reached"), "\(again.stderr)")
                }
            }
        }
        #expect(killed > 0)
        print("TeamCrashTests: \(Self.rounds * Self.sandboxes) promotions of \(Self.agentsEach) agents: \(killed) SIGKILLed, \(failed) failed (the server restarted under them), \(reruns) re-runs completed them")

        let db = try PostgresConnection(server.url)
        func count(_ sql: String) throws -> Int64 { try db.query(sql)[0].int64(at: 0) }
        let total = Int64(Self.rounds * Self.sandboxes * Self.agentsEach)
        // 0 duplicates: each sandbox agent is in production once, with one promotion row.
        #expect(try count("SELECT count(*) FROM agents") == total)
        #expect(try count("SELECT count(DISTINCT promoted_from_agent_id) FROM agents") == total)
        #expect(try count("SELECT count(*) FROM production_events WHERE kind = 'promotion'") == total)
        #expect(try count("SELECT count(DISTINCT agent_id) FROM production_events WHERE kind = 'promotion'") == total)
        #expect(try count("SELECT count(*) FROM guardrails") == total)
        // 0 lost: exactly the sandboxes' agents.
        let promoted = Set(try db.query("SELECT promoted_from_agent_id FROM agents").compactMap { $0.text(at: 0) })
        #expect(promoted == allAgents)
        for (home, project) in projects {
            #expect(try Sandbox(paths: SandboxPaths(home: home)).promotionState(ProjectID(project)) == "complete")
        }
        // One live version per slot, and the history's ids in commit order with no gap in what it says.
        #expect(try count("SELECT count(DISTINCT slot) FROM agents") == Int64(Self.agentsEach))
        #expect(try count("SELECT count(*) FROM (SELECT slot FROM agents GROUP BY slot HAVING count(*) FILTER (WHERE state = 'live') <> 1) AS bad") == 0)
        #expect(try count("SELECT count(*) FROM agents WHERE state = 'live'") == Int64(Self.agentsEach))
        // Each promotion's history row names the version it replaced: per slot, a chain.
        #expect(try count("""
            SELECT count(*) FROM production_events AS e
            WHERE e.kind = 'promotion' AND e.previous_agent_id IS NOT NULL
              AND e.previous_agent_id <> (SELECT p.agent_id FROM production_events AS p
                                          WHERE p.slot = e.slot AND p.id < e.id ORDER BY p.id DESC LIMIT 1)
            """) == 0)
    }
}
