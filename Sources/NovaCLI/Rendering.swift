#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SandboxCore

extension Project: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var pairs = [
            ("id", id.rawValue), ("name", cell(name, limit: 200)), ("description", cell(description, limit: 200)),
            ("status", status.rawValue), ("workspace", workspace), ("created", formatDate(createdAt)),
        ]
        if let budget { pairs.append(("budget", budget.description)) }
        if let expiresAt { pairs.append(("expires", formatDate(expiresAt) + (deleteOnExpiry ? ", deleting its workspace" : ""))) }
        if let killReason { pairs.append(("kill reason", killReason.rawValue)) }
        return style.bold("Project \(id)") + "\n" + keyValues(pairs)
    }
}

extension Agent: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        style.bold("Agent \(id)") + "\n" + keyValues([
            ("project", projectID.rawValue), ("type", type), ("name", cell(name, limit: 200)), ("status", status.rawValue),
            ("token budget", formatTokens(tokenBudget)), ("config", cell(config.jsonText, limit: 200)),
            ("deployed", formatDate(deployedAt)),
        ])
    }
}

extension UsageRecord: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var tokens = "\(formatTokens(inputTokens)) in + \(formatTokens(outputTokens)) out"
        if cacheReadTokens > 0 { tokens += " + \(formatTokens(cacheReadTokens)) cache read" }
        if cacheWriteTokens > 0 { tokens += " + \(formatTokens(cacheWriteTokens)) cache write" + (cacheTTL == .oneHour ? " (1h)" : "") }
        return "Recorded usage #\(id) for \(agentID): \(cell(model)) \(cell(operation))\(batch ? " (batch)" : ""), "
            + "\(tokens) = \(formatTokens(totalTokens)) tokens, cost \(cost) (\(cell(priceSource, limit: 120)))"
    }
}

extension RevenueRecord: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        "Recorded revenue #\(id) for \(agentID): \(amount) from \(cell(source))"
    }
}

private func experimentState(_ experiment: Experiment) -> String {
    switch experiment.success {
    case nil: "running"
    case true?: "succeeded"
    case false?: "failed"
    }
}

extension Experiment: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        style.bold("Experiment \(id)") + "\n" + keyValues([
            ("project", projectID.rawValue), ("name", cell(name, limit: 200)), ("hypothesis", cell(hypothesis, limit: 200)),
            ("state", experimentState(self)), ("config", cell(config.jsonText, limit: 200)),
            ("results", results == .null ? "-" : cell(results.jsonText, limit: 200)),
            ("started", formatDate(startedAt)), ("completed", formatDate(completedAt)),
        ])
    }
}

func experimentTable(_ experiments: [Experiment]) -> TextTable {
    var table = TextTable(headers: ["ID", "NAME", "STATE", "STARTED", "COMPLETED"], rightAligned: [0])
    table.rows = experiments.map {
        [String($0.id), cell($0.name), experimentState($0), formatDate($0.startedAt), formatDate($0.completedAt)]
    }
    return table
}

extension ExperimentList: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        experiments.isEmpty ? "No experiments." : experimentTable(experiments).render(style)
    }
}

extension ProjectList: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        guard !projects.isEmpty else { return Self.empty }
        var table = Self.table
        table.rows = projects.map(Self.cells)
        return table.render(style)
    }

    static let empty = "No projects."

    static let table = TextTable(
        headers: ["ID", "NAME", "STATUS", "AGENTS", "TOKENS", "COST", "CAP USED", "REVENUE", "ROI", "CREATED", "EXPIRES"],
        rightAligned: [3, 4, 5, 6, 7, 8]
    )

    static func cells(_ project: ProjectSummary) -> [String] {
        let metrics = project.metrics
        return [
            project.id.rawValue, cell(project.name), project.status.rawValue + (project.killReason == .expired ? " (expired)" : ""),
            "\(metrics.activeAgents)/\(metrics.totalAgents)", formatTokens(metrics.tokensUsed),
            metrics.totalCost.description,
            project.budget.map { budgetUsed(project.budgetUsedPercent ?? 0, over: metrics.totalCost >= $0) } ?? "-", metrics.totalRevenue.description,
            formatPercent(metrics.roi), formatDate(project.createdAt), formatDate(project.expiresAt),
        ]
    }
}

