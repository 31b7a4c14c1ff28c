import SandboxCore

/// The daily cost and revenue of a project as an inline SVG chart: two lines over the days
/// with records, the y axis from 0 to the largest value. Drawn by novaos, no script.
func dailyChart(_ days: [DailyFigures]) -> HTML {
    guard !days.isEmpty else { return HTML(raw: #"<p class="muted">No usage or revenue recorded yet.</p>"#) }
    let width = 820.0, height = 260.0, left = 70.0, right = 20.0, top = 16.0, bottom = 36.0
    let plotWidth = width - left - right, plotHeight = height - top - bottom
    let largest = max(days.map { max($0.cost.micros, $0.revenue.micros) }.max() ?? 0, 1)
    func x(_ index: Int) -> Double {
        days.count == 1 ? left + plotWidth / 2 : left + plotWidth * Double(index) / Double(days.count - 1)
    }
    func y(_ micros: Int64) -> Double { top + plotHeight * (1 - Double(micros) / Double(largest)) }
    func line(_ values: [Int64], color: String, name: String) -> String {
        let points = values.enumerated().map { "\(format(x($0.offset))),\(format(y($0.element)))" }.joined(separator: " ")
        let dots = values.enumerated().map {
            #"<circle cx="\#(format(x($0.offset)))" cy="\#(format(y($0.element)))" r="3" fill="\#(color)"><title>\#(name) \#(days[$0.offset].day): \#(Money(micros: $0.element))</title></circle>"#
        }.joined()
        return #"<polyline class="series" data-series="\#(name)" fill="none" stroke="\#(color)" stroke-width="2" points="\#(points)"/>"# + dots
    }
    var grid = ""
    for step in 0...4 {
        let value = largest * Int64(step) / 4
        let position = format(y(value))
        grid += ##"<line x1="\##(format(left))" x2="\##(format(width - right))" y1="\##(position)" y2="\##(position)" stroke="#e6e8ec"/>"##
        grid += #"<text x="\#(format(left - 6))" y="\#(position)" text-anchor="end" dominant-baseline="middle">\#(Money(micros: value))</text>"#
    }
    let labels = [0, days.count / 2, days.count - 1].reduce(into: [Int]()) { if !$0.contains($1) { $0.append($1) } }.map { index in
        // The first and last labels keep inside the chart.
        let anchor = days.count == 1 ? "middle" : index == 0 ? "start" : index == days.count - 1 ? "end" : "middle"
        return #"<text x="\#(format(x(index)))" y="\#(format(height - 14))" text-anchor="\#(anchor)">\#(days[index].day)</text>"#
    }.joined()
    let legend = ##"""
        <rect x="\##(format(left))" y="3" width="10" height="10" fill="#d9383a"/><text x="\##(format(left + 14))" y="12">cost</text>
        <rect x="\##(format(left + 60))" y="3" width="10" height="10" fill="#1a7f37"/><text x="\##(format(left + 74))" y="12">revenue</text>
        """##
    return HTML(raw: """
        <svg id="daily-chart" role="img" aria-label="Daily cost and revenue" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" xmlns="http://www.w3.org/2000/svg">
        <title>Daily cost and revenue, \(days.first!.day) to \(days.last!.day)</title>
        \(grid)\(labels)\(legend)
        \(line(days.map(\.cost.micros), color: "#d9383a", name: "cost"))
        \(line(days.map(\.revenue.micros), color: "#1a7f37", name: "revenue"))
        </svg>
        """)
}

private func format(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(abs(tenths % 10))"
}
