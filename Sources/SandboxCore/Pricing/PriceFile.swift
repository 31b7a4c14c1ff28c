#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Reads a price file: the built-in `prices.json` and users' override files share one format.
///
/// ```json
/// {"models": [
///   {"model": "claude-sonnet-4", "provider": "anthropic", "aliases": ["claude-sonnet-4-20250514"],
///    "input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75, "cache_write_1h": 6,
///    "batch_discount": 0.5,
///    "tiers": [{"above_input_tokens": 200000, "input": 6, "output": 22.5, "cache_read": 0.6, "cache_write": 7.5, "cache_write_1h": 12}],
///    "effective_from": "2025-05-22", "effective_until": null,
///    "source": "https://docs.anthropic.com/en/docs/about-claude/pricing", "checked": "2026-11-22"}
/// ]}
/// ```
/// Prices are dollars per million tokens with at most six decimals; `batch_discount` is the
/// share taken off (0.5 = 50 %). Every error names the file, the line and the field.
enum PriceFile {
    /// A larger price file is refused: 4 MiB is thousands of models.
    static let maximumBytes = 4 << 20

    static let entryFields: Set<String> = [
        "model", "provider", "aliases", "input", "output", "cache_read", "cache_write", "cache_write_1h", "batch_discount",
        "tiers", "effective_from", "effective_until", "source", "checked",
    ]
    static let tierFields: Set<String> = ["above_input_tokens", "input", "output", "cache_read", "cache_write", "cache_write_1h"]

    /// Reads and checks the file at `url` (never through a symbolic link).
    static func load(_ url: URL, origin: PriceEntry.Origin) throws -> [PriceEntry] {
        let bytes = try readRegularFile(url, maximumBytes: maximumBytes, what: "price file")
        return try parse(bytes, name: url.path, origin: origin)
    }

    /// Parses a price file's bytes; `name` is how errors name the file.
    static func parse(_ bytes: [UInt8], name: String, origin: PriceEntry.Origin) throws -> [PriceEntry] {
        let document: PositionedJSON
        do {
            document = try PositionedJSON.parse(bytes)
        } catch {
            throw SandboxError.invalidInput("\(name):\(error.line): not valid JSON: \(error.message)")
        }
        let fail = Fail(file: name)
        guard case .object(let top) = document.value else {
            throw fail(document, "(top level)", "must be an object with a \"models\" array, not \(document.value.typeName)")
        }
        for (key, node) in top where key != "models" && key != "$comment" {
            throw fail(node, "(top level)", "unknown field \(quoted(key)) (expected \"models\")")
        }
        guard let modelsNode = top.first(where: { $0.key == "models" })?.value else {
            throw fail(document, "models", "missing")
        }
        guard case .array(let models) = modelsNode.value else {
            throw fail(modelsNode, "models", "must be an array, not \(modelsNode.value.typeName)")
        }
        return try models.enumerated().map { index, node in
            try entry(node, field: "models[\(index)]", origin: origin, fail: fail)
        }
    }

    /// Makes the error for a mistake at a value: `FILE:LINE: FIELD: MESSAGE`.
    private struct Fail {
        let file: String

        func callAsFunction(_ node: PositionedJSON, _ field: String, _ message: String) -> SandboxError {
            SandboxError.invalidInput("\(file):\(node.line): \(field): \(message)")
        }
    }

    private static func entry(_ node: PositionedJSON, field: String, origin: PriceEntry.Origin, fail: Fail) throws -> PriceEntry {
        guard case .object(let members) = node.value else { throw fail(node, field, "must be an object, not \(node.value.typeName)") }
        for (key, value) in members where !entryFields.contains(key) && !key.hasPrefix("$") {
            throw fail(value, field, "unknown field \(quoted(key))")
        }
        let fields = Fields(members: members, path: field, owner: node, fail: fail)
        let model = try fields.requiredString("model", maximumLength: 200)
        let effectiveFrom = try fields.date("effective_from")
        let effectiveUntil = try fields.date("effective_until")
        if let effectiveFrom, let effectiveUntil, effectiveUntil <= effectiveFrom {
            throw fields.error("effective_until", "must be after effective_from (\(effectiveFrom))")
        }
        var tiers: [PriceEntry.Tier] = []
        if let tiersNode = fields["tiers"] {
            guard case .array(let tierNodes) = tiersNode.value else {
                throw fail(tiersNode, "\(field).tiers", "must be an array, not \(tiersNode.value.typeName)")
            }
            for (index, tierNode) in tierNodes.enumerated() {
                let tierField = "\(field).tiers[\(index)]"
                guard case .object(let tierMembers) = tierNode.value else {
                    throw fail(tierNode, tierField, "must be an object, not \(tierNode.value.typeName)")
                }
                for (key, value) in tierMembers where !tierFields.contains(key) {
                    throw fail(value, tierField, "unknown field \(quoted(key))")
                }
                let tierFields = Fields(members: tierMembers, path: tierField, owner: tierNode, fail: fail)
                let threshold = try tierFields.tokens("above_input_tokens")
                if let previous = tiers.last, threshold <= previous.aboveInputTokens {
                    throw tierFields.error("above_input_tokens", "tiers must be in increasing order of above_input_tokens")
                }
                tiers.append(PriceEntry.Tier(aboveInputTokens: threshold, rates: try tierFields.rates()))
            }
        }
        var entry = PriceEntry(
            model: model,
            provider: try fields.string("provider"),
            aliases: try fields.strings("aliases"),
            rates: try fields.rates(),
            batchDiscountMillionths: try fields.fraction("batch_discount"),
            tiers: tiers,
            effectiveFrom: effectiveFrom,
            effectiveUntil: effectiveUntil,
            source: try fields.string("source"),
            checked: try fields.date("checked"),
            origin: origin
        )
        entry.location = "\(fail.file):\(node.line): \(field): "
        return entry
    }

