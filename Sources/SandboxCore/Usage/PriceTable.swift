/// Prices per million tokens, in micro-dollars, by model.
public struct PriceTable: Sendable {
    /// The price of one model.
    public struct Price: Sendable, Equatable {
        /// Micro-dollars per million input tokens (15 000 000 = $15.00).
        public var inputPerMillion: Int64
        /// Micro-dollars per million output tokens.
        public var outputPerMillion: Int64
    }

    /// Canonical model names and their prices.
    public let prices: [String: Price]
    /// Other spellings of a model name, mapped to the canonical one.
    public let aliases: [String: String]

    /// The built-in table.
    public static let standard = PriceTable(
        prices: [
            "claude-opus-4": Price(inputPerMillion: 15_000_000, outputPerMillion: 75_000_000),
            "claude-sonnet-4": Price(inputPerMillion: 3_000_000, outputPerMillion: 15_000_000),
            "claude-haiku-3.5": Price(inputPerMillion: 800_000, outputPerMillion: 4_000_000),
            "gpt-4o": Price(inputPerMillion: 2_500_000, outputPerMillion: 10_000_000),
            "gpt-4o-mini": Price(inputPerMillion: 150_000, outputPerMillion: 600_000),
        ],
        aliases: [
            "claude-opus-4-0": "claude-opus-4", "claude-4-opus": "claude-opus-4", "claude-opus-4-20250514": "claude-opus-4",
            "opus-4": "claude-opus-4",
            "claude-sonnet-4-0": "claude-sonnet-4", "claude-4-sonnet": "claude-sonnet-4", "claude-sonnet-4-20250514": "claude-sonnet-4",
            "sonnet-4": "claude-sonnet-4",
            "claude-3-5-haiku": "claude-haiku-3.5", "claude-3.5-haiku": "claude-haiku-3.5", "claude-haiku-3-5": "claude-haiku-3.5",
            "claude-3-5-haiku-20241022": "claude-haiku-3.5", "claude-3-5-haiku-latest": "claude-haiku-3.5", "haiku-3.5": "claude-haiku-3.5",
        ]
    )

    /// The canonical model names, sorted.
    public var modelNames: [String] { prices.keys.sorted() }

    /// The canonical name of `model` (case-insensitive, aliases resolved), or nil if unknown.
    public func canonicalName(_ model: String) -> String? {
        if prices[model] != nil { return model }
        let lowered = model.lowercased()
        if prices[lowered] != nil { return lowered }
        return aliases[lowered]
    }

    /// The cost of one call, rounded to the nearest micro-dollar (halves round up).
    ///
    /// Exact integer arithmetic: tokens × micro-dollars-per-million ÷ 1 000 000.
    public func cost(model: String, inputTokens: Int64, outputTokens: Int64) throws -> Money {
        guard let price = prices[model] ?? canonicalName(model).flatMap({ prices[$0] }) else {
            throw SandboxError.unknownModel(model)
        }
        let (input, inputOverflow) = inputTokens.multipliedReportingOverflow(by: price.inputPerMillion)
        let (output, outputOverflow) = outputTokens.multipliedReportingOverflow(by: price.outputPerMillion)
        let (sum, sumOverflow) = input.addingReportingOverflow(output)
        guard !inputOverflow, !outputOverflow, !sumOverflow else {
            throw SandboxError.invalidInput("token counts too large to price")
        }
        return Money(micros: (sum + 500_000) / 1_000_000)
    }
}