private func metricPairs(_ metrics: Metrics) -> [(String, String)] {
    [
        ("agents", "\(metrics.activeAgents) active of \(metrics.totalAgents)"), ("tokens used", formatTokens(metrics.tokensUsed)),
        ("cost", metrics.totalCost.description), ("revenue", metrics.totalRevenue.description),
        ("profit", metrics.profit.description), ("roi", formatPercent(metrics.roi)),
    ]
}

extension ProjectDetail: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var pairs = [
            ("name", cell(name, limit: 200)), ("description", cell(description, limit: 200)), ("status", status.rawValue),
            ("workspace", workspace), ("created", formatDate(createdAt)), ("promoted", formatDate(promotedAt)),
        ]
        if let killedAt { pairs.append(("killed", formatDate(killedAt) + (killReason.map { " (\($0.rawValue))" } ?? ""))) }
        if let expiresAt, status == .active {
            pairs.append(("expires", formatDate(expiresAt) + (deleteOnExpiry ? ", deleting its workspace" : "")))
        }
        if let budget { pairs.append(("budget", "\(budget), \(budgetUsed(budgetUsedPercent ?? 0, over: metrics.totalCost >= budget)) used")) }
        pairs += metricPairs(metrics)
        if let lastEvaluation {
            pairs.append(("last evaluation", "\(lastEvaluation.recommendation.rawValue) at \(formatDate(lastEvaluation.evaluatedAt))"))
        } else {
            pairs.append(("last evaluation", "-"))
        }
        if promotionPending {
            pairs.append(("promotion", "interrupted; run 'novaos sandbox promote \(id)' to finish it"))
        }
        var text = style.bold("Project \(id)") + "\n" + keyValues(pairs) + "\n\n"
        if agents.isEmpty {
            text += "No agents.\n"
        } else {
            var table = TextTable(
                headers: ["AGENT", "NAME", "TYPE", "STATUS", "TOKENS", "BUDGET", "USED", "COST", "REVENUE", "ROI"],
                rightAligned: [4, 5, 6, 7, 8, 9]
            )
            table.rows = agents.map {
                [$0.id.rawValue, cell($0.name), $0.type, $0.status.rawValue + ($0.pauseReason.map { " (\($0.rawValue))" } ?? ""),
                 formatTokens($0.tokensUsed), formatTokens($0.tokenBudget), budgetUsed($0.budgetUsedPercent, over: $0.isOverBudget),
                 $0.totalCost.description, $0.totalRevenue.description, formatPercent($0.roi)]
            }
            text += table.render(style) + "\n"
        }
        text += "\n" + (experiments.isEmpty ? "No experiments." : experimentTable(experiments).render(style))
        if !runs.isEmpty {
            text += "\n\n" + runTable(runs).render(style)
        }
        if !repositories.isEmpty {
            var table = TextTable(headers: ["REPOSITORY", "NAME", "TYPE", "BRANCH", "PATH"])
            table.rows = repositories.map { [$0.id, $0.name, $0.repositoryType.rawValue, $0.branch, $0.path] }
            text += "\n\n" + table.render(style)
        }
        return text
    }
}

extension SandboxStatus: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        style.bold("Sandbox") + "\n" + keyValues([
            ("projects", "\(totalProjects) (\(activeProjects) active, \(promotedProjects) promoted, \(killedProjects) killed)"),
            ("agents", "\(totalAgents) (\(activeAgents) active)"),
            ("cost", totalCost.description), ("revenue", totalRevenue.description),
        ])
    }
}

private func colored(_ recommendation: Recommendation, _ style: TextStyle) -> String {
    switch recommendation {
    case .stronglyRecommend, .recommend: style.green(recommendation.rawValue)
    case .consider: style.yellow(recommendation.rawValue)
    case .notReady: style.red(recommendation.rawValue)
    }
}

