#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
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

    /// The document for `value`, as `SandboxJSON.encoder(pretty:)` would write it; like it,
    /// refuses a value that encodes nothing.
    public func encode<Value: Encodable>(_ value: Value) throws -> [UInt8] {
        guard let node = try TreeEncoder.nodeIfEncoded(for: value, codingPath: []) else {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "Top-level \(Value.self) did not encode any values."))
        }
        var output: [UInt8] = []
        write(node, to: &output, depth: 0)
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
            if pretty { JSONWriter.append("\n  ", to: &buffer) }
            JSONWriter.appendString(key, to: &buffer)
            JSONWriter.append(pretty ? " : [" : ":[", to: &buffer)
        }

        public mutating func element<Value: Encodable>(_ value: Value) throws {
            startElement()
            try writer.append(value, to: &buffer, depth: 2)
            try endElement()
        }

        /// The same bytes for a value that writes its own members, at a fraction of the cost.
        public mutating func element<Value: JSONObjectWritable>(_ value: Value) throws {
            startElement()
            var object = Object(depth: 2, pretty: writer.pretty)
            swap(&object.output, &buffer)
            try object.write(value.writeMembers)
            swap(&object.output, &buffer)
            try endElement()
        }

        private mutating func startElement() {
            JSONWriter.separate(first: count == 0, depth: 2, pretty: writer.pretty, to: &buffer)
        }

        private mutating func endElement() throws {
            count += 1
            if buffer.count >= bufferSize {
                try flush(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }

        /// Closes the array and the object, with a final newline, and flushes.
        public mutating func finish() throws {
            JSONWriter.close(UInt8(ascii: "]"), isEmpty: count == 0, depth: 1, pretty: writer.pretty, to: &buffer)
            JSONWriter.append(writer.pretty ? "\n}\n" : "}\n", to: &buffer)
            try flush(buffer)
            buffer.removeAll()
        }
    }

    // MARK: Writing the tree

    fileprivate func write(_ node: Node, to output: inout [UInt8], depth: Int) {
        switch node {
        case .literal(var text):
            text.withUTF8 { output.append(contentsOf: $0) }
        case .string(let text):
            JSONWriter.appendString(text, to: &output)
        case .array(let box):
            output.append(UInt8(ascii: "["))
            for (index, item) in box.items.enumerated() {
                JSONWriter.separate(first: index == 0, depth: depth + 1, pretty: pretty, to: &output)
                write(item, to: &output, depth: depth + 1)
            }
            JSONWriter.close(UInt8(ascii: "]"), isEmpty: box.items.isEmpty, depth: depth, pretty: pretty, to: &output)
        case .object(let box):
            output.append(UInt8(ascii: "{"))
            // Keys in the order of their UTF-8 bytes, as `JSONEncoder`'s `.sortedKeys`; of a key
            // given twice, the last value.
            let order = box.members.indices.sorted {
                let order = JSONWriter.compareUTF8(box.members[$0].key, box.members[$1].key)
                return order != 0 ? order < 0 : $0 < $1
            }
            var written = 0
            for (position, index) in order.enumerated() {
                let member = box.members[index]
                if position + 1 < order.count, box.members[order[position + 1]].key == member.key { continue }
                JSONWriter.separate(first: written == 0, depth: depth + 1, pretty: pretty, to: &output)
                written += 1
                JSONWriter.appendString(member.key, to: &output)
                JSONWriter.append(pretty ? " : " : ":", to: &output)
                write(member.value, to: &output, depth: depth + 1)
            }
            JSONWriter.close(UInt8(ascii: "}"), isEmpty: written == 0, depth: depth, pretty: pretty, to: &output)
        }
    }

    /// `memcmp` of the UTF-8 of `a` and `b`: negative, zero or positive.
    static func compareUTF8(_ a: String, _ b: String) -> Int {
        var a = a, b = b
        return a.withUTF8 { left in
            b.withUTF8 { right in
                let common = min(left.count, right.count)
                if common > 0, let l = left.baseAddress, let r = right.baseAddress {
                    let order = memcmp(l, r, common)
                    if order != 0 { return Int(order) }
                }
                return left.count - right.count
            }
        }
    }

    /// Before a member or element: the comma after the one before, then (pretty) its own line.
    static func separate(first: Bool, depth: Int, pretty: Bool, to output: inout [UInt8]) {
        if !first { output.append(UInt8(ascii: ",")) }
        if pretty { newline(depth: depth, to: &output) }
    }

    /// Closes an array or object as `JSONEncoder` does: (pretty) on a line of its own at
    /// `depth`, after an empty line when it holds nothing.
    static func close(_ bracket: UInt8, isEmpty: Bool, depth: Int, pretty: Bool, to output: inout [UInt8]) {
        if pretty {
            if isEmpty { output.append(UInt8(ascii: "\n")) }
            newline(depth: depth, to: &output)
        }
        output.append(bracket)
    }

    static func newline(depth: Int, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\n"))
        var remaining = depth * 2
        while remaining > 0 {
            let count = min(remaining, JSONWriter.spaces.count)
            JSONWriter.spaces.withUnsafeBufferPointer { output.append(contentsOf: UnsafeBufferPointer(rebasing: $0[..<count])) }
            remaining -= count
        }
    }

    private static let spaces = [UInt8](repeating: UInt8(ascii: " "), count: 64)

    /// Appends the bytes of a literal without going through `String.UTF8View`.
    static func append(_ text: StaticString, to output: inout [UInt8]) {
        output.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
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
                case UInt8(ascii: "\""): JSONWriter.append(#"\""#, to: &output)
                case UInt8(ascii: "\\"): JSONWriter.append(#"\\"#, to: &output)
                case 0x08: JSONWriter.append(#"\b"#, to: &output)
                case 0x0C: JSONWriter.append(#"\f"#, to: &output)
                case 0x0A: JSONWriter.append(#"\n"#, to: &output)
                case 0x0D: JSONWriter.append(#"\r"#, to: &output)
                case 0x09: JSONWriter.append(#"\t"#, to: &output)
                default:
                    let hex: StaticString = "0123456789abcdef"
                    JSONWriter.append(#"\u00"#, to: &output)
                    output.append(hex.utf8Start[Int(byte >> 4)])
                    output.append(hex.utf8Start[Int(byte & 0x0F)])
                }
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        output.append(UInt8(ascii: "\""))
    }
}

// MARK: - Objects that write themselves

/// A value that writes its own JSON object, for the rows of long lists, where the generic
/// encoder's cost per value shows. It must write its members in sorted key order and the
/// same bytes as its `Encodable` conformance does through `JSONEncoder`;
/// `JSONWriterTests` compares the two.
public protocol JSONObjectWritable: Encodable {
    func writeMembers(_ object: inout JSONWriter.Object) throws
}

extension JSONWriter {
    /// The members of one JSON object being written, keys in sorted order.
    public struct Object {
        var output: [UInt8] = []
        let depth: Int
        let pretty: Bool
        private var count = 0
        private var lastKey: StaticString?

        init(depth: Int, pretty: Bool) {
            self.depth = depth
            self.pretty = pretty
        }

        /// `{`, the members `body` writes, `}`, as `JSONEncoder` lays them out.
        mutating func write(_ body: (inout Object) throws -> Void) throws {
            output.append(UInt8(ascii: "{"))
            var inner = Object(depth: depth + 1, pretty: pretty)
            swap(&inner.output, &output)
            try body(&inner)
            swap(&inner.output, &output)
            JSONWriter.close(UInt8(ascii: "}"), isEmpty: inner.count == 0, depth: depth, pretty: pretty, to: &output)
        }

        private mutating func key(_ key: StaticString) {
            if let lastKey {
                assert(JSONWriter.compareUTF8(lastKey.description, key.description) < 0, "keys out of order: \(lastKey) before \(key)")
            }
            lastKey = key
            JSONWriter.separate(first: count == 0, depth: depth, pretty: pretty, to: &output)
            count += 1
            output.append(UInt8(ascii: "\""))
            output.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
            JSONWriter.append(pretty ? "\" : " : "\":", to: &output)
        }

        private mutating func literal(_ text: String) {
            var text = text
            text.withUTF8 { output.append(contentsOf: $0) }
        }

        public mutating func member(_ key: StaticString, _ value: String) {
            self.key(key)
            JSONWriter.appendString(value, to: &output)
        }

        /// nil as `null`.
        public mutating func member(_ key: StaticString, _ value: String?) {
            self.key(key)
            guard let value else { return literal("null") }
            JSONWriter.appendString(value, to: &output)
        }

        public mutating func member(_ key: StaticString, _ value: Int64) {
            self.key(key)
            literal(String(value))
        }

        public mutating func member(_ key: StaticString, _ value: Int) {
            self.key(key)
            literal(String(value))
        }

        /// Money as its exact decimal number of dollars; nil as `null`.
        public mutating func member(_ key: StaticString, _ value: Money?) {
            self.key(key)
            literal(value?.jsonNumber ?? "null")
        }

        /// nil as `null`; a number JSON cannot hold is refused, as `JSONEncoder` refuses it.
        public mutating func member(_ key: StaticString, _ value: Double?) throws {
            self.key(key)
            guard let value else { return literal("null") }
            literal(try TreeEncoder.spell(value, codingPath: []))
        }

        /// A date as `SandboxJSON` writes dates: ISO 8601 in UTC, whole seconds.
        public mutating func member(_ key: StaticString, _ value: Date) {
            self.key(key)
            JSONWriter.appendString(Timestamp.text(value), to: &output)
        }

        /// nil as `null`.
        public mutating func member(_ key: StaticString, _ value: Date?) {
            self.key(key)
            guard let value else { return literal("null") }
            JSONWriter.appendString(Timestamp.text(value), to: &output)
        }

        public mutating func member(_ key: StaticString, object body: (inout Object) throws -> Void) throws {
            self.key(key)
            try write(body)
        }
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

    /// Appends; a key encoded twice keeps its last value when written, as with `JSONEncoder`.
    func set(_ key: String, _ value: Node) {
        members.append((key, value))
    }

    /// The object last set under `key`, which a second nested container for the key fills
    /// further, as with `JSONEncoder`.
    func object(forKey key: String) -> ObjectBox? {
        guard let member = members.last(where: { $0.key == key }), case .object(let box) = member.value else { return nil }
        return box
    }

    func array(forKey key: String) -> ArrayBox? {
        guard let member = members.last(where: { $0.key == key }), case .array(let box) = member.value else { return nil }
        return box
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
        // A nested value that encoded nothing is an empty object, as `JSONEncoder` writes it.
        try nodeIfEncoded(for: value, codingPath: codingPath) ?? .object(ObjectBox())
    }

    static func nodeIfEncoded<Value: Encodable>(for value: Value, codingPath: [any CodingKey]) throws -> Node? {
        if let node = try scalar(value, codingPath: codingPath) { return node }
        let encoder = TreeEncoder(codingPath: codingPath)
        try value.encode(to: encoder)
        return encoder.result
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
        case ObjectIdentifier(Data.self): .string(unsafeBitCast(value, to: Data.self).base64EncodedString())
        case ObjectIdentifier(Int128.self): .literal(String(unsafeBitCast(value, to: Int128.self)))
        case ObjectIdentifier(UInt128.self): .literal(String(unsafeBitCast(value, to: UInt128.self)))
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
        guard number.isFinite else { throw nonFinite(number, codingPath) }
        let text = number.description
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    static func nonFinite(_ number: some BinaryFloatingPoint, _ codingPath: [any CodingKey]) -> EncodingError {
        EncodingError.invalidValue(number, .init(codingPath: codingPath, debugDescription: "\(number) is not valid in JSON"))
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
        guard value.isFinite else { throw TreeEncoder.nonFinite(value, codingPath + [key]) }
        box.set(key.stringValue, .literal(try TreeEncoder.spell(value, codingPath: codingPath)))
    }

    /// The coding path of nested values stops at this container: it only names where a
    /// number that JSON cannot hold was, and growing an array for every value costs more
    /// than writing it.
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        box.set(key.stringValue, try TreeEncoder.node(for: value, codingPath: codingPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = box.object(forKey: key.stringValue) ?? ObjectBox()
        box.set(key.stringValue, .object(nested))
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(box: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = box.array(forKey: key.stringValue) ?? ArrayBox()
        box.set(key.stringValue, .array(nested))
        return UnkeyedContainer(box: nested, codingPath: codingPath + [key])
    }

    /// A super-encoder that encodes nothing still leaves `{}` under its key, as with `JSONEncoder`.
    mutating func superEncoder() -> any Encoder {
        box.set("super", .object(ObjectBox()))
        return TreeEncoder(codingPath: codingPath) { [box] in box.set("super", $0) }
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        box.set(key.stringValue, .object(ObjectBox()))
        return TreeEncoder(codingPath: codingPath + [key]) { [box] in box.set(key.stringValue, $0) }
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
