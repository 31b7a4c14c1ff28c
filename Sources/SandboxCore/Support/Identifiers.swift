#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A project's ID: `prj_` followed by 8 lowercase hex digits.
///
/// Validated on construction, so a `ProjectID` is always safe to use as a folder name.
public struct ProjectID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(_ text: String) throws {
        guard isPrefixedHex(text, prefix: "prj_", digits: 8) else {
            throw SandboxError.invalidID(kind: "project", value: text, expected: "prj_ followed by 8 lowercase hex digits")
        }
        rawValue = text
    }

    static func random() -> ProjectID { ProjectID(unchecked: "prj_" + randomHex(digits: 8)) }
    init(unchecked text: String) { rawValue = text }

    public var description: String { rawValue }
    public init(from decoder: any Decoder) throws { try self.init(decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// An agent's ID: `agt_` + 12 lowercase hex digits in the sandbox, `prd_` + 16 in production.
public struct AgentID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(_ text: String) throws {
        guard isPrefixedHex(text, prefix: "agt_", digits: 12) || isPrefixedHex(text, prefix: "prd_", digits: 16) else {
            throw SandboxError.invalidID(kind: "agent", value: text, expected: "agt_ followed by 12 lowercase hex digits")
        }
        rawValue = text
    }

    static func randomSandbox() -> AgentID { AgentID(unchecked: "agt_" + randomHex(digits: 12)) }
    static func randomProduction() -> AgentID { AgentID(unchecked: "prd_" + randomHex(digits: 16)) }
    init(unchecked text: String) { rawValue = text }

    /// True for an agent that lives in the production database.
    public var isProduction: Bool { rawValue.hasPrefix("prd_") }

    public var description: String { rawValue }
    public init(from decoder: any Decoder) throws { try self.init(decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// Parses an experiment ID: a positive decimal integer.
public func parseExperimentID(_ text: String) throws -> Int64 {
    guard !text.isEmpty, text.count <= 18, text.allSatisfy({ $0.isASCII && $0.isNumber }),
          let value = Int64(text), value > 0
    else {
        throw SandboxError.invalidID(kind: "experiment", value: text, expected: "a positive integer")
    }
    return value
}

private func isPrefixedHex(_ text: String, prefix: String, digits: Int) -> Bool {
    let utf8 = text.utf8
    guard utf8.count == prefix.utf8.count + digits, text.hasPrefix(prefix) else { return false }
    return utf8.dropFirst(prefix.utf8.count).allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
}

func randomHex(digits: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    let alphabet = Array("0123456789abcdef")
    return String((0..<digits).map { _ in alphabet[Int(generator.next(upperBound: UInt8(16)))] })
}
