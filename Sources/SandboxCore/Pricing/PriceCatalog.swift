#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The price table novaos charges by: the built-in table (`prices.json`, a resource of this
/// module, embedded in the binary), with a user's override file on top.
///
/// A model may have several entries, one per period (`effective_from` ..< `effective_until`);
/// a record is priced by the entry in force at the record's time. Names match without regard
/// to case, and through aliases.
///
/// A model named in an override file takes its prices from that file alone: its built-in
/// entries are set aside, so correcting a price is one entry without dates.
public struct PriceCatalog: Sendable {
    /// Every entry, sorted by model and then by start: a model's entries are side by side.
    public let entries: [PriceEntry]
    /// Lower-cased canonical name → where the model's entries are in `entries`, oldest first.
    private let byModel: [String: Range<Int>]
    /// Lower-cased alias → lower-cased canonical name.
    private let aliases: [String: String]

    /// Checks `entries` as one table: a model's periods must not overlap, and an alias must
    /// name one model only.
    public init(entries: [PriceEntry]) throws {
        var grouped: [String: [PriceEntry]] = [:]
        for entry in entries {
            grouped[entry.model.lowercased(), default: []].append(entry)
        }
        var sorted: [PriceEntry] = []
        var byModel: [String: Range<Int>] = [:]
        for model in grouped.keys.sorted() {
            let list = grouped[model]!.sorted { ($0.effectiveFrom ?? "") < ($1.effectiveFrom ?? "") }
            for (earlier, later) in zip(list, list.dropFirst()) {
                guard let until = earlier.effectiveUntil, let from = later.effectiveFrom, until <= from else {
                    throw SandboxError.invalidInput(
                        "\(later.location ?? "")the prices of \(quoted(later.model)) overlap: \(quoted(earlier.id)) (until \(earlier.effectiveUntil ?? "open")) and \(quoted(later.id)); give the earlier one an effective_until"
                    )
                }
            }
            byModel[model] = sorted.count..<(sorted.count + list.count)
            sorted += list
        }
        var aliases: [String: String] = [:]
        for entry in sorted {
            let model = entry.model.lowercased()
            for alias in entry.aliases.map({ $0.lowercased() }) where alias != model {
                if byModel[alias] != nil {
                    throw SandboxError.invalidInput("\(entry.location ?? "")\(quoted(alias)), an alias of \(quoted(entry.model)), is itself a model in the price table")
                }
                if let other = aliases[alias], other != model {
                    throw SandboxError.invalidInput("\(entry.location ?? "")\(quoted(alias)) is an alias of both \(quoted(other)) and \(quoted(entry.model))")
                }
                aliases[alias] = model
            }
        }
        self.entries = sorted
        self.byModel = byModel
        self.aliases = aliases
    }

    /// Where the entries of `model` (any spelling) are in `entries`; nil when unknown.
    private func range(of model: String) -> Range<Int>? {
        if let range = byModel[model] { return range }
        let key = model.lowercased()
        return byModel[key] ?? aliases[key].flatMap { byModel[$0] }
    }

    /// The canonical name of `model`, or nil when the table does not know it.
    public func canonicalName(_ model: String) -> String? {
        range(of: model).map { entries[$0.lowerBound].model }
    }

    /// Every entry of `model` (any spelling), oldest first; empty when unknown.
    public func entries(for model: String) -> [PriceEntry] {
        range(of: model).map { Array(entries[$0]) } ?? []
    }

    /// The entry that prices a call of `model` made at `timestamp` (`YYYY-MM-DDTHH:MM:SSZ`).
    ///
    /// - Throws: `SandboxError.unknownModel` when no entry names the model, and
    ///   `SandboxError.invalidInput` when none is in force at that time.
    public func entry(for model: String, at timestamp: String) throws -> PriceEntry {
        entries[try index(for: model, at: timestamp)]
    }

