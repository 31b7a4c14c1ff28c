#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB

extension Sandbox {
    /// Evaluates a project and stores the evaluation with its time.
    ///
    /// Reads only this project's agents (by index), whatever the size of the sandbox.
    public func evaluate(_ id: ProjectID) throws -> Evaluation {
        try write { try evaluateAndStore(id) }
    }

    /// Computes an evaluation without storing it.
    func computeEvaluation(_ id: ProjectID) throws -> Evaluation {
        let project = try loadProject(id)
        let metrics = try loadMetrics(id)
        let verdict = Evaluator.evaluate(metrics)
        var warnings: [String] = []
        if let cap = project.budget, metrics.totalCost >= cap {
            warnings.append("project \(id) is over its cost cap (\(metrics.totalCost) of \(cap), \(fixedDigits(Budgets.percent(metrics.totalCost.micros, of: cap.micros), 1))%)")
        }
        for agent in try loadAgents(project: id) where agent.isOverBudget {
            warnings.append("agent \(agent.id) is over its token budget (\(groupedDigits(agent.tokensUsed)) of \(groupedDigits(agent.tokenBudget)), \(fixedDigits(agent.budgetUsedPercent, 1))%)")
        }
        return Evaluation(
            projectID: id, recommendation: verdict.recommendation, reason: verdict.reason, criteria: verdict.criteria,
            metrics: metrics, evaluatedAt: now(), warnings: warnings
        )
    }

    /// Computes and stores an evaluation; call inside a write transaction. Returns the
    /// evaluation and its row ID.
    @discardableResult
    func evaluateAndStore(_ id: ProjectID) throws -> Evaluation {
        try evaluateAndStoreWithID(id).evaluation
    }

    func evaluateAndStoreWithID(_ id: ProjectID) throws -> (evaluation: Evaluation, rowID: Int64) {
        let evaluation = try computeEvaluation(id)
        let encoder = SandboxJSON.encoder(pretty: false)
        try db.run(
            """
            INSERT INTO evaluations (project_id, recommendation, reason, roi, criteria, metrics, evaluated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            id.rawValue, evaluation.recommendation.rawValue, evaluation.reason, evaluation.metrics.roi,
            String(decoding: try encoder.encode(evaluation.criteria), as: UTF8.self),
            String(decoding: try encoder.encode(evaluation.metrics), as: UTF8.self),
            Timestamp.string(from: evaluation.evaluatedAt)
        )
        return (evaluation, db.lastInsertRowID)
    }

    func loadEvaluation(rowID: Int64) throws -> Evaluation? {
        try loadEvaluation(where: "id = ?", rowID)
    }

    func loadLastEvaluation(_ id: ProjectID) throws -> Evaluation? {
        try loadEvaluation(where: "project_id = ? ORDER BY id DESC LIMIT 1", id.rawValue)
    }

    private func loadEvaluation(where clause: String, _ value: any SQLiteBindable) throws -> Evaluation? {
        let decoder = SandboxJSON.decoder()
        return try db.queryFirst(
            "SELECT project_id, recommendation, reason, criteria, metrics, evaluated_at FROM evaluations WHERE \(clause)", [value]
        ) { row in
            Evaluation(
                projectID: ProjectID(unchecked: row.text(0)),
                recommendation: Recommendation(rawValue: row.text(1)) ?? .notReady, reason: row.text(2),
                criteria: try decoder.decode(Criteria.self, from: Data(row.text(3).utf8)),
                metrics: try decoder.decode(Metrics.self, from: Data(row.text(4).utf8)),
                evaluatedAt: Timestamp.date(from: row.text(5))
            )
        }
    }
}
