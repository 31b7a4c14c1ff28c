#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Timestamps are stored as ISO 8601 text in UTC with whole seconds (`2026-11-22T04:30:00Z`),
/// which sorts correctly as text and reads well in the `sqlite3` shell.
public enum Timestamp {
    static func string(from date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // Written digit by digit: `String(format:)` costs thousands of instructions, and tables
        // print a time per row.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(21)
        func append(_ value: Int, digits: Int) {
            var divisor = 1
            for _ in 1..<digits { divisor *= 10 }
            if value >= divisor * 10 { bytes += Array(String(value).utf8); return }
            var rest = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        append(Int(parts.tm_year) + 1900, digits: 4)
        bytes.append(UInt8(ascii: "-"))
        append(Int(parts.tm_mon) + 1, digits: 2)
        bytes.append(UInt8(ascii: "-"))
        append(Int(parts.tm_mday), digits: 2)
        bytes.append(UInt8(ascii: "T"))
        append(Int(parts.tm_hour), digits: 2)
        bytes.append(UInt8(ascii: ":"))
        append(Int(parts.tm_min), digits: 2)
        bytes.append(UInt8(ascii: ":"))
        append(Int(parts.tm_sec), digits: 2)
        bytes.append(UInt8(ascii: "Z"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `2026-11-22T04:30:00Z`: a time as novaos stores and prints it (UTC, whole seconds).
    public static func text(_ date: Date) -> String { string(from: date) }

    /// Whether `text` is a real day written `YYYY-MM-DD` (February 29th only in leap years).
    /// Checked digit by digit: the price table's dates are read at every start.
    static func isDay(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 10 && isDay(bytes)
    }

    /// Whether `bytes` start with a real day, `YYYY-MM-DD`.
    private static func isDay(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              let year = number(bytes, 0..<4), let month = number(bytes, 5..<7), let day = number(bytes, 8..<10),
              year >= 1, (1...12).contains(month)
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day)
    }

    /// Parses `YYYY-MM-DDTHH:MM:SSZ`; the epoch for anything else (stored text is always valid).
    static func date(from text: String) -> Date {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, let seconds = secondsSinceEpoch(bytes) else { return Date(timeIntervalSince1970: 0) }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// The digits of `bytes[range]` as a number; nil when any is not a digit.
    private static func number(_ bytes: [UInt8], _ range: Range<Int>) -> Int? {
        guard range.upperBound <= bytes.count else { return nil }
        var value = 0
        for byte in bytes[range] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// Seconds since the epoch of the `YYYY-MM-DDTHH:MM:SS` at the start of `bytes` (UTC);
    /// nil unless its digits are digits.
    private static func secondsSinceEpoch(_ bytes: [UInt8]) -> Int? {
        guard let year = number(bytes, 0..<4), let month = number(bytes, 5..<7), let day = number(bytes, 8..<10),
              let hour = number(bytes, 11..<13), let minute = number(bytes, 14..<16), let second = number(bytes, 17..<19)
        else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Int(timegm(&parts))
    }

    /// Checks an ISO 8601 time given by a user and returns it in the stored form
    /// (`YYYY-MM-DDTHH:MM:SSZ`, UTC, whole seconds), or nil when it is not a valid time.
    /// Fractions and offsets (`2026-11-22T05:30:00.250+01:00`) are accepted and converted; the
    /// result must lie between 1970-01-01 and 9999-12-31 (UTC), so it is always 20 characters.
    static func normalize(_ text: String) -> String? {
        guard let normalized = convert(text), normalized >= earliest, normalized <= latest, normalized.utf8.count == 20 else { return nil }
        return normalized
    }

    /// The range of times accepted, after conversion to UTC: four-digit years from the epoch.
    static let earliest = "1970-01-01T00:00:00Z"
    static let latest = "9999-12-31T23:59:59Z"

    /// RFC 3339, strictly: `YYYY-MM-DDTHH:MM:SS`, an optional fraction (dropped: whole seconds),
    /// then `Z` or an offset `±HH:MM` of less than a day. Nothing before or after.
    private static func convert(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, isDay(bytes), bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"),
              bytes[16] == UInt8(ascii: ":"), let hour = number(bytes, 11..<13), let minute = number(bytes, 14..<16),
              let second = number(bytes, 17..<19), hour < 24, minute < 60, second < 60,
              let local = secondsSinceEpoch(bytes)
        else { return nil }
        var index = 19
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            guard index > start else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offsetSeconds = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
                  let offsetHours = number(bytes, (index + 1)..<(index + 3)), let offsetMinutes = number(bytes, (index + 4)..<(index + 6)),
                  offsetHours < 24, offsetMinutes < 60
            else { return nil }
            offsetSeconds = (offsetHours * 3600 + offsetMinutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
            index += 6
        default:
            return nil
        }
        guard index == bytes.count else { return nil }
        return string(from: Date(timeIntervalSince1970: TimeInterval(local - offsetSeconds)))
    }

    static func date(from text: String?) -> Date? {
        text.map { date(from: $0) }
    }
}

/// The whole-second time that a clock reads, so stored and returned times agree.
func wholeSeconds(_ date: Date) -> Date {
    Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
}

/// Encodes an optional as an explicit `null`, so every documented key is always present.
@propertyWrapper
public struct NullEncoded<Value: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}

/// The encoder and decoder for every SandboxCore result: sorted snake_case keys, ISO 8601
/// dates, one document.
public enum SandboxJSON {
    public static func encoder(pretty: Bool = true) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// Parses a day (`2026-11-22`, meaning its start in UTC) or an ISO 8601 time
/// (`2026-11-22T04:30:00Z`) given by a user, as `--since` and `--at` take them.
///
/// - Parameter field: how to name the value in the error (`--since`).
public func parseUserDate(_ text: String, field: String) throws -> Date {
    let candidate = text.utf8.count == 10 ? text + "T00:00:00Z" : text
    guard let normalized = Timestamp.normalize(candidate) else {
        throw SandboxError.invalidInput("\(field) must be a day like 2026-11-22 or a time like 2026-11-22T04:30:00Z, got \(quoted(text))")
    }
    return Timestamp.date(from: normalized)
}
