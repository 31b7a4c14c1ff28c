#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The tokens of one API call, by kind.
///
/// `input` does not include cached tokens: a call that read 8 000 tokens from the prompt cache,
/// wrote 1 000 to it and sent 500 fresh ones has `input` 500, `cacheRead` 8 000 and
/// `cacheWrite` 1 000 (as Anthropic reports `input_tokens`; from OpenAI's `prompt_tokens`,
/// subtract `cached_tokens`). Budgets count all four kinds.
public struct TokenCounts: Hashable, Sendable {
    public var input: Int64
    public var output: Int64
    public var cacheRead: Int64
    public var cacheWrite: Int64

    public init(input: Int64, output: Int64, cacheRead: Int64 = 0, cacheWrite: Int64 = 0) {
        self.input = input
        self.output = output
        self.cacheRead = cacheRead
        self.cacheWrite = cacheWrite
    }

    /// The most tokens one record may report of each kind: ten billion.
    public static let maximumPerKind: Int64 = 10_000_000_000

    /// All four kinds: what a call takes from a token budget. At most 4 × 10¹⁰, so it cannot overflow.
    public var total: Int64 { input + output + cacheRead + cacheWrite }

    /// The size of the prompt, which decides a context-length tier: input, cache reads and
    /// cache writes together.
    public var prompt: Int64 { input + cacheRead + cacheWrite }

    /// Refuses negative counts and counts above `maximumPerKind`.
    func validate() throws {
        // Checked without building an array: this runs for every imported event.
        func check(_ value: Int64, _ name: @autoclosure () -> String) throws {
            guard value >= 0, value <= Self.maximumPerKind else {
                throw SandboxError.invalidInput("\(name()) must be between 0 and \(Self.maximumPerKind), got \(value)")
            }
        }
        try check(input, "input tokens")
        try check(output, "output tokens")
        try check(cacheRead, "cache read tokens")
        try check(cacheWrite, "cache write tokens")
    }
}

/// How long written cache entries live, which decides the cache-write price (Anthropic charges
/// more for a one-hour cache than for the default five minutes).
public enum CacheDuration: String, Codable, Sendable, CaseIterable {
    case fiveMinutes = "5m"
    case oneHour = "1h"
}

/// The prices of one model during one period, as the price table has them.
///
/// Prices are `Money` per million tokens, so exact to the micro-dollar per million tokens.
public struct PriceEntry: Equatable, Sendable {
    /// The prices of each kind of token.
    public struct Rates: Equatable, Sendable {
        public var input: Money
        public var output: Money
        public var cacheRead: Money?
        public var cacheWrite: Money?
        /// The cache-write price for one-hour cache entries, where a provider has them.
        public var cacheWrite1h: Money?

        public init(input: Money, output: Money, cacheRead: Money? = nil, cacheWrite: Money? = nil, cacheWrite1h: Money? = nil) {
            self.input = input
            self.output = output
            self.cacheRead = cacheRead
            self.cacheWrite = cacheWrite
            self.cacheWrite1h = cacheWrite1h
        }
    }

    /// Prices for long prompts: a call whose prompt (input plus cached tokens) has more than
    /// `aboveInputTokens` tokens is charged at these rates, for all its tokens.
    public struct Tier: Equatable, Sendable {
        public var aboveInputTokens: Int64
        public var rates: Rates
    }

    /// Where an entry comes from.
    public enum Origin: Hashable, Sendable {
        /// The table built into novaos.
        case builtIn
        /// A user's price file, by its absolute path.
        case override(path: String)
    }

    /// The model's canonical name.
    public internal(set) var model: String { didSet { stamp() } }
    public var provider: String?
    /// Other names of the model (dated snapshots, older spellings).
    public var aliases: [String]
    public var rates: Rates
    /// The share taken off batch calls, in millionths (500 000 = 50 %).
    public var batchDiscountMillionths: Int64?
    /// Context-length tiers, highest threshold last.
    public var tiers: [Tier]
    /// The first day (UTC, `YYYY-MM-DD`) these prices apply; nil: always did.
    public internal(set) var effectiveFrom: String? { didSet { stamp() } }
    /// The first day they no longer apply; nil: still in force.
    public var effectiveUntil: String?
    /// The provider page the prices come from.
    public var source: String?
    /// The day the page was last checked (`YYYY-MM-DD`).
    public var checked: String?
    public internal(set) var origin: Origin { didSet { stamp() } }

    /// `model@effective_from`, or the model alone for an entry without a start.
    public private(set) var id = ""
    /// What a record priced by this entry stores as its `price_source`: `table:<id>` or
    /// `override:<file>`. Kept, not computed: every priced record needs it.
    public private(set) var priceSource = ""
    /// Where a price file defines the entry (`FILE:LINE: models[N]: `), for errors found
    /// when the table is put together.
    var location: String?

