#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How a production agent is judged (`production check`), stored with it: set at promotion
/// (`--guardrail KEY=VALUE`) or later (`production guardrail`).
///
/// A check measures the agent's production records over the last `window`. It is
/// `inconclusive` before `bakeTime` has passed since the agent went live, or with fewer than
/// `minEvents` usage events in the window; otherwise it `fail`s when ROI is under `minROI`, or
/// under `minROIVsSandbox` percent of the agent's sandbox ROI. `failureLimit` failed checks in
/// a row roll the agent back.
public struct GuardrailPolicy: Codable, Sendable, Equatable {
    /// The lowest ROI (percent) that passes; 0: it must not lose money.
    public var minROI: Double = 0
    /// Production ROI must be at least this percentage of the sandbox ROI (50: half of it).
    /// Not applied when the sandbox ROI is unknown or not positive.
    public var minROIVsSandbox: Double = 50
    /// Fewer usage events than this in the window is `inconclusive`, never a failure.
    public var minEvents: Int64 = 20
    /// The window measured, in seconds (JSON and storage; `24h`, `7d` on the command line).
    public var window: Int64 = 86_400
    /// No verdict before this many seconds live.
    public var bakeTime: Int64 = 86_400
    /// Consecutive failed checks that roll the agent back.
    public var failureLimit: Int64 = 3

    public init() {}

    /// The keys `set` takes, as `--guardrail KEY=VALUE` and `production guardrail` name them.
    public static let keys = ["min_roi", "min_roi_vs_sandbox", "min_events", "window", "bake_time", "failure_limit"]

    enum CodingKeys: String, CodingKey {
        case minROI = "min_roi", minROIVsSandbox = "min_roi_vs_sandbox", minEvents = "min_events"
        case window, bakeTime = "bake_time", failureLimit = "failure_limit"
    }

    /// Sets one key from its text: `min_roi=-10`, `min_roi_vs_sandbox=50`, `min_events=20`,
    /// `window=24h`, `bake_time=0` or `2h`, `failure_limit=3`.
    ///
    /// - Throws: `SandboxError.invalidInput` naming the key and what it takes.
    public mutating func set(_ key: String, to text: String) throws {
        func percent(_ range: ClosedRange<Double>) throws -> Double {
            let number = text.hasSuffix("%") ? String(text.dropLast()) : text
            guard let value = Double(number), value.isFinite, range.contains(value), Self.isPlainDecimal(number) else {
                throw SandboxError.invalidInput("\(key) takes a percentage from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound)) with at most 4 decimals, like 25 or 12.5; got \(quoted(text))")
            }
            return value
        }
        func count(_ range: ClosedRange<Int64>) throws -> Int64 {
            guard let value = Int64(text), range.contains(value) else {
                throw SandboxError.invalidInput("\(key) takes a whole number from \(range.lowerBound) to \(range.upperBound); got \(quoted(text))")
            }
            return value
        }
        func seconds(allowZero: Bool) throws -> Int64 {
            if allowZero, text == "0" { return 0 }
            let duration: TimeInterval
            do { duration = try parseDuration(text) } catch {
                throw SandboxError.invalidInput("\(key) takes a duration like 30m, 24h or 7d (at most 30d)\(allowZero ? ", or 0" : ""); got \(quoted(text))")
            }
            guard duration >= 1, duration == duration.rounded() else {
                throw SandboxError.invalidInput("\(key) takes whole seconds (at least 1s); got \(quoted(text))")
            }
            return Int64(duration)
        }
        switch key {
        case "min_roi": minROI = try percent(-100...1_000_000)
        case "min_roi_vs_sandbox": minROIVsSandbox = try percent(0...1_000)
        case "min_events": minEvents = try count(0...1_000_000_000)
        case "window": window = try seconds(allowZero: false)
        case "bake_time": bakeTime = try seconds(allowZero: true)
        case "failure_limit": failureLimit = try count(1...1_000)
        default:
            throw SandboxError.invalidInput("unknown guardrail \(quoted(key)); the guardrails are \(Self.keys.joined(separator: ", "))")
        }
    }

    /// Applies `KEY=VALUE` pairs in order.
    public mutating func apply(_ pairs: [String]) throws {
        for pair in pairs {
            let (key, value) = try Self.split(pair)
            try set(key, to: value)
        }
    }

    /// `KEY=VALUE` split at its first `=`.
    public static func split(_ pair: String) throws -> (key: String, value: String) {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex, pair.index(after: equals) != pair.endIndex else {
            throw SandboxError.invalidInput("a guardrail is KEY=VALUE (\(keys.joined(separator: ", "))); got \(quoted(pair))")
        }
        return (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
    }

    /// One line for people: `min_roi 0%, min_roi_vs_sandbox 50%, …`.
    public var summary: String {
        "min_roi \(Self.format(minROI))%, min_roi_vs_sandbox \(Self.format(minROIVsSandbox))%, min_events \(minEvents), "
            + "window \(Self.duration(window)), bake_time \(Self.duration(bakeTime)), failure_limit \(failureLimit)"
    }

    /// What differs from `other`, as `key old → new` (for the history).
    func changes(from other: GuardrailPolicy) -> [String] {
        var lines: [String] = []
        func note(_ key: String, _ old: String, _ new: String) { if old != new { lines.append("\(key) \(old) → \(new)") } }
        note("min_roi", Self.format(other.minROI) + "%", Self.format(minROI) + "%")
        note("min_roi_vs_sandbox", Self.format(other.minROIVsSandbox) + "%", Self.format(minROIVsSandbox) + "%")
        note("min_events", String(other.minEvents), String(minEvents))
        note("window", Self.duration(other.window), Self.duration(window))
        note("bake_time", Self.duration(other.bakeTime), Self.duration(bakeTime))
        note("failure_limit", String(other.failureLimit), String(failureLimit))
        return lines
    }

    /// A number as typed, with at most four decimals (so thresholds compare exactly, see
    /// `ExactROI`): no exponent, no hex, no `nan`.
    private static func isPlainDecimal(_ text: String) -> Bool {
        var digits = 0
        var decimals: Int?
        for (index, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                digits += 1
                if let count = decimals { decimals = count + 1 }
            case UInt8(ascii: "-") where index == 0: continue
            case UInt8(ascii: ".") where decimals == nil: decimals = 0
            default: return false
            }
        }
        return digits > 0 && (decimals ?? 0) <= 4
    }

    /// A percentage without needless decimals: 50, 12.5, -10.
    static func format(_ value: Double) -> String { plainDecimal(value) }

    /// Seconds as the largest whole unit: 86400 → 1d, 7200 → 2h, 90 → 90s.
    public static func duration(_ seconds: Int64) -> String {
        if seconds == 0 { return "0" }
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60)] where seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}
