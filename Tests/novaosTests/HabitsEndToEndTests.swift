import Foundation
import Testing
@testable import SandboxCore

/// The small things a daily user expects (issue 13), through the built binary.
@Suite struct HabitsEndToEndTests {
    @Test func aTypoedAgentTypeIsSaidOutLoudAndABudgetCanBeGiven() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "p", "--json"], home: home).decode(Project.self).id.rawValue
        let typo = try runBinary(["sandbox", "deploy", project, "assistnt", "--json"], home: home)
        #expect(typo.exitCode == 0)
        #expect(typo.stderr == "warning: unknown agent type 'assistnt'; did you mean 'assistant'? deployed with the default budget of 1,000 tokens (sandbox 10,000)\n")
        #expect(try typo.decode(Agent.self).tokenBudget == 10_000)
        let unknown = try runBinary(["sandbox", "deploy", project, "translator"], home: home)
        #expect(unknown.stderr.contains("unknown agent type 'translator': deployed with the default budget"))

        let given = try runBinary(["sandbox", "deploy", project, "translator", "--budget-tokens", "5000", "--json"], home: home)
        #expect(given.exitCode == 0 && given.stderr.isEmpty)
        #expect(try given.decode(Agent.self).tokenBudget == 50_000)
        #expect(try runBinary(["sandbox", "deploy", project, "assistant", "--json"], home: home).stderr.isEmpty)

        #expect(try runBinary(["sandbox", "deploy", project, "coder", "--budget-tokens", "0"], home: home).exitCode == 1)
        #expect(try runBinary(["sandbox", "deploy", project, "coder", "--budget-tokens", "many"], home: home).exitCode == 64)
        let both = try runBinary(["sandbox", "deploy", project, "coder", "--budget-tokens", "5", "--config", #"{"token_budget": 9}"#], home: home)
        #expect(both.exitCode == 1 && both.stderr.contains("not both"))
    }

    @Test func theHomeIsFoundInTheParentsAndNamedWhenNothingIsFound() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "found", "--json"], home: home).decode(Project.self).id.rawValue
        let deep = home.appendingPathComponent("src/module")
        try FileManager.default.createDirectory(at: deep, withIntermediateDirectories: true)
        // Run from a folder below the home: the home is found, nothing is made in the folder.
        let listed = try runBinary(["sandbox", "list", "--json"], home: deep).decode(ProjectList.self)
        #expect(listed.projects.map(\.id.rawValue) == [project])
        #expect(try runBinary(["sandbox", "status"], home: deep).stdout.contains("home:     \(home.path)"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: deep.path).isEmpty)
        // --home and NOVAOS_HOME still win.
        let other = try makeHome()
        #expect(try runBinary(["sandbox", "list", "--home", other.path], home: deep).stdout == "No projects in \(other.path).\n")
        #expect(try runBinary(["sandbox", "list"], home: deep, environment: ["NOVAOS_HOME": other.path]).stdout == "No projects in \(other.path).\n")
        // The search stops at the first sandbox/sandbox.db it sees, taking it only when it is a
        // file of this user: a folder there is not a home, and neither is any parent beyond it.
        let trap = deep.appendingPathComponent("sandbox/sandbox.db")
        try FileManager.default.createDirectory(at: trap, withIntermediateDirectories: true)
        let inner = deep.appendingPathComponent("x")
        try FileManager.default.createDirectory(at: inner, withIntermediateDirectories: true)
        #expect(try runBinary(["sandbox", "list"], home: inner).stdout == "No projects in \(inner.path).\n")
        // Nothing found says where it looked.
        let empty = try makeHome()
        #expect(try runBinary(["sandbox", "list"], home: empty).stdout == "No projects in \(empty.path).\n")
        #expect(try runBinary(["production", "list"], home: empty).stdout == "No production agents in \(empty.path).\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: empty.path).isEmpty)
    }

    @Test func tablesComeAsCSVAndMarkdown() throws {
        let home = try makeHome()
        let name = "=HYPERLINK(\"x\"), a | b\nsecond line"
        let project = try runBinary(["sandbox", "create", name, "--json"], home: home).decode(Project.self).id.rawValue
        let agent = try runBinary(["sandbox", "deploy", project, "coder", "--json"], home: home).decode(Agent.self).id.rawValue
        _ = try runBinary(["sandbox", "revenue", agent, "1.5"], home: home)

        let csv = try runBinary(["sandbox", "list", "--csv"], home: home)
        #expect(csv.exitCode == 0)
        let lines = csv.stdout.components(separatedBy: "\r\n")
        #expect(lines[0] == "id,name,status,active_agents,total_agents,tokens_used,total_cost,budget,budget_used_percent,total_revenue,profit,roi,created_at,expires_at,kill_reason")
        // RFC 4180 quoting, exact text, plain numbers; a formula is defused with a leading quote.
        #expect(csv.stdout.contains("\(project),\"'=HYPERLINK(\"\"x\"\"), a | b\nsecond line\",active,1,1,0,0,,,1.5,1.5,0,"))
        let md = try runBinary(["sandbox", "list", "--md"], home: home).stdout
        #expect(md.hasPrefix("| id | name | status |") && md.contains("a \\| b"))
        #expect(md.split(separator: "\n").count == 3) // header, rule, one row: the newline in the name is escaped
        #expect(try runBinary(["sandbox", "project", project, "--csv"], home: home).stdout.hasPrefix("id,name,type,status,pause_reason"))
        // Markdown and HTML in a name stay text in a report.
        _ = try runBinary(["sandbox", "create", "<img src=x>[link](y)"], home: home)
        #expect(try runBinary(["sandbox", "list", "--md"], home: home).stdout.contains(#"\<img src=x\>\[link\]\(y\)"#))

        for arguments in [["sandbox", "runs", agent, "--csv"], ["sandbox", "experiment", "list", project, "--md"], ["production", "list", "--csv"],
                          ["repo", "list", "--md"], ["prices", "list", "--csv"], ["sandbox", "compare", project, project, "--csv"]] {
            let output = try runBinary(arguments, home: home)
            #expect(output.exitCode == (arguments.contains("compare") ? 64 : 0), "\(arguments): \(output.stderr)")
        }
        #expect(try runBinary(["prices", "list", "--csv"], home: home).stdout.contains("claude-sonnet-4@"))
        #expect(try runBinary(["sandbox", "list", "--csv", "--json"], home: home).exitCode == 64)
        #expect(try runBinary(["sandbox", "list", "--csv", "--md"], home: home).exitCode == 64)
        #expect(try runBinary(["sandbox", "status", "--csv"], home: home).exitCode == 64) // no table there
    }

    @Test func completionScriptsAndTheManualsSourceComeFromTheCommands() throws {
        let home = try makeHome()
        for shell in ["bash", "zsh", "fish"] {
            let script = try runBinary(["--generate-completion-script", shell], home: home)
            #expect(script.exitCode == 0 && script.stdout.contains("production") && script.stdout.contains("compare"), "\(shell)")
        }
        // What the generate-manual plugin reads to write the man page.
        let dump = try runBinary(["--experimental-dump-help"], home: home)
        #expect(dump.exitCode == 0)
        let json = try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any]
        #expect((json?["command"] as? [String: Any])?["commandName"] as? String == "novaos")
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.path).isEmpty)
    }

    @Test func agentsCanBeNamedByProjectAndName() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "p", "--json"], home: home).decode(Project.self).id.rawValue
        let helper = try runBinary(["sandbox", "deploy", project, "assistant", "--name", "helper bot", "--json"], home: home).decode(Agent.self).id
        _ = try runBinary(["sandbox", "deploy", project, "coder", "--name", "twin"], home: home)
        _ = try runBinary(["sandbox", "deploy", project, "coder", "--name", "twin"], home: home)
        let usage = try runBinary(["sandbox", "usage", "\(project)/helper bot", "--model", "gpt-4o", "--input-tokens", "10", "--output-tokens", "1", "--json"], home: home)
        #expect(try usage.decode(UsageRecord.self).agentID == helper)
        #expect(try runBinary(["sandbox", "revenue", "\(project)/helper bot", "2"], home: home).exitCode == 0)
        #expect(try runBinary(["sandbox", "pause", "\(project)/helper bot", "--json"], home: home).decode(Agent.self).status == .paused)
        #expect(try runBinary(["sandbox", "budget", "\(project)/helper bot", "--tokens", "500"], home: home).exitCode == 0)
        let twins = try runBinary(["sandbox", "revenue", "\(project)/twin", "1"], home: home)
        #expect(twins.exitCode == 1 && twins.stderr.contains("several agents named"))
        let missing = try runBinary(["sandbox", "revenue", "\(project)/nobody", "1"], home: home)
        #expect(missing.exitCode == 1 && missing.stderr.contains("no agent named"))
        #expect(try runBinary(["sandbox", "revenue", "prj_bad/helper", "1"], home: home).exitCode == 1)
        #expect(try runBinary(["sandbox", "revenue", "\(project)/", "1"], home: home).exitCode == 1)
    }
}
