import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SandboxCore

/// `--csv` and `--md`, on the commands that print a table.
struct TableFormat: ParsableArguments {
    @Flag(help: "Print the table as CSV (RFC 4180): exact values, plain numbers, for spreadsheets.") var csv = false
    @Flag(help: "Print the table as a Markdown table, for reports.") var md = false

    func validate() throws {
        if csv, md { throw ValidationError("Choose one of --csv and --md.") }
    }

    /// Refuses `--csv` or `--md` with `--json` while parsing (exit 64).
    func check(json: Bool) throws {
        if json, csv || md { throw ValidationError("Choose one of --json, --csv and --md.") }
    }
}

/// A table as `--csv` and `--md` print it: the text table's columns, with exact text and
/// plain numbers (money in dollars as in JSON, dates in ISO 8601).
struct ExportTable {
    var headers: [String]
    var rows: [[String]] = []
    /// Columns of text from outside (names, commands): in CSV, a cell there that a
    /// spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) gets a leading `'`.
    var textColumns: Set<Int> = []

    var csv: String {
        func field(_ value: String, text: Bool) -> String {
            var value = value
            if text, let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { value = "'" + value }
            guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
            return "\"" + value.flatMap { $0 == "\"" ? ["\"", "\""] : [$0] } + "\""
        }
        var lines = [headers.map { field($0, text: false) }.joined(separator: ",")]
        for row in rows {
            lines.append(row.enumerated().map { field($1, text: textColumns.contains($0)) }.joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    var markdown: String {
        // Markdown's own syntax (and HTML, which Markdown passes through) is escaped with a
        // backslash, so a name cannot make a link, an image or a tag in a report.
        let special: Set<Character> = ["\\", "|", "<", ">", "[", "]", "(", ")", "`", "*", "_", "!", "&", "#"]
        func field(_ value: String) -> String {
            String(TerminalText.escape(value).flatMap { special.contains($0) ? ["\\", $0] : [$0] })
        }
        var lines = ["| " + headers.map(field).joined(separator: " | ") + " |"]
        lines.append("|" + String(repeating: " --- |", count: headers.count))
        for row in rows { lines.append("| " + row.map(field).joined(separator: " | ") + " |") }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A result that has a table for `--csv` and `--md`.
protocol TableExportable {
    var exportTable: ExportTable { get }
}

extension CommandContext {
    /// Prints `result` as JSON, CSV, Markdown or text for people.
    func emit<Result: Encodable & TextRenderable & TableExportable>(_ result: Result, json: Bool, format: TableFormat) throws {
        guard format.csv || format.md else { return try emit(result, json: json) }
        if json { throw ValidationError("Choose one of --json, --csv and --md.") }
        writeTable(format.csv ? result.exportTable.csv : result.exportTable.markdown)
    }

    /// CSV and Markdown keep text exact, but not on a terminal, where control characters
    /// are shown escaped as everywhere else.
    func writeTable(_ text: String) {
        guard stdoutIsTerminal else { return writeOutput(text) }
        // Line by line, so CSV's CRLF line ends stay line ends.
        let lines = text.components(separatedBy: "\r\n")
        writeOutput(lines.map { TerminalText.escapeOutput($0, allowing: []) }.joined(separator: "\r\n"))
    }
}

func plain(_ money: Money?) -> String { money?.jsonNumber ?? "" }
func plain(_ date: Date?) -> String { date.map(Timestamp.text) ?? "" }
func plain(_ value: Double) -> String { plainDecimal(value) }

extension ProjectList: TableExportable {
    static let exportHeaders = ["id", "name", "status", "active_agents", "total_agents", "tokens_used", "total_cost", "budget", "budget_used_percent",
                                "total_revenue", "profit", "roi", "created_at", "expires_at", "kill_reason"]

    static func exportCells(_ project: ProjectSummary) -> [String] {
        let metrics = project.metrics
        return [project.id.rawValue, project.name, project.status.rawValue, String(metrics.activeAgents), String(metrics.totalAgents),
                String(metrics.tokensUsed), plain(metrics.totalCost), plain(project.budget), project.budgetUsedPercent.map(plain) ?? "",
                plain(metrics.totalRevenue), plain(metrics.profit), plain(metrics.roi), plain(project.createdAt), plain(project.expiresAt),
                project.killReason?.rawValue ?? ""]
    }

    var exportTable: ExportTable { ExportTable(headers: Self.exportHeaders, rows: projects.map(Self.exportCells), textColumns: [1]) }
}

extension ProjectDetail: TableExportable {
    /// The project's agents.
    var exportTable: ExportTable {
        ExportTable(
            headers: ["id", "name", "type", "status", "pause_reason", "tokens_used", "token_budget", "budget_used_percent", "total_cost",
                      "total_revenue", "profit", "roi", "deployed_at"],
            rows: agents.map {
                [$0.id.rawValue, $0.name, $0.type, $0.status.rawValue, $0.pauseReason?.rawValue ?? "", String($0.tokensUsed), String($0.tokenBudget),
                 plain($0.budgetUsedPercent), plain($0.totalCost), plain($0.totalRevenue), plain($0.profit), plain($0.roi), plain($0.deployedAt)]
            },
            textColumns: [1]
        )
    }
}

extension RunList: TableExportable {
    var exportTable: ExportTable {
        ExportTable(
            headers: ["id", "agent_id", "started_at", "ended_at", "stop_reason", "exit_code", "signal", "events", "rejected_events", "tokens_used",
                      "cost", "revenue", "isolation", "command", "log"],
            rows: runs.map {
                [String($0.id), $0.agentID.rawValue, plain($0.startedAt), plain($0.endedAt), $0.stopReason?.rawValue ?? "", $0.exitCode.map(String.init) ?? "",
                 $0.signal.map(String.init) ?? "", String($0.events), String($0.rejectedEvents), String($0.tokensUsed), plain($0.cost), plain($0.revenue),
                 $0.isolation.rawValue, $0.command.joined(separator: " "), $0.log]
            },
            textColumns: [13, 14]
        )
    }
}

extension ExperimentList: TableExportable {
    var exportTable: ExportTable {
        ExportTable(
            headers: ["id", "project_id", "name", "hypothesis", "success", "started_at", "completed_at", "config", "results"],
            rows: experiments.map {
                [String($0.id), $0.projectID.rawValue, $0.name, $0.hypothesis, $0.success.map { $0 ? "true" : "false" } ?? "", plain($0.startedAt),
                 plain($0.completedAt), $0.config.jsonText, $0.results == .null ? "" : $0.results.jsonText]
            },
            textColumns: [2, 3, 7, 8]
        )
    }
}

extension ProductionAgentList: TableExportable {
    var exportTable: ExportTable {
        ExportTable(
            headers: ["slot", "state", "id", "name", "type", "status", "token_budget", "promoted_from_project", "promoted_from_agent", "deployed_at"],
            rows: agents.map {
                [$0.slot ?? "", $0.state?.rawValue ?? "", $0.id.rawValue, $0.name, $0.type, $0.status.rawValue, String($0.tokenBudget),
                 $0.promotedFrom?.projectID.rawValue ?? "", $0.promotedFrom?.sandboxAgentID.rawValue ?? "", plain($0.deployedAt)]
            },
            textColumns: [0, 3]
        )
    }
}

extension RepositoryList: TableExportable {
    var exportTable: ExportTable {
        ExportTable(
            headers: ["id", "name", "repository_type", "status", "branch", "experiments_count", "total_commits", "last_activity", "url", "project_id"],
            rows: repositories.map {
                [$0.id, $0.name, $0.repositoryType.rawValue, $0.status, $0.branch, String($0.experimentsCount), String($0.totalCommits),
                 plain($0.lastActivity), $0.url ?? "", $0.projectID?.rawValue ?? ""]
            },
            textColumns: [1, 4, 8]
        )
    }
}

extension Comparison: TableExportable {
    /// One row per column compared, the baseline first, with the differences and intervals.
    var exportTable: ExportTable {
        let figureNames = ["total_cost", "total_revenue", "profit", "roi", "tokens_used", "usage_events", "revenue_events",
                           "cost_per_1k_tokens", "revenue_per_event"]
        var table = ExportTable(headers: ["id", "name", "baseline"] + figureNames + figureNames.map { $0 + "_difference" } + [
            "roi_low", "roi_high", "roi_verdict", "revenue_per_event_low", "revenue_per_event_high", "revenue_per_event_verdict",
        ], textColumns: [1])
        func cells(_ figures: Figures?) -> [String] {
            guard let figures else { return Array(repeating: "", count: figureNames.count) }
            return [plain(figures.totalCost), plain(figures.totalRevenue), plain(figures.profit), plain(figures.roi), String(figures.tokensUsed),
                    String(figures.usageEvents), String(figures.revenueEvents), plain(figures.costPer1kTokens), plain(figures.revenuePerEvent)]
        }
        for column in columns {
            let figures = column.figures
            func interval(_ value: Interval?) -> [String] {
                guard let value else { return ["", "", ""] }
                return [value.low.map(plain) ?? "", value.high.map(plain) ?? "", value.verdict.rawValue]
            }
            table.rows.append(
                [column.id, column.name, column.id == baseline ? "true" : "false"] + cells(figures) + cells(column.difference)
                    + interval(column.confidence?.roi) + interval(column.confidence?.revenuePerEvent)
            )
        }
        return table
    }
}

extension PriceList: TableExportable {
    /// Dollars per million tokens.
    var exportTable: ExportTable {
        ExportTable(
            headers: ["id", "model", "provider", "input", "output", "cache_read", "cache_write", "cache_write_1h", "batch_discount", "effective_from",
                      "effective_until", "in_force", "origin"],
            rows: prices.map { listing in
                let entry = listing.entry
                let origin: String = switch entry.origin {
                case .builtIn: "built-in"
                case .override(let path): "override:" + path
                }
                return [entry.id, entry.model, entry.provider ?? "", plain(entry.rates.input), plain(entry.rates.output), plain(entry.rates.cacheRead),
                        plain(entry.rates.cacheWrite), plain(entry.rates.cacheWrite1h), entry.batchDiscountMillionths.map { plain(Double($0) / 1_000_000) } ?? "",
                        entry.effectiveFrom ?? "", entry.effectiveUntil ?? "", listing.inForce ? "true" : "false", origin]
            },
            textColumns: [0, 1, 2, 12]
        )
    }
}

extension SnapshotList: TableExportable {
    var exportTable: ExportTable {
        ExportTable(
            headers: ["id", "name", "project_id", "project_name", "taken_at", "agents", "usage_events", "revenue_events", "runs", "experiments",
                      "evaluations", "workspace_entries", "skipped_entries", "bytes", "path"],
            rows: snapshots.map {
                [$0.id, $0.name ?? "", $0.projectID.rawValue, $0.projectName, plain($0.takenAt), String($0.agents), String($0.usageEvents),
                 String($0.revenueEvents), String($0.runs), String($0.experiments), String($0.evaluations), String($0.workspaceEntries),
                 String($0.skippedEntries), String($0.bytes), $0.path]
            },
            textColumns: [1, 3, 14]
        )
    }
}