extension Evaluation: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var table = TextTable(headers: ["CRITERION", "PASS", "VALUE", "THRESHOLD"], rightAligned: [2, 3])
        let rows: [(String, Criterion, (Double) -> String)] = [
            ("positive_roi", criteria.positiveROI, formatPercent),
            ("profitable", criteria.profitable, { "$" + fixedDigits($0, 2) }),
            ("has_active_agents", criteria.hasActiveAgents, { String(Int($0)) }),
            ("has_sufficient_data", criteria.hasSufficientData, { "$" + fixedDigits($0, 2) }),
        ]
        table.rows = rows.map { name, criterion, format in
            [name, criterion.pass ? "yes" : "no", format(criterion.value), format(criterion.threshold)]
        }
        return style.bold("Evaluation of \(projectID): ") + colored(recommendation, style) + "\n"
            + "  \(reason)\n\n" + table.render(style) + "\n\n" + keyValues(metricPairs(metrics) + [("evaluated", formatDate(evaluatedAt))])
            + warnings.map { "\n! \($0)" }.joined()
    }
}

extension PromotionResult: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        let verb = status == .promoted ? "Promoted" : "Dry run: would promote"
        var text = style.bold("\(verb) \(projectID)") + ": \(colored(evaluation.recommendation, style)), \(agentsMigrated) agent(s) to production\n"
        if !migratedAgents.isEmpty {
            var table = TextTable(headers: ["SANDBOX AGENT", "PRODUCTION AGENT", "SLOT", "NAME", "TYPE", "ROI"], rightAligned: [5])
            table.rows = migratedAgents.map {
                [$0.sandboxID.rawValue, status == .promoted ? $0.productionID.rawValue : "(new)", cell($0.slot), cell($0.name), $0.type, formatPercent($0.roi)]
            }
            text += "\n" + table.render(style) + "\n"
        }
        if !skippedAgents.isEmpty {
            var table = TextTable(headers: ["STAYS BEHIND", "REASON"])
            table.rows = skippedAgents.map { [$0.sandboxID.rawValue, cell($0.reason, limit: 100)] }
            text += "\n" + table.render(style) + "\n"
        }
        return text
    }
}

extension SweepResult: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        guard !expired.isEmpty else { return "No project has expired." }
        return expired.map {
            "Expired \($0.projectID) (\(cell($0.name, limit: 200))) at \(formatDate($0.expiresAt)): \($0.agentsKilled) agent(s) killed"
                + ($0.workspaceDeleted ? ", workspace deleted" : "")
        }.joined(separator: "\n")
    }
}

extension KillResult: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        "Killed \(projectID): \(agentsKilled) agent(s) killed" + (workspaceDeleted ? ", workspace deleted" : "")
    }
}

extension ProductionAgentList: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        guard !agents.isEmpty else { return "No production agents." }
        var table = TextTable(headers: ["SLOT", "STATE", "ID", "NAME", "TYPE", "STATUS", "BUDGET", "FROM PROJECT", "FROM AGENT", "DEPLOYED"], rightAligned: [6])
        table.rows = agents.map(productionAgentCells)
        return table.render(style)
    }
}

func productionAgentCells(_ agent: ProductionAgent) -> [String] {
    [cell(agent.slot ?? "-"), agent.state?.rawValue ?? "-", agent.id.rawValue, cell(agent.name), agent.type, agent.status.rawValue,
     formatTokens(agent.tokenBudget), agent.promotedFrom?.projectID.rawValue ?? "-", agent.promotedFrom?.sandboxAgentID.rawValue ?? "-",
     formatDate(agent.deployedAt)]
}

func productionEventCells(_ event: ProductionEvent) -> [String] {
    [String(event.id), formatDate(event.at), event.kind, cell(event.slot ?? "-"), event.agentID?.rawValue ?? "-",
     event.previousAgentID?.rawValue ?? "-", cell(event.actor), cell(event.reason, limit: 60)]
}

let productionEventHeaders = ["#", "AT", "KIND", "SLOT", "AGENT", "PREVIOUS", "BY", "WHY"]

