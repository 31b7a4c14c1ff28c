import Foundation
import Testing
@testable import SandboxCore

/// Time-limited projects (issue 13): `create --expires-in/--expires-at`, expiry applied by
/// any command, `sweep`, `extend`, and a run stopped at its project's expiry.
@Suite struct LifetimeEndToEndTests {
    private func at(_ time: String) -> [String: String] { ["NOVAOS_TEST_NOW": "2026-11-23T\(time)Z"] }

    @Test func aProjectExpiresWhenAnyCommandOpensTheSandbox() throws {
        let home = try makeHome()
        let created = try runBinary(["sandbox", "create", "short", "--expires-in", "1h", "--json"], home: home, environment: at("10:00:00"))
        let project = try created.decode(Project.self)
        #expect(project.expiresAt == Timestamp.date(from: "2026-11-23T11:00:00Z") && !project.deleteOnExpiry && project.killReason == nil)
        let agent = try runBinary(["sandbox", "deploy", project.id.rawValue, "assistant", "--json"], home: home, environment: at("10:00:00"))
            .decode(Agent.self).id.rawValue
        let keep = try runBinary(["sandbox", "create", "lasting", "--expires-at", "2026-12-01", "--json"], home: home, environment: at("10:00:00"))
            .decode(Project.self)
        #expect(keep.expiresAt == Timestamp.date(from: "2026-12-01T00:00:00Z"))
        try "notes".write(to: home.appendingPathComponent("sandbox/projects/\(project.id)/notes.txt"), atomically: true, encoding: .utf8)

        // Before the expiry nothing happens, and the list shows when it comes.
        let before = try runBinary(["sandbox", "list", "--json"], home: home, environment: at("11:00:00"))
        #expect(before.stderr.isEmpty)
        #expect(try before.decode(ProjectList.self).projects.map(\.status) == [.active, .active])
        #expect(before.stdout.contains(#""expires_at" : "2026-11-23T11:00:00Z""#))

        // After it, a read says so on stderr and shows the project killed at its expiry, its workspace kept.
        let after = try runBinary(["sandbox", "list", "--json"], home: home, environment: at("11:00:01"))
        #expect(after.stderr == "warning: project \(project.id) expired at 2026-11-23T11:00:00Z and was killed\n")
        let listed = try after.decode(ProjectList.self).projects
        #expect(listed.map(\.status) == [.killed, .active] && listed[0].killReason == .expired)
        let detail = try runBinary(["sandbox", "project", project.id.rawValue, "--json"], home: home, environment: at("12:00:00"))
        #expect(detail.stderr.isEmpty)
        let shown = try detail.decode(ProjectDetail.self)
        #expect(shown.killedAt == Timestamp.date(from: "2026-11-23T11:00:00Z") && shown.killReason == .expired && shown.agents[0].status == .killed)
        #expect(FileManager.default.fileExists(atPath: home.appendingPathComponent("sandbox/projects/\(project.id)/notes.txt").path))
        // Nothing more can be recorded for it.
        let usage = try runBinary(["sandbox", "revenue", agent, "5"], home: home, environment: at("12:00:00"))
        #expect(usage.exitCode == 1)
        // A manual kill says so too.
        _ = try runBinary(["sandbox", "kill", keep.id.rawValue, "--yes"], home: home, environment: at("12:00:00"))
        #expect(try runBinary(["sandbox", "project", keep.id.rawValue, "--json"], home: home).decode(ProjectDetail.self).killReason == .manual)
        let csv = try runBinary(["sandbox", "list", "--csv"], home: home, environment: at("12:00:00")).stdout
        #expect(csv.hasPrefix("id,name,status,active_agents,total_agents,tokens_used,total_cost,budget,budget_used_percent,total_revenue,profit,roi,created_at,expires_at,kill_reason\r\n"))
        #expect(csv.contains(",2026-11-23T10:00:00Z,2026-11-23T11:00:00Z,expired\r\n"))
    }

