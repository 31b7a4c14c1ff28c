/// A JSON document read with the line of every value, for files people edit by hand (the
/// price table), whose errors must say where they are. Numbers stay as their text, so a
/// price is read exactly, never through a `Double`.
///
/// Strict RFC 8259: no comments, no trailing commas, no leading zeros, no duplicate keys.
struct PositionedJSON {
    enum Value {
        case null
        case bool(Bool)
        case number(String)
        case string(String)
        case array([PositionedJSON])
        case object([(key: String, value: PositionedJSON)])

        var typeName: String {
            switch self {
            case .null: "null"
            case .bool: "a boolean"
            case .number: "a number"
            case .string: "a string"
            case .array: "an array"
            case .object: "an object"
            }
        }
    }

    var value: Value
    /// The 1-based line the value starts on.
    var line: Int

    /// A syntax error, with its line.
    struct SyntaxError: Error {
        var line: Int
        var message: String
    }

    /// Deeper nesting is refused rather than risking the stack.
    static let maximumDepth = 64

    static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> PositionedJSON {
        var reader = Reader(bytes: bytes)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw reader.error("unexpected text after the JSON document") }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        func error(_ message: String) -> SyntaxError { SyntaxError(line: line, message: message) }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x0A: line += 1
                case 0x20, 0x09, 0x0D: break
                default: return
                }
                index += 1
            }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(SyntaxError) {
            guard index < bytes.count, bytes[index] == byte else { throw error("expected \(what)") }
            index += 1
        }

        mutating func value(depth: Int) throws(SyntaxError) -> PositionedJSON {
            guard depth < PositionedJSON.maximumDepth else { throw error("nested too deeply") }
            guard index < bytes.count else { throw error("unexpected end of the document") }
            let startLine = line
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [(key: String, value: PositionedJSON)] = []
                var keys = Set<String>()
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return PositionedJSON(value: .object(members), line: startLine)
                }
                while true {
                    skipWhitespace()
                    let keyLine = line
                    let key = try string()
                    guard keys.insert(key).inserted else {
                        throw SyntaxError(line: keyLine, message: "duplicate key \(quoted(key))")
                    }
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"), "':' after a key")
                    skipWhitespace()
                    members.append((key, try value(depth: depth + 1)))
                    skipWhitespace()
                    guard index < bytes.count else { throw error("unterminated object") }
                    let next = bytes[index]
                    index += 1
                    if next == UInt8(ascii: "}") { return PositionedJSON(value: .object(members), line: startLine) }
                    guard next == UInt8(ascii: ",") else { index -= 1; throw error("expected ',' or '}'") }
                }
            case UInt8(ascii: "["):
                index += 1
                var elements: [PositionedJSON] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return PositionedJSON(value: .array(elements), line: startLine)
                }
                while true {
                    skipWhitespace()
                    elements.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard index < bytes.count else { throw error("unterminated array") }
                    let next = bytes[index]
                    index += 1
                    if next == UInt8(ascii: "]") { return PositionedJSON(value: .array(elements), line: startLine) }
                    guard next == UInt8(ascii: ",") else { index -= 1; throw error("expected ',' or ']'") }
                }
            case UInt8(ascii: "\""):
                return PositionedJSON(value: .string(try string()), line: startLine)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return PositionedJSON(value: .number(try number()), line: startLine)
            case UInt8(ascii: "t"):
                try literal("true")
                return PositionedJSON(value: .bool(true), line: startLine)
            case UInt8(ascii: "f"):
                try literal("false")
                return PositionedJSON(value: .bool(false), line: startLine)
            case UInt8(ascii: "n"):
                try literal("null")
                return PositionedJSON(value: .null, line: startLine)
            default:
                throw error("unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws(SyntaxError) {
            let text = word.utf8Start
            for offset in 0..<word.utf8CodeUnitCount {
                guard index < bytes.count, bytes[index] == text[offset] else { throw error("expected \(word)") }
                index += 1
            }
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, exactly as RFC 8259 has it.
        mutating func number() throws(SyntaxError) -> String {
            let start = index
            do {
                _ = try JSONNumber.scan(bytes, &index)
            } catch {
                throw self.error(error.message)
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        mutating func string() throws(SyntaxError) -> String {
            try expect(UInt8(ascii: "\""), "a string")
            // Most strings have no escape: their bytes are the text.
            var end = index
            while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
            if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
                guard let text = String(validating: bytes[index..<end], as: UTF8.self) else { throw error("a string is not valid UTF-8") }
                index = end + 1
                return text
            }
            var utf8: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    guard let text = String(validating: utf8, as: UTF8.self) else { throw error("a string is not valid UTF-8") }
                    return text
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { throw error("bad escape") }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                    case UInt8(ascii: "b"): utf8.append(0x08)
                    case UInt8(ascii: "f"): utf8.append(0x0C)
                    case UInt8(ascii: "n"): utf8.append(0x0A)
                    case UInt8(ascii: "r"): utf8.append(0x0D)
                    case UInt8(ascii: "t"): utf8.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800..<0xDC00).contains(code) {
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                                throw error("lone surrogate in a \\u escape")
                            }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw error("lone surrogate in a \\u escape") }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(code) else { throw error("lone surrogate in a \\u escape") }
                        utf8.append(contentsOf: String(Character(scalar)).utf8)
                    default:
                        throw error("bad escape")
                    }
                default:
                    guard byte >= 0x20 else { throw error("control character in a string") }
                    utf8.append(byte)
                }
            }
            throw error("unterminated string")
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw error("bad \\u escape") }
            var value: UInt32 = 0
            for offset in 0..<4 {
                guard let digit = hexValue(bytes[index + offset]) else { throw error("bad \\u escape") }
                value = value << 4 | digit
            }
            index += 4
            return value
        }
    }
}
