#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

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
    /// Exact or refused: the digits are read as written, never through a `Double` or a
    /// `Decimal` (which keeps 38 digits and would round `12.5000…0001`). More than six decimal
    /// places as written (after the exponent), whatever the digits, is refused, as is an
    /// amount above the record limit.
    public init(parsing text: String) throws {
        if let micros = Money.parsePlainDecimal(text) {
            self = Money(micros: micros)
            return
        }
        self = Money(micros: try Money.parseExactly(text))
    }

    /// `[+-]digits[.digits][(e|E)[+-]digits]`, in micro-dollars.
    private static func parseExactly(_ text: String) throws -> Int64 {
        switch ExactDecimal.parse(text, places: 6) {
        case .value(let micros) where micros.magnitude <= Money.recordLimit.micros.magnitude:
            return micros
        case .value, .tooLarge:
            throw SandboxError.invalidInput("amount \(quoted(text)) is too large: at most \(Money.recordLimit) per record")
        case .tooManyPlaces:
            throw SandboxError.invalidInput("amount \(quoted(text)) has more than 6 decimal places; money is kept in micro-dollars")
        case .invalid:
            throw SandboxError.invalidInput("invalid amount \(quoted(text)): expected a decimal number of dollars, like 12.50")
        }
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

    /// The amount as a JSON number of dollars, exactly (`0.0735`, `12`, `-1.5`): the digits
    /// a `Decimal` of the same value prints, without making one.
    public var jsonNumber: String {
        decimalText(prefix: micros < 0 ? "-" : "", minimumPlaces: 0)
    }

    /// `prefix`, then the magnitude in dollars: whole dollars, then the six places of
    /// micro-dollars without their trailing zeros but at least `minimumPlaces` (73_500
    /// micro-dollars: `0.0735`). Written digit by digit into one buffer: tables print
    /// thousands of amounts.
    private func decimalText(prefix: StaticString, minimumPlaces: Int) -> String {
        let magnitude = micros.magnitude
        var whole = magnitude / UInt64(Money.microsPerDollar)
        var fraction = magnitude % UInt64(Money.microsPerDollar)
        var places = 6
        while places > minimumPlaces, fraction % 10 == 0 {
            fraction /= 10
            places -= 1
        }
        // "-$", 20 digits of whole dollars, the point and 6 places.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            var end = buffer.count
            for _ in 0..<places {
                end -= 1
                buffer[end] = UInt8(ascii: "0") + UInt8(fraction % 10)
                fraction /= 10
            }
            if places > 0 {
                end -= 1
                buffer[end] = UInt8(ascii: ".")
            }
            repeat {
                end -= 1
                buffer[end] = UInt8(ascii: "0") + UInt8(whole % 10)
                whole /= 10
            } while whole > 0
            for index in (0..<prefix.utf8CodeUnitCount).reversed() {
                end -= 1
                buffer[end] = prefix.utf8Start[index]
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[end...]), as: UTF8.self)
        }
    }

    /// The amount as an exact `Decimal` number of dollars.
    public var decimalDollars: Decimal {
        Decimal(sign: micros < 0 ? .minus : .plus, exponent: -6, significand: Decimal(micros.magnitude))
    }

    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.micros < rhs.micros }

    /// Adds, or throws when the sum does not fit in 64 bits.
    public func adding(_ other: Money) throws -> Money {
        do {
            return Money(micros: try checkedSum(micros, other.micros, "money"))
        } catch {
            throw SandboxError.invalidInput(error.description)
        }
    }

    public static func - (lhs: Money, rhs: Money) -> Money { Money(micros: lhs.micros - rhs.micros) }
}

extension Money: CustomStringConvertible {
    /// `$12.50`, `-$0.000123`: at least two decimals, at most six, never rounded.
    public var description: String {
        decimalText(prefix: micros < 0 ? "-$" : "$", minimumPlaces: 2)
    }
}

extension Money: Codable {
    public init(from decoder: any Decoder) throws {
        // A `Decimal` spells its digits exactly; the one reader of amounts takes them from
        // there. Totals are decoded too, so the limit is 64 bits, not the record limit.
        let decimal = try decoder.singleValueContainer().decode(Decimal.self)
        switch ExactDecimal.parse("\(decimal)", places: 6) {
        case .value(let micros): self.init(micros: micros)
        case .tooManyPlaces: throw SandboxError.invalidInput("amount \(decimal) has more than 6 decimal places; money is kept in micro-dollars")
        case .tooLarge, .invalid: throw SandboxError.invalidInput("amount \(decimal) does not fit in 64-bit micro-dollars")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(decimalDollars)
    }
}

/// A running total of money or tokens that would not fit in 64 bits. Deliberately not a
/// `SandboxError`: it ends the whole operation (a bulk import rolls back everything), where a
/// bad line would only be skipped.
struct TotalOverflow: Error, CustomStringConvertible {
    var what: String
    var description: String { "\(what) total overflow: the sum would exceed the 64-bit range" }
}

/// The one checked addition of money (in micro-dollars) and token counts.
func checkedSum(_ lhs: Int64, _ rhs: Int64, _ what: String) throws(TotalOverflow) -> Int64 {
    let (sum, overflow) = lhs.addingReportingOverflow(rhs)
    guard !overflow else { throw TotalOverflow(what: what) }
    return sum
}

/// A decimal number read from its digits, exactly: the one reader of amounts (six places) and
/// token counts (none), so neither ever passes through a `Double`.
enum ExactDecimal {
    enum Outcome: Equatable {
        /// The number times 10^places.
        case value(Int64)
        case invalid
        /// More decimal places as written (after the exponent) than allowed, whatever the digits.
        case tooManyPlaces
        case tooLarge
    }

    /// Reads `[+-]digits[.digits][(e|E)[+-]digits]`.
    static func parse(_ text: String, places allowed: Int) -> Outcome {
        let bytes = Array(text.utf8)
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        var index = 0
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        var digits: [UInt8] = []
        var integerDigits = 0
        var fractionDigits = 0
        while index < bytes.count, isDigit(bytes[index]) {
            digits.append(bytes[index] - UInt8(ascii: "0"))
            integerDigits += 1
            index += 1
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < bytes.count, isDigit(bytes[index]) {
                digits.append(bytes[index] - UInt8(ascii: "0"))
                fractionDigits += 1
                index += 1
            }
            guard integerDigits > 0, fractionDigits > 0 else { return .invalid }
        }
        guard integerDigits + fractionDigits > 0 else { return .invalid }
        var exponent = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var exponentDigits = 0
            while index < bytes.count, isDigit(bytes[index]) {
                // Capped: past a million the answer (too many places, or too large) is the same.
                exponent = min(exponent * 10 + Int(bytes[index] - UInt8(ascii: "0")), 1_000_000)
                exponentDigits += 1
                index += 1
            }
            guard exponentDigits > 0 else { return .invalid }
            if exponentNegative { exponent = -exponent }
        }
        guard index == bytes.count else { return .invalid }
        let places = fractionDigits - exponent
        guard places <= allowed else { return .tooManyPlaces }
        let significant = digits.drop(while: { $0 == 0 })
        guard significant.isEmpty || significant.count + (allowed - places) <= 19 else { return .tooLarge }
        var value: Int64 = 0
        for digit in significant {
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = shifted.addingReportingOverflow(Int64(digit))
            guard !overflow, !carry else { return .tooLarge }
            value = sum
        }
        for _ in 0..<max(0, allowed - places) where value != 0 {
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return .tooLarge }
            value = shifted
        }
        return .value(negative ? -value : value)
    }
}
