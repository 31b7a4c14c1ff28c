#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `1234567` as `1,234,567`: token counts in messages and tables.
public func groupedDigits(_ value: Int64) -> String {
    let digits = Array(String(value.magnitude).utf8)
    var grouped: [UInt8] = value < 0 ? [UInt8(ascii: "-")] : []
    grouped.reserveCapacity(digits.count + digits.count / 3 + 1)
    for (index, digit) in digits.enumerated() {
        if index > 0, (digits.count - index) % 3 == 0 { grouped.append(UInt8(ascii: ",")) }
        grouped.append(digit)
    }
    return String(decoding: grouped, as: UTF8.self)
}

/// A number as a person typed it: a whole one without a point (`50`, `-10`), any other as
/// Swift prints it (`12.5`). For thresholds in messages and plain numbers in CSV.
public func plainDecimal(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
}

/// `value` with `places` digits after the point, rounded as C's `printf("%.*f")` rounds
/// (`fixedDigits(12.345, 1)` is `12.3`): percentages and seconds in messages and tables.
public func fixedDigits(_ value: Double, _ places: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    // In integers when the scaled value is far from a rounding tie (`printf` rounds the exact
    // binary value; so does this then, since the product is off by far less than the margin).
    if (0...6).contains(places) {
        let scale = [1.0, 10, 100, 1_000, 10_000, 100_000, 1_000_000][places]
        let scaled = value.magnitude * scale
        let rounded = scaled.rounded(.toNearestOrEven)
        if scaled < 0x1p40, (scaled - scaled.rounded(.down) - 0.5).magnitude > 1e-3 {
            let units = UInt64(rounded), divisor = UInt64(scale)
            let sign = value < 0 || (value == 0 && value.sign == .minus) ? "-" : ""
            guard places > 0 else { return sign + String(units) }
            let fraction = String(units % divisor)
            return sign + String(units / divisor) + "." + String(repeating: "0", count: places - fraction.count) + fraction
        }
    }
    let places = Int32(min(max(places, 0), 20))
    // 309 integer digits at most (Double's range), the point and the places, and the sign.
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 340) { buffer in
        let count = withVaList([places, value]) { vsnprintf(buffer.baseAddress!, buffer.count, "%.*f", $0) }
        return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: Int(max(count, 0))), as: UTF8.self)
    }
}
