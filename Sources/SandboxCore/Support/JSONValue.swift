#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Any JSON value. Used for agent and experiment configurations and results, which are
/// the user's own documents: kept as given, shown back as given.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The largest JSON document accepted for a configuration or result: 1 MiB.
    public static let maximumDocumentBytes = 1 << 20

    /// Parses `text`, which must be one JSON object of at most 1 MiB.
    ///
    /// - Parameter what: how to name the document in an error message (`--config`, say).
    public static func parseObject(_ text: String, what: String) throws -> [String: JSONValue] {
        try parseObject(text, what: what, maximumBytes: maximumDocumentBytes)
    }

    static func parseObject(_ text: String, what: String, maximumBytes: Int) throws -> [String: JSONValue] {
        guard text.utf8.count <= maximumBytes else {
            throw SandboxError.invalidInput("\(what) is too large: \(text.utf8.count) bytes, at most \(maximumBytes) (\(maximumBytes >> 20) MiB)")
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw SandboxError.invalidInput("\(what) is not valid JSON: \(firstLine(of: error))")
        }
        guard case .object(let object) = value else {
            throw SandboxError.invalidInput("\(what) must be a JSON object, like {\"key\": \"value\"}")
        }
        return object
    }

    /// The document as compact JSON with sorted keys.
    public var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "null"
    }

    /// Parses stored JSON that is known to be valid; `.null` when it is not.
    /// A value as its JSON document reads (for history details).
    init(encoding value: some Encodable) throws {
        self = Self.decodeStored(String(decoding: try JSONWriter(pretty: false).encode(value), as: UTF8.self))
    }

    static func decodeStored(_ text: String?) -> JSONValue {
        guard let text else { return .null }
        return (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .null
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let integer = try? container.decode(Int64.self) {
            self = .integer(integer)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

func firstLine(of error: any Error) -> String {
    if let reason = systemReason(of: error) { return reason }
    var text = "\(error)"
    if let decoding = error as? DecodingError {
        switch decoding {
        case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            text = context.underlyingError.map { "\($0)" } ?? context.debugDescription
        @unknown default: break
        }
    }
    return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
}

/// The operating system's own words for a file-system error that Foundation wrapped
/// (`Not a directory`, `Permission denied`), never an `NSError` dump; nil for other errors.
func systemReason(of error: any Error) -> String? {
    var current: (any Error)? = error
    var depth = 0
    while let error = current, depth < 8 {
        if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        current = (error as? CocoaError)?.underlying
        depth += 1
    }
    guard let cocoa = error as? CocoaError else { return nil }
    switch cocoa.code {
    case .fileNoSuchFile, .fileReadNoSuchFile: return String(cString: strerror(ENOENT))
    case .fileWriteNoPermission, .fileReadNoPermission: return String(cString: strerror(EACCES))
    case .fileWriteOutOfSpace: return String(cString: strerror(ENOSPC))
    case .fileWriteFileExists: return String(cString: strerror(EEXIST))
    case .fileWriteVolumeReadOnly: return String(cString: strerror(EROFS))
    default: return "file operation failed (code \(cocoa.code.rawValue))"
    }
}

/// The path a wrapped file-system error is about, when Foundation says.
func failingPath(of error: any Error) -> String? {
    (error as? CocoaError)?.filePath
}
