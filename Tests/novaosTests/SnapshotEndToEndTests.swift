import Foundation
import SandboxCore
import Testing

/// Snapshots (issue 13): one file per snapshot, restored as a new project or in place, all or
/// nothing and safe to kill.
@Suite struct SnapshotEndToEndTests {
    /// The project's rows, table by table, as `sqlite3` writes them (`.mode insert`), and the
    /// sandbox-wide totals.
    func rows(of project: String, home: URL) throws -> String {
        let agents = "(SELECT id FROM agents WHERE project_id = '\(project)')"
        var text = ""
        for (table, filter) in [
            ("projects", "id = '\(project)'"), ("agents", "project_id = '\(project)'"), ("api_costs", "agent_id IN \(agents)"),
            ("revenue", "agent_id IN \(agents)"), ("runs", "agent_id IN \(agents)"), ("experiments", "project_id = '\(project)'"),
            ("evaluations", "project_id = '\(project)'"), ("budget_changes", "target_id = '\(project)' OR target_id IN \(agents)"),
            ("sandbox_totals", "1"),
        ] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["sqlite3", "-readonly", home.appendingPathComponent("sandbox/sandbox.db").path, ".mode insert \(table)",
                                 "SELECT * FROM \(table) WHERE \(filter) ORDER BY rowid"]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            text += String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
        }
        return text
    }

    /// Every path under a folder with its kind and contents (a link's target).
    func tree(_ folder: URL) throws -> [String] {
        var entries: [String] = []
        let manager = FileManager.default
        for path in (manager.subpaths(atPath: folder.path) ?? []).sorted() {
            let full = folder.appendingPathComponent(path).path
            if let target = try? manager.destinationOfSymbolicLink(atPath: full) {
                entries.append("\(path) -> \(target)")
            } else if let data = manager.contents(atPath: full) {
                entries.append("\(path): \(String(decoding: data, as: UTF8.self))")
            } else {
                entries.append("\(path)/")
            }
        }
        return entries
    }

    /// A project with everything a snapshot holds: agents, priced and imported records with
    /// event IDs, a run, experiments, an evaluation, budget changes, workspace files and a link.
    func busyProject(_ home: URL) throws -> (project: String, agents: [String]) {
        let project = try runBinary(["sandbox", "create", "busy", "--budget", "50", "--json"], home: home).decode(Project.self).id.rawValue
        let first = try runBinary(["sandbox", "deploy", project, "customer_support", "--name", "first", "--json"], home: home).decode(Agent.self).id.rawValue
        let second = try runBinary(["sandbox", "deploy", project, "coder", "--config", #"{"model":"gpt-4o"}"#, "--json"], home: home).decode(Agent.self).id.rawValue
        _ = try runBinary(["sandbox", "usage", first, "--model", "claude-sonnet-4", "--input-tokens", "1200", "--output-tokens", "300"], home: home)
        let events = home.appendingPathComponent("events.jsonl")
        try """
        {"type":"usage","id":"u-1","agent_id":"\(second)","model":"gpt-4o","input_tokens":500,"output_tokens":100}
        {"type":"revenue","id":"r-1","agent_id":"\(first)","amount":12.5,"source":"stripe"}
        """.write(to: events, atomically: true, encoding: .utf8)
        #expect(try runBinary(["sandbox", "import", events.path], home: home).exitCode == 0)
        #expect(try runBinary(["sandbox", "run", first, "--isolation", "none", "--", "true"], home: home).exitCode == 0)
        _ = try runBinary(["sandbox", "experiment", "start", project, "tone", "--hypothesis", "warm wins"], home: home)
        _ = try runBinary(["sandbox", "budget", second, "--tokens", "900000"], home: home)
        _ = try runBinary(["sandbox", "eval", project], home: home)
        let workspace = home.appendingPathComponent("sandbox/projects/\(project)")
        try FileManager.default.createDirectory(at: workspace.appendingPathComponent("data/deep"), withIntermediateDirectories: true)
        try "alpha".write(to: workspace.appendingPathComponent("data/a.txt"), atomically: true, encoding: .utf8)
        try "beta".write(to: workspace.appendingPathComponent("data/deep/b.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: workspace.appendingPathComponent("data/link").path, withDestinationPath: "/etc/hostname")
        return (project, [first, second])
    }

    @Test func aSnapshotRestoredInPlaceGivesBackExactlyTheRowsAndFilesOfItsMoment() throws {
        let home = try makeHome()
        let (project, agents) = try busyProject(home)
        let other = try runBinary(["sandbox", "create", "bystander", "--json"], home: home).decode(Project.self).id.rawValue
        let workspace = home.appendingPathComponent("sandbox/projects/\(project)")
        let rowsBefore = try rows(of: project, home: home)
        let filesBefore = try tree(workspace)

        let taken = try runBinary(["sandbox", "snapshot", project, "--name", "before-tuning", "--json"], home: home)
        #expect(taken.exitCode == 0, "\(taken.stderr)")
        let info = try taken.decode(SnapshotInfo.self)
        #expect(info.id.hasPrefix("snp_") && info.name == "before-tuning" && info.projectID.rawValue == project)
        #expect(info.path == home.appendingPathComponent("sandbox/snapshots/\(info.id).db").path)
        #expect(info.agents == 2 && info.usageEvents == 2 && info.revenueEvents == 1 && info.runs == 1 && info.experiments == 1 && info.evaluations == 1)
        #expect(info.workspaceEntries == 5)

        // Everything changes afterwards: records, a new agent, a pause, an experiment, files.
        _ = try runBinary(["sandbox", "revenue", agents[0], "99"], home: home)
        _ = try runBinary(["sandbox", "usage", agents[1], "--model", "gpt-4o", "--input-tokens", "5", "--output-tokens", "5"], home: home)
        _ = try runBinary(["sandbox", "deploy", project, "researcher"], home: home)
        _ = try runBinary(["sandbox", "pause", agents[1]], home: home)
        _ = try runBinary(["sandbox", "experiment", "start", project, "later"], home: home)
        _ = try runBinary(["sandbox", "budget", project, "--usd", "70"], home: home)
        _ = try runBinary(["sandbox", "eval", project], home: home)
        try FileManager.default.removeItem(at: workspace.appendingPathComponent("data/a.txt"))
        try "changed".write(to: workspace.appendingPathComponent("data/deep/b.txt"), atomically: true, encoding: .utf8)
        try "new".write(to: workspace.appendingPathComponent("new.txt"), atomically: true, encoding: .utf8)
        // Another project goes on meanwhile, and must be left alone.
        let bystander = try runBinary(["sandbox", "deploy", other, "assistant", "--json"], home: home).decode(Agent.self).id.rawValue
        _ = try runBinary(["sandbox", "revenue", bystander, "1"], home: home)
        let bystanderRows = try rows(of: other, home: home).split(separator: "\n").filter { !$0.contains("sandbox_totals") }
        #expect(try rows(of: project, home: home) != rowsBefore)

        let refused = try runBinary(["sandbox", "restore", info.id, "--in-place"], home: home)
        #expect(refused.exitCode == 1 && refused.stderr.contains("--yes"))
        let restored = try runBinary(["sandbox", "restore", "before-tuning", "--in-place", "--yes", "--json"], home: home)
        #expect(restored.exitCode == 0, "\(restored.stderr)")
        #expect(try restored.decode(RestoreResult.self).mode == .inPlace)

        // The bystander's revenue is in the sandbox totals now; everything else is as it was.
        let rowsAfter = try rows(of: project, home: home)
        func withoutTotals(_ text: String) -> [Substring] { text.split(separator: "\n").filter { !$0.contains("INTO sandbox_totals") } }
        #expect(withoutTotals(rowsAfter) == withoutTotals(rowsBefore))
        #expect(try tree(workspace) == filesBefore)
        #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("sandbox/restoring").path))
        let status = try runBinary(["sandbox", "status", "--json"], home: home).decode(SandboxStatus.self)
        #expect(status.totalAgents == 3 && status.totalRevenue == Money(micros: 13_500_000))
        let afterBystander = try rows(of: other, home: home).split(separator: "\n").filter { !$0.contains("sandbox_totals") }
        #expect(afterBystander == bystanderRows)
        // The restored project works on: an event ID it had is still its own.
        let again = try runBinary(["sandbox", "import", home.appendingPathComponent("events.jsonl").path, "--json"], home: home)
        #expect(try again.decode(ImportSummary.self).duplicate == 2)
    }

    @Test func aSnapshotRestoredAsANewProjectGetsNewIDsAndLeavesTheOriginalAlone() throws {
        let home = try makeHome()
        let (project, agents) = try busyProject(home)
        let info = try runBinary(["sandbox", "snapshot", project, "--json"], home: home).decode(SnapshotInfo.self)
        #expect(info.name == nil)
        _ = try runBinary(["sandbox", "kill", project, "--yes"], home: home)
        let original = try rows(of: project, home: home)

        let restored = try runBinary(["sandbox", "restore", info.id, "--as", "busy again", "--json"], home: home)
        #expect(restored.exitCode == 0, "\(restored.stderr)")
        let result = try restored.decode(RestoreResult.self)
        #expect(result.mode == .copy && result.projectID.rawValue != project && result.name == "busy again")
        #expect(result.agents.map(\.snapshotAgentID.rawValue) == agents && Set(result.agents.map(\.agentID.rawValue)).isDisjoint(with: agents))
        let copy = try runBinary(["sandbox", "project", result.projectID.rawValue, "--json"], home: home).decode(ProjectDetail.self)
        #expect(copy.status == .active && copy.name == "busy again" && copy.budget == Money(micros: 50_000_000))
        #expect(copy.metrics.totalRevenue == Money(micros: 12_500_000) && copy.metrics.tokensUsed == 2_100 && copy.metrics.totalAgents == 2)
        #expect(copy.agents.map(\.name) == ["first", "coder"] && copy.agents[1].tokenBudget == 900_000)
        #expect(copy.experiments.map(\.name) == ["tone"] && copy.runs.count == 1 && copy.lastEvaluation != nil)
        #expect(copy.lastEvaluation.map { try! JSONWriter(pretty: false).encode($0) }.map { String(decoding: $0, as: UTF8.self) }?.contains(agents[0]) == false)
        #expect(try tree(home.appendingPathComponent("sandbox/projects/\(copy.id)")) == (try tree(home.appendingPathComponent("sandbox/projects/\(project)"))))
        // The original is untouched, and both can be written to.
        #expect(try rows(of: project, home: home).split(separator: "\n").filter { !$0.contains("sandbox_totals") }
            == original.split(separator: "\n").filter { !$0.contains("sandbox_totals") })
        #expect(try runBinary(["sandbox", "revenue", copy.agents[0].id.rawValue, "1"], home: home).exitCode == 0)
        // The copy's records have no event IDs: the originals keep theirs, which are unique.
        let copied = try rows(of: copy.id.rawValue, home: home)
        #expect(!copied.contains("'u-1'") && !copied.contains("'r-1'") && original.contains("'u-1'"))
        let status = try runBinary(["sandbox", "status", "--json"], home: home).decode(SandboxStatus.self)
        #expect(status.totalProjects == 2 && status.totalAgents == 4)
    }

    @Test func refusalsChangeNothing() throws {
        let (home, project, _, _) = try promotableHome()
        let info = try runBinary(["sandbox", "snapshot", project, "--name", "dup", "--json"], home: home).decode(SnapshotInfo.self)
        _ = try runBinary(["sandbox", "snapshot", project, "--name", "dup"], home: home)
        #expect(try runBinary(["sandbox", "promote", project, "--yes"], home: home).exitCode == 0)
        let before = try snapshot(home)
        for (arguments, code, message) in [
            (["sandbox", "restore", info.id, "--in-place", "--yes"], 1, "promoted"),
            (["sandbox", "restore", info.id], 64, "--as NAME or --in-place"),
            (["sandbox", "restore", info.id, "--as", "x", "--in-place"], 64, "--as NAME or --in-place"),
            (["sandbox", "restore", "snp_00000000", "--as", "x"], 1, "no snapshot"),
            (["sandbox", "restore", "dup", "--as", "x"], 1, "2 snapshots are named"),
            (["sandbox", "restore", info.id, "--as", ""], 1, "must not be empty"),
            (["sandbox", "snapshot", "prj_00000000"], 1, "no project"),
            (["sandbox", "snapshot", "nonsense"], 1, "invalid project ID"),
            (["sandbox", "snapshots", "--csv", "--json"], 64, "Choose one"),
        ] as [([String], Int32, String)] {
            let output = try runBinary(arguments, home: home)
            #expect(output.exitCode == code && output.stderr.contains(message), "\(arguments): \(output.stderr)")
            #expect(output.stderr.split(separator: "\n").count == 1, "\(arguments): \(output.stderr)")
        }
        #expect(try snapshot(home) == before)
        let list = try runBinary(["sandbox", "snapshots", project, "--json"], home: home).decode(SnapshotList.self)
        #expect(list.snapshots.count == 2 && list.snapshots.allSatisfy { $0.name == "dup" })
        #expect(try runBinary(["sandbox", "snapshots", "--csv"], home: home).stdout.hasPrefix("id,name,project_id,project_name,taken_at"))
        // A copy of a promoted project's snapshot is a new active project.
        #expect(try runBinary(["sandbox", "restore", info.id, "--as", "retry", "--json"], home: home).decode(RestoreResult.self).mode == .copy)
    }

    @Test(arguments: RestoreStep.allCases)
    func aRestoreKilledAtAnyStepIsAllOrNothing(step: RestoreStep) throws {
        let home = try makeHome()
        let (project, agents) = try busyProject(home)
        let workspace = home.appendingPathComponent("sandbox/projects/\(project)")
        let rowsBefore = try rows(of: project, home: home)
        let filesBefore = try tree(workspace)
        let info = try runBinary(["sandbox", "snapshot", project, "--json"], home: home).decode(SnapshotInfo.self)
        _ = try runBinary(["sandbox", "revenue", agents[0], "99"], home: home)
        try "new".write(to: workspace.appendingPathComponent("new.txt"), atomically: true, encoding: .utf8)
        let rowsChanged = try rows(of: project, home: home)
        let filesChanged = try tree(workspace)

        let killed = try runBinary(["sandbox", "restore", info.id, "--in-place", "--yes"], home: home, environment: ["NOVAOS_TEST_CRASH_AT": step.rawValue])
        #expect(killed.signaled && killed.exitCode == SIGKILL, "\(step): \(killed.stderr)")
        // The next command sees either nothing restored or everything.
        _ = try runBinary(["sandbox", "list"], home: home)
        switch step {
        case .afterUnpacking:
            #expect(try rows(of: project, home: home) == rowsChanged && (try tree(workspace)) == filesChanged)
            let again = try runBinary(["sandbox", "restore", info.id, "--in-place", "--yes"], home: home)
            #expect(again.exitCode == 0, "\(again.stderr)")
        case .afterCommit:
            break
        }
        #expect(try rows(of: project, home: home) == rowsBefore)
        #expect(try tree(workspace) == filesBefore)
    }

    @Test func aSnapshotIsOneConsistentMomentWhileAnImportWrites() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "p", "--json"], home: home).decode(Project.self).id.rawValue
        let agent = try runBinary(["sandbox", "deploy", project, "coder", "--budget-tokens", "100000000", "--json"], home: home).decode(Agent.self).id.rawValue
        let events = home.appendingPathComponent("many.jsonl")
        let line = #"{"type":"usage","agent_id":"\#(agent)","model":"gpt-4o","input_tokens":10,"output_tokens":10}"#
        try String(repeating: line + "\n", count: 100_000).write(to: events, atomically: true, encoding: .utf8)
        let writer = binaryProcess(["sandbox", "import", events.path], home: home, environment: [:])
        writer.standardOutput = FileHandle.nullDevice
        writer.standardError = FileHandle.nullDevice
        try writer.run()
        var snapshots: [SnapshotInfo] = []
        for _ in 0..<3 {
            snapshots.append(try runBinary(["sandbox", "snapshot", project, "--json"], home: home).decode(SnapshotInfo.self))
        }
        writer.waitUntilExit()
        for info in snapshots {
            // The project's totals equal the sum of the records the snapshot holds.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["sqlite3", "-readonly", info.path,
                                 "SELECT (SELECT cost_micros FROM projects) = (SELECT coalesce(sum(cost_micros), 0) FROM api_costs), (SELECT count(*) FROM api_costs)"]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let answer = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(answer.hasPrefix("1|"), "\(info.id): \(answer)")
        }
    }

    @Test func restoresKeepTheLifetimeRunOnAndRefuseWhatIsNotTheirs() throws {
        let home = try makeHome()
        let (project, agents) = try busyProject(home)
        let info = try runBinary(["sandbox", "snapshot", project, "--json"], home: home).decode(SnapshotInfo.self)
        // The lifetime given since stays; a run after the restore starts (run IDs are never reused).
        _ = try runBinary(["sandbox", "extend", project, "2d"], home: home)
        let expires = try runBinary(["sandbox", "project", project, "--json"], home: home).decode(ProjectDetail.self).expiresAt
        #expect(try runBinary(["sandbox", "run", agents[0], "--isolation", "none", "--", "true"], home: home).exitCode == 0)
        #expect(try runBinary(["sandbox", "restore", info.id, "--in-place", "--yes"], home: home).exitCode == 0)
        let restored = try runBinary(["sandbox", "project", project, "--json"], home: home).decode(ProjectDetail.self)
        #expect(restored.expiresAt == expires && restored.expiresAt != nil && restored.runs.count == 1)
        let run = try runBinary(["sandbox", "run", agents[0], "--isolation", "none", "--json", "--", "true"], home: home)
        #expect(run.exitCode == 0, "\(run.stderr)")
        #expect(try run.decode(RunRecord.self).stopReason == .exited)

        // An event recorded for another project since: refused in place, with the reason.
        let other = try runBinary(["sandbox", "create", "other", "--json"], home: home).decode(Project.self).id.rawValue
        let otherAgent = try runBinary(["sandbox", "deploy", other, "assistant", "--json"], home: home).decode(Agent.self).id.rawValue
        let conflicting = try runBinary(["sandbox", "snapshot", project, "--json"], home: home).decode(SnapshotInfo.self)
        let fresh = home.appendingPathComponent("fresh.jsonl")
        try #"{"type":"revenue","id":"later","agent_id":"\#(agents[0])","amount":1}"#.write(to: fresh, atomically: true, encoding: .utf8)
        _ = try runBinary(["sandbox", "import", fresh.path], home: home)
        let later = try runBinary(["sandbox", "snapshot", project, "--json"], home: home).decode(SnapshotInfo.self)
        _ = try runBinary(["sandbox", "restore", conflicting.id, "--in-place", "--yes"], home: home)
        try #"{"type":"revenue","id":"later","agent_id":"\#(otherAgent)","amount":1}"#.write(to: fresh, atomically: true, encoding: .utf8)
        _ = try runBinary(["sandbox", "import", fresh.path], home: home)
        let refused = try runBinary(["sandbox", "restore", later.id, "--in-place", "--yes"], home: home)
        #expect(refused.exitCode == 1 && refused.stderr.contains("event 'later'") && refused.stderr.contains("--as NAME"), "\(refused.stderr)")

        // A copy of a killed project's snapshot runs again.
        _ = try runBinary(["sandbox", "kill", project, "--yes"], home: home)
        let killedSnapshot = try runBinary(["sandbox", "snapshot", project, "--json"], home: home).decode(SnapshotInfo.self)
        let copy = try runBinary(["sandbox", "restore", killedSnapshot.id, "--as", "revived", "--json"], home: home).decode(RestoreResult.self)
        let revived = try runBinary(["sandbox", "project", copy.projectID.rawValue, "--json"], home: home).decode(ProjectDetail.self)
        #expect(revived.status == .active && revived.agents.allSatisfy { $0.status == .active })
        // A name that looks like an ID is refused; an unknown name is named as a name.
        #expect(try runBinary(["sandbox", "snapshot", other, "--name", "snp_deadbeef"], home: home).exitCode == 1)
        #expect(try runBinary(["sandbox", "restore", "nope", "--as", "x"], home: home).stderr.contains("no snapshot named 'nope'"))
    }

    @Test func hostileFilesAndFoldersAreNeverFollowedOrTrusted() throws {
        let home = try makeHome()
        let (project, _) = try busyProject(home)
        let workspace = home.appendingPathComponent("sandbox/projects/\(project)")
        // A sparse file of a terabyte is skipped, not read.
        #expect(shell(["truncate", "-s", "1T", workspace.appendingPathComponent("huge").path]) == 0)
        let taken = try runBinary(["sandbox", "snapshot", project, "--json"], home: home)
        #expect(taken.exitCode == 0, "\(taken.stderr)")
        let info = try taken.decode(SnapshotInfo.self)
        #expect(info.skippedEntries == 1 && info.workspaceEntries == 5)

        // HOME/sandbox/restoring as a link to a folder outside: never listed, emptied or written.
        let outside = try makeHome()
        let precious = outside.appendingPathComponent("prj_00000000.0000abcd")
        try FileManager.default.createDirectory(at: precious, withIntermediateDirectories: true)
        #expect(shell(["touch", "-d", "2020-01-01", precious.path]) == 0)
        let restoring = home.appendingPathComponent("sandbox/restoring")
        try FileManager.default.createSymbolicLink(atPath: restoring.path, withDestinationPath: outside.path)
        #expect(try runBinary(["sandbox", "list"], home: home).exitCode == 0)
        let refused = try runBinary(["sandbox", "restore", info.id, "--as", "copy"], home: home)
        #expect(refused.exitCode == 1 && refused.stderr.contains("symbolic link"), "\(refused.stderr)")
        #expect(FileManager.default.fileExists(atPath: precious.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path) == ["prj_00000000.0000abcd"])
        try FileManager.default.removeItem(at: restoring)

        // A snapshot edited by hand to hold rows of nothing, or totals no record explains, is refused.
        let before = try snapshot(home)
        for edit in ["DELETE FROM projects", "UPDATE agents SET cost_micros = cost_micros + 1", "UPDATE experiments SET id = 9223372036854775807",
                     "UPDATE api_costs SET agent_id = 'agt_000000000000'"] {
            let copy = home.appendingPathComponent("sandbox/snapshots/snp_0000beef.db")
            try? FileManager.default.removeItem(at: copy)
            try FileManager.default.copyItem(atPath: info.path, toPath: copy.path)
            #expect(shell(["sqlite3", copy.path, "UPDATE snapshot_info SET id = 'snp_0000beef'; \(edit)"]) == 0)
            let output = try runBinary(["sandbox", "restore", "snp_0000beef", "--as", "edited"], home: home)
            #expect(output.exitCode == 1 && output.stderr.contains("is damaged"), "\(edit): \(output.stderr)")
            try FileManager.default.removeItem(at: copy)
        }
        #expect(try snapshot(home) == before)
    }
}
