import Foundation
import Testing
@testable import SandboxCore

/// Templates (issue 13): the built-ins, save/list/show/delete, and export/import as a file teams share.
@Suite struct TemplateEndToEndTests {
    @Test func builtInTemplatesMakeAnABTestAndAModelSweep() throws {
        let home = try makeHome()
        let ab = try runBinary(["sandbox", "create", "tone", "--template", "ab-test", "--set", "temperature=0.2,0.8", "--set", "type=customer_support", "--json"], home: home)
        #expect(ab.exitCode == 0, "\(ab.stderr)")
        let detail = try ab.decode(ProjectDetail.self)
        #expect(detail.agents.map(\.name) == ["temperature=0.2", "temperature=0.8"])
        #expect(detail.agents.map(\.config) == [.object(["temperature": .number(0.2)]), .object(["temperature": .number(0.8)])])
        #expect(detail.agents.allSatisfy { $0.type == "customer_support" && $0.tokenBudget == 200_000 })
        #expect(detail.experiments.map(\.hypothesis) == ["temperature=0.8 earns a better ROI than temperature=0.2"])
        // Agents of a template are named by project and name.
        #expect(try runBinary(["sandbox", "revenue", "\(detail.id)/temperature=0.8", "2"], home: home).exitCode == 0)

        let sweep = try runBinary(
            ["sandbox", "create", "models", "--template", "model-sweep", "--set", "model=claude-sonnet-4,gpt-4o,claude-haiku-3.5", "--budget", "25", "--json"],
            home: home
        ).decode(ProjectDetail.self)
        #expect(sweep.agents.map(\.name) == ["claude-sonnet-4", "gpt-4o", "claude-haiku-3.5"] && sweep.budget == Money(micros: 25_000_000))
        #expect(sweep.agents.map(\.config) == ["claude-sonnet-4", "gpt-4o", "claude-haiku-3.5"].map { .object(["model": .string($0)]) })

        // Wrong settings change nothing.
        for (arguments, code, message) in [
            (["--template", "ab-test", "--set", "temperature=0.2,0.8,0.9"], 1, "two different values"),
            (["--template", "ab-test", "--set", "temperature=0.2,0.2"], 1, "two different values"),
            (["--template", "ab-test"], 1, "one key to vary"),
            (["--template", "ab-test", "--set", "a=1,2", "--set", "b=1,2"], 1, "one key to vary"),
            (["--template", "ab-test", "--set", "noequals"], 64, "KEY=VALUE"),
            (["--template", "ab-test", "--set", "a=1,2", "--set", "a=3,4"], 64, "given twice"),
            (["--template", "model-sweep", "--set", "model=gpt-4o,gtp-5"], 1, "gtp-5"),
            (["--template", "model-sweep", "--set", "temperature=1"], 1, "the models to sweep"),
            (["--template", "ab-test", "--set", "type=Bad Type", "--set", "x=1,2"], 1, "invalid agent type"),
            (["--set", "model=gpt-4o"], 64, "--set goes with --template"),
            (["--template", "no-such"], 1, "no template"),
        ] as [([String], Int32, String)] {
            let output = try runBinary(["sandbox", "create", "x"] + arguments, home: home)
            #expect(output.exitCode == code && output.stderr.contains(message), "\(arguments): \(output.stderr)")
            #expect(output.stderr.split(separator: "\n").count == 1, "\(arguments): \(output.stderr)")
        }
        #expect(try runBinary(["sandbox", "list", "--json"], home: home).decode(ProjectList.self).projects.count == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("sandbox/projects").path).count == 2)
        // A refused create on a fresh home leaves it empty.
        let fresh = try makeHome()
        for arguments in [["--template", "no-such"], ["--template", "model-sweep", "--set", "model=nope"], ["--expires-at", "2020-01-01"], ["--budget", "0"]] {
            #expect(try runBinary(["sandbox", "create", "x"] + arguments, home: fresh).exitCode != 0)
        }
        #expect(try runBinary(["sandbox", "create", ""], home: fresh).exitCode == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fresh.path).isEmpty)
    }

