#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Writes `Encodable` values as JSON: byte for byte what `SandboxJSON.encoder()` writes
/// (sorted keys, two-space indentation, `" : "`, unescaped slashes, ISO 8601 dates), but
/// money straight from its integer micro-units (never through `Decimal`), and a list one
/// element at a time (`ListWriter`), so a document of any length needs the memory of one
/// element.
///
/// Encoding builds a small tree of each value (sorting keys needs all of an object's keys),
/// then writes it; `JSONWriterTests` checks the bytes against `JSONEncoder` for every result
/// type the command line prints.
public struct JSONWriter: Sendable {
    public var pretty: Bool

    public init(pretty: Bool = true) {
        self.pretty = pretty
    }

    /// The document for `value`, as `SandboxJSON.encoder(pretty:)` would write it.
    public func encode<Value: Encodable>(_ value: Value) throws -> [UInt8] {
        var output: [UInt8] = []
        try append(value, to: &output, depth: 0)
        return output
    }

    /// Appends `value` to `output`, indented as if it were nested `depth` levels deep.
    public func append<Value: Encodable>(_ value: Value, to output: inout [UInt8], depth: Int) throws {
        let node = try TreeEncoder.node(for: value, codingPath: [])
        write(node, to: &output, depth: depth)
    }

    /// Writes `{"key": [elements…]}` one element at a time: call `element` for each, then
    /// `finish`. `flush` receives the text whenever `bufferSize` bytes are waiting, and at
    /// the end.
    public struct ListWriter {
        private let writer: JSONWriter
        private var buffer: [UInt8] = []
        private var count = 0
        private let bufferSize: Int
        private let flush: ([UInt8]) throws -> Void

        public init(key: String, pretty: Bool = true, bufferSize: Int = 64 << 10, flush: @escaping ([UInt8]) throws -> Void) {
            self.writer = JSONWriter(pretty: pretty)
            self.bufferSize = bufferSize
            self.flush = flush
            buffer.reserveCapacity(bufferSize + 4096)
            buffer.append(UInt8(ascii: "{"))
            if pretty { buffer.append(contentsOf: "\n  ".utf8) }
            JSONWriter.appendString(key, to: &buffer)
            buffer.append(contentsOf: pretty ? " : [".utf8 : ":[".utf8)
        }

