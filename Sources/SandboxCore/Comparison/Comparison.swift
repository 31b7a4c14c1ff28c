#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// What `sandbox compare` shows: projects (or agents) side by side, the first the baseline,
/// each other with its difference to it and, for ROI and revenue per event, a 95 %
/// confidence interval of that difference by bootstrap with a verdict.
public struct Comparison: Codable, Sendable, Equatable {
    /// `projects` or `agents`.
    public var kind: String
    public var baseline: String
    /// The bootstrap's settings, fixed so a comparison always gives the same answer.
    public var resamples: Int
    public var seed: UInt64
    public var confidenceLevel: Double
    public var columns: [Column]
    /// True when some column is significantly worse than the baseline in some metric.
    public var worse: Bool

    enum CodingKeys: String, CodingKey {
        case kind, baseline, resamples, seed, columns, worse
        case confidenceLevel = "confidence_level"
    }

    /// One compared project or agent.
    public struct Column: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var figures: Figures
        /// Each figure minus the baseline's (null for the baseline).
        @NullEncoded public var difference: Figures?
        /// The confidence of the differences that matter (null for the baseline).
        @NullEncoded public var confidence: Confidence?

        enum CodingKeys: String, CodingKey {
            case id, name, figures, difference, confidence
        }
    }

    /// A column's figures, or differences of them.
    public struct Figures: Codable, Sendable, Equatable {
        public var totalCost: Money
        public var totalRevenue: Money
        public var profit: Money
        /// Percent, rounded to 4 decimals; 0 without cost.
        public var roi: Double
        public var tokensUsed: Int64
        public var usageEvents: Int64
        public var revenueEvents: Int64
        /// Cost per 1,000 tokens, to the micro-dollar (null without tokens).
        @NullEncoded public var costPer1kTokens: Money?
        /// Revenue per usage event, to the micro-dollar (null without usage events).
        @NullEncoded public var revenuePerEvent: Money?

        enum CodingKeys: String, CodingKey {
            case totalCost = "total_cost", totalRevenue = "total_revenue", profit, roi, tokensUsed = "tokens_used"
            case usageEvents = "usage_events", revenueEvents = "revenue_events", costPer1kTokens = "cost_per_1k_tokens"
            case revenuePerEvent = "revenue_per_event"
        }

        /// `self` minus `other`, figure by figure.
        func minus(_ other: Figures) -> Figures {
            Figures(
                totalCost: totalCost - other.totalCost, totalRevenue: totalRevenue - other.totalRevenue, profit: profit - other.profit,
                roi: ((roi - other.roi) * 10_000).rounded() / 10_000, tokensUsed: tokensUsed - other.tokensUsed,
                usageEvents: usageEvents - other.usageEvents, revenueEvents: revenueEvents - other.revenueEvents,
                costPer1kTokens: costPer1kTokens.flatMap { mine in other.costPer1kTokens.map { mine - $0 } },
                revenuePerEvent: revenuePerEvent.flatMap { mine in other.revenuePerEvent.map { mine - $0 } }
            )
        }
    }

    public struct Confidence: Codable, Sendable, Equatable {
        /// ROI (percentage points) of the column minus the baseline's.
        public var roi: Interval
        /// Revenue per usage event (dollars) of the column minus the baseline's.
        public var revenuePerEvent: Interval

        enum CodingKeys: String, CodingKey {
            case roi, revenuePerEvent = "revenue_per_event"
        }
    }

    public enum Verdict: String, Codable, Sendable {
        case better, worse, inconclusive
    }

    /// A difference and its confidence interval (ROI in percentage points to 4 decimals,
    /// revenue per event in dollars to 6); null bounds when it cannot be measured (no cost, or
    /// no usage events, on either side).
    public struct Interval: Codable, Sendable, Equatable {
        @NullEncoded public var difference: Double?
        @NullEncoded public var low: Double?
        @NullEncoded public var high: Double?
        public var verdict: Verdict
        /// Why `inconclusive`, when it is.
        @NullEncoded public var note: String?
    }
}

/// The events of one compared project or agent: each usage event's cost and each revenue
/// event's amount, in micro-dollars.
struct ComparedEvents {
    var costs: [Int64]
    var revenues: [Int64]
    var tokens: Int64

    var count: Int { costs.count + revenues.count }

    var figures: Comparison.Figures {
        let cost = costs.reduce(Int64(0), &+)
        let revenue = revenues.reduce(Int64(0), &+)
        return Comparison.Figures(
            totalCost: Money(micros: cost), totalRevenue: Money(micros: revenue), profit: Money(micros: revenue - cost),
            roi: ROI.percent(revenue: Money(micros: revenue), cost: Money(micros: cost)), tokensUsed: tokens,
            usageEvents: Int64(costs.count), revenueEvents: Int64(revenues.count),
            costPer1kTokens: Bootstrap.rounded(Int128(cost) * 1_000, over: Int128(tokens)).map(Money.init(micros:)),
            revenuePerEvent: Bootstrap.rounded(Int128(revenue), over: Int128(costs.count)).map(Money.init(micros:))
        )
    }
}

