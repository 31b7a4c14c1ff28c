#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Replaces secrets in a stream of bytes with `[redacted]`, even when a secret is split across
/// chunks: the longest tail of what was seen that could still begin a secret is held back
/// until the next chunk (or `finish()`) decides it.
///
/// Values shorter than `minimumLength` bytes are not treated as secrets: replacing every
/// `1` or `on` in an agent's output would garble it and protect nothing.
public struct Redactor: Sendable {
    public static let replacement = Array("[redacted]".utf8)
    public static let minimumLength = 4

    private let secrets: [[UInt8]]
    private var held: [UInt8] = []

    public init(secrets: [String]) {
        self.secrets = Array(Set(secrets.map { Array($0.utf8) }.filter { $0.count >= Self.minimumLength }))
            .sorted { $0.count > $1.count } // the longest first, so a secret containing another is replaced whole
    }

    public var isEmpty: Bool { secrets.isEmpty }

    /// The part of `chunk` (with what was held back) that is safe to pass on now.
    public mutating func process(_ chunk: Data) -> Data {
        guard !secrets.isEmpty else { return chunk }
        return scan(held + Array(chunk), final: false)
    }

    private mutating func scan(_ bytes: [UInt8], final: Bool) -> Data {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        scan: while index < bytes.count {
            for secret in secrets where bytes[index] == secret[0] {
                if bytes.count - index >= secret.count {
                    if bytes[index..<(index + secret.count)].elementsEqual(secret) {
                        output += Self.replacement
                        index += secret.count
                        continue scan
                    }
                } else if !final, bytes[index...].elementsEqual(secret[..<(bytes.count - index)]) {
                    // What is left could be the start of this secret: hold it back.
                    held = Array(bytes[index...])
                    return Data(output)
                }
            }
            output.append(bytes[index])
            index += 1
        }
        held = []
        return Data(output)
    }

    /// Whatever was held back, at the end of the stream.
    public mutating func finish() -> Data {
        guard !held.isEmpty else { return Data() }
        let rest = held
        held = []
        return scan(rest, final: true)
    }

    /// A one-line message with every secret replaced, and also every start of a secret (8
    /// bytes or more, or half of it) that stands right before an ellipsis: messages cut long
    /// values short, and a cut secret must not show most of itself.
    public func redactMessage(_ text: String) -> String {
        var bytes = redact(Array(text.utf8))
        guard !secrets.isEmpty else { return text }
        let ellipsis = Array("…".utf8)
        var index = 0
        while index + ellipsis.count <= bytes.count {
            guard bytes[index..<(index + ellipsis.count)].elementsEqual(ellipsis) else {
                index += 1
                continue
            }
            for secret in secrets {
                let shortest = min(8, max(1, secret.count / 2))
                for length in stride(from: secret.count - 1, through: shortest, by: -1) where length <= index {
                    if bytes[(index - length)..<index].elementsEqual(secret[..<length]) {
                        bytes.replaceSubrange((index - length)..<index, with: Self.replacement)
                        index += Self.replacement.count - length
                        break
                    }
                }
            }
            index += ellipsis.count
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `text` with every secret replaced (for whole values: a field, an argument).
    public func redact(_ text: String) -> String {
        isEmpty ? text : String(decoding: redact(Array(text.utf8)), as: UTF8.self)
    }

    /// `text` with every secret replaced (for whole values: an event line, a command).
    public func redact(_ text: [UInt8]) -> [UInt8] {
        guard !secrets.isEmpty else { return text }
        var copy = self
        return Array(copy.process(Data(text)) + copy.finish())
    }
}