extension SlotDetail: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var lines = [style.bold("Slot \(TerminalText.escape(slot))") + ": " + (live.map { "\($0.rawValue) live" } ?? "empty (no live version)")]
        var versions = TextTable(headers: ["SLOT", "STATE", "ID", "NAME", "TYPE", "STATUS", "BUDGET", "FROM PROJECT", "FROM AGENT", "DEPLOYED"], rightAligned: [6])
        versions.rows = self.versions.map(productionAgentCells)
        lines += ["", "Versions, newest first:", versions.render(style)]
        if !events.isEmpty {
            var history = TextTable(headers: productionEventHeaders, rightAligned: [0])
            history.rows = events.map(productionEventCells)
            lines += ["", "History:", history.render(style)]
        }
        let learned = events.compactMap(learnedLines).flatMap { $0 }
        if !learned.isEmpty {
            lines += ["", "What each version brought from the sandbox:"] + learned
        }
        return lines.joined(separator: "\n")
    }
}

/// The evaluation and completed experiments a promotion carried (`details.learned`), as lines.
private func learnedLines(_ event: ProductionEvent) -> [String]? {
    guard event.kind == "promotion", case .object(let details) = event.details, case .object(let learned)? = details["learned"],
          let agent = event.agentID else { return nil }
    var lines = ["  \(agent.rawValue):"]
    if case .object(let evaluation)? = learned["evaluation"], case .string(let recommendation)? = evaluation["recommendation"] {
        var roi = ""
        if case .object(let metrics)? = evaluation["metrics"] {
            switch metrics["roi"] {
            case .number(let value)?: roi = ", ROI " + formatPercent(value)
            case .integer(let value)?: roi = ", ROI " + formatPercent(Double(value))
            default: break
            }
        }
        lines.append("    evaluation \(TerminalText.escape(recommendation))\(roi)")
    }
    if case .array(let experiments)? = learned["experiments"] {
        for case .object(let experiment) in experiments {
            guard case .string(let name)? = experiment["name"] else { continue }
            let outcome = experiment["success"] == .bool(true) ? "succeeded" : "failed"
            var line = "    experiment \(cell(name)): \(outcome)"
            if case .string(let hypothesis)? = experiment["hypothesis"], !hypothesis.isEmpty { line += " (\(cell(hypothesis, limit: 60)))" }
            lines.append(line)
        }
    }
    return lines.count > 1 ? lines : nil
}

extension ProductionHistory: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        guard !events.isEmpty else { return "No changes to production." }
        var table = TextTable(headers: productionEventHeaders, rightAligned: [0])
        table.rows = events.map(productionEventCells)
        var lines = [table.render(style)]
        let learned = events.compactMap(learnedLines).flatMap { $0 }
        if !learned.isEmpty {
            lines += ["", "What each promotion brought from the sandbox:"] + learned
        }
        return lines.joined(separator: "\n")
    }
}

extension ImportSummary: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        let verb = committed ? "Imported" : "Rejected"
        return "\(verb) \(source == "-" ? "standard input" : cell(source, limit: 200)): \(new) new event(s) (\(usageEvents) usage, \(revenueEvents) revenue), "
            + "\(duplicate) duplicate(s) skipped, \(rejected) rejected; \(formatTokens(tokens)) tokens, cost \(cost), revenue \(revenue)"
    }
}

func describeEnd(_ run: RunRecord) -> String {
    switch run.stopReason {
    case nil: return "running"
    case .exited?: return "exited with \(run.exitCode ?? 0)"
    case .signaled?: return "killed by signal \(run.signal ?? 0)"
    case let reason?: return reason.rawValue.replacing("_", with: " ")
    }
}

func runTable(_ runs: [RunRecord]) -> TextTable {
    var table = TextTable(headers: ["RUN", "AGENT", "STARTED", "ENDED", "EVENTS", "TOKENS", "COST", "ISOLATION", "COMMAND"], rightAligned: [0, 4, 5, 6])
    table.rows = runs.map {
        [String($0.id), $0.agentID.rawValue, formatDate($0.startedAt), describeEnd($0), String($0.events), formatTokens($0.tokensUsed),
         $0.cost.description, $0.isolation.rawValue, cell($0.command.joined(separator: " "), limit: 40)]
    }
    return table
}

extension RunRecord: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        let seconds = endedAt.map { " after " + fixedDigits($0.timeIntervalSince(startedAt), 0) + "s" } ?? ""
        var text = style.bold("Run \(id) of \(agentID): \(describeEnd(self))\(seconds)") + "\n"
        text += keyValues([
            ("events", "\(events) recorded, \(rejectedEvents) refused"), ("tokens", formatTokens(tokensUsed)),
            ("cost", cost.description), ("revenue", revenue.description), ("isolation", isolation.rawValue), ("log", log),
        ])
        return text
    }
}

