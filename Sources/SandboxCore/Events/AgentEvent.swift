#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// One event of the agent protocol (`sandbox run`) and of the import format (`sandbox import`):
/// a flat JSON object on one line.
///
/// ```json
/// {"type":"usage","model":"claude-sonnet-4","input_tokens":1200,"output_tokens":300,"operation":"draft"}
/// {"type":"revenue","amount":49.0,"source":"stripe","description":"..."}
/// ```
/// Optional on both: `id` (events with an ID already recorded are skipped), `agent_id`
/// (required by import), `timestamp` (ISO 8601; default: when it is recorded). Usage may
/// carry `cache_read_tokens`, `cache_write_tokens`, `cache_ttl` (`5m` or `1h`), `batch`
/// (true for a batch API call) and `cost` in dollars, which overrides the price table.
public enum AgentEvent: Equatable, Sendable {
    case usage(Usage)
    case revenue(Revenue)
    /// A running agent asks for tokens before a model call (`{"type":"reserve","tokens":N}`);
    /// answered on the run's reply pipe. Only meaningful inside `sandbox run`.
    case reserve(Reserve)

    public struct Reserve: Equatable, Sendable {
        public var agentID: String?
        public var tokens: Int64
    }

    public struct Usage: Equatable, Sendable {
        public var agentID: String?
        public var eventID: String?
        public var model: String
        public var operation: String?
        /// Input, output, cache-read and cache-write tokens; input excludes cached tokens.
        public var tokens: TokenCounts
        /// A call of a provider's batch API, priced with its batch discount.
        public var batch: Bool
        public var cacheDuration: CacheDuration
        public var cost: Money?
        public var timestamp: String?

        public init(
            agentID: String? = nil, eventID: String? = nil, model: String, operation: String? = nil, tokens: TokenCounts,
            batch: Bool = false, cacheDuration: CacheDuration = .fiveMinutes, cost: Money? = nil, timestamp: String? = nil
        ) {
            self.agentID = agentID
            self.eventID = eventID
            self.model = model
            self.operation = operation
            self.tokens = tokens
            self.batch = batch
            self.cacheDuration = cacheDuration
            self.cost = cost
            self.timestamp = timestamp
        }
    }

    public struct Revenue: Equatable, Sendable {
        public var agentID: String?
        public var eventID: String?
        public var amount: Money
        public var source: String?
        public var description: String?
        public var timestamp: String?
    }

    public var agentID: String? {
        switch self {
        case .usage(let usage): usage.agentID
        case .revenue(let revenue): revenue.agentID
        case .reserve(let reserve): reserve.agentID
        }
    }

    /// Parses one line. Throws `SandboxError.invalidInput` with a message that says what is wrong.
    public static func parse(_ line: String) throws -> AgentEvent {
        var copy = line
        return try copy.withUTF8 { try EventParser.parse($0) }
    }

    /// Parses one line given as bytes, as `import` and `run` read it (invalid UTF-8 included).
    public static func parse(line bytes: UnsafeBufferPointer<UInt8>) throws -> AgentEvent {
        try EventParser.parse(bytes)
    }
}

/// A line that could not be recorded, and why.
public struct LineError: Codable, Sendable, Equatable {
    public var line: Int
    public var message: String
}

/// A fast parser for the flat JSON objects of the event protocol: no allocation for keys,
/// strings decoded once, numbers kept as text until the field they belong to says what they are.
enum EventParser {
    /// The longest event line accepted.
    static let maximumLineBytes = 64 * 1024

    private enum Value {
        case string(String)
        case number(String)
        case bool(Bool)
        case null

        var typeName: String {
            switch self {
            case .string: "a string"
            case .number: "a number"
            case .bool: "a boolean"
            case .null: "null"
            }
        }
    }

    private enum Key: Int, CaseIterable {
        case type, agentID, id, model, inputTokens, outputTokens, operation, cost, amount, source, description, timestamp, tokens
        case cacheReadTokens, cacheWriteTokens, cacheTTL, batch

