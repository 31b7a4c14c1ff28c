import Foundation
import Testing
@testable import SandboxCore

/// `sandbox compare`: figures side by side, and bootstrap verdicts on data whose answer is known.
@Suite struct ComparisonTests {
    /// A project with one agent and `count` usage events costing `cost` each and `count`
    /// revenue events earning `revenue` each, with ±20 % spread so resamples differ.
    private func project(_ sandbox: Sandbox, _ name: String, count: Int, cost: Int64, revenue: Int64) throws -> ProjectID {
        let project = try sandbox.createProject(name: name)
        let agent = try sandbox.deployAgent(project: project.id, type: "coder", name: name)
        var lines = ""
        for index in 0..<count {
            let spread = Int64(index % 5) - 2 // -2...2, mean 0
            lines += #"{"type":"usage","agent_id":"\#(agent.id)","model":"x","input_tokens":100,"output_tokens":0,"cost":\#(Money(micros: cost + spread * cost / 10).description.dropFirst())}"# + "\n"
            lines += #"{"type":"revenue","agent_id":"\#(agent.id)","amount":\#(Money(micros: revenue + spread * revenue / 10).description.dropFirst())}"# + "\n"
        }
        let file = sandbox.paths.home.appendingPathComponent("\(name).jsonl")
        try lines.write(to: file, atomically: true, encoding: .utf8)
        let descriptor = open(file.path, O_RDONLY)
        defer { close(descriptor) }
        #expect(try sandbox.importEvents(fileDescriptor: descriptor, source: name).committed)
        return project.id
    }

    @Test func clearlyBetterClearlyWorseAndIdenticalAreJudgedSo() throws {
        let sandbox = try makeSandbox()
        let baseline = try project(sandbox, "baseline", count: 400, cost: 1_000_000, revenue: 2_000_000) // ROI 100 %
        let better = try project(sandbox, "better", count: 400, cost: 1_000_000, revenue: 3_000_000) // ROI 200 %
        let worse = try project(sandbox, "worse", count: 400, cost: 1_000_000, revenue: 1_200_000) // ROI 20 %
        let same = try project(sandbox, "same", count: 400, cost: 1_000_000, revenue: 2_000_000)
        let comparison = try sandbox.compare(projects: [baseline, better, worse, same])
        #expect(comparison.baseline == baseline.rawValue && comparison.resamples >= 2_000)
        let verdicts = comparison.columns.dropFirst().map { [$0.confidence?.roi.verdict, $0.confidence?.revenuePerEvent.verdict] }
        #expect(verdicts == [[.better, .better], [.worse, .worse], [.inconclusive, .inconclusive]])
        #expect(comparison.worse)
        let baselineFigures = comparison.columns[0].figures
        #expect(baselineFigures.roi == 100 && baselineFigures.usageEvents == 400 && baselineFigures.revenuePerEvent == Money(micros: 2_000_000))
        #expect(baselineFigures.costPer1kTokens == Money(micros: 10_000_000)) // $1 per 100 tokens
        let betterColumn = comparison.columns[1]
        #expect(betterColumn.difference?.roi == 100 && betterColumn.difference?.totalRevenue == Money(micros: 400_000_000))
        #expect(betterColumn.confidence?.roi.difference == 100)
        let interval = try #require(betterColumn.confidence?.roi)
        #expect((interval.low ?? 0) > 0 && (interval.low ?? 0) < 100 && (interval.high ?? 0) > 100)
        #expect(comparison.columns[3].difference?.roi == 0 && comparison.columns[3].confidence?.roi.note == "the interval contains 0")

        // The same data gives the same answer (fixed seed).
        #expect(try sandbox.compare(projects: [baseline, better, worse, same]) == comparison)
    }

    /// Equal sales whose numbers differ by one: a difference no resample-free arithmetic can
    /// judge, which the bootstrap must not call significant.
    @Test func oneMoreSaleIsNotAFinding() throws {
        let sandbox = try makeSandbox()
        func sales(_ name: String, _ count: Int) throws -> ProjectID {
            let project = try sandbox.createProject(name: name)
            let agent = try sandbox.deployAgent(project: project.id, type: "coder", name: name)
            for _ in 0..<100 { _ = try sandbox.recordUsage(agent: agent.id, model: "x", inputTokens: 10, outputTokens: 0, cost: dollars("1")) }
            for _ in 0..<count { _ = try sandbox.recordRevenue(agent: agent.id, amount: dollars("10")) }
            return project.id
        }
        let ten = try sales("ten", 10), eleven = try sales("eleven", 11), other = try sales("other", 30)
        let comparison = try sandbox.compare(projects: [ten, eleven])
        #expect(comparison.columns[1].confidence?.roi.verdict == .inconclusive)
        #expect(comparison.columns[1].confidence?.revenuePerEvent.verdict == .inconclusive)
        #expect(!comparison.worse)
        // A column's interval does not depend on what else is compared.
        let alone = try sandbox.compare(projects: [ten, other]).columns[1].confidence
        let together = try sandbox.compare(projects: [ten, eleven, other]).columns[2].confidence
        #expect(alone == together && alone?.roi.verdict == .better)
    }

    @Test func fewEventsOrNoCostAreNeverAVerdict() throws {
        let sandbox = try makeSandbox()
        let baseline = try project(sandbox, "baseline", count: 9, cost: 1_000_000, revenue: 2_000_000)
        let better = try project(sandbox, "better", count: 9, cost: 1_000_000, revenue: 9_000_000)
        let comparison = try sandbox.compare(projects: [baseline, better])
        #expect(comparison.columns[1].confidence?.roi.verdict == .inconclusive)
        #expect(comparison.columns[1].confidence?.roi.note == "fewer than 20 events on a side")
        #expect(!comparison.worse)

        let empty = try sandbox.createProject(name: "empty").id
        let nothing = try sandbox.compare(projects: [baseline, empty])
        #expect(nothing.columns[1].confidence?.roi.difference == nil && nothing.columns[1].confidence?.roi.verdict == .inconclusive)
        #expect(nothing.columns[1].figures.costPer1kTokens == nil && nothing.columns[1].figures.revenuePerEvent == nil)

        #expect(throws: SandboxError.self) { try sandbox.compare(projects: [baseline]) }
        #expect(throws: SandboxError.self) { try sandbox.compare(projects: [baseline, baseline]) }
        #expect(throws: SandboxError.self) { try sandbox.compare(projects: [baseline, ProjectID("prj_00000000")]) }
    }

    @Test func agentsCompareLikeProjects() throws {
        let sandbox = try makeSandbox()
        let a = try project(sandbox, "a", count: 300, cost: 1_000_000, revenue: 2_000_000)
        let b = try project(sandbox, "b", count: 300, cost: 1_000_000, revenue: 4_000_000)
        let agents = try [a, b].map { try #require(try sandbox.projectDetail($0).agents.first?.id) }
        let comparison = try sandbox.compare(agents: agents)
        #expect(comparison.kind == "agents" && comparison.columns.map(\.id) == agents.map(\.rawValue))
        #expect(comparison.columns[1].confidence?.roi.verdict == .better)
    }
}
