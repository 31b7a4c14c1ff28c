#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SandboxCore

extension ProductionMetrics: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        let place = slot.map { " (\(state?.rawValue ?? "-") in slot \(cell($0)))" } ?? ""
        var table = TextTable(
            headers: ["PERIOD", "USAGE EVENTS", "REVENUE EVENTS", "TOKENS", "COST", "REVENUE", "PROFIT", "ROI"], rightAligned: [1, 2, 3, 4, 5, 6, 7]
        )
        table.rows.append(figureCells("production \(formatDate(from)) to \(formatDate(to))", production))
        if let sandbox { table.rows.append(figureCells("sandbox (whole period)", sandbox)) }
        var lines = [style.bold("Agent \(agentID)") + place, table.render(style)]
        if sandbox == nil { lines.append("No sandbox figures: the agent was promoted before production kept them.") }
        return lines.joined(separator: "\n")
    }
}

private func figureCells(_ label: String, _ figures: LedgerFigures) -> [String] {
    [label, groupedDigits(figures.usageEvents), groupedDigits(figures.revenueEvents), formatTokens(figures.tokens), figures.cost.description,
     figures.revenue.description, figures.profit.description, formatPercent(figures.roi)]
}

extension AgentGuardrails: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        let subject = "Guardrails of \(agentID)" + (slot.map { " (slot \(cell($0)))" } ?? "")
        var lines = [style.bold(subject) + ": " + policy.summary]
        if previous != nil {
            lines.append(changes.isEmpty ? "Nothing changed." : "Changed: " + changes.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}

extension CheckReport: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        guard !checks.isEmpty else { return "No live production agents to check." }
        var table = TextTable(headers: ["SLOT", "AGENT", "VERDICT", "EVENTS", "ROI", "FAILS", "ACTION", "WHY"], rightAligned: [3, 4])
        table.rows = checks.map { check in
            let verdict = switch check.verdict {
            case .pass: style.green("pass")
            case .fail: style.red("fail")
            case .inconclusive: style.yellow("inconclusive")
            }
            let action = switch check.action {
            case .none: "-"
            case .rolledBack: style.red("rolled back") + (check.liveAfter.map { ", \($0.rawValue) live" } ?? ", slot empty")
            case .wouldRollBack: style.red("would roll back")
            }
            return [cell(check.slot), check.agentID.rawValue, verdict, groupedDigits(check.measured.usageEvents), formatPercent(check.measured.roi),
                    "\(check.consecutiveFailures)/\(check.policy.failureLimit)", action, cell(check.reason, limit: 90)]
        }
        let heading = (dryRun ? "Dry run at " : "Checked at ") + formatDate(checkedAt)
            + ": \(passed) pass, \(failed) fail, \(inconclusive) inconclusive" + (rolledBack.isEmpty ? "" : ", \(rolledBack.count) rolled back")
            + (wouldRollBack.isEmpty ? "" : ", \(wouldRollBack.count) would be rolled back")
            + (dryRun ? " (nothing stored or changed)" : "")
        return heading + "\n" + table.render(style)
    }
}

extension SlotChange: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        guard changed else { return "Agent \(agentID) is already \(state.rawValue); nothing changed." }
        let verb = kind == .rollback ? "Rolled back" : "Retired"
        let next = liveAfter.map { liveAfter == liveBefore ? "\($0.rawValue) stays live" : "\($0.rawValue) is live again" } ?? "the slot is empty"
        return "\(verb) \(agentID) (was \(previousState.rawValue)) in slot \(cell(slot)): \(next). History #\(eventID.map(String.init) ?? "-")."
    }
}
