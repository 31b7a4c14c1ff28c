#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SandboxCore

/// The dashboard's pages, server-rendered HTML with inline styles and SVG: no script, nothing
/// fetched. The same project page is `sandbox report --html`'s file.
public enum DashboardPages {
    /// `/`: every project with its metrics and budget use.
    public static func projects(_ list: ProjectList, status: SandboxStatus) -> String {
        var rows = ""
        for project in list.projects {
            let metrics = project.metrics
            rows += """
                <tr><td><a href="/projects/\(project.id.rawValue)">\(text: project.name)</a><br><span class="muted">\(project.id.rawValue)</span></td>
                <td><span class="tag \(project.status.rawValue)">\(project.status.rawValue)\(project.killReason == .expired ? " (expired)" : "")</span></td>
                <td class="n">\(metrics.activeAgents)/\(metrics.totalAgents)</td><td class="n">\(metrics.tokensUsed)</td>
                <td class="n">\(money(metrics.totalCost))</td><td class="n">\(money(metrics.totalRevenue))</td>
                <td class="n \(signed(metrics.profit))">\(money(metrics.profit))</td><td class="n">\(percent(metrics.roi))</td>
                <td>\(html: budgetBar(used: project.budgetUsedPercent, cap: project.budget))</td>
                <td>\(Timestamp.text(project.createdAt))</td></tr>

                """
        }
        let cards = """
            <div class="cards">
            <div class="card"><b>\(status.totalProjects)</b><span>projects (\(status.activeProjects) active, \(status.promotedProjects) promoted)</span></div>
            <div class="card"><b>\(status.activeAgents)/\(status.totalAgents)</b><span>agents active</span></div>
            <div class="card"><b>\(money(status.totalCost))</b><span>cost</span></div>
            <div class="card"><b>\(money(status.totalRevenue))</b><span>revenue</span></div>
            </div>
            """
        let table = list.projects.isEmpty ? #"<p class="muted">No projects yet: <code>novaos sandbox create NAME</code>.</p>"# : """
            <table id="projects"><thead><tr><th>Project</th><th>Status</th><th class="n">Agents</th><th class="n">Tokens</th><th class="n">Cost</th>
            <th class="n">Revenue</th><th class="n">Profit</th><th class="n">ROI</th><th>Budget used</th><th>Created</th></tr></thead>
            <tbody>
            \(rows)</tbody></table>
            """
        return page(title: "Projects", body: "<h1>Projects</h1>\n" + cards + table).description
    }

    /// `/projects/{id}`: per-agent cost, revenue and ROI, the chart of daily cost and revenue,
    /// experiments and runs with their stop reasons.
    public static func project(_ detail: ProjectDetail, daily: [DailyFigures]) -> String {
        let metrics = detail.metrics
        var agents = ""
        for agent in detail.agents {
            agents += """
                <tr><td>\(text: agent.name)<br><span class="muted">\(agent.id.rawValue)</span></td><td>\(text: agent.type)</td>
                <td><span class="tag \(agent.status.rawValue)">\(agent.status.rawValue)\(agent.pauseReason.map { " (\($0.rawValue))" } ?? "")</span></td>
                <td class="n">\(agent.tokensUsed)</td><td>\(html: budgetBar(used: agent.budgetUsedPercent, cap: nil))</td>
                <td class="n">\(money(agent.totalCost))</td><td class="n">\(money(agent.totalRevenue))</td>
                <td class="n \(signed(agent.profit))">\(money(agent.profit))</td><td class="n">\(percent(agent.roi))</td></tr>

                """
        }
        var experiments = ""
        for experiment in detail.experiments {
            let state = experiment.completedAt == nil ? "running" : (experiment.success == true ? "succeeded" : "failed")
            experiments += "<tr><td class=\"n\">\(experiment.id)</td><td>\(text: experiment.name)</td><td>\(text: experiment.hypothesis)</td><td>\(state)</td><td>\(Timestamp.text(experiment.startedAt))</td></tr>\n"
        }
        var runs = ""
        for run in detail.runs {
            runs += """
                <tr><td class="n">\(run.id)</td><td>\(run.agentID.rawValue)</td><td>\(Timestamp.text(run.startedAt))</td>
                <td>\(run.stopReason?.rawValue ?? "running")</td><td class="n">\(run.events)</td><td class="n">\(run.tokensUsed)</td>
                <td class="n">\(money(run.cost))</td><td>\(text: run.command.joined(separator: " "))</td></tr>

                """
        }
        var facts = "<p>\(text: detail.description.isEmpty ? "" : detail.description)</p>"
        if let expires = detail.expiresAt, detail.status == .active { facts += "<p class=\"muted\">Expires \(Timestamp.text(expires))</p>" }
        if let evaluation = detail.lastEvaluation {
            facts += "<p>Last evaluation: <b>\(evaluation.recommendation.rawValue)</b> at \(Timestamp.text(evaluation.evaluatedAt))</p>"
        }
        let body = """
            <h1>\(text: detail.name) <span class="tag \(detail.status.rawValue)">\(detail.status.rawValue)</span> <span class="muted">\(detail.id.rawValue)</span></h1>
            \(facts)
            <div class="cards">
            <div class="card"><b id="total-cost">\(money(metrics.totalCost))</b><span>cost</span></div>
            <div class="card"><b id="total-revenue">\(money(metrics.totalRevenue))</b><span>revenue</span></div>
            <div class="card"><b class="\(signed(metrics.profit))">\(money(metrics.profit))</b><span>profit</span></div>
            <div class="card"><b id="roi">\(percent(metrics.roi))</b><span>ROI</span></div>
            <div class="card"><b>\(metrics.tokensUsed)</b><span>tokens</span></div>
            <div class="card">\(html: budgetBar(used: detail.budgetUsedPercent, cap: detail.budget))<span>budget \(detail.budget.map(money) ?? "none")</span></div>
            </div>
            <h2>Daily cost and revenue</h2>
            \(html: dailyChart(daily))
            <h2>Agents</h2>
            \(detail.agents.isEmpty ? "<p class=\"muted\">No agents.</p>" : """
                <table id="agents"><thead><tr><th>Agent</th><th>Type</th><th>Status</th><th class="n">Tokens</th><th>Budget used</th>
                <th class="n">Cost</th><th class="n">Revenue</th><th class="n">Profit</th><th class="n">ROI</th></tr></thead><tbody>
                \(agents)</tbody></table>
                """)
            <h2>Experiments</h2>
            \(detail.experiments.isEmpty ? "<p class=\"muted\">No experiments.</p>" : """
                <table id="experiments"><thead><tr><th class="n">ID</th><th>Name</th><th>Hypothesis</th><th>State</th><th>Started</th></tr></thead><tbody>
                \(experiments)</tbody></table>
                """)
            <h2>Runs</h2>
            \(detail.runs.isEmpty ? "<p class=\"muted\">No runs.</p>" : """
                <table id="runs"><thead><tr><th class="n">Run</th><th>Agent</th><th>Started</th><th>Stop reason</th><th class="n">Events</th>
                <th class="n">Tokens</th><th class="n">Cost</th><th>Command</th></tr></thead><tbody>
                \(runs)</tbody></table>
                """)
            """
        return page(title: detail.name, body: body).description
    }

    /// `/compare?projects=…`: the comparison, with intervals and verdicts.
    public static func comparison(_ comparison: Comparison) -> String {
        var rows = ""
        for column in comparison.columns {
            let figures = column.figures
            let verdicts = column.confidence.map { "ROI: \($0.roi.verdict.rawValue), revenue/event: \($0.revenuePerEvent.verdict.rawValue)" } ?? "baseline"
            rows += """
                <tr><td>\(text: column.name)<br><span class="muted">\(text: column.id)</span></td><td class="n">\(money(figures.totalCost))</td>
                <td class="n">\(money(figures.totalRevenue))</td><td class="n \(signed(figures.profit))">\(money(figures.profit))</td>
                <td class="n">\(percent(figures.roi))</td><td class="n">\(figures.usageEvents)</td><td>\(verdicts)</td></tr>

                """
        }
        let body = """
            <h1>Comparison</h1>
            <p class="muted">95% bootstrap intervals of the difference to the baseline (the first column), \(comparison.resamples) resamples.</p>
            <table id="comparison"><thead><tr><th>Column</th><th class="n">Cost</th><th class="n">Revenue</th><th class="n">Profit</th>
            <th class="n">ROI</th><th class="n">Usage events</th><th>Verdicts</th></tr></thead><tbody>
            \(rows)</tbody></table>
            """
        return page(title: "Comparison", body: body).description
    }

    /// `/production`: slots with their versions, the latest guardrail verdicts, and the history.
    public static func production(_ agents: ProductionAgentList, verdicts: [AgentID: LatestCheck], history: ProductionHistory) -> String {
        var rows = ""
        for agent in agents.agents {
            let verdict = verdicts[agent.id]
            rows += """
                <tr><td>\(text: agent.slot ?? "-")</td><td>\(text: agent.name)<br><span class="muted">\(agent.id.rawValue)</span></td>
                <td><span class="tag \(agent.state?.rawValue ?? "")">\(agent.state?.rawValue ?? "-")</span></td>
                <td>\(verdict.map { "<span class=\"tag \($0.verdict.rawValue)\">\($0.verdict.rawValue)</span> \(Timestamp.text($0.checkedAt))" } ?? "<span class=\"muted\">not checked</span>")</td>
                <td>\(text: verdict?.reason ?? "")</td></tr>

                """
        }
        var events = ""
        for event in history.events.suffix(100).reversed() {
            events += "<tr><td>\(Timestamp.text(event.at))</td><td>\(text: event.kind)</td><td>\(text: event.slot ?? "-")</td><td>\(text: event.liveAgentID?.rawValue ?? "-")</td><td>\(text: event.actor)</td><td>\(text: event.reason)</td></tr>\n"
        }
        let body = """
            <h1>Production</h1>
            \(agents.agents.isEmpty ? "<p class=\"muted\">Nothing promoted yet.</p>" : """
                <table id="slots"><thead><tr><th>Slot</th><th>Agent</th><th>State</th><th>Guardrails</th><th>Reason</th></tr></thead><tbody>
                \(rows)</tbody></table>
                """)
            <h2>History</h2>
            \(events.isEmpty ? "<p class=\"muted\">No history yet.</p>" : """
                <table id="history"><thead><tr><th>At</th><th>Kind</th><th>Slot</th><th>Live after</th><th>Actor</th><th>Reason</th></tr></thead><tbody>
                \(events)</tbody></table>
                """)
            """
        return page(title: "Production", body: body).description
    }

    /// A small bar of a share used, red once all is used; "-" without a cap.
    static func budgetBar(used: Double?, cap: Money?) -> HTML {
        guard let used else { return HTML(raw: #"<span class="muted">-</span>"#) }
        let width = Int(min(max(used, 0), 100).rounded())
        return HTML(raw: #"<span class="bar"><i class="\#(used >= 100 ? "over" : "")" style="width:\#(width)%"></i></span> \#(percent(used))"#)
    }
}