    @Test func aSavedTemplateTravelsAsAFileAndMakesTheSameProject() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "support", "--description", "tiered support", "--budget", "40", "--expires-in", "7d", "--delete-on-expiry", "--json"], home: home)
            .decode(Project.self).id.rawValue
        _ = try runBinary(["sandbox", "deploy", project, "customer_support", "--name", "warm", "--config", #"{"tone":"warm","limits":[1,2.5]}"#], home: home)
        _ = try runBinary(["sandbox", "deploy", project, "translator", "--name", "fr", "--budget-tokens", "5000"], home: home)
        _ = try runBinary(["sandbox", "experiment", "start", project, "warmth", "--hypothesis", "warm sells more"], home: home)
        let agent = try runBinary(["sandbox", "project", project, "--json"], home: home).decode(ProjectDetail.self).agents[0].id.rawValue
        _ = try runBinary(["sandbox", "revenue", agent, "10"], home: home)

        let saved = try runBinary(["sandbox", "template", "save", project, "support-v1", "--json"], home: home)
        #expect(saved.exitCode == 0, "\(saved.stderr)")
        let template = try saved.decode(ProjectTemplate.self)
        #expect(template.format == "novaos-template/1" && template.budget == Money(micros: 40_000_000))
        #expect(template.expiresInSeconds == 7 * 86_400 && template.deleteOnExpiry)
        #expect(template.agents.map(\.name) == ["warm", "fr"] && template.agents.map(\.budgetTokens) == [20_000, 5_000])
        #expect(template.experiments == [ProjectTemplate.Experiment(name: "warmth", hypothesis: "warm sells more")])
        #expect(try runBinary(["sandbox", "template", "save", project, "support-v1"], home: home).exitCode == 1) // taken
        #expect(try runBinary(["sandbox", "template", "save", project, "support-v1", "--replace"], home: home).exitCode == 0)
        #expect(try runBinary(["sandbox", "template", "save", project, "ab-test"], home: home).exitCode == 1) // a built-in's name
        #expect(try runBinary(["sandbox", "template", "save", project, "../evil"], home: home).exitCode == 1)

        let list = try runBinary(["sandbox", "template", "list", "--json"], home: home).decode(TemplateList.self)
        #expect(list.templates.map(\.name) == ["ab-test", "model-sweep", "support-v1"] && list.templates.map(\.builtIn) == [true, true, false])
        let shown = try runBinary(["sandbox", "template", "show", "support-v1", "--json"], home: home).decode(TemplateDetail.self)
        #expect(shown.template == template)
        #expect(try runBinary(["sandbox", "template", "show", "ab-test"], home: home).stdout.contains("--set KEY=A,B"))

        // Export, import elsewhere, create: the same shape, none of the data.
        let file = home.appendingPathComponent("support.json")
        #expect(try runBinary(["sandbox", "template", "export", "support-v1", file.path], home: home).exitCode == 0)
        let before = try Data(contentsOf: file)
        let again = try runBinary(["sandbox", "template", "export", "support-v1", file.path], home: home)
        let after = try Data(contentsOf: file)
        #expect(again.exitCode == 1 && again.stderr.contains("never overwrites") && after == before)
        #expect(try runBinary(["sandbox", "template", "export", "ab-test", "-"], home: home).exitCode == 1)
        let stdout = try runBinary(["sandbox", "template", "export", "support-v1", "-"], home: home).stdout
        #expect(Data(stdout.utf8) == before)

        let teammate = try makeHome()
        let imported = try runBinary(["sandbox", "template", "import", file.path, "--json"], home: teammate)
        #expect(imported.exitCode == 0, "\(imported.stderr)")
        #expect(try imported.decode(ProjectTemplate.self) == template)
        let made = try runBinary(["sandbox", "create", "support-2", "--template", "support-v1", "--json"], home: teammate).decode(ProjectDetail.self)
        #expect(made.description == "tiered support" && made.budget == Money(micros: 40_000_000) && made.deleteOnExpiry)
        #expect(made.expiresAt == made.createdAt.addingTimeInterval(7 * 86_400))
        #expect(made.agents.map(\.name) == ["warm", "fr"] && made.agents.map(\.tokenBudget) == [200_000, 50_000])
        #expect(made.agents[0].config == .object(["tone": .string("warm"), "limits": .array([.integer(1), .number(2.5)])]))
        #expect(made.agents.allSatisfy { $0.totalRevenue == .zero } && made.experiments.map(\.name) == ["warmth"])
        // Flags given at creation win over the template's.
        let custom = try runBinary(["sandbox", "create", "s3", "--template", "support-v1", "--budget", "5", "--description", "cheap", "--json"], home: teammate)
            .decode(ProjectDetail.self)
        #expect(custom.budget == Money(micros: 5_000_000) && custom.description == "cheap")

        #expect(try runBinary(["sandbox", "template", "delete", "support-v1"], home: teammate).exitCode == 0)
        #expect(try runBinary(["sandbox", "template", "delete", "support-v1"], home: teammate).exitCode == 1)
        #expect(try runBinary(["sandbox", "template", "delete", "model-sweep"], home: teammate).exitCode == 1)
        #expect(try runBinary(["sandbox", "create", "x", "--template", "support-v1"], home: teammate).exitCode == 1)
        #expect(try runBinary(["sandbox", "list", "--json"], home: teammate).decode(ProjectList.self).projects.count == 2)
    }

    @Test func anImportedFileIsCheckedFieldByField() throws {
        let home = try makeHome()
        let valid = #"{"format":"novaos-template/1","name":"t","agents":[{"type":"assistant"}]}"#
        let minimal = home.appendingPathComponent("minimal.json")
        try valid.write(to: minimal, atomically: true, encoding: .utf8)
        let accepted = try runBinary(["sandbox", "template", "import", minimal.path, "--json"], home: home)
        #expect(accepted.exitCode == 0, "\(accepted.stderr)")
        #expect(try accepted.decode(ProjectTemplate.self).agents == [ProjectTemplate.Agent(type: "assistant", name: "assistant", budgetTokens: 10_000)])

        for (document, message) in [
            (#"{"format":"novaos-template/1","name":"t2","agnets":[]}"#, "unknown key 'agnets'"),
            (#"{"format":"novaos-template/1","name":"t2","agents":[{"type":"assistant","budget":5}]}"#, "agents[0]: unknown key 'budget'"),
            (#"{"format":"novaos-template/2","name":"t2"}"#, "is not one this novaos reads"),
            (#"{"name":"t2"}"#, "missing format"),
            (#"{"format":"novaos-template/1","name":"t2","agents":[{"type":"assistant","budget_tokens":0}]}"#, "budget_tokens must be a whole number"),
            (#"{"format":"novaos-template/1","name":"t2","agents":[{"type":"assistant","budget_tokens":"many"}]}"#, "must be a whole number"),
            (#"{"format":"novaos-template/1","name":"t2","agents":[{"type":"assistant","config":[1]}]}"#, "config must be a JSON object"),
            (#"{"format":"novaos-template/1","name":"t2","agents":[{"type":"Not A Type"}]}"#, "invalid agent type"),
            (#"{"format":"novaos-template/1","name":"t2","budget":-1}"#, "budget must be greater than zero"),
            (#"{"format":"novaos-template/1","name":"t2","budget":0.0000001}"#, "more than 6 decimal places"),
            (#"{"format":"novaos-template/1","name":"t2","expires_in_seconds":0}"#, "expires_in_seconds must be"),
            (#"{"format":"novaos-template/1","name":"t2","delete_on_expiry":true}"#, "delete_on_expiry needs"),
            (#"{"format":"novaos-template/1","name":"../../etc"}"#, "invalid template name"),
            (#"{"format":"novaos-template/1","name":"ab-test"}"#, "built-in"),
            (#"{"format":"novaos-template/1","name":"t"}"#, "exists"),
            (#"{"format":"novaos-template/1","name":"t2","experiments":[{"name":"a\u0000b"}]}"#, "NUL"),
            (#"[1,2]"#, "must be a JSON object"),
            (#"{"format": "#, "line 1"),
            (#"{"format":"novaos-template/1","name":"t2","agents":[],"agents":[{"type":"assistant"}]}"#, "duplicate"),
            (#"{"format":"novaos-template/1","name":"t2","budget":9223372036854.775807}"#, "at most $1000000000"),
            (#"{"format":"novaos-template/1","name":"t2","expires_in_seconds":9223372036854775808}"#, "out of range"),
        ] {
            let file = home.appendingPathComponent("bad.json")
            try document.write(to: file, atomically: true, encoding: .utf8)
            let output = try runBinary(["sandbox", "template", "import", file.path], home: home)
            #expect(output.exitCode == 1 && output.stderr.contains(message), "\(document): \(output.stderr)")
            #expect(output.stderr.split(separator: "\n").count == 1, "\(document): \(output.stderr)")
        }
        let huge = home.appendingPathComponent("huge.json")
        try Data(repeating: 0x20, count: 2 << 20).write(to: huge)
        #expect(try runBinary(["sandbox", "template", "import", huge.path], home: home).stderr.contains("too large"))
        #expect(try runBinary(["sandbox", "template", "import", home.path], home: home).exitCode == 1)
        #expect(try runBinary(["sandbox", "template", "list", "--json"], home: home).decode(TemplateList.self).templates.map(\.name) == ["ab-test", "model-sweep", "t"])
    }
}