        var name: String {
            switch self {
            case .type: "type"
            case .agentID: "agent_id"
            case .id: "id"
            case .model: "model"
            case .inputTokens: "input_tokens"
            case .outputTokens: "output_tokens"
            case .operation: "operation"
            case .cost: "cost"
            case .amount: "amount"
            case .source: "source"
            case .description: "description"
            case .timestamp: "timestamp"
            case .tokens: "tokens"
            case .cacheReadTokens: "cache_read_tokens"
            case .cacheWriteTokens: "cache_write_tokens"
            case .cacheTTL: "cache_ttl"
            case .batch: "batch"
            }
        }

        static let all: [Key] = allCases.map { $0 }
        static let byName: [String: Key] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

        /// The key spelled `name` once unescaped, or nil.
        static func named(_ name: String) -> Key? { byName[name] }
        /// Computed once: `allCases` builds a new array on every call, and this runs per event.
        static let count = all.count
        static let utf8Names: [[UInt8]] = all.map { Array($0.name.utf8) }

        /// The key spelled by `range`, found by its length first: no allocation, few compares.
        static func match(_ range: Range<Int>, in scanner: Scanner) -> Key? {
            func check(_ key: Key) -> Key? { scanner.equals(range, utf8Names[key.rawValue]) ? key : nil }
            switch range.count {
            case 2: return check(.id)
            case 4: return check(.type) ?? check(.cost)
            case 5: return check(.model) ?? check(.batch)
            case 6: return check(.amount) ?? check(.source) ?? check(.tokens)
            case 8: return check(.agentID)
            case 9: return check(.operation) ?? check(.timestamp) ?? check(.cacheTTL)
            case 11: return check(.description)
            case 12: return check(.inputTokens)
            case 13: return check(.outputTokens)
            case 17: return check(.cacheReadTokens)
            case 18: return check(.cacheWriteTokens)
            default: return nil
            }
        }
    }

    /// The values of one line, by `Key.rawValue`.
    private typealias Fields = [Value?]

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws -> AgentEvent {
        guard bytes.count <= maximumLineBytes else {
            throw SandboxError.invalidInput("line is too long (\(bytes.count) bytes, at most \(maximumLineBytes))")
        }
        var values = Fields(repeating: nil, count: Key.count)
        // Keys are compared after unescaping, as every JSON library reads them; other keys
        // are kept only to refuse a duplicate, and their values are still checked as JSON.
        var otherKeys = Set<String>()
        try scanObject(bytes) { scanner, keyRange, keyEscaped, value in
            let escapedName = keyEscaped ? try scanner.decodeString(keyRange, escaped: true) : nil
            if let key = escapedName.map(Key.named) ?? Key.match(keyRange, in: scanner) {
                if values[key.rawValue] != nil { throw SandboxError.invalidInput("duplicate key \"\(key.name)\"") }
                values[key.rawValue] = try value.decode(scanner)
            } else {
                let name = try escapedName ?? scanner.decodeString(keyRange, escaped: false)
                guard otherKeys.insert(name).inserted else { throw SandboxError.invalidInput("duplicate key \(quoted(name))") }
                _ = try value.decode(scanner)
            }
        }
        return try build(values)
    }

