import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SandboxCore

extension SandboxCommand {
    struct Compare: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "compare",
            abstract: "Compare projects (or, with --agents, agents) side by side; the first is the baseline.",
            discussion: """
                Each other column shows its difference to the baseline and, for ROI and revenue per usage event, \
                a 95% confidence interval of that difference (percentile bootstrap over the recorded events, \
                2,000 resamples, fixed seed) with a verdict: better, worse or inconclusive (the interval contains 0, \
                or a side has fewer than 20 events). Exit status 3 with --fail-on-worse when a column is significantly worse.
                """
        )

        @Flag(help: "Compare agents (agt_...) instead of projects.") var agents = false
        @Flag(name: .customLong("fail-on-worse"), help: "Exit 3 when any column is significantly worse than the baseline (for CI gates).")
        var failOnWorse = false
        @Argument(help: ArgumentHelp("Two to 20 projects (or agents: IDs or PROJECT_ID/NAME), the baseline first.", valueName: "id")) var ids: [String] = []
        @OptionGroup var format: TableFormat
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try format.check(json: global.json)
            guard ids.count >= 2 else { throw ValidationError("Give at least two \(agents ? "agents" : "projects") to compare, the baseline first.") }
            guard ids.count <= 20 else { throw ValidationError("Compare at most 20 at once, not \(ids.count).") }
            guard Set(ids).count == ids.count else { throw ValidationError("Each one to compare may be named once.") }
        }

        func execute(in context: CommandContext) throws {
            let references = agents ? try ids.map(AgentReference.init) : []
            let projects = agents ? [] : try ids.map(ProjectID.init)
            let sandbox = try global.sandbox(in: context)
            let comparison = agents
                ? try sandbox.compare(agents: try references.map(sandbox.agentID(for:)))
                : try sandbox.compare(projects: projects)
            try context.emit(comparison, json: global.json, format: format)
            if failOnWorse, comparison.worse { throw ExitCode(3) }
        }
    }
}

extension Comparison: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        func money(_ value: Money?) -> String { value?.description ?? "-" }
        func signed(_ value: Money?) -> String { value.map { $0.micros > 0 ? "+\($0)" : $0.description } ?? "-" }
        func signed(_ value: Int64) -> String { value > 0 ? "+\(groupedDigits(value))" : groupedDigits(value) }
        func signedPercent(_ value: Double) -> String { (value > 0 ? "+" : "") + formatPercent(value) }
        let rows: [(String, (Figures) -> String, (Figures) -> String)] = [
            ("cost", { money($0.totalCost) }, { signed($0.totalCost) }),
            ("revenue", { money($0.totalRevenue) }, { signed($0.totalRevenue) }),
            ("profit", { money($0.profit) }, { signed($0.profit) }),
            ("ROI", { formatPercent($0.roi) }, { signedPercent($0.roi) }),
            ("tokens", { formatTokens($0.tokensUsed) }, { signed($0.tokensUsed) }),
            ("usage events", { groupedDigits($0.usageEvents) }, { signed($0.usageEvents) }),
            ("revenue events", { groupedDigits($0.revenueEvents) }, { signed($0.revenueEvents) }),
            ("cost / 1k tokens", { money($0.costPer1kTokens) }, { signed($0.costPer1kTokens) }),
            ("revenue / event", { money($0.revenuePerEvent) }, { signed($0.revenuePerEvent) }),
        ]
        var headers = [""]
        for (index, column) in columns.enumerated() {
            headers.append(cell(column.id) + (index == 0 ? " (baseline)" : ""))
            if index > 0 { headers.append("Δ") }
        }
        var table = TextTable(headers: headers, rightAligned: Set(1..<headers.count))
        for (label, value, change) in rows {
            var line = [label]
            for column in columns {
                line.append(value(column.figures))
                if let difference = column.difference { line.append(change(difference)) }
            }
            table.rows.append(line)
        }
        var lines = [style.bold("Compared \(kind)") + ": " + columns.map { "\($0.id) \(cell($0.name))" }.joined(separator: ", "), table.render(style)]
        lines.append("")
        lines.append("Against the baseline, 95% confidence (bootstrap, \(groupedDigits(Int64(resamples))) resamples, seed \(seed)):")
        func describe(_ interval: Interval, unit: String, format: (Double) -> String) -> String {
            let verdict = switch interval.verdict {
            case .better: style.green("better")
            case .worse: style.red("worse")
            case .inconclusive: style.yellow("inconclusive")
            }
            guard let difference = interval.difference else { return "\(verdict) (\(interval.note ?? "not measurable"))" }
            let bounds = interval.low.flatMap { low in interval.high.map { "[\(format(low)), \(format($0))]" } } ?? "-"
            return "\(format(difference))\(unit) \(bounds) \(verdict)" + (interval.note.map { " (\($0))" } ?? "")
        }
        for column in columns.dropFirst() {
            guard let confidence = column.confidence else { continue }
            lines.append("  \(column.id): ROI " + describe(confidence.roi, unit: " pts") { fixedDigits($0, 2) }
                + "; revenue/event " + describe(confidence.revenuePerEvent, unit: "") { Money(micros: Int64(($0 * 1_000_000).rounded())).description })
        }
        return lines.joined(separator: "\n")
    }
}