    /// The position in `entries` of the entry `entry(for:at:)` returns: looked up without
    /// copying an entry, for the import's hot path.
    func index(for model: String, at timestamp: String) throws -> Int {
        guard let range = range(of: model) else { throw SandboxError.unknownModel(model) }
        if let index = range.last(where: { entries[$0].isInForce(at: timestamp) }) { return index }
        let periods = entries[range].map { "\($0.effectiveFrom ?? "…") to \($0.effectiveUntil ?? "now")" }.joined(separator: ", ")
        throw SandboxError.invalidInput(
            "\(quoted(entries[range.lowerBound].model)) has no price at \(timestamp) (the table has \(periods)); pass --cost, or add the period to a prices file"
        )
    }

    /// Prices a call with the entry at `index`, borrowing it in place: copying an entry (a
    /// dozen strings and arrays) per record showed in the import's profile.
    func charge(_ index: Int, _ tokens: TokenCounts, batch: Bool, cacheDuration: CacheDuration) throws -> (cost: Money, source: String, model: String) {
        try entries.withUnsafeBufferPointer { buffer in
            let entry = buffer.baseAddress! + index
            let cost = try PriceEntry.cost(
                of: tokens, batch: batch, cacheDuration: cacheDuration, model: entry.pointee.model, rates: entry.pointee.rates,
                tiers: entry.pointee.tiers, batchDiscountMillionths: entry.pointee.batchDiscountMillionths
            )
            return (cost, entry.pointee.priceSource, entry.pointee.model)
        }
    }

    /// The canonical model names, sorted.
    public var modelNames: [String] { byModel.values.map { entries[$0.lowerBound].model }.sorted() }

    /// This table with `overrides` on top: each model the overrides name keeps only the
    /// overrides' entries. An override named by a built-in alias replaces that model.
    public func merging(_ overrides: [PriceEntry]) throws -> PriceCatalog {
        var replaced = Set<String>()
        var merged = overrides.map { entry -> PriceEntry in
            var entry = entry
            if let canonical = canonicalName(entry.model), canonical != entry.model {
                if canonical.lowercased() != entry.model.lowercased() { entry.aliases.append(entry.model) }
                entry.model = canonical
            }
            // Built-in aliases keep working for the corrected model.
            for alias in entries(for: entry.model).flatMap(\.aliases) where !entry.aliases.contains(alias) {
                entry.aliases.append(alias)
            }
            replaced.insert(entry.model.lowercased())
            return entry
        }
        merged += entries.filter { !replaced.contains($0.model.lowercased()) }
        return try PriceCatalog(entries: merged)
    }

    /// The table built into novaos (`Pricing/prices.json`, embedded at build time).
    public static let builtIn: PriceCatalog = {
        do {
            return try PriceCatalog(entries: PriceFile.parse(PackageResources.prices_json, name: "prices.json (built in)", origin: .builtIn))
        } catch {
            // The file is part of the source and checked by the tests; this cannot happen in a
            // tested build.
            fatalError("the built-in price table is invalid: \(error)")
        }
    }()

    /// The built-in table with the overrides in `file` on top.
    ///
    /// - Parameter file: an override file, or nil for the built-in table alone.
    /// - Throws: `SandboxError.invalidInput` naming the file, line and field of the first mistake.
    public static func load(overrides file: URL?) throws -> PriceCatalog {
        guard let file else { return builtIn }
        let overrides = try PriceFile.load(file, origin: .override(path: file.path))
        do {
            return try builtIn.merging(overrides)
        } catch let error as SandboxError {
            throw SandboxError.invalidInput("\(file.path): \(error.description)")
        }
    }

    /// The table a home uses: the built-in one with `file` on top, or, when `file` is nil,
    /// with `HOME/prices.json` on top when it exists.
    public static func load(paths: SandboxPaths, file: URL?) throws -> PriceCatalog {
        if let file { return try load(overrides: file) }
        var info = stat()
        return try load(overrides: lstat(paths.priceFile.path, &info) == 0 ? paths.priceFile : nil)
    }

