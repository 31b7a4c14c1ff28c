import Foundation
import SandboxCore
import Testing
@testable import NovaCLI

/// Commands run in-process through an injected context; JSON decoded back into result types.
@Suite struct InProcessTests {
    @Test func createDeployAndEvaluateThroughTheContext() throws {
        let cli = InProcess(home: try makeHome())
        let project = try cli.run(["sandbox", "create", "in-process", "--budget", "25", "--json"]).decode(Project.self)
        #expect(project.budget == (try Money(parsing: "25")))
        let agent = try cli.run(["sandbox", "deploy", project.id.rawValue, "coder", "--config", #"{"token_budget": 5000}"#, "--json"]).decode(Agent.self)
        #expect(agent.tokenBudget == 5_000)
        let evaluation = try cli.run(["sandbox", "eval", project.id.rawValue, "--json"]).decode(Evaluation.self)
        #expect(evaluation.recommendation == .notReady)
        #expect(evaluation.criteria.hasSufficientData.pass == false)
    }

    @Test func promoteAsksForConfirmationOnATerminal() throws {
        let cli = InProcess(home: try makeHome())
        let project = try cli.run(["sandbox", "create", "p", "--json"]).decode(Project.self)
        let agent = try cli.run(["sandbox", "deploy", project.id.rawValue, "assistant", "--json"]).decode(Agent.self)
        _ = try cli.run(["sandbox", "usage", agent.id.rawValue, "--model", "claude-haiku-3.5", "--input-tokens", "1000", "--output-tokens", "0"])
        _ = try cli.run(["sandbox", "revenue", agent.id.rawValue, "1"])
        cli.stdinIsTerminal = true
        cli.input = ["n"]
        #expect(throws: SandboxError.self) { try cli.run(["sandbox", "promote", project.id.rawValue]) }
        #expect(try cli.run(["sandbox", "project", project.id.rawValue, "--json"]).decode(ProjectDetail.self).status == .active)
        cli.input = ["y"]
        let output = try cli.run(["sandbox", "promote", project.id.rawValue, "--json"])
        #expect(output.stderr.contains("[y/N]"))
        #expect(try output.decode(PromotionResult.self).agentsMigrated == 1)
    }

    @Test func tablesStayAlignedWithHostileNames() throws {
        let cli = InProcess(home: try makeHome())
        _ = try cli.run(["sandbox", "create", "line\nbreak \u{202E}rtl\ttab"])
        _ = try cli.run(["sandbox", "create", String(repeating: "x", count: 1_000)])
        _ = try cli.run(["sandbox", "create", "plain"])
        let lines = try cli.run(["sandbox", "list"]).stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        // Every row starts its STATUS column at the same place.
        let statusColumn = try #require(lines[0].range(of: "STATUS")).lowerBound.utf16Offset(in: lines[0])
        for line in lines.dropFirst() {
            let characters = Array(line)
            #expect(String(characters[statusColumn..<(statusColumn + 6)]) == "active", "\(line)")
        }
        #expect(!lines.joined().contains("\u{202E}"))
    }

    @Test func killAsksOnATerminalAndRefusesWithoutOne() throws {
        let cli = InProcess(home: try makeHome())
        let project = try cli.run(["sandbox", "create", "p", "--json"]).decode(Project.self).id.rawValue
        #expect(throws: SandboxError.self) { try cli.run(["sandbox", "kill", project]) } // no terminal, no --yes
        cli.stdinIsTerminal = true
        cli.input = ["n"]
        #expect(throws: SandboxError.self) { try cli.run(["sandbox", "kill", project, "--delete"]) }
        #expect(try cli.run(["sandbox", "project", project, "--json"]).decode(ProjectDetail.self).status == .active)
        cli.input = ["y"]
        let output = try cli.run(["sandbox", "kill", project, "--json"])
        let status = try output.decode(KillResult.self).status
        #expect(output.stderr.contains("[y/N]") && status == .killed)
    }

    @Test func productionCommandsTakeTheFlagsOfTheirSandboxTwins() {
        #expect(CommandLineCheck.options(of: ProductionCommand.Usage.self) == CommandLineCheck.options(of: SandboxCommand.Usage.self))
        #expect(CommandLineCheck.options(of: ProductionCommand.Revenue.self) == CommandLineCheck.options(of: SandboxCommand.Revenue.self))
        #expect(CommandLineCheck.options(of: ProductionCommand.Import.self) == CommandLineCheck.options(of: SandboxCommand.Import.self))
        #expect(CommandLineCheck.options(of: ProductionCommand.Run.self) == CommandLineCheck.options(of: SandboxCommand.Run.self))
    }

    @Test func hoistsGlobalOptionsBeforeTheSubcommand() {
        #expect(NovaOS.hoistingGlobalOptions(["--home", "/h", "--json", "sandbox", "list"]) == ["sandbox", "list", "--home", "/h", "--json"])
        #expect(NovaOS.hoistingGlobalOptions(["--home=/h", "sandbox", "run", "a", "--", "cmd", "--json"]) == ["sandbox", "run", "a", "--home=/h", "--", "cmd", "--json"])
        #expect(NovaOS.hoistingGlobalOptions(["sandbox", "list", "--home", "/h"]) == ["sandbox", "list", "--home", "/h"])
    }
}
