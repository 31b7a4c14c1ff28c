import Foundation
import SQLiteDB
import Testing
@testable import SandboxCore

@Suite struct ImportTests {
    /// Writes `lines` to a file and imports it.
    func importLines(_ lines: [String], into sandbox: Sandbox, skipInvalid: Bool = false) throws -> ImportSummary {
        let file = sandbox.paths.home.appendingPathComponent("events-\(UUID().uuidString).jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        return try sandbox.importEvents(fileDescriptor: handle.fileDescriptor, source: file.path, options: ImportOptions(skipInvalid: skipInvalid))
    }

    func usage(_ agent: AgentID, id: String?, tokens: Int = 1000) -> String {
        let idField = id.map { #","id":"\#($0)""# } ?? ""
        return #"{"type":"usage","agent_id":"\#(agent)","model":"claude-haiku-3.5","input_tokens":\#(tokens),"output_tokens":0\#(idField)}"#
    }

    func revenue(_ agent: AgentID, id: String?, amount: String = "1.25") -> String {
        let idField = id.map { #","id":"\#($0)""# } ?? ""
        return #"{"type":"revenue","agent_id":"\#(agent)","amount":\#(amount)\#(idField)}"#
    }

    func totalsMatchRecords(_ sandbox: Sandbox) throws -> Bool {
        try sandbox.db.scalarInt(
            """
            SELECT count(*) FROM agents AS a WHERE
                a.tokens_used <> (SELECT coalesce(sum(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens), 0) FROM api_costs WHERE agent_id = a.id)
             OR a.cost_micros <> (SELECT coalesce(sum(cost_micros), 0) FROM api_costs WHERE agent_id = a.id)
             OR a.revenue_micros <> (SELECT coalesce(sum(amount_micros), 0) FROM revenue WHERE agent_id = a.id)
            """
        ) == 0
    }

    @Test func anEmptyAgentIDIsRefusedNotRecordedForNobody() throws {
        let sandbox = try makeSandbox()
        let line = #"{"type":"usage","agent_id":"","model":"claude-haiku-3.5","input_tokens":10,"output_tokens":0}"#
        let refused = try importLines([line, line], into: sandbox)
        #expect(!refused.committed && refused.rejected == 2 && refused.errors.first?.message.hasPrefix("invalid agent ID ''") == true)
        let skipped = try importLines([line, line], into: sandbox, skipInvalid: true)
        #expect(skipped.new == 0 && skipped.rejected == 2)
        #expect(try sandbox.db.scalarInt("SELECT count(*) FROM api_costs") == 0)
    }

    @Test func cacheTokensCountInTheTotals() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let line = #"{"type":"usage","agent_id":"\#(seed.winner)","model":"claude-haiku-3.5","input_tokens":10,"output_tokens":5,"cache_read_tokens":1000,"cache_write_tokens":100,"batch":true}"#
        let summary = try importLines([line], into: sandbox)
        #expect(summary.tokens == 1_115)
        // (10 × 0.8 + 5 × 4 + 1 000 × 0.08 + 100 × 1) × 0.5 = 104 micro-dollars.
        #expect(summary.cost.micros == 104)
        #expect(try totalsMatchRecords(sandbox))
    }

    @Test func importsUsageAndRevenueAndKeepsTotalsExact() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let summary = try importLines(
            [usage(seed.winner, id: "u1"), "", revenue(seed.winner, id: "r1"), usage(seed.loser, id: nil, tokens: 5), revenue(seed.loser, id: "r2", amount: "0.000001")],
            into: sandbox
        )
        #expect(summary.committed && summary.new == 4 && summary.duplicate == 0 && summary.rejected == 0 && summary.lines == 4)
        #expect(summary.usageEvents == 2 && summary.revenueEvents == 2)
        #expect(summary.tokens == 1005)
        #expect(summary.cost == Money(micros: 800 + 4))
        #expect(summary.revenue == Money(micros: 1_250_001))
        #expect(try totalsMatchRecords(sandbox))
    }

    @Test func importingTheSameFileTwiceChangesNothing() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let lines = (0..<50).map { usage(seed.winner, id: "event-\($0)") } + [revenue(seed.winner, id: "sale-1")]
        let first = try importLines(lines, into: sandbox)
        let before = try sandbox.agent(seed.winner)
        let second = try importLines(lines, into: sandbox)
        #expect(first.new == 51)
        #expect(second.committed && second.new == 0 && second.duplicate == 51)
        #expect(try sandbox.agent(seed.winner) == before)
        #expect(try totalsMatchRecords(sandbox))
    }