    /// The members of one object, read field by field with errors that say where.
    private struct Fields {
        let members: [(key: String, value: PositionedJSON)]
        let path: String
        let owner: PositionedJSON
        let fail: Fail

        subscript(key: String) -> PositionedJSON? {
            guard let node = members.first(where: { $0.key == key })?.value else { return nil }
            if case .null = node.value { return nil }
            return node
        }

        func error(_ key: String, _ message: String) -> SandboxError {
            fail(self[key] ?? owner, "\(path).\(key)", message)
        }

        func string(_ key: String, maximumLength: Int = 500) throws -> String? {
            guard let node = self[key] else { return nil }
            guard case .string(let text) = node.value else { throw error(key, "must be a string, not \(node.value.typeName)") }
            do {
                try validateText(text, field: "it", maximumLength: maximumLength)
            } catch let failure as SandboxError {
                throw error(key, failure.description)
            }
            return text
        }

        func requiredString(_ key: String, maximumLength: Int) throws -> String {
            guard let text = try string(key, maximumLength: maximumLength) else { throw error(key, "missing") }
            return text
        }

        func strings(_ key: String) throws -> [String] {
            guard let node = self[key] else { return [] }
            guard case .array(let elements) = node.value else { throw error(key, "must be an array of strings, not \(node.value.typeName)") }
            return try elements.enumerated().map { index, element in
                guard case .string(let text) = element.value, !text.isEmpty, text.utf8.count <= 200, !text.utf8.contains(0) else {
                    throw fail(element, "\(path).\(key)[\(index)]", "must be a non-empty string of at most 200 characters")
                }
                return text
            }
        }

        /// `YYYY-MM-DD`, a real day.
        func date(_ key: String) throws -> String? {
            guard let text = try string(key) else { return nil }
            guard Timestamp.isDay(text) else {
                throw error(key, "must be a day like 2026-11-22, got \(quoted(text))")
            }
            return text
        }

        func price(_ key: String) throws -> Money? {
            guard let node = self[key] else { return nil }
            guard case .number(let text) = node.value else {
                throw error(key, "must be a number of dollars per million tokens, like 3.75, not \(node.value.typeName)")
            }
            let price: Money
            do {
                price = try Money(parsing: text)
            } catch let failure as SandboxError {
                throw error(key, failure.description)
            }
            guard price.micros >= 0, price.micros <= PriceFile.maximumPrice.micros else {
                throw error(key, "must be between 0 and \(PriceFile.maximumPrice.description.dropFirst()) dollars per million tokens, got \(text)")
            }
            return price
        }

        func requiredPrice(_ key: String) throws -> Money {
            guard let price = try price(key) else { throw error(key, "missing") }
            return price
        }

        func rates() throws -> PriceEntry.Rates {
            PriceEntry.Rates(
                input: try requiredPrice("input"), output: try requiredPrice("output"), cacheRead: try price("cache_read"),
                cacheWrite: try price("cache_write"), cacheWrite1h: try price("cache_write_1h")
            )
        }

        func tokens(_ key: String) throws -> Int64 {
            guard let node = self[key] else { throw error(key, "missing") }
            guard case .number(let text) = node.value, let value = Int64(text), value > 0, value <= TokenCounts.maximumPerKind else {
                throw error(key, "must be a whole number of tokens greater than 0")
            }
            return value
        }

        /// A share between 0 and 1 with at most six decimals, in millionths.
        func fraction(_ key: String) throws -> Int64? {
            guard let node = self[key] else { return nil }
            guard case .number(let text) = node.value, let share = try? Money(parsing: text), share.micros >= 0, share.micros <= 1_000_000 else {
                throw error(key, "must be a share between 0 and 1 with at most six decimals, like 0.5 for 50 %")
            }
            return share.micros
        }
    }

    /// The highest price accepted: $100 000 per million tokens.
    static let maximumPrice = Money(micros: 100_000 * Money.microsPerDollar)
}

/// Reads a whole regular file of at most `maximumBytes`, refusing a symbolic link, a folder
/// or a device, with one line that says which.
func readRegularFile(_ url: URL, maximumBytes: Int, what: String) throws -> [UInt8] {
    let path = url.path
    let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else {
        let reason = errno == ELOOP ? "it is a symbolic link" : String(cString: strerror(errno))
        throw SandboxError.fileSystem(path: path, message: "cannot read the \(what): \(reason)")
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
        throw SandboxError.fileSystem(path: path, message: "cannot read the \(what): not a regular file")
    }
    guard Int(info.st_size) <= maximumBytes else {
        throw SandboxError.invalidInput("the \(what) \(path) is too large: \(info.st_size) bytes, at most \(maximumBytes)")
    }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
    var total = 0
    while total < bytes.count {
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
        if count < 0, errno == EINTR { continue }
        guard count >= 0 else {
            throw SandboxError.fileSystem(path: path, message: "cannot read the \(what): \(String(cString: strerror(errno)))")
        }
        if count == 0 { break }
        total += count
    }
    guard total <= maximumBytes else {
        throw SandboxError.invalidInput("the \(what) \(path) is too large: more than \(maximumBytes) bytes")
    }
    return Array(bytes[0..<total])
}