    @Test func sweepKillsWhatExpiredAndDeletesWorkspacesAskedFor() throws {
        let home = try makeHome()
        let doomed = try runBinary(["sandbox", "create", "tmp", "--expires-in", "30m", "--delete-on-expiry", "--json"], home: home, environment: at("10:00:00"))
            .decode(Project.self)
        #expect(doomed.deleteOnExpiry)
        let workspace = home.appendingPathComponent("sandbox/projects/\(doomed.id)")
        try FileManager.default.createDirectory(at: workspace.appendingPathComponent("deep/er"), withIntermediateDirectories: true)
        // A link inside points outside: removed as a link, what it points to is untouched.
        let outside = try makeHome().appendingPathComponent("precious.txt")
        try "keep".write(to: outside, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: workspace.appendingPathComponent("deep/link").path, withDestinationPath: outside.path)

        let early = try runBinary(["sandbox", "sweep", "--json"], home: home, environment: at("10:30:00"))
        #expect(early.exitCode == 0 && early.stdout.contains(#""expired" : ["#) && early.stderr.isEmpty)
        #expect(try early.decode(SweepResult.self).expired.isEmpty)

        let swept = try runBinary(["sandbox", "sweep", "--json"], home: home, environment: at("10:45:00"))
        #expect(swept.exitCode == 0 && swept.stderr.isEmpty)
        let result = try swept.decode(SweepResult.self)
        #expect(result.expired.map(\.projectID) == [doomed.id] && result.expired[0].workspaceDeleted)
        #expect(result.expired[0].expiresAt == Timestamp.date(from: "2026-11-23T10:30:00Z"))
        #expect(!FileManager.default.fileExists(atPath: workspace.path))
        #expect(try String(contentsOf: outside, encoding: .utf8) == "keep")
        let again = try runBinary(["sandbox", "sweep"], home: home, environment: at("10:46:00"))
        #expect(again.exitCode == 0 && again.stdout == "No project has expired in \(home.path).\n")
        // A sweep of a fresh home creates nothing.
        let fresh = try makeHome()
        #expect(try runBinary(["sandbox", "sweep"], home: fresh).exitCode == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fresh.path).isEmpty)
    }

    @Test func extendMovesTheExpiryAndRefusesWhatCannotBeExtended() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "p", "--expires-in", "1h", "--json"], home: home, environment: at("10:00:00"))
            .decode(Project.self).id.rawValue
        let extended = try runBinary(["sandbox", "extend", project, "2h", "--json"], home: home, environment: at("10:30:00"))
        #expect(try extended.decode(Project.self).expiresAt == Timestamp.date(from: "2026-11-23T13:00:00Z"))
        #expect(try runBinary(["sandbox", "list", "--json"], home: home, environment: at("13:00:00")).decode(ProjectList.self).projects[0].status == .active)
        // A project without an expiry gets one, from now.
        let open = try runBinary(["sandbox", "create", "q", "--json"], home: home, environment: at("10:00:00")).decode(Project.self)
        #expect(open.expiresAt == nil)
        #expect(try runBinary(["sandbox", "extend", open.id.rawValue, "1d", "--json"], home: home, environment: at("10:00:00"))
            .decode(Project.self).expiresAt == Timestamp.date(from: "2026-11-24T10:00:00Z"))

        // Refusals change nothing.
        for (arguments, code) in [
            (["sandbox", "extend", project, "soon"], 64), (["sandbox", "extend", project, "0s"], 64), (["sandbox", "extend", project, "400d"], 64),
            (["sandbox", "extend", "prj_00000000", "1h"], 1), (["sandbox", "extend", "nonsense", "1h"], 1),
            (["sandbox", "create", "x", "--expires-in", "1h", "--expires-at", "2026-12-01"], 64),
            (["sandbox", "create", "x", "--delete-on-expiry"], 64), (["sandbox", "create", "x", "--expires-in", "-5m"], 64),
            (["sandbox", "create", "x", "--expires-at", "2026-11-22"], 1), (["sandbox", "create", "x", "--expires-at", "yesterday"], 64),
        ] as [([String], Int32)] {
            let output = try runBinary(arguments, home: home, environment: at("10:30:00"))
            #expect(output.exitCode == code, "\(arguments): \(output.stderr)")
            #expect(output.stderr.split(separator: "\n").count == 1 && output.stderr.hasPrefix("Error: "), "\(arguments): \(output.stderr)")
        }
        #expect(try runBinary(["sandbox", "list", "--json"], home: home, environment: at("10:30:00")).decode(ProjectList.self).projects.count == 2)
        // Once expired, it stays so.
        let late = try runBinary(["sandbox", "extend", project, "1h"], home: home, environment: at("14:00:00"))
        #expect(late.exitCode == 1 && late.stderr.contains("is killed (it expired at 2026-11-23T13:00:00Z)"))
    }

    @Test func aRunIsStoppedAtItsProjectsExpiry() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "p", "--expires-in", "2s", "--json"], home: home).decode(Project.self).id.rawValue
        let agent = try runBinary(["sandbox", "deploy", project, "assistant", "--json"], home: home).decode(Agent.self).id.rawValue
        let started = Date()
        let run = try runBinary(["sandbox", "run", agent, "--isolation", "none", "--json", "--", "sleep", "30"], home: home)
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(run.exitCode == 4, "\(run.stderr)")
        #expect(try run.decode(RunRecord.self).stopReason == .projectExpired)
        let detail = try runBinary(["sandbox", "project", project, "--json"], home: home).decode(ProjectDetail.self)
        #expect(detail.status == .killed && detail.killReason == .expired)
        #expect(detail.runs.first?.stopReason == .projectExpired)
        // An expired project's agents do not start again.
        #expect(try runBinary(["sandbox", "run", agent, "--isolation", "none", "--", "true"], home: home).exitCode == 1)
    }
}