    @Test func aBadLineInTheMiddleCommitsNothingAndEveryProblemIsReported() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let before = try sandbox.status()
        let lines = [usage(seed.winner, id: "a"), "{broken", usage(seed.winner, id: "b"), usage(try AgentID("agt_000000000000"), id: "c"), usage(seed.winner, id: "d")]
        let summary = try importLines(lines, into: sandbox)
        #expect(!summary.committed)
        #expect(summary.new == 0 && summary.rejected == 2)
        #expect(summary.errors.map(\.line) == [2, 4])
        #expect(summary.errors[1].message.contains("agt_000000000000"))
        #expect(try sandbox.status() == before)
        #expect(try sandbox.db.scalarInt("SELECT count(*) FROM api_costs WHERE event_id IS NOT NULL") == 0)
    }

    @Test func skipInvalidRecordsTheValidLines() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let nul = #"{"type":"revenue","agent_id":"\#(seed.winner)","amount":5,"source":"a\u0000b"}"#
        let lines = [usage(seed.winner, id: "a"), "{broken", usage(seed.winner, id: "b"), revenue(seed.winner, id: "r", amount: "-1"), nul]
        let summary = try importLines(lines, into: sandbox, skipInvalid: true)
        #expect(summary.committed && summary.new == 2 && summary.rejected == 3)
        #expect(summary.errors.map(\.line) == [2, 4, 5])
        #expect(summary.errors[2].message.contains("NUL"))
        #expect(try totalsMatchRecords(sandbox))
    }

    @Test func killedAgentsAndUnknownModelsAreRejected() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let other = try sandbox.createProject(name: "other")
        let dead = try sandbox.deployAgent(project: other.id, type: "assistant")
        _ = try sandbox.kill(other.id)
        let lines = [usage(dead.id, id: "x"), #"{"type":"usage","agent_id":"\#(seed.winner)","model":"mystery","input_tokens":1,"output_tokens":1}"#]
        let summary = try importLines(lines, into: sandbox, skipInvalid: true)
        #expect(summary.rejected == 2 && summary.new == 0)
        #expect(summary.errors[0].message.contains("killed"))
        #expect(summary.errors[1].message.contains("unknown model"))
    }

    @Test func aHugeLineIsRejectedWithoutHoldingItAll() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let huge = #"{"type":"revenue","agent_id":"\#(seed.winner)","amount":1,"description":""# + String(repeating: "x", count: 3 << 20) + #""}"#
        let summary = try importLines([usage(seed.winner, id: "a"), huge, usage(seed.winner, id: "b")], into: sandbox, skipInvalid: true)
        #expect(summary.new == 2 && summary.rejected == 1)
        #expect(summary.errors.first?.line == 2)
        #expect(summary.errors.first?.message.contains("too long") == true)
    }

    @Test func readsFromAPipe() throws {
        let sandbox = try makeSandbox()
        let seed = try seededProject(sandbox)
        let pipe = Pipe()
        let text = (0..<2_000).map { usage(seed.winner, id: "p\($0)") }.joined(separator: "\n")
        DispatchQueue.global().async {
            pipe.fileHandleForWriting.write(Data(text.utf8))
            try? pipe.fileHandleForWriting.close()
        }
        let summary = try sandbox.importEvents(fileDescriptor: pipe.fileHandleForReading.fileDescriptor, source: "-")
        #expect(summary.new == 2_000) // the last line has no newline and still counts
    }
}
