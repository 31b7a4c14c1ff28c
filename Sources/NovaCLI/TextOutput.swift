#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SandboxCore

/// How text output may be decorated.
struct TextStyle {
    var color: Bool

    /// Every sequence the styles below write: the only escape sequences output may keep.
    static let sequences = ["\u{1B}[1m", "\u{1B}[0m", "\u{1B}[31m", "\u{1B}[32m", "\u{1B}[33m"]

    func bold(_ text: String) -> String { color ? "\u{1B}[1m\(text)\u{1B}[0m" : text }
    func green(_ text: String) -> String { color ? "\u{1B}[32m\(text)\u{1B}[0m" : text }
    func red(_ text: String) -> String { color ? "\u{1B}[31m\(text)\u{1B}[0m" : text }
    func yellow(_ text: String) -> String { color ? "\u{1B}[33m\(text)\u{1B}[0m" : text }
}

/// A result that renders itself as text for people.
protocol TextRenderable {
    func renderText(_ style: TextStyle) -> String
}

/// Makes user text safe for one table cell or line: control and formatting characters
/// (newlines, tabs, escape sequences, bidirectional marks) are shown escaped, so they can
/// neither break the layout nor reorder it, and long text is cut with an ellipsis.
func cell(_ text: String, limit: Int = 40) -> String {
    if text.utf8.count <= limit, TerminalText.isPrintableASCII(text) { return text }
    var result = ""
    var count = 0
    for scalar in text.unicodeScalars {
        let piece = TerminalText.escape(String(scalar))
        result += piece
        count += piece.unicodeScalars.count
        if count > limit {
            return String(result.prefix(limit - 1)) + "…"
        }
    }
    return result
}

/// Aligned columns with a header row. Numbers are right-aligned.
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []
    /// Per column: true when right-aligned (looked up per cell, so an array, not a set).
    private let alignedRight: [Bool]

    init(headers: [String], rows: [[String]] = [], rightAligned: Set<Int> = []) {
        self.headers = headers
        self.rows = rows
        self.alignedRight = headers.indices.map(rightAligned.contains)
    }

    func render(_ style: TextStyle) -> String {
        var widths = headers.map(\.count)
        for row in rows { widths = self.widths(adding: row, to: widths) }
        var lines = [style.bold(line(headers, widths: widths))]
        lines += rows.map { line($0, widths: widths) }
        return lines.joined(separator: "\n")
    }

    /// `widths` grown to fit `row`, as it will be printed.
    func widths(adding row: [String], to widths: [Int]) -> [Int] {
        var widths = widths
        for (index, value) in row.enumerated() where index < widths.count {
            widths[index] = max(widths[index], printable(value).width)
        }
        return widths
    }

    /// One row padded to `widths`. Every cell is escaped here, whatever its caller did: a
    /// table never prints raw text.
    func line(_ values: [String], widths: [Int]) -> String {
        var line: [UInt8] = []
        line.reserveCapacity(widths.reduce(2 * widths.count, +))
        for (index, raw) in values.enumerated() {
            var (value, width) = printable(raw)
            let padding = repeatElement(UInt8(ascii: " "), count: max(0, widths[index] - width))
            if index > 0 { line.append(contentsOf: [UInt8(ascii: " "), UInt8(ascii: " ")]) }
            let right = index < alignedRight.count && alignedRight[index]
            if right { line.append(contentsOf: padding) }
            value.withUTF8 { line.append(contentsOf: $0) }
            // The last column is not padded: no trailing spaces.
            if !right, index < values.count - 1 { line.append(contentsOf: padding) }
        }
        while line.last == UInt8(ascii: " ") { line.removeLast() }
        return String(decoding: line, as: UTF8.self)
    }
}

/// `key: value` lines with the values aligned.
func keyValues(_ pairs: [(String, String)]) -> String {
    let width = pairs.map(\.0.count).max() ?? 0
    return pairs.map { key, value in
        "  " + key + ":" + String(repeating: " ", count: width - key.count + 1) + TerminalText.escape(value)
    }.joined(separator: "\n")
}

/// A cell as printed (escaped) and the columns it takes: its characters, or its bytes for
/// printable ASCII, which is looked at once and needs no escaping.
func printable(_ raw: String) -> (text: String, width: Int) {
    if TerminalText.isPrintableASCII(raw) { return (raw, raw.utf8.count) }
    let escaped = TerminalText.escape(raw)
    return (escaped, escaped.count)
}

extension String {
    /// Without the white space (spaces, tabs, no-break spaces, line ends) at either end.
    func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}

func formatDate(_ date: Date?) -> String {
    // Not an ISO8601DateFormatter per row: building one costs about 600k instructions.
    date.map(Timestamp.text) ?? "-"
}

func formatPercent(_ value: Double) -> String {
    fixedDigits(value, 2) + "%"
}

func formatTokens(_ value: Int64) -> String {
    groupedDigits(value)
}