        public mutating func element<Value: Encodable>(_ value: Value) throws {
            if count > 0 { buffer.append(UInt8(ascii: ",")) }
            if writer.pretty { writer.newline(depth: 2, to: &buffer) }
            try writer.append(value, to: &buffer, depth: 2)
            count += 1
            if buffer.count >= bufferSize {
                try flush(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }

        /// Closes the array and the object, with a final newline, and flushes.
        public mutating func finish() throws {
            if writer.pretty {
                if count == 0 { buffer.append(UInt8(ascii: "\n")) }
                writer.newline(depth: 1, to: &buffer)
                buffer.append(contentsOf: "]\n}\n".utf8)
            } else {
                buffer.append(contentsOf: "]}\n".utf8)
            }
            try flush(buffer)
            buffer.removeAll()
        }
    }

    // MARK: Writing the tree

    fileprivate func write(_ node: Node, to output: inout [UInt8], depth: Int) {
        switch node {
        case .literal(let text):
            output.append(contentsOf: text.utf8)
        case .string(let text):
            JSONWriter.appendString(text, to: &output)
        case .array(let box):
            output.append(UInt8(ascii: "["))
            if box.items.isEmpty {
                if pretty {
                    output.append(UInt8(ascii: "\n"))
                    newline(depth: depth, to: &output)
                }
            } else {
                for (index, item) in box.items.enumerated() {
                    if index > 0 { output.append(UInt8(ascii: ",")) }
                    if pretty { newline(depth: depth + 1, to: &output) }
                    write(item, to: &output, depth: depth + 1)
                }
                if pretty { newline(depth: depth, to: &output) }
            }
            output.append(UInt8(ascii: "]"))
        case .object(let box):
            output.append(UInt8(ascii: "{"))
            if box.members.isEmpty {
                if pretty {
                    output.append(UInt8(ascii: "\n"))
                    newline(depth: depth, to: &output)
                }
            } else {
                // Keys in the order of their UTF-8 bytes, as `JSONEncoder`'s `.sortedKeys`.
                let members = box.members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                for (index, member) in members.enumerated() {
                    if index > 0 { output.append(UInt8(ascii: ",")) }
                    if pretty { newline(depth: depth + 1, to: &output) }
                    JSONWriter.appendString(member.key, to: &output)
                    output.append(contentsOf: pretty ? " : ".utf8 : ":".utf8)
                    write(member.value, to: &output, depth: depth + 1)
                }
                if pretty { newline(depth: depth, to: &output) }
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    fileprivate func newline(depth: Int, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\n"))
        for _ in 0..<depth { output.append(contentsOf: "  ".utf8) }
    }

    /// A JSON string: quotes, backslashes and control characters escaped (short forms where
    /// JSON has them, `\u00xx` otherwise); everything else, `/` included, as its UTF-8.
    static func appendString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var start = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                start = index + 1
                switch byte {
                case UInt8(ascii: "\""): output.append(contentsOf: #"\""#.utf8)
                case UInt8(ascii: "\\"): output.append(contentsOf: #"\\"#.utf8)
                case 0x08: output.append(contentsOf: #"\b"#.utf8)
                case 0x0C: output.append(contentsOf: #"\f"#.utf8)
                case 0x0A: output.append(contentsOf: #"\n"#.utf8)
                case 0x0D: output.append(contentsOf: #"\r"#.utf8)
                case 0x09: output.append(contentsOf: #"\t"#.utf8)
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    output.append(contentsOf: #"\u00"#.utf8)
                    output.append(hex[Int(byte >> 4)])
                    output.append(hex[Int(byte & 0x0F)])
                }
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        output.append(UInt8(ascii: "\""))
    }
}

// MARK: - The tree

/// One encoded value. Arrays and objects are boxes, so a container handed out by the
/// encoder can still be filled after it was placed in its parent.
fileprivate enum Node {
    /// A number, `true`, `false` or `null`, already spelled.
    case literal(String)
    case string(String)
    case array(ArrayBox)
    case object(ObjectBox)
}

fileprivate final class ArrayBox {
    var items: [Node] = []
}

fileprivate final class ObjectBox {
    var members: [(key: String, value: Node)] = []

    /// A key encoded twice keeps its last value, as with `JSONEncoder`.
    func set(_ key: String, _ value: Node) {
        if let index = members.firstIndex(where: { $0.key == key }) {
            members[index].value = value
        } else {
            members.append((key, value))
        }
    }
}

/// The `Encoder` that builds a `Node`. A super-encoder reports its value through `placed`.
fileprivate final class TreeEncoder: Encoder {
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    private let placed: ((Node) -> Void)?
    private(set) var result: Node? {
        didSet { if let result { placed?(result) } }
    }

    init(codingPath: [any CodingKey] = [], placed: ((Node) -> Void)? = nil) {
        self.codingPath = codingPath
        self.placed = placed
    }

    static func node<Value: Encodable>(for value: Value, codingPath: [any CodingKey]) throws -> Node {
        if let node = try scalar(value, codingPath: codingPath) { return node }
        let encoder = TreeEncoder(codingPath: codingPath)
        try value.encode(to: encoder)
        // A value that encoded nothing is an empty object, as `JSONEncoder` writes it.
        return encoder.result ?? .object(ObjectBox())
    }

    /// The values written directly rather than asked to encode themselves: money (from its
    /// micro-units), and what `JSONEncoder` special-cases (dates, decimals, URLs). Compared
    /// by type, not cast: a dynamic cast per value would cost more than the writing.
    static func scalar<Value: Encodable>(_ value: Value, codingPath: [any CodingKey]) throws -> Node? {
        switch ObjectIdentifier(Value.self) {
        case ObjectIdentifier(String.self): .string(unsafeBitCast(value, to: String.self))
        case ObjectIdentifier(Money.self): .literal(unsafeBitCast(value, to: Money.self).jsonNumber)
        case ObjectIdentifier(Int.self): .literal(String(unsafeBitCast(value, to: Int.self)))
        case ObjectIdentifier(Int64.self): .literal(String(unsafeBitCast(value, to: Int64.self)))
        case ObjectIdentifier(Bool.self): .literal(unsafeBitCast(value, to: Bool.self) ? "true" : "false")
        case ObjectIdentifier(Double.self): .literal(try spell(unsafeBitCast(value, to: Double.self), codingPath: codingPath))
        case ObjectIdentifier(Date.self): .string(Timestamp.text(unsafeBitCast(value, to: Date.self)))
        case ObjectIdentifier(Decimal.self): .literal(unsafeBitCast(value, to: Decimal.self).description)
        case ObjectIdentifier(URL.self): .string(unsafeBitCast(value, to: URL.self).absoluteString)
        // The other primitives encode themselves through a single-value container, whose
        // default forwards here: they must stop here too.
        case ObjectIdentifier(UInt64.self): .literal(String(unsafeBitCast(value, to: UInt64.self)))
        case ObjectIdentifier(UInt.self): .literal(String(unsafeBitCast(value, to: UInt.self)))
        case ObjectIdentifier(Int32.self): .literal(String(unsafeBitCast(value, to: Int32.self)))
        case ObjectIdentifier(UInt32.self): .literal(String(unsafeBitCast(value, to: UInt32.self)))
        case ObjectIdentifier(Int16.self): .literal(String(unsafeBitCast(value, to: Int16.self)))
        case ObjectIdentifier(UInt16.self): .literal(String(unsafeBitCast(value, to: UInt16.self)))
        case ObjectIdentifier(Int8.self): .literal(String(unsafeBitCast(value, to: Int8.self)))
        case ObjectIdentifier(UInt8.self): .literal(String(unsafeBitCast(value, to: UInt8.self)))
        case ObjectIdentifier(Float.self): .literal(try spell(unsafeBitCast(value, to: Float.self), codingPath: codingPath))
        default: nil
        }
    }

    /// A `Double` as `JSONEncoder` spells it: Swift's shortest form without a trailing `.0`.
    static func spell<Number: BinaryFloatingPoint & CustomStringConvertible>(_ number: Number, codingPath: [any CodingKey]) throws -> String {
        guard number.isFinite else {
            throw EncodingError.invalidValue(number, .init(codingPath: codingPath, debugDescription: "\(number) is not valid in JSON"))
        }
        let text = number.description
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    func place(_ node: Node) {
        result = node
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let box: ObjectBox
        if case .object(let existing)? = result {
            box = existing
        } else {
            box = ObjectBox()
            result = .object(box)
        }
        return KeyedEncodingContainer(KeyedContainer<Key>(box: box, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let box: ArrayBox
        if case .array(let existing)? = result {
            box = existing
        } else {
            box = ArrayBox()
            result = .array(box)
        }
        return UnkeyedContainer(box: box, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleContainer(encoder: self)
    }
}

fileprivate struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let box: ObjectBox
    var codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { box.set(key.stringValue, .literal("null")) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { box.set(key.stringValue, .literal(value ? "true" : "false")) }
    mutating func encode(_ value: String, forKey key: Key) throws { box.set(key.stringValue, .string(value)) }
    mutating func encode(_ value: Int, forKey key: Key) throws { box.set(key.stringValue, .literal(String(value))) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { box.set(key.stringValue, .literal(String(value))) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        box.set(key.stringValue, .literal(try TreeEncoder.spell(value, codingPath: codingPath + [key])))
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        box.set(key.stringValue, try TreeEncoder.node(for: value, codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = ObjectBox()
        box.set(key.stringValue, .object(nested))
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(box: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = ArrayBox()
        box.set(key.stringValue, .array(nested))
        return UnkeyedContainer(box: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        TreeEncoder(codingPath: codingPath) { [box] in box.set("super", $0) }
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        TreeEncoder(codingPath: codingPath + [key]) { [box] in box.set(key.stringValue, $0) }
    }
}

fileprivate struct UnkeyedContainer: UnkeyedEncodingContainer {
    let box: ArrayBox
    var codingPath: [any CodingKey]
    var count: Int { box.items.count }

    mutating func encodeNil() throws { box.items.append(.literal("null")) }
    mutating func encode(_ value: String) throws { box.items.append(.string(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        box.items.append(try TreeEncoder.node(for: value, codingPath: codingPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = ObjectBox()
        box.items.append(.object(nested))
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(box: nested, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = ArrayBox()
        box.items.append(.array(nested))
        return UnkeyedContainer(box: nested, codingPath: codingPath)
    }

    mutating func superEncoder() -> any Encoder {
        let index = box.items.count
        box.items.append(.object(ObjectBox()))
        return TreeEncoder(codingPath: codingPath) { [box] in box.items[index] = $0 }
    }
}

fileprivate struct SingleContainer: SingleValueEncodingContainer {
    let encoder: TreeEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { encoder.place(.literal("null")) }
    mutating func encode(_ value: String) throws { encoder.place(.string(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        encoder.place(try TreeEncoder.node(for: value, codingPath: codingPath))
    }
}
