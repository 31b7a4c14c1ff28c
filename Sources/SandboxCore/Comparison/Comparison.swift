#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
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
/// many usage events and as many revenue events as each side recorded (so the two kinds keep
/// their counts), and recomputes ROI and revenue per usage event; the 2.5th and 97.5th
/// percentiles of the difference to the baseline over `resamples` resamples bound the 95 %
/// interval. SplitMix64 from a fixed seed makes every run give the same answer. Counts are
/// capped far below 2³² (the event tables of one project), which the draws rely on.
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

    /// Adds `count` draws (with replacement) from `values` to a sum: two draws from each 64-bit
    /// random number, each half scaled to the count by multiply-shift (Lemire). The bias,
    /// below count / 2³², is under one in 400,000 for 10,000 events.
    @inline(__always)
    static func sumOfDraws(_ values: UnsafeBufferPointer<Double>, generator: inout Generator) -> Double {
        let count = values.count
        guard count > 0 else { return 0 }
        let bound = UInt64(count)
        // Two sums, so the additions do not wait on each other.
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

    /// Resampled (ROI, revenue per usage event) pairs of one side; NaN where undefined.
    static func resample(_ events: ComparedEvents, generator: inout Generator) -> (roi: [Double], rpe: [Double]) {
        var rois = [Double](repeating: .nan, count: resamples)
        var rpes = [Double](repeating: .nan, count: resamples)
        let costs = events.costs.map(Double.init), revenues = events.revenues.map(Double.init)
        costs.withUnsafeBufferPointer { costs in
            revenues.withUnsafeBufferPointer { revenues in
                for index in 0..<resamples {
                    let cost = sumOfDraws(costs, generator: &generator)
                    let revenue = sumOfDraws(revenues, generator: &generator)
                    if cost > 0 { rois[index] = (revenue - cost) / cost * 100 }
                    if costs.count > 0 { rpes[index] = revenue / Double(costs.count) / 1_000_000 }
                }
            }
        }
        return (rois, rpes)
    }

    /// The interval of `other − baseline` from paired resamples, and its verdict.
    static func interval(
        _ other: [Double], _ baseline: [Double], difference: Double?, enoughEvents: Bool, places: Int, level: Double = 0.95
    ) -> Comparison.Interval {
        var differences: [Double] = []
        differences.reserveCapacity(other.count)
        for (mine, theirs) in zip(other, baseline) where mine.isFinite && theirs.isFinite { differences.append(mine - theirs) }
        guard let difference, differences.count == other.count else {
            return Comparison.Interval(difference: difference, low: nil, high: nil, verdict: .inconclusive, note: "not measurable: no cost or no usage events on a side")
        }
        differences.sort()
        let tail = (1 - level) / 2
        let low = differences[Int((tail * Double(differences.count)).rounded(.down))]
        let high = differences[min(differences.count - 1, Int(((1 - tail) * Double(differences.count)).rounded(.down)))]
        let scale = places == 6 ? 1_000_000.0 : 10_000.0
        func four(_ value: Double) -> Double { (value * scale).rounded() / scale }
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
        return Comparison.Interval(difference: four(difference), low: four(low), high: four(high), verdict: verdict, note: note)
    }

    /// The comparison of `columns` (the first is the baseline).
    static func compare(kind: String, _ columns: [(id: String, name: String, events: ComparedEvents)]) -> Comparison {
        var generator = Generator(state: seed)
        let baseline = columns[0]
        let baselineFigures = baseline.events.figures
        let baselineSamples = resample(baseline.events, generator: &generator)
        var result = Comparison(
            kind: kind, baseline: baseline.id, resamples: resamples, seed: seed, confidenceLevel: 0.95,
            columns: [Comparison.Column(id: baseline.id, name: baseline.name, figures: baselineFigures, difference: nil, confidence: nil)],
            worse: false
        )
        for column in columns.dropFirst() {
            let figures = column.events.figures
            let samples = resample(column.events, generator: &generator)
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