    public init(
        model: String, provider: String? = nil, aliases: [String] = [], rates: Rates, batchDiscountMillionths: Int64? = nil,
        tiers: [Tier] = [], effectiveFrom: String? = nil, effectiveUntil: String? = nil, source: String? = nil,
        checked: String? = nil, origin: Origin
    ) {
        self.model = model
        self.provider = provider
        self.aliases = aliases
        self.rates = rates
        self.batchDiscountMillionths = batchDiscountMillionths
        self.tiers = tiers
        self.effectiveFrom = effectiveFrom
        self.effectiveUntil = effectiveUntil
        self.source = source
        self.checked = checked
        self.origin = origin
        stamp()
    }

    private mutating func stamp() {
        id = effectiveFrom.map { "\(model)@\($0)" } ?? model
        switch origin {
        case .builtIn: priceSource = "table:\(id)"
        case .override(let path): priceSource = "override:\(path)"
        }
    }

    /// Whether the entry is in force at `timestamp` (stored form, `YYYY-MM-DDTHH:MM:SSZ`).
    /// Dates compare as text: a day sorts before every time of that day.
    public func isInForce(at timestamp: String) -> Bool {
        // A year past 9999 has five digits and sorts as text before every four-digit day,
        // though it is after all of them.
        if timestamp.utf8.count > 20 { return effectiveUntil == nil }
        if let effectiveFrom, timestamp < effectiveFrom { return false }
        if let effectiveUntil, timestamp >= effectiveUntil { return false }
        return true
    }

    /// The exact cost of one call, rounded once, at the end, to the nearest micro-dollar
    /// (halves up):
    ///
    ///     (input × input price + output × output price + cache reads × cache-read price
    ///      + cache writes × cache-write price) ÷ 10⁶ × (1 − batch discount)
    ///
    /// with the rates of the call's tier. Computed in 128-bit integers, so nothing is lost.
    ///
    /// - Throws: `SandboxError.invalidInput` when the call uses a price the entry does not
    ///   have (cache tokens without a cache price, a batch call without a batch discount).
    public func cost(of tokens: TokenCounts, batch: Bool = false, cacheDuration: CacheDuration = .fiveMinutes) throws -> Money {
        try Self.cost(of: tokens, batch: batch, cacheDuration: cacheDuration, model: model, rates: rates, tiers: tiers, batchDiscountMillionths: batchDiscountMillionths)
    }

    /// `cost(of:batch:cacheDuration:)` from the parts it needs, so the import can price a call
    /// without copying the whole entry.
    static func cost(
        of tokens: TokenCounts, batch: Bool, cacheDuration: CacheDuration, model: String, rates baseRates: Rates, tiers: [Tier],
        batchDiscountMillionths: Int64?
    ) throws -> Money {
        try tokens.validate()
        // The highest tier the prompt is above, else the base rates.
        let rates = tiers.last(where: { tokens.prompt > $0.aboveInputTokens })?.rates ?? baseRates
        func rate(_ price: Money?, for count: Int64, _ what: String) throws -> Int128 {
            guard count > 0 else { return 0 }
            guard let price else {
                throw SandboxError.invalidInput("\(quoted(model)) has no \(what) price in the price table; pass --cost, or add it to a prices file")
            }
            return Int128(count) * Int128(price.micros)
        }
        let cacheWritePrice = cacheDuration == .oneHour ? rates.cacheWrite1h : rates.cacheWrite
        var numerator = Int128(tokens.input) * Int128(rates.input.micros) + Int128(tokens.output) * Int128(rates.output.micros)
        numerator += try rate(rates.cacheRead, for: tokens.cacheRead, "cache-read")
        numerator += try rate(cacheWritePrice, for: tokens.cacheWrite, cacheDuration == .oneHour ? "one-hour cache-write" : "cache-write")
        var denominator: Int128 = 1_000_000
        if batch {
            guard let batchDiscountMillionths else {
                throw SandboxError.invalidInput("\(quoted(model)) has no batch price in the price table; pass --cost, or add batch_discount to a prices file")
            }
            numerator *= Int128(1_000_000 - batchDiscountMillionths)
            denominator *= 1_000_000
        }
        let micros = (numerator + denominator / 2) / denominator
        guard micros <= Int128(Money.recordLimit.micros) else {
            throw SandboxError.invalidInput("the cost of \(tokens.total) tokens of \(quoted(model)) is above \(Money.recordLimit) per record")
        }
        return Money(micros: Int64(micros))
    }
}