    /// Scans one flat JSON object filling the whole line, handing each member to `visit`: the
    /// key's byte range (and whether it has escapes) and the value, still undecoded.
    @inline(__always)
    private static func scanObject(
        _ bytes: UnsafeBufferPointer<UInt8>, _ visit: (Scanner, Range<Int>, Bool, RawValue) throws -> Void
    ) throws {
        var scanner = Scanner(bytes: bytes)
        scanner.skipWhitespace()
        try scanner.expect(UInt8(ascii: "{"), "an event must be a JSON object")
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.index += 1
        } else {
            while true {
                scanner.skipWhitespace()
                let (keyRange, keyEscaped) = try scanner.scanString()
                scanner.skipWhitespace()
                try scanner.expect(UInt8(ascii: ":"), "expected ':' after a key")
                scanner.skipWhitespace()
                try visit(scanner, keyRange, keyEscaped, try scanner.value())
                scanner.skipWhitespace()
                guard let next = scanner.next() else { throw SandboxError.invalidInput("unterminated JSON object") }
                if next == UInt8(ascii: "}") { break }
                guard next == UInt8(ascii: ",") else { throw SandboxError.invalidInput("expected ',' or '}' at byte \(scanner.index)") }
            }
        }
        scanner.skipWhitespace()
        guard scanner.index == bytes.count else { throw SandboxError.invalidInput("unexpected text after the JSON object") }
    }

    /// A JSON leaf as the event format allows it (no nesting), for the differential test and
    /// the fuzz target: the same scanner and decoder as `parse`, without the event schema.
    enum Leaf: Equatable {
        case string(String)
        case number(String)
        case bool(Bool)
        case null
    }

    /// Every member of a flat JSON object line, in order, duplicates kept: the JSON layer of
    /// `parse` on its own.
    static func members(_ bytes: UnsafeBufferPointer<UInt8>) throws -> [(key: String, value: Leaf)] {
        var members: [(key: String, value: Leaf)] = []
        try scanObject(bytes) { scanner, keyRange, keyEscaped, value in
            let leaf: Leaf = switch try value.decode(scanner) {
            case .string(let text): .string(text)
            case .number(let text): .number(text)
            case .bool(let flag): .bool(flag)
            case .null: .null
            }
            members.append((try scanner.decodeString(keyRange, escaped: keyEscaped), leaf))
        }
        return members
    }

    private static func build(_ values: Fields) throws -> AgentEvent {
        func string(_ key: Key) throws -> String? {
            switch values[key.rawValue] {
            case nil, .null?: return nil
            case .string(let text)?: return text
            case let other?: throw SandboxError.invalidInput("\"\(key.name)\" must be a string, not \(other.typeName)")
            }
        }
        func tokens(_ key: Key, default missing: Int64? = nil) throws -> Int64 {
            if let missing {
                switch values[key.rawValue] {
                case nil, .null?: return missing
                default: break
                }
            }
            guard case .number(let text)? = values[key.rawValue] else {
                throw SandboxError.invalidInput(values[key.rawValue] == nil ? "missing \"\(key.name)\"" : "\"\(key.name)\" must be a number")
            }
            // Read from the digits: 9999999999.9999999 is not ten billion, and 1e-400 is not 0.
            let value: Int64
            if let integer = Int64(text) {
                value = integer
            } else if case .value(let exact) = ExactDecimal.parse(text, places: 0) {
                value = exact
            } else {
                throw SandboxError.invalidInput("\"\(key.name)\" must be a whole number of tokens, got \(text)")
            }
            guard value >= 0, value <= TokenCounts.maximumPerKind else {
                throw SandboxError.invalidInput("\"\(key.name)\" must be between 0 and \(TokenCounts.maximumPerKind), got \(text)")
            }
            return value
        }
        func money(_ key: Key) throws -> Money? {
            switch values[key.rawValue] {
            case nil, .null?: return nil
            case .number(let text)?: return try Money(parsing: text)
            case let other?: throw SandboxError.invalidInput("\"\(key.name)\" must be a number of dollars, not \(other.typeName)")
            }
        }
        let eventID: String?
        switch values[Key.id.rawValue] {
        case nil, .null?: eventID = nil
        case .string(let text)?: eventID = text
        case let other?:
            // A number would make 1, 1.0 and 1e0 three different events: ids are strings.
            throw SandboxError.invalidInput("\"id\" must be a string, like \"evt-1\", not \(other.typeName)")
        }
        if let eventID {
            try validateText(eventID, field: "\"id\"", maximumLength: 200)
        }
        let timestamp = try string(.timestamp).map { text -> String in
            guard let normalized = Timestamp.normalize(text) else {
                throw SandboxError.invalidInput("\"timestamp\" must be an ISO 8601 time from 1970 to 9999 (UTC), like 2026-11-22T04:30:00Z, got \(quoted(text))")
            }
            return normalized
        }
        let agentID = try string(.agentID)
        switch try string(.type) {
        case "usage":
            guard let model = try string(.model) else { throw SandboxError.invalidInput("missing \"model\"") }
            let cost = try money(.cost)
            if let cost, cost.micros < 0 { throw SandboxError.invalidInput("\"cost\" must not be negative") }
            let batch: Bool
            switch values[Key.batch.rawValue] {
            case nil, .null?: batch = false
            case .bool(let value)?: batch = value
            case let other?: throw SandboxError.invalidInput("\"batch\" must be true or false, not \(other.typeName)")
            }
            let cacheDuration = try string(.cacheTTL).map { text -> CacheDuration in
                guard let duration = CacheDuration(rawValue: text) else {
                    throw SandboxError.invalidInput("\"cache_ttl\" must be \"5m\" or \"1h\", got \(quoted(text))")
                }
                return duration
            } ?? .fiveMinutes
            let tokenCounts = TokenCounts(
                input: try tokens(.inputTokens), output: try tokens(.outputTokens),
                cacheRead: try tokens(.cacheReadTokens, default: 0), cacheWrite: try tokens(.cacheWriteTokens, default: 0)
            )
            return .usage(AgentEvent.Usage(
                agentID: agentID, eventID: eventID, model: model, operation: try string(.operation),
                tokens: tokenCounts, batch: batch, cacheDuration: cacheDuration, cost: cost, timestamp: timestamp
            ))
        case "revenue":
            guard let amount = try money(.amount) else { throw SandboxError.invalidInput("missing \"amount\"") }
            guard amount.micros > 0 else { throw SandboxError.invalidInput("\"amount\" must be greater than 0") }
            return .revenue(AgentEvent.Revenue(
                agentID: agentID, eventID: eventID, amount: amount, source: try string(.source),
                description: try string(.description), timestamp: timestamp
            ))
        case "reserve":
            let requested = try tokens(.tokens)
            guard requested > 0 else { throw SandboxError.invalidInput("\"tokens\" of a reserve must be greater than 0") }
            return .reserve(AgentEvent.Reserve(agentID: agentID, tokens: requested))
        case nil:
            throw SandboxError.invalidInput("missing \"type\" (usage, revenue or reserve)")
        case let other?:
            throw SandboxError.invalidInput("unknown event type \(quoted(other)): expected usage, revenue or reserve")
        }
    }

    /// A value as scanned: strings and numbers still as byte ranges.
    private enum RawValue {
        case string(Range<Int>, escaped: Bool)
        case number(Range<Int>)
        case bool(Bool)
        case null

        func decode(_ scanner: Scanner) throws -> Value {
            switch self {
            case .string(let range, let escaped): .string(try scanner.decodeString(range, escaped: escaped))
            case .number(let range): .number(String(decoding: UnsafeBufferPointer(rebasing: scanner.bytes[range]), as: UTF8.self))
            case .bool(let value): .bool(value)
            case .null: .null
            }
        }
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func next() -> UInt8? {
            guard index < bytes.count else { return nil }
            defer { index += 1 }
            return bytes[index]
        }

        mutating func skipWhitespace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0D || bytes[index] == 0x0A {
                index += 1
            }
        }

        mutating func expect(_ byte: UInt8, _ message: String) throws {
            guard next() == byte else { throw SandboxError.invalidInput("not valid JSON: \(message)") }
        }

        func equals(_ range: Range<Int>, _ name: [UInt8]) -> Bool {
            guard range.count == name.count else { return false }
            var offset = 0
            for index in range {
                if bytes[index] != name[offset] { return false }
                offset += 1
            }
            return true
        }

        /// Scans a string; returns the range of its content (escapes not yet decoded) and
        /// whether it has any.
        mutating func scanString() throws -> (Range<Int>, Bool) {
            try expect(UInt8(ascii: "\""), "expected a string")
            let start = index
            var escaped = false
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    defer { index += 1 }
                    return (start..<index, escaped)
                }
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    index += 2
                    continue
                }
                if byte < 0x20 { throw SandboxError.invalidInput("not valid JSON: control character in a string") }
                index += 1
            }
            throw SandboxError.invalidInput("not valid JSON: unterminated string")
        }

        mutating func value() throws -> RawValue {
            guard let byte = peek() else { throw SandboxError.invalidInput("not valid JSON: missing value") }
            switch byte {
            case UInt8(ascii: "\""):
                let (range, escaped) = try scanString()
                return .string(range, escaped: escaped)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = index
                let exponent: Bool
                do {
                    exponent = try JSONNumber.scan(bytes, &index)
                } catch {
                    throw SandboxError.invalidInput("not valid JSON: \(error.message)")
                }
                guard index - start <= 400 else { throw SandboxError.invalidInput("not valid JSON: a number of more than 400 characters") }
                // A number no Double can hold is refused, as Foundation refuses it; only one
                // with an exponent or over 300 characters can be that large, so others skip the check.
                if exponent || index - start > 300,
                   !(Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))?.isFinite ?? false) {
                    throw SandboxError.invalidInput("not valid JSON: a number too large for a double")
                }
                return .number(start..<index)
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                throw SandboxError.invalidInput("nested objects and arrays are not part of the event format")
            default:
                throw SandboxError.invalidInput("not valid JSON: unexpected character at byte \(index)")
            }
        }

        mutating func literal(_ word: String) throws {
            for expected in word.utf8 {
                guard next() == expected else { throw SandboxError.invalidInput("not valid JSON: expected \(word)") }
            }
        }

        func decodeString(_ range: Range<Int>, escaped: Bool) throws -> String {
            let slice = UnsafeBufferPointer(rebasing: bytes[range])
            guard escaped else {
                // ASCII cannot be invalid UTF-8, and decoding it is a copy.
                if !slice.contains(where: { $0 >= 0x80 }) {
                    return String(decoding: slice, as: UTF8.self)
                }
                guard let text = String(validating: slice, as: UTF8.self) else {
                    throw SandboxError.invalidInput("a string is not valid UTF-8")
                }
                return text
            }
            var scalars = String.UnicodeScalarView()
            var utf8: [UInt8] = []
            func flush() throws {
                guard !utf8.isEmpty else { return }
                guard let text = String(validating: utf8, as: UTF8.self) else { throw SandboxError.invalidInput("a string is not valid UTF-8") }
                scalars.append(contentsOf: text.unicodeScalars)
                utf8.removeAll(keepingCapacity: true)
            }
            var index = 0
            func hex4() throws -> UInt32 {
                guard index + 4 <= slice.count else { throw SandboxError.invalidInput("not valid JSON: bad \\u escape") }
                var value: UInt32 = 0
                for offset in 0..<4 {
                    guard let digit = hexValue(slice[index + offset]) else { throw SandboxError.invalidInput("not valid JSON: bad \\u escape") }
                    value = value << 4 | digit
                }
                index += 4
                return value
            }
            while index < slice.count {
                let byte = slice[index]
                index += 1
                guard byte == UInt8(ascii: "\\") else { utf8.append(byte); continue }
                try flush()
                guard index < slice.count else { throw SandboxError.invalidInput("not valid JSON: bad escape") }
                let escape = slice[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{8}")
                case UInt8(ascii: "f"): scalars.append("\u{C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard index + 2 <= slice.count, slice[index] == UInt8(ascii: "\\"), slice[index + 1] == UInt8(ascii: "u") else {
                            throw SandboxError.invalidInput("not valid JSON: lone surrogate in \\u escape")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw SandboxError.invalidInput("not valid JSON: lone surrogate in \\u escape") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw SandboxError.invalidInput("not valid JSON: lone surrogate in \\u escape") }
                    scalars.append(scalar)
                default:
                    throw SandboxError.invalidInput("not valid JSON: bad escape")
                }
            }
            try flush()
            return String(scalars)
        }
    }
}

/// The value of one hexadecimal digit, or nil.
func hexValue(_ byte: UInt8) -> UInt32? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
    default: nil
    }
}
