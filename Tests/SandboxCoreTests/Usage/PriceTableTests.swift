import Testing
@testable import SandboxCore

@Suite struct PriceTableTests {
    @Test(arguments: [
        ("claude-opus-4", 1_000_000, 1_000_000, 90_000_000),
        ("claude-sonnet-4", 1_000_000, 0, 3_000_000),
        ("claude-sonnet-4", 0, 1_000_000, 15_000_000),
        ("claude-haiku-3.5", 1_000_000, 1_000_000, 4_800_000),
        ("claude-sonnet-4", 1_200, 300, 8_100),          // 0.0036 + 0.0045
        ("claude-haiku-3.5", 1, 0, 1),                    // 0.8 micro-dollars rounds up
        ("claude-haiku-3.5", 0, 0, 0),
        ("claude-3-5-haiku", 1_000, 0, 800),              // alias
        ("Claude-Opus-4", 1, 0, 15),                      // case-insensitive
    ] as [(String, Int64, Int64, Int64)])
    func pricesPerMillionTokensExactly(model: String, input: Int64, output: Int64, micros: Int64) throws {
        #expect(try PriceTable.standard.cost(model: model, inputTokens: input, outputTokens: output).micros == micros)
    }

    @Test func roundsHalfAMicroDollarUp() throws {
        // gpt-4o-mini input costs 0.15 micro-dollars a token: 10 tokens = 1.5 → 2, 3 tokens = 0.45 → 0.
        #expect(try PriceTable.standard.cost(model: "gpt-4o-mini", inputTokens: 10, outputTokens: 0).micros == 2)
        #expect(try PriceTable.standard.cost(model: "gpt-4o-mini", inputTokens: 3, outputTokens: 0).micros == 0)
    }

    @Test func unknownModelIsAnError() {
        #expect(throws: SandboxError.unknownModel("gpt-99")) {
            try PriceTable.standard.cost(model: "gpt-99", inputTokens: 1, outputTokens: 1)
        }
    }

    @Test func canonicalNames() {
        #expect(PriceTable.standard.canonicalName("claude-sonnet-4-20250514") == "claude-sonnet-4")
        #expect(PriceTable.standard.canonicalName("nope") == nil)
    }
}
