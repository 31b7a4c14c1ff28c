import Foundation
import Testing
@testable import SandboxCore

/// `sandbox compare` through the built binary.
@Suite struct CompareEndToEndTests {
    @Test func compareJudgesAgainstTheBaselineAndGatesCI() throws {
        let home = try makeHome()
        var projects: [String] = []
        var lines = ""
        for (name, revenue) in [("baseline", 2.0), ("worse", 1.1), ("better", 3.0)] {
            let project = try runBinary(["sandbox", "create", name, "--json"], home: home).decode(Project.self).id.rawValue
            let agent = try runBinary(["sandbox", "deploy", project, "coder", "--json"], home: home).decode(Agent.self).id.rawValue
            projects.append(project)
            for index in 0..<400 {
                let spread = Double(index % 5 - 2) / 10
                lines += #"{"type":"usage","agent_id":"\#(agent)","model":"x","input_tokens":100,"output_tokens":0,"cost":\#(String(format: "%.2f", 1 + spread))}"# + "\n"
                lines += #"{"type":"revenue","agent_id":"\#(agent)","amount":\#(String(format: "%.2f", revenue * (1 + spread)))}"# + "\n"
            }
        }
        let events = home.appendingPathComponent("events.jsonl")
        try lines.write(to: events, atomically: true, encoding: .utf8)
        #expect(try runBinary(["sandbox", "import", events.path], home: home).exitCode == 0)

        let output = try runBinary(["sandbox", "compare"] + projects + ["--json"], home: home)
        #expect(output.exitCode == 0, "\(output.stderr)")
        let comparison = try output.decode(Comparison.self)
        #expect(comparison.columns.map(\.id) == projects && comparison.worse)
        #expect(comparison.columns[1].confidence?.roi.verdict == .worse && comparison.columns[2].confidence?.roi.verdict == .better)
        let keys = try output.jsonKeys()
        #expect(keys == ["kind", "baseline", "resamples", "seed", "confidence_level", "columns", "worse"])

        let csv = try runBinary(["sandbox", "compare"] + projects + ["--csv"], home: home).stdout.components(separatedBy: "\r\n")
        #expect(csv[0].hasPrefix("id,name,baseline,total_cost,") && csv[0].contains(",total_cost_difference,") && csv[0].hasSuffix(",revenue_per_event_verdict"))
        #expect(csv[1].hasPrefix("\(projects[0]),baseline,true,") && csv[2].hasSuffix(",worse"))
        let text = try runBinary(["sandbox", "compare"] + projects, home: home).stdout
        #expect(text.contains("(baseline)") && text.contains("worse") && text.contains("better") && text.contains("revenue / event"))
        #expect(try runBinary(["sandbox", "compare", projects[0], projects[1], "--fail-on-worse"], home: home).exitCode == 3)
        #expect(try runBinary(["sandbox", "compare", projects[0], projects[2], "--fail-on-worse"], home: home).exitCode == 0)
        #expect(try runBinary(["sandbox", "compare", projects[0]], home: home).exitCode == 64)
        #expect(try runBinary(["sandbox", "compare", projects[0], projects[0]], home: home).exitCode == 64)
        #expect(try runBinary(["sandbox", "compare", projects[0], "prj_00000000", "--csv", "--json"], home: home).exitCode == 64)
        #expect(try runBinary(["sandbox", "compare", projects[0], "prj_00000000"], home: home).exitCode == 1)
        #expect(try runBinary(["sandbox", "compare", projects[0], "nonsense"], home: home).exitCode == 1)
    }
}
