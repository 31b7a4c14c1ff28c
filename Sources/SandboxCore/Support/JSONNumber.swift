/// One RFC 8259 number, `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, scanned in
/// place: the one grammar both JSON readers (event lines, price files) use.
enum JSONNumber {
    /// How a number is malformed.
    enum Problem: Error {
        case malformed
        case leadingZero

        var message: String {
            switch self {
            case .malformed: "bad number"
            case .leadingZero: "a number with leading zeros"
            }
        }
    }

    /// True when `text` is exactly one JSON number (`0.2`, `-3`, `1e3`; not `.5`, `01` or `nan`).
    static func isNumber(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else {
            return false
        }
        var index = 0
        guard (try? scan(bytes, &index)) != nil else { return false }
        return index == bytes.count
    }

    /// Advances `index` over the number starting there (at a `-` or a digit).
    ///
    /// - Returns: whether it has an exponent (only such a number, or a very long one, can be
    ///   too large for a `Double`).
    @inline(__always)
    static func scan<Bytes: RandomAccessCollection>(_ bytes: Bytes, _ index: inout Int) throws(Problem) -> Bool
    where Bytes.Element == UInt8, Bytes.Index == Int {
        func digits(_ index: inout Int) -> Int {
            let first = index
            while index < bytes.endIndex, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - first
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        let integerDigits = digits(&index)
        guard integerDigits > 0 else { throw .malformed }
        guard integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else { throw .leadingZero }
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits(&index) > 0 else { throw .malformed }
        }
        guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") else { return false }
        index += 1
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard digits(&index) > 0 else { throw .malformed }
        return true
    }
}
