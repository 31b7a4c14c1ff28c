/// SQL written with SQLite's parameters (`?`, `?NNN`), as PostgreSQL takes them (`$NNN`), so one
/// statement can serve both backends.
///
/// SQLite's rule is kept: `?NNN` is parameter NNN, and a bare `?` is one more than the largest
/// number given so far (<https://sqlite.org/lang_expr.html#varparam>). Nothing inside string
/// literals, quoted identifiers, dollar-quoted strings or comments is touched.
public func postgresPlaceholders(_ sql: String) -> String {
    let bytes = Array(sql.utf8)
    var output: [UInt8] = []
    output.reserveCapacity(bytes.count + 8)
    var largest = 0
    var index = 0

    /// Copies up to and including the next `terminator` (a quote or comment end).
    func copy(through terminator: [UInt8]) {
        while index < bytes.count {
            if bytes[index...].starts(with: terminator) {
                output += terminator
                index += terminator.count
                return
            }
            output.append(bytes[index])
            index += 1
        }
    }

    while index < bytes.count {
        let byte = bytes[index]
        switch byte {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            // A doubled quote inside ends one literal and starts the next: copying literal by
            // literal gives the same bytes.
            output.append(byte)
            index += 1
            copy(through: [byte])
        case UInt8(ascii: "-") where bytes[index...].starts(with: Array("--".utf8)):
            copy(through: [UInt8(ascii: "\n")])
        case UInt8(ascii: "/") where bytes[index...].starts(with: Array("/*".utf8)):
            output += Array("/*".utf8)
            index += 2
            copy(through: Array("*/".utf8))
        case UInt8(ascii: "$"):
            // A dollar-quoted string: $$…$$ or $tag$…$tag$.
            var end = index + 1
            // A tag is letters, digits and '_', not starting with a digit (so $1 is no tag).
            while end < bytes.count {
                let isLetter = bytes[end] == UInt8(ascii: "_") || (bytes[end] | 0x20 >= UInt8(ascii: "a") && bytes[end] | 0x20 <= UInt8(ascii: "z"))
                let isDigit = bytes[end] >= UInt8(ascii: "0") && bytes[end] <= UInt8(ascii: "9")
                guard isLetter || (isDigit && end > index + 1) else { break }
                end += 1
            }
            if end < bytes.count, bytes[end] == UInt8(ascii: "$") {
                let tag = Array(bytes[index...end])
                output += tag
                index = end + 1
                copy(through: tag)
            } else {
                output.append(byte)
                index += 1
            }
        case UInt8(ascii: "?"):
            index += 1
            var digits = 0
            var number = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9"), digits < 6 {
                number = number * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                digits += 1
                index += 1
            }
            if digits == 0 { number = largest + 1 }
            largest = max(largest, number)
            output += Array("$\(number)".utf8)
        default:
            output.append(byte)
            index += 1
        }
    }
    return String(decoding: output, as: UTF8.self)
}