    /// Every entry, each marked in force or not at `date`, for `prices list`.
    public func listing(at date: Date) -> PriceList {
        let time = Timestamp.string(from: date)
        return PriceList(at: date, prices: entries.map { PriceListing(entry: $0, inForce: $0.isInForce(at: time)) })
    }

    /// The entry in force for `model` at `date`, for `prices show`.
    public func listing(model: String, at date: Date) throws -> PriceListing {
        PriceListing(entry: try entry(for: model, at: Timestamp.string(from: date)), inForce: true)
    }
}

/// Looks prices up for a stream of records, remembering the last answer: an import prices
/// thousands of records of the same model at the same time, and a repeated lookup is then two
/// string comparisons instead of a hash and a scan.
struct PriceLookup {
    let catalog: PriceCatalog
    private var last: (model: String, time: String, index: Int)?

    init(_ catalog: PriceCatalog) {
        self.catalog = catalog
    }

    /// The position in `catalog.entries` of the entry that prices `model` at `time`.
    mutating func index(for model: String, at time: String) throws -> Int {
        if let last, last.model == model, last.time == time { return last.index }
        let index = try catalog.index(for: model, at: time)
        last = (model, time, index)
        return index
    }
}

/// The merged price table, as `prices list` shows it.
public struct PriceList: Encodable, Sendable {
    /// The time `in_force` refers to.
    public var at: Date
    public var prices: [PriceListing]
}

/// One entry of the price table, with whether it is in force (JSON: the file's fields plus
/// `id`, `origin`, `price_source` and `in_force`).
public struct PriceListing: Encodable, Sendable {
    public var entry: PriceEntry
    public var inForce: Bool

    enum CodingKeys: String, CodingKey {
        case id, model, provider, aliases, input, output, tiers, source, checked, origin
        case cacheRead = "cache_read", cacheWrite = "cache_write", cacheWrite1h = "cache_write_1h", batchDiscount = "batch_discount"
        case effectiveFrom = "effective_from", effectiveUntil = "effective_until", priceSource = "price_source", inForce = "in_force"
        case aboveInputTokens = "above_input_tokens"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entry.id, forKey: .id)
        try container.encode(entry.model, forKey: .model)
        try container.encode(entry.provider, forKey: .provider)
        try container.encode(entry.aliases, forKey: .aliases)
        try Self.encode(entry.rates, into: &container)
        try container.encode(entry.batchDiscountMillionths.map { Money(micros: $0) }, forKey: .batchDiscount)
        var tiers = container.nestedUnkeyedContainer(forKey: .tiers)
        for tier in entry.tiers {
            var nested = tiers.nestedContainer(keyedBy: CodingKeys.self)
            try nested.encode(tier.aboveInputTokens, forKey: .aboveInputTokens)
            try Self.encode(tier.rates, into: &nested)
        }
        try container.encode(entry.effectiveFrom, forKey: .effectiveFrom)
        try container.encode(entry.effectiveUntil, forKey: .effectiveUntil)
        try container.encode(entry.source, forKey: .source)
        try container.encode(entry.checked, forKey: .checked)
        try container.encode(entry.originName, forKey: .origin)
        try container.encode(entry.priceSource, forKey: .priceSource)
        try container.encode(inForce, forKey: .inForce)
    }

    private static func encode(_ rates: PriceEntry.Rates, into container: inout KeyedEncodingContainer<CodingKeys>) throws {
        try container.encode(rates.input, forKey: .input)
        try container.encode(rates.output, forKey: .output)
        try container.encode(rates.cacheRead, forKey: .cacheRead)
        try container.encode(rates.cacheWrite, forKey: .cacheWrite)
        try container.encode(rates.cacheWrite1h, forKey: .cacheWrite1h)
    }
}

extension PriceEntry {
    /// `built-in`, or `override:<file>`.
    public var originName: String {
        switch origin {
        case .builtIn: "built-in"
        case .override(let path): "override:\(path)"
        }
    }
}
