import SandboxCore

/// HTML built as text, every piece of outside text escaped on its way in.
public struct HTML: Sendable, CustomStringConvertible {
    public private(set) var description: String

    init(raw: String) { description = raw }

    /// Text, escaped: `&`, `<`, `>`, `"` and `'` become entities, and control characters
    /// (which a browser would show or swallow) become `\u{…}` as in the terminal.
    static func text(_ value: String) -> HTML {
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default:
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator:
                    escaped += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                default:
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return HTML(raw: escaped)
    }
}

extension String.StringInterpolation {
    /// `"\(html: piece)"`: an already built piece, as is.
    mutating func appendInterpolation(html piece: HTML) { appendLiteral(piece.description) }
    /// `"\(text: value)"`: outside text, escaped.
    mutating func appendInterpolation(text value: String) { appendLiteral(HTML.text(value).description) }
}

/// The frame of every page: one self-contained document, styles inline, no script, nothing
/// fetched from anywhere.
func page(title: String, body: String) -> HTML {
    HTML(raw: """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(text: title) · novaos</title>
        <style>
        body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
        header { background: #1d2330; color: #fff; padding: 10px 24px; display: flex; gap: 20px; align-items: baseline; }
        header a { color: #c8d3ff; text-decoration: none; } header strong { font-size: 16px; }
        main { padding: 16px 24px 40px; max-width: 1200px; }
        h1 { font-size: 20px; margin: 8px 0 12px; } h2 { font-size: 16px; margin: 24px 0 8px; }
        table { border-collapse: collapse; background: #fff; width: 100%; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
        th, td { padding: 6px 10px; border-bottom: 1px solid #e6e8ec; text-align: left; white-space: nowrap; }
        th { background: #eef0f4; font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
        td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
        .cards { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 8px; }
        .card { background: #fff; padding: 10px 14px; min-width: 130px; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
        .card b { display: block; font-size: 18px; } .card span { color: #667; font-size: 12px; }
        .bar { background: #e6e8ec; height: 8px; width: 100px; display: inline-block; vertical-align: middle; }
        .bar i { background: #3b6ef5; height: 8px; display: block; } .bar i.over { background: #d9383a; }
        .pos { color: #1a7f37; } .neg { color: #d9383a; } .muted { color: #889; }
        .tag { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px; background: #eef0f4; }
        .tag.pass, .tag.active, .tag.live { background: #dcf5e3; } .tag.fail, .tag.killed, .tag.rolled_back { background: #fde2e2; }
        svg text { font: 11px system-ui, sans-serif; fill: #667; }
        </style>
        </head>
        <body>
        <header><strong>novaos</strong><a href="/">Projects</a><a href="/production">Production</a></header>
        <main>
        \(body)
        </main>
        </body>
        </html>
        """)
}

func money(_ value: Money) -> String { value.description }

func percent(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let sign = hundredths < 0 ? "-" : ""
    let magnitude = abs(hundredths)
    let fraction = magnitude % 100
    return "\(sign)\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)%"
}

func signed(_ value: Money) -> String { value.micros < 0 ? "neg" : value.micros > 0 ? "pos" : "muted" }
