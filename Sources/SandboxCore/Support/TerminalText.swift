/// Text from outside (names, paths, URLs, file names from repositories, agents' messages) made
/// safe for a terminal: the one escaping function every text output goes through.
///
/// C0 and C1 controls, ESC, DEL, bidirectional and other format characters (U+202E, U+2066…)
/// and line/paragraph separators are shown as escapes (`\n`, `\t`, `\u{1b}`), so text can
/// neither move the cursor, retitle the window, hide itself nor reorder a line. `--json`
/// output keeps the exact text instead.
public enum TerminalText {
    /// The escape for one scalar, or nil when it is printed as it is.
    @inline(__always)
    static func escape(_ scalar: Unicode.Scalar) -> String? {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        default:
            // Printable ASCII never needs a look at its properties.
            if scalar.value >= 0x20, scalar.value < 0x7F { return nil }
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse:
                return "\\u{\(String(scalar.value, radix: 16))}"
            default:
                return nil
            }
        }
    }

    /// `text` with every unsafe scalar escaped; unchanged when there is none.
    public static func escape(_ text: String) -> String {
        // Printable ASCII, the common case, is looked at byte by byte.
        guard !isPrintableASCII(text), text.unicodeScalars.contains(where: { escape($0) != nil }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if let escaped = escape(scalar) { result += escaped } else { result.unicodeScalars.append(scalar) }
        }
        return result
    }

    /// True when every byte of `text` is printable ASCII (and, with `orNewline`, `\n`): text
    /// that needs no escaping, and whose width on a terminal is its length.
    public static func isPrintableASCII(_ text: String, orNewline: Bool = false) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            bytes.allSatisfy { ($0 >= 0x20 && $0 < 0x7F) || (orNewline && $0 == 0x0A) }
        }
    }

    /// A whole rendered output, made safe as a last pass: line breaks are kept, and so are the
    /// exact sequences in `allowed` (the styles the output itself added, such as `\u{1B}[1m`);
    /// everything else unsafe is escaped, whatever a renderer forgot.
    public static func escapeOutput(_ text: String, allowing allowed: [String] = []) -> String {
        guard !isPrintableASCII(text, orNewline: true),
              text.unicodeScalars.contains(where: { $0 != "\n" && escape($0) != nil }) else { return text }
        let scalars = Array(text.unicodeScalars)
        let sequences = allowed.map { Array($0.unicodeScalars) }
        var result = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\u{1B}", let sequence = sequences.first(where: { index + $0.count <= scalars.count && Array(scalars[index..<(index + $0.count)]) == $0 }) {
                result.append(contentsOf: sequence)
                index += sequence.count
                continue
            }
            if scalar != "\n", let escaped = escape(scalar) {
                result.append(contentsOf: escaped.unicodeScalars)
            } else {
                result.append(scalar)
            }
            index += 1
        }
        return String(result)
    }
}