extension RunList: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        runs.isEmpty ? "No runs." : runTable(runs).render(style)
    }
}

extension BackupResult: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        "Backed up \(cell(source, limit: 4096)) to \(cell(path, limit: 4096)) (\(formatTokens(bytes)) bytes)"
    }
}

extension ExperimentRepository: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        style.bold("Repository \(cell(name, limit: 200))") + "\n" + keyValues([
            ("id", id), ("path", path), ("url", url ?? "-"), ("type", repositoryType.rawValue), ("private", isPrivate ? "yes" : "no"),
            ("branch", branch), ("project", projectID?.rawValue ?? "-"), ("description", cell(description, limit: 200)),
            ("created", formatDate(createdAt)),
        ])
    }
}

extension RepositoryList: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        guard !repositories.isEmpty else { return "No experiment repositories." }
        var table = TextTable(headers: ["ID", "NAME", "TYPE", "STATUS", "BRANCH", "EXPERIMENTS", "COMMITS", "LAST ACTIVITY"], rightAligned: [5, 6])
        table.rows = repositories.map {
            [$0.id, cell($0.name), $0.repositoryType.rawValue, $0.status, $0.branch, String($0.experimentsCount), String($0.totalCommits), formatDate($0.lastActivity)]
        }
        return table.render(style)
    }
}

func resultLine(_ result: ExperimentResult) -> [String] {
    let suites = result.testResults.map { "\($0.type) \($0.status) \($0.passed)/\($0.failed)/\($0.skipped)" }.joined(separator: ", ")
    return [result.experimentID, String(result.commitSHA.prefix(12)), result.status, suites.isEmpty ? "-" : suites,
            String(result.analysisResults.potentialIssues.count), cell(result.commitMessage.split(separator: "\n").first.map(String.init) ?? "", limit: 40)]
}

extension RepositoryRunSummary: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var table = TextTable(headers: ["EXPERIMENT", "COMMIT", "STATUS", "SUITES (passed/failed/skipped)", "ISSUES", "MESSAGE"], rightAligned: [4])
        table.rows = results.map(resultLine)
        return style.bold("\(experimentsRun) revision(s) tested, \(successfulExperiments) successful, \(testsRun) suite(s) run") + "\n\n" + table.render(style)
    }
}

extension ExperimentResult: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var text = style.bold("Experiment \(experimentID): \(status)") + "\n" + keyValues([
            ("repository", repositoryID), ("source", source), ("commit", commitSHA), ("message", cell(commitMessage, limit: 200)),
            ("recorded", formatDate(timestamp)), ("repository commit", repositoryCommit ?? "-"),
            ("sandbox experiment", sandboxExperimentID.map(String.init) ?? "-"),
        ]) + "\n\n"
        var suites = TextTable(headers: ["SUITE", "STATUS", "PASSED", "FAILED", "SKIPPED", "SECONDS", "NOTE"], rightAligned: [2, 3, 4, 5])
        suites.rows = testResults.map {
            [$0.type, $0.status, String($0.passed), String($0.failed), String($0.skipped), fixedDigits($0.durationSeconds, 2), cell($0.reason ?? "", limit: 60)]
        }
        text += testResults.isEmpty ? "No test suite found.\n" : suites.render(style) + "\n"
        let analysis = analysisResults
        text += "\n" + keyValues([
            ("python files", analysis.pythonAvailable ? String(analysis.filesAnalyzed) : "not analysed (no python3)"),
            ("lines", String(analysis.totalLines)), ("functions", String(analysis.functionsFound)), ("classes", String(analysis.classesFound)),
            ("complexity", fixedDigits(analysis.complexityScore, 2) + " (mean cyclomatic per function)"),
            ("other languages", analysis.otherLanguages.isEmpty ? "-" : analysis.otherLanguages.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.files) files, \($0.value.lines) lines" }.joined(separator: "; ")),
        ])
        for issue in analysis.potentialIssues {
            text += "\n  \(cell(issue.file, limit: 200)):\(issue.line): \(cell(issue.kind)): \(cell(issue.message, limit: 120))"
        }
        return text
    }
}

