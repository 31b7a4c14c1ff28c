#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `1234567` as `1,234,567`: token counts in messages and tables.
public func groupedDigits(_ value: Int64) -> String {
    let digits = String(value.magnitude)
    var grouped = ""
    for (index, character) in digits.reversed().enumerated() {
        if index > 0, index % 3 == 0 { grouped.append(",") }
        grouped.append(character)
    }
    return (value < 0 ? "-" : "") + String(grouped.reversed())
}

/// `value` with `places` digits after the point, rounded as C's `printf("%.*f")` rounds
/// (`fixedDigits(12.345, 1)` is `12.3`): percentages and seconds in messages and tables.
public func fixedDigits(_ value: Double, _ places: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    let places = Int32(min(max(places, 0), 20))
    // 309 integer digits at most (Double's range), the point and the places, and the sign.
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 340) { buffer in
        let count = withVaList([places, value]) { vsnprintf(buffer.baseAddress!, buffer.count, "%.*f", $0) }
        return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: Int(max(count, 0))), as: UTF8.self)
    }
}
