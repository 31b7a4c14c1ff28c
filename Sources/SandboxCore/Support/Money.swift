import Foundation

/// An exact amount of US dollars, kept as an integer number of micro-dollars (10⁻⁶ $).
///
/// Never floating point: sums and comparisons are exact. In JSON it is a number of dollars
/// with at most six decimal places.
public struct Money: Hashable, Comparable, Sendable {
    /// The amount in micro-dollars.
    public var micros: Int64

    /// Micro-dollars in one dollar.
    public static let microsPerDollar: Int64 = 1_000_000
    /// The largest amount one record may carry: one billion dollars.
    public static let recordLimit = Money(micros: 1_000_000_000 * microsPerDollar)
    public static let zero = Money(micros: 0)

    public init(micros: Int64) {
        self.micros = micros
    }

    /// Parses a decimal number of dollars such as `12`, `0.25`, `1e-3` or `-4.5`.
    ///
    /// Amounts with more than six decimal places are refused rather than rounded, so what is
    /// stored is always exactly what was given.
    public init(parsing text: String) throws {
        if let micros = Money.parsePlainDecimal(text) {
            self = Money(micros: micros)
            return
        }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let decimal = Decimal(string: trimmed, locale: Locale(identifier: "en_US_POSIX")),
              !decimal.isNaN,
              trimmed.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) })
        else {
            throw SandboxError.invalidInput("invalid amount \(quoted(text)): expected a decimal number of dollars, like 12.50")
        }
        try self.init(exactly: decimal, original: text, limit: Money.recordLimit)
    }

    /// The fast path for the common spelling `[-]digits[.digits]` with at most six decimals
    /// and within the record limit; nil for anything else, which the general parser handles.
    private static func parsePlainDecimal(_ text: String) -> Int64? {
        var negative = false
        var whole: Int64 = 0
        var fraction: Int64 = 0
        var fractionDigits = 0
        var seenDot = false
        var digits = 0
        for (offset, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "-") where offset == 0:
                negative = true
            case UInt8(ascii: "."):
                guard !seenDot else { return nil }
                seenDot = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let digit = Int64(byte - UInt8(ascii: "0"))
                digits += 1
                if seenDot {
                    fractionDigits += 1
                    guard fractionDigits <= 6 else { return nil }
                    fraction = fraction * 10 + digit
                } else {
                    guard whole <= 1_000_000_000 else { return nil }
                    whole = whole * 10 + digit
                }
            default:
                return nil
            }
        }
        guard digits > 0, !text.hasSuffix("."), !text.hasPrefix("."), !text.hasPrefix("-.") else { return nil }
        for _ in fractionDigits..<6 { fraction *= 10 }
        let micros = whole * microsPerDollar + fraction
        guard micros <= recordLimit.micros else { return nil }
        return negative ? -micros : micros
    }

    /// Converts a dollar amount given as a `Double` (from JSON, say) through its shortest
    /// decimal spelling, so `49.99` becomes exactly 49 990 000 micro-dollars.
    public init(dollars: Double) throws {
        guard dollars.isFinite else {
            throw SandboxError.invalidInput("invalid amount \(dollars): must be a finite number")
        }
        try self.init(parsing: "\(dollars)")
    }

    init(exactly decimal: Decimal, original: String, limit: Money? = nil) throws {
        var scaled = decimal * Decimal(Money.microsPerDollar)
        var rounded = Decimal()
        NSDecimalRound(&rounded, &scaled, 0, .plain)
        guard rounded == scaled else {
            throw SandboxError.invalidInput("amount \(quoted(original)) has more than 6 decimal places; money is kept in micro-dollars")
        }
        let bound = Decimal((limit ?? Money(micros: .max)).micros)
        guard rounded <= bound, rounded >= -bound else {
            throw SandboxError.invalidInput("amount \(quoted(original)) is too large: at most \(limit ?? Money(micros: .max)) per record")
        }
        self.micros = NSDecimalNumber(decimal: rounded).int64Value
    }

    /// The amount as an exact `Decimal` number of dollars.
    public var decimalDollars: Decimal {
        Decimal(sign: micros < 0 ? .minus : .plus, exponent: -6, significand: Decimal(micros.magnitude))
    }

    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.micros < rhs.micros }

    /// Adds, or throws when the sum does not fit in 64 bits.
    public func adding(_ other: Money) throws -> Money {
        let (sum, overflow) = micros.addingReportingOverflow(other.micros)
        guard !overflow else { throw SandboxError.invalidInput("amount overflow: the total would exceed the money range") }
        return Money(micros: sum)
    }

    public static func - (lhs: Money, rhs: Money) -> Money { Money(micros: lhs.micros - rhs.micros) }
}

extension Money: CustomStringConvertible {
    /// `$12.50`, `-$0.000123`: at least two decimals, at most six, never rounded.
    public var description: String {
        let sign = micros < 0 ? "-" : ""
        let magnitude = micros.magnitude
        let whole = magnitude / UInt64(Money.microsPerDollar)
        var fraction = String(magnitude % UInt64(Money.microsPerDollar))
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.count > 2, fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(sign)$\(whole).\(fraction)"
    }
}

extension Money: Codable {
    public init(from decoder: any Decoder) throws {
        let decimal = try decoder.singleValueContainer().decode(Decimal.self)
        try self.init(exactly: decimal, original: "\(decimal)")
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(decimalDollars)
    }
}
