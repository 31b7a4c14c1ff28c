import Foundation
import Testing
@testable import SandboxCore

/// A time at which every built-in model has a price.
private let today = "2026-11-22T12:00:00Z"

private func cost(
    _ model: String, _ tokens: TokenCounts, batch: Bool = false, ttl: CacheDuration = .fiveMinutes, at time: String = today,
    in catalog: PriceCatalog = .builtIn
) throws -> Int64 {
    try catalog.entry(for: model, at: time).cost(of: tokens, batch: batch, cacheDuration: ttl).micros
}

private func parse(_ text: String) throws -> [PriceEntry] {
    try PriceFile.parse(Array(text.utf8), name: "prices.json", origin: .override(path: "/h/prices.json"))
}

@Suite struct BuiltInPriceTableTests {
    @Test func theFileHasTheDocumentedShape() throws {
        let entries = PriceCatalog.builtIn.entries
        #expect(entries.count >= 20)
        #expect(Set(entries.compactMap(\.provider)) == ["anthropic", "openai", "google"])
        for entry in entries {
            #expect(entry.origin == .builtIn)
            #expect(entry.provider != nil, "\(entry.id) has no provider")
            #expect(entry.source?.hasPrefix("https://") == true, "\(entry.id) has no source page")
            #expect(entry.checked != nil, "\(entry.id) has no date checked")
            #expect(entry.effectiveFrom != nil, "\(entry.id) has no start")
            #expect(entry.rates.input.micros > 0 && entry.rates.output.micros >= entry.rates.input.micros, "\(entry.id)")
            if let cacheRead = entry.rates.cacheRead { #expect(cacheRead < entry.rates.input, "\(entry.id): cache reads cost less") }
            if let cacheWrite = entry.rates.cacheWrite { #expect(cacheWrite > entry.rates.input, "\(entry.id): cache writes cost more") }
            for tier in entry.tiers { #expect(tier.rates.input > entry.rates.input, "\(entry.id): long prompts cost more") }
        }
        #expect(Set(entries.map(\.id)).count == entries.count)
        // The five models of the old hard-coded table are all there, under the same names.
        for model in ["claude-opus-4", "claude-sonnet-4", "claude-haiku-3.5", "gpt-4o", "gpt-4o-mini"] {
            #expect(PriceCatalog.builtIn.canonicalName(model) == model)
        }
    }

    @Test func theFileIsStrictJSONInTheSourceTree() throws {
        // The embedded bytes are the file in the package, and it parses as strict JSON.
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/SandboxCore/Pricing/prices.json")
        #expect(try Array(Data(contentsOf: source)) == PackageResources.prices_json)
        #expect(try JSONSerialization.jsonObject(with: Data(PackageResources.prices_json)) is [String: Any])
    }

    @Test(arguments: [
        ("claude-opus-4", 1_000_000, 1_000_000, 90_000_000),
        ("claude-sonnet-4", 200_000, 0, 600_000),
        ("claude-sonnet-4", 200_001, 0, 1_200_006),      // above 200 000 prompt tokens: the long-context tier
        ("claude-sonnet-4", 0, 1_000_000, 15_000_000),
        ("claude-haiku-3.5", 1_000_000, 1_000_000, 4_800_000),
        ("claude-sonnet-4", 1_200, 300, 8_100),          // 0.0036 + 0.0045
        ("claude-haiku-3.5", 1, 0, 1),                    // 0.8 micro-dollars rounds up
        ("claude-haiku-3.5", 0, 0, 0),
        ("claude-3-5-haiku", 1_000, 0, 800),              // alias
        ("Claude-Opus-4", 1, 0, 15),                      // case-insensitive
        ("gpt-4o", 1_000_000, 1_000_000, 12_500_000),
        ("gemini-2.5-pro", 100_000, 100_000, 1_125_000),
    ] as [(String, Int64, Int64, Int64)])
    func pricesPerMillionTokensExactly(model: String, input: Int64, output: Int64, micros: Int64) throws {
        #expect(try cost(model, TokenCounts(input: input, output: output)) == micros)
    }

    @Test func roundsOnceAtTheEndHalfUp() throws {
        // gpt-4o-mini input costs 0.15 micro-dollars a token: 10 tokens = 1.5 → 2, 3 tokens = 0.45 → 0.
        #expect(try cost("gpt-4o-mini", TokenCounts(input: 10, output: 0)) == 2)
        #expect(try cost("gpt-4o-mini", TokenCounts(input: 3, output: 0)) == 0)
        // 3 input (0.45) + 3 cache reads (0.225) = 0.675 → 1: summed before rounding, not 0 + 0.
        #expect(try cost("gpt-4o-mini", TokenCounts(input: 3, output: 0, cacheRead: 3)) == 1)
    }

    /// The README's worked example.
    @Test func cacheAndBatchPricing() throws {
        let call = TokenCounts(input: 2_000, output: 1_000, cacheRead: 50_000, cacheWrite: 10_000)
        // 2 000 × $3 + 1 000 × $15 + 50 000 × $0.30 + 10 000 × $3.75 per million = $0.0735
        #expect(try cost("claude-sonnet-4", call) == 73_500)
        // One-hour cache writes: 10 000 × $6 instead of × $3.75.
        #expect(try cost("claude-sonnet-4", call, ttl: .oneHour) == 96_000)
        // Batch: half of everything.
        #expect(try cost("claude-sonnet-4", call, batch: true) == 36_750)
        // Above 200 000 prompt tokens (input + cache), every token is charged at the long-context rates.
        let long = TokenCounts(input: 150_001, output: 1_000, cacheRead: 50_000)
        #expect(try cost("claude-sonnet-4", long) == 150_001 * 6 + 1_000 * 22 + 500 + 50_000 * 6 / 10)
        #expect(try cost("claude-sonnet-4", TokenCounts(input: 150_000, output: 0, cacheRead: 50_000)) == 450_000 + 15_000)
        // Tokens used count all four kinds.
        #expect(call.total == 63_000)
    }

    @Test func aPriceTheEntryDoesNotHaveIsRefusedNotZero() throws {
        #expect(throws: SandboxError.self) { try cost("gpt-4o", TokenCounts(input: 1, output: 1, cacheWrite: 5)) }
        #expect(throws: SandboxError.self) { try cost("gemini-2.0-flash", TokenCounts(input: 1, output: 1), batch: true) }
        #expect(throws: SandboxError.self) { try cost("gpt-4o", TokenCounts(input: 1, output: 1, cacheWrite: 1), ttl: .oneHour) }
        #expect(try cost("gpt-4o", TokenCounts(input: 1, output: 1, cacheWrite: 0)) == 13) // no cache writes: fine
    }

    @Test func theEntryInForceAtTheRecordsTimePricesIt() throws {
        let million = TokenCounts(input: 1_000_000, output: 0)
        #expect(try cost("gpt-4o", million, at: "2024-06-01T00:00:00Z") == 5_000_000)
        #expect(try cost("gpt-4o", million, at: "2024-10-01T23:59:59Z") == 5_000_000)
        #expect(try cost("gpt-4o", million, at: "2024-10-02T00:00:00Z") == 2_500_000)
        #expect(try cost("o3", million, at: "2025-05-01T00:00:00Z") == 10_000_000)
        #expect(try cost("o3", million, at: "2025-07-01T00:00:00Z") == 2_000_000)
        #expect(try PriceCatalog.builtIn.entry(for: "gpt-4o", at: today).id == "gpt-4o@2024-10-02")
        // Before a model existed there is no price: refused, never free.
        #expect(throws: SandboxError.self) { try cost("claude-opus-4", million, at: "2020-01-01T00:00:00Z") }
        #expect(throws: SandboxError.unknownModel("gpt-99")) { try cost("gpt-99", million) }
    }

    @Test func canonicalNames() {
        #expect(PriceCatalog.builtIn.canonicalName("claude-sonnet-4-20250514") == "claude-sonnet-4")
        #expect(PriceCatalog.builtIn.canonicalName("GPT-4O") == "gpt-4o")
        #expect(PriceCatalog.builtIn.canonicalName("nope") == nil)
    }

    @Test func largeCallsAreExactNotOverflowed() throws {
        let huge = TokenCounts(input: 10_000_000_000, output: 10_000_000_000, cacheRead: 10_000_000_000, cacheWrite: 10_000_000_000)
        // $15 + $75 + $1.50 + $18.75 per million, times 10 000 million: $1 102 500.
        #expect(try cost("claude-opus-4", huge) == 1_102_500 * 1_000_000)
        #expect(throws: SandboxError.self) { try cost("claude-opus-4", TokenCounts(input: 10_000_000_001, output: 0)) }
    }
}

@Suite struct PriceOverrideTests {
    @Test func anOverrideAddsAModelAndCorrectsAPrice() throws {
        let overrides = try parse("""
            {"models": [
              {"model": "acme-small", "provider": "acme", "input": 0.5, "output": 1.5, "cache_read": 0.05},
              {"model": "claude-3-5-haiku", "input": 1, "output": 5}
            ]}
            """)
        let catalog = try PriceCatalog.builtIn.merging(overrides)
        #expect(try cost("ACME-small", TokenCounts(input: 1_000_000, output: 1_000_000, cacheRead: 1_000_000), in: catalog) == 2_050_000)
        // Named by an alias, the correction replaces the model's built-in prices, and its aliases keep working.
        let haiku = try catalog.entry(for: "haiku-3.5", at: today)
        #expect(haiku.model == "claude-haiku-3.5")
        #expect(haiku.priceSource == "override:/h/prices.json")
        #expect(try cost("claude-haiku-3.5", TokenCounts(input: 1_000_000, output: 0), in: catalog) == 1_000_000)
        // Without dates, it applies at any time.
        #expect(try cost("claude-haiku-3.5", TokenCounts(input: 1_000_000, output: 0), at: "2020-01-01T00:00:00Z", in: catalog) == 1_000_000)
        #expect(catalog.entries(for: "claude-haiku-3.5").count == 1)
        #expect(try cost("gpt-4o", TokenCounts(input: 1_000_000, output: 0), in: catalog) == 2_500_000) // untouched
    }

    @Test(arguments: [
        (#"[1]"#, "prices.json:1: (top level): must be an object"),
        (#"{"models": {}}"#, "prices.json:1: models: must be an array"),
        (#"{"model": []}"#, "prices.json:1: (top level): unknown field 'model'"),
        ("{\"models\": [\n{\"model\": \"x\", \"input\": 1}\n]}", "prices.json:2: models[0].output: missing"),
        ("{\"models\": [\n{\"model\": \"x\",\n \"input\": \"3\", \"output\": 1}]}", "prices.json:3: models[0].input: must be a number"),
        ("{\"models\": [\n{\"model\": \"x\",\n \"input\": -3, \"output\": 1}]}", "prices.json:3: models[0].input: must be between 0"),
        ("{\"models\": [\n{\"model\": \"x\",\n \"input\": 1e400, \"output\": 1}]}", "prices.json:3: models[0].input:"),
        ("{\"models\": [\n{\"model\": \"x\",\n \"input\": 0.0000001, \"output\": 1}]}", "prices.json:3: models[0].input: amount '0.0000001' has more than 6 decimal places"),
        ("{\"models\": [\n{\"model\": \"x\", \"input\": 1, \"output\": 1,\n \"batch_discount\": 1.5}]}", "prices.json:3: models[0].batch_discount: must be a share between 0 and 1"),
        ("{\"models\": [\n{\"model\": \"x\", \"input\": 1, \"output\": 1,\n \"effective_from\": \"2025-02-30\"}]}", "prices.json:3: models[0].effective_from: must be a day"),
        ("{\"models\": [\n{\"model\": \"x\", \"input\": 1, \"output\": 1, \"effective_from\": \"2025-02-03\",\n \"effective_until\": \"2025-02-01\"}]}", "prices.json:3: models[0].effective_until: must be after"),
        ("{\"models\": [{\"model\": \"x\", \"input\": 1, \"output\": 1, \"tiers\": [\n{\"above_input_tokens\": 0, \"input\": 1, \"output\": 1}]}]}", "prices.json:2: models[0].tiers[0].above_input_tokens: must be a whole number"),
        ("{\"models\": [{\"model\": \"x\", \"input\": 1, \"output\": 1,\n \"colour\": \"red\"}]}", "prices.json:2: models[0]: unknown field 'colour'"),
        ("{\"models\": [{\"model\": \"x\", \"input\": 1, \"output\": 1,\n \"\\u001b[2J\": 1}]}", "prices.json:2: models[0]: unknown field '\\u{1b}[2J'"),
        ("{\"models\": [{\"model\": \"\", \"input\": 1, \"output\": 1}]}", "prices.json:1: models[0].model: it must not be empty"),
        ("{\"models\": [\n{\"model\": \"x\", \"input\": 01, \"output\": 1}]}", "prices.json:2: not valid JSON: a number with leading zeros"),
        ("{\"models\": [\n{\"model\": \"x\", \"input\": 1, \"output\": 1},\n]}", "prices.json:3: not valid JSON: unexpected character"),
        ("{\"models\": [\n{\"model\": \"x\", \"model\": \"y\"}]}", "prices.json:2: not valid JSON: duplicate key 'model'"),
        ("{\"models\": [\n{\"model\": \"x\", // note\n}]}", "prices.json:2: not valid JSON: expected a string"),
        ("", "prices.json:1: not valid JSON: unexpected end"),
    ] as [(String, String)])
    func aMalformedFileIsRefusedWithItsLineAndField(text: String, message: String) {
        #expect {
            _ = try parse(text)
        } throws: { error in
            "\(error)".hasPrefix(message) || { print("got: \(error)"); return false }()
        }
    }

    @Test func overlappingPeriodsAndAmbiguousAliasesAreRefused() throws {
        let overlapping = try parse("""
            {"models": [{"model": "x", "input": 1, "output": 1, "effective_from": "2025-01-01"},
                        {"model": "x", "input": 2, "output": 2, "effective_from": "2025-06-01"}]}
            """)
        #expect(throws: SandboxError.self) { try PriceCatalog(entries: overlapping) }
        let ambiguous = try parse("""
            {"models": [{"model": "x", "aliases": ["shared"], "input": 1, "output": 1},
                        {"model": "y", "aliases": ["shared"], "input": 2, "output": 2}]}
            """)
        #expect(throws: SandboxError.self) { try PriceCatalog(entries: ambiguous) }
        let periods = try parse("""
            {"models": [{"model": "x", "input": 1, "output": 1, "effective_from": "2025-01-01", "effective_until": "2025-06-01"},
                        {"model": "x", "input": 2, "output": 2, "effective_from": "2025-06-01"}]}
            """)
        let catalog = try PriceCatalog(entries: periods)
        #expect(try cost("x", TokenCounts(input: 1_000_000, output: 0), at: "2025-05-31T23:59:59Z", in: catalog) == 1_000_000)
        #expect(try cost("x", TokenCounts(input: 1_000_000, output: 0), at: "2025-06-01T00:00:00Z", in: catalog) == 2_000_000)
    }

    @Test func theHomesPriceFileIsReadThroughNoSymbolicLink() throws {
        let home = try makeHome()
        let paths = SandboxPaths(home: home)
        #expect(try PriceCatalog.load(paths: paths, file: nil).entries == PriceCatalog.builtIn.entries)
        let elsewhere = home.appendingPathComponent("elsewhere.json")
        try Data(#"{"models": [{"model": "mine", "input": 1, "output": 2}]}"#.utf8).write(to: elsewhere)
        try FileManager.default.createSymbolicLink(at: paths.priceFile, withDestinationURL: elsewhere)
        #expect(throws: SandboxError.self) { try PriceCatalog.load(paths: paths, file: nil) }
        try FileManager.default.removeItem(at: paths.priceFile)
        try FileManager.default.copyItem(at: elsewhere, to: paths.priceFile)
        #expect(try PriceCatalog.load(paths: paths, file: nil).canonicalName("mine") == "mine")
        // An explicit file wins over HOME/prices.json.
        try Data(#"{"models": [{"model": "theirs", "input": 1, "output": 2}]}"#.utf8).write(to: elsewhere)
        let explicit = try PriceCatalog.load(paths: paths, file: elsewhere)
        #expect(explicit.canonicalName("theirs") == "theirs" && explicit.canonicalName("mine") == nil)
    }
}

@Suite struct DayTests {
    @Test(arguments: [
        ("2026-11-22", true), ("2024-02-29", true), ("2000-02-29", true), ("1900-02-29", false), ("2025-02-29", false),
        ("2025-04-31", false), ("2025-12-31", true), ("2025-13-01", false), ("2025-00-10", false), ("2025-01-00", false),
        ("0000-01-01", false), ("2025-1-01", false), ("2025/01/01", false), ("2025-01-0a", false), ("", false), ("2025-01-011", false),
    ])
    func onlyRealDaysAreDays(text: String, valid: Bool) {
        #expect(Timestamp.isDay(text) == valid)
        // The same answer as the full ISO 8601 check, for every four-digit year.
        if text.utf8.count == 10, !text.hasPrefix("0000") {
            #expect((Timestamp.normalize(text + "T00:00:00Z") == text + "T00:00:00Z") == valid)
        }
    }
}

@Suite struct TimestampTextTests {
    /// The digit-by-digit writer says what Foundation's formatter says, across the whole range.
    @Test func writesWhatISO8601DateFormatterWrites() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var seconds: Int64 = 0
        while seconds < 253_402_300_799 { // 9999-12-31T23:59:59Z
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            #expect(Timestamp.text(date) == formatter.string(from: date))
            seconds += 987_654_321
        }
        #expect(Timestamp.text(Date(timeIntervalSince1970: 253_402_300_799)) == "9999-12-31T23:59:59Z")
        #expect(Timestamp.text(Date(timeIntervalSince1970: 0.999)) == "1970-01-01T00:00:00Z")
    }
}