/// The percentile bootstrap `sandbox compare` uses: each resample draws, with replacement, as
/// many events as the side recorded from all its events together (usage and revenue alike,
/// so how many of each a resample holds varies as it would in another run), and recomputes ROI
/// and revenue per usage event drawn; the 2.5th and 97.5th percentiles of the difference to
/// the baseline over `resamples` resamples bound the 95 % interval. Each side draws from its
/// own SplitMix64, seeded from the fixed seed and its ID, so a column's interval does not
/// depend on what else is compared, and the same data always gives the same answer. Counts
/// are far below 2³² (one project's events), which the draws rely on.
enum Bootstrap {
    static let resamples = 2_000
    static let seed: UInt64 = 0x6E6F_7661_6F73 // "novaos"
    /// Fewer events than this on either side is never a verdict.
    static let minimumEvents = 20

    /// `numerator / denominator` rounded half up; nil when the denominator is 0.
    static func rounded(_ numerator: Int128, over denominator: Int128) -> Int64? {
        guard denominator > 0 else { return nil }
        let quotient = (numerator * 2 + (numerator >= 0 ? denominator : -denominator)) / (denominator * 2)
        return Int64(exactly: quotient)
    }

    typealias Generator = SplitMix64

    /// A side's generator: the fixed seed mixed with its ID (FNV-1a).
    static func generator(for id: String) -> Generator {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in id.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01B3 }
        return Generator(state: seed ^ hash)
    }

    /// Resampled (ROI, revenue per usage event) of one side; NaN where undefined (a resample
    /// without cost, or without a usage event).
    ///
    /// Drawing n events from all n together is drawing how many are usage events (binomial,
    /// one coin per event, usage with probability usage/n), then that many from the usage
    /// events and the rest from the revenue events: the same distribution, in two tight loops.
    static func resample(_ events: ComparedEvents, generator: inout Generator) -> (roi: [Double], rpe: [Double]) {
        var rois = [Double](repeating: .nan, count: resamples)
        var rpes = [Double](repeating: .nan, count: resamples)
        let costs = events.costs.map(Double.init), revenues = events.revenues.map(Double.init)
        let count = costs.count + revenues.count
        guard count > 0 else { return (rois, rpes) }
        costs.withUnsafeBufferPointer { costs in
            revenues.withUnsafeBufferPointer { revenues in
                for index in 0..<resamples {
                    let usageDrawn = draws(below: costs.count, of: count, generator: &generator)
                    let cost = sumOfDraws(costs, count: usageDrawn, generator: &generator)
                    let revenue = sumOfDraws(revenues, count: count - usageDrawn, generator: &generator)
                    if cost > 0 { rois[index] = (revenue - cost) / cost * 100 }
                    if usageDrawn > 0 { rpes[index] = revenue / Double(usageDrawn) / 1_000_000 }
                }
            }
        }
        return (rois, rpes)
    }

    /// Of `count` uniform draws from 0..<`count`, how many fall below `limit`: a binomial
    /// count, two coins per random number, each half scaled by multiply-shift (Lemire).
    ///
    /// From 200 draws on, where n·p·(1−p) is large enough for it, the count comes from the
    /// normal approximation of that binomial instead (Box–Muller, rounded and clamped): one
    /// random pair instead of n coins, for the same interval to a fraction of a resample.
    @inline(__always)
    static func draws(below limit: Int, of count: Int, generator: inout Generator) -> Int {
        if limit == 0 || limit == count { return limit }
        if count >= 200 {
            let p = Double(limit) / Double(count)
            let mean = Double(count) * p, deviation = (Double(count) * p * (1 - p)).squareRoot()
            // Two uniforms in (0, 1]: 53 random bits each, never 0.
            let u1 = (Double(generator.next() >> 11) + 1) / 9_007_199_254_740_992
            let u2 = Double(generator.next() >> 11) / 9_007_199_254_740_992
            let z = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
            return min(count, max(0, Int((mean + deviation * z).rounded())))
        }
        let bound = UInt64(count), threshold = UInt64(limit)
        var hits = 0
        var remaining = count
        while remaining >= 2 {
            let random = generator.next()
            hits &+= (((random >> 32) &* bound) >> 32) < threshold ? 1 : 0
            hits &+= (((random & 0xFFFF_FFFF) &* bound) >> 32) < threshold ? 1 : 0
            remaining -= 2
        }
        if remaining == 1 { hits &+= (((generator.next() >> 32) &* bound) >> 32) < threshold ? 1 : 0 }
        return hits
    }

    /// The sum of `count` draws, with replacement, from `values` (0 when there are none):
    /// two draws from each 64-bit random number, into two sums so the additions do not wait
    /// on each other. The multiply-shift bias is below values.count / 2³².
    @inline(__always)
    static func sumOfDraws(_ values: UnsafeBufferPointer<Double>, count: Int, generator: inout Generator) -> Double {
        guard !values.isEmpty else { return 0 }
        let bound = UInt64(values.count)
        var first = 0.0, second = 0.0
        var remaining = count
        while remaining >= 2 {
            let random = generator.next()
            first += values[Int(((random >> 32) &* bound) >> 32)]
            second += values[Int(((random & 0xFFFF_FFFF) &* bound) >> 32)]
            remaining -= 2
        }
        if remaining == 1 { first += values[Int(((generator.next() >> 32) &* bound) >> 32)] }
        return first + second
    }

    /// The interval of `other − baseline` from paired resamples, and its verdict.
    static func interval(
        _ other: [Double], _ baseline: [Double], difference: Double?, enoughEvents: Bool, places: Int, level: Double = 0.95
    ) -> Comparison.Interval {
        var differences: [Double] = []
        differences.reserveCapacity(other.count)
        for (mine, theirs) in zip(other, baseline) where mine.isFinite && theirs.isFinite { differences.append(mine - theirs) }
        guard let difference else {
            return Comparison.Interval(difference: nil, low: nil, high: nil, verdict: .inconclusive, note: "not measurable: no cost or no usage events on a side")
        }
        // A resample may draw no cost (or no usage event): its value is undefined. The interval
        // comes from the others, unless too many are undefined to trust it.
        guard differences.count * 20 >= other.count * 19, !differences.isEmpty else {
            return Comparison.Interval(
                difference: difference, low: nil, high: nil, verdict: .inconclusive,
                note: "undefined in \(other.count - differences.count) of \(other.count) resamples (too few events with cost or usage)"
            )
        }
        differences.sort()
        let scale = places == 6 ? 1_000_000.0 : 10_000.0
        func rounded(_ value: Double) -> Double { (value * scale).rounded() / scale }
        // As many resamples beyond each bound: with 2,000 and 95 %, the 51st and the 1,950th.
        let tail = Int(((1 - level) / 2 * Double(differences.count)).rounded(.down))
        let low = rounded(differences[tail])
        let high = rounded(differences[differences.count - 1 - tail])
        let verdict: Comparison.Verdict
        var note: String?
        if !enoughEvents {
            verdict = .inconclusive
            note = "fewer than \(minimumEvents) events on a side"
        } else if low > 0 {
            verdict = .better
        } else if high < 0 {
            verdict = .worse
        } else {
            verdict = .inconclusive
            note = "the interval contains 0"
        }
        return Comparison.Interval(difference: rounded(difference), low: low, high: high, verdict: verdict, note: note)
    }

    /// The comparison of `columns` (the first is the baseline).
    static func compare(kind: String, _ columns: [(id: String, name: String, events: ComparedEvents)]) -> Comparison {
        let baseline = columns[0]
        let baselineFigures = baseline.events.figures
        var baselineGenerator = generator(for: baseline.id)
        let baselineSamples = resample(baseline.events, generator: &baselineGenerator)
        var result = Comparison(
            kind: kind, baseline: baseline.id, resamples: resamples, seed: seed, confidenceLevel: 0.95,
            columns: [Comparison.Column(id: baseline.id, name: baseline.name, figures: baselineFigures, difference: nil, confidence: nil)],
            worse: false
        )
        for column in columns.dropFirst() {
            let figures = column.events.figures
            var columnGenerator = generator(for: column.id)
            let samples = resample(column.events, generator: &columnGenerator)
            let enough = column.events.count >= minimumEvents && baseline.events.count >= minimumEvents
            func exactROI(_ events: ComparedEvents) -> Double? {
                let cost = events.costs.reduce(Int64(0), &+), revenue = events.revenues.reduce(Int64(0), &+)
                return cost > 0 ? (Double(revenue) - Double(cost)) / Double(cost) * 100 : nil
            }
            func rpe(_ events: ComparedEvents) -> Double? {
                events.costs.isEmpty ? nil : Double(events.revenues.reduce(Int64(0), &+)) / Double(events.costs.count) / 1_000_000
            }
            let roiDifference = exactROI(column.events).flatMap { mine in exactROI(baseline.events).map { mine - $0 } }
            let rpeDifference = rpe(column.events).flatMap { mine in rpe(baseline.events).map { mine - $0 } }
            let confidence = Comparison.Confidence(
                roi: interval(samples.roi, baselineSamples.roi, difference: roiDifference, enoughEvents: enough, places: 4),
                revenuePerEvent: interval(samples.rpe, baselineSamples.rpe, difference: rpeDifference, enoughEvents: enough, places: 6)
            )
            if confidence.roi.verdict == .worse || confidence.revenuePerEvent.verdict == .worse { result.worse = true }
            result.columns.append(Comparison.Column(
                id: column.id, name: column.name, figures: figures, difference: figures.minus(baselineFigures), confidence: confidence
            ))
        }
        return result
    }
}