/// A share of a budget used, with a `!` once it is all used (decided on the exact amounts, not
/// the rounded percentage): `42.0%`, `! 120.0%`.
func budgetUsed(_ percent: Double, over: Bool) -> String {
    (over ? "! " : "") + fixedDigits(percent, 1) + "%"
}

extension ProjectTemplate: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var pairs = [("name", cell(name)), ("description", cell(description, limit: 200))]
        if let budget { pairs.append(("budget", budget.description)) }
        if let expiresInSeconds {
            pairs.append(("expires in", GuardrailPolicy.duration(expiresInSeconds) + (deleteOnExpiry ? ", deleting the workspace" : "")))
        }
        var text = style.bold("Template \(cell(name))") + "\n" + keyValues(pairs) + "\n\n"
        if agents.isEmpty {
            text += "No agents."
        } else {
            var table = TextTable(headers: ["AGENT", "TYPE", "BUDGET", "CONFIG"], rightAligned: [2])
            table.rows = agents.map { [cell($0.name), $0.type, formatTokens($0.budgetTokens), cell($0.config.jsonText, limit: 120)] }
            text += table.render(style)
        }
        if !experiments.isEmpty {
            var table = TextTable(headers: ["EXPERIMENT", "HYPOTHESIS"])
            table.rows = experiments.map { [cell($0.name), cell($0.hypothesis, limit: 200)] }
            text += "\n\n" + table.render(style)
        }
        return text
    }
}

extension TemplateList: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var table = TextTable(headers: ["TEMPLATE", "KIND", "AGENTS", "EXPERIMENTS", "DESCRIPTION"], rightAligned: [2, 3])
        table.rows = templates.map {
            [cell($0.name), $0.builtIn ? "built-in" : "saved", $0.agents.map(String.init) ?? "-", $0.experiments.map(String.init) ?? "-",
             cell($0.description, limit: 100)]
        }
        return table.render(style)
    }
}

extension TemplateDetail: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        if let template { return template.renderText(style) }
        return style.bold("Template \(cell(name)) (built-in)") + "\n" + keyValues([("description", description), ("usage", usage ?? "")])
    }
}

extension TemplateDeletion: TextRenderable {
    func renderText(_ style: TextStyle) -> String { "Deleted template \(cell(name))" }
}

extension SnapshotInfo: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        style.bold("Snapshot \(id)") + "\n" + keyValues([
            ("name", name.map { cell($0, limit: 200) } ?? "-"), ("project", "\(projectID) (\(cell(projectName, limit: 200)))"),
            ("taken", formatDate(takenAt)), ("file", path), ("size", groupedDigits(bytes) + " bytes"),
            ("contents", "\(agents) agent(s), \(usageEvents) usage and \(revenueEvents) revenue record(s), \(runs) run(s), "
                + "\(experiments) experiment(s), \(evaluations) evaluation(s), \(workspaceEntries) workspace entr\(workspaceEntries == 1 ? "y" : "ies")"
                + (skippedEntries > 0 ? " (\(skippedEntries) skipped: special files, other mounts or unreadable)" : "")),
        ])
    }
}

extension SnapshotList: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        guard !snapshots.isEmpty else { return "No snapshots." }
        var table = TextTable(headers: ["SNAPSHOT", "NAME", "PROJECT", "PROJECT NAME", "TAKEN", "AGENTS", "EVENTS", "FILES", "BYTES"], rightAligned: [5, 6, 7, 8])
        table.rows = snapshots.map {
            [$0.id, $0.name.map { cell($0) } ?? "-", $0.projectID.rawValue, cell($0.projectName), formatDate($0.takenAt), String($0.agents),
             String($0.usageEvents + $0.revenueEvents), String($0.workspaceEntries), groupedDigits($0.bytes)]
        }
        return table.render(style)
    }
}

extension RestoreResult: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        switch mode {
        case .copy: "Restored snapshot \(snapshotID) as project \(projectID) (\(cell(name, limit: 200))) with \(agents.count) agent(s)"
        case .inPlace: "Rolled project \(projectID) (\(cell(name, limit: 200))) back to snapshot \(snapshotID)"
        }
    }
}
