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
    /// Starts an experiment in an active project.
    ///
    /// - Parameter configJSON: a JSON object describing the setup, stored as given.
    /// - Returns: the experiment, with a new integer ID.
    public func startExperiment(project projectID: ProjectID, name: String, hypothesis: String = "", configJSON: String = "{}") throws -> Experiment {
        try validateText(name, field: "experiment name", maximumLength: Self.maximumNameLength)
        try validateText(hypothesis, field: "hypothesis", maximumLength: Self.maximumDescriptionLength, allowEmpty: true)
        let config = try JSONValue.parseObject(configJSON, what: "--config")
        let startedAt = now()
        return try write {
            let project = try loadProject(projectID)
            guard project.status == .active else {
                throw SandboxError.invalidState("project \(projectID) is \(project.status.rawValue); experiments can only start in an active project")
            }
            try db.run(
                "INSERT INTO experiments (project_id, name, hypothesis, config, started_at) VALUES (?, ?, ?, ?, ?)",
                projectID.rawValue, name, hypothesis, configJSON, Timestamp.string(from: startedAt)
            )
            return Experiment(
                id: db.lastInsertRowID, projectID: projectID, name: name, hypothesis: hypothesis, config: .object(config),
                results: .null, success: nil, startedAt: startedAt, completedAt: nil
            )
        }
    }

    /// Completes a running experiment with its outcome.
    ///
    /// - Parameter resultsJSON: a JSON object with what was observed; `{}` when omitted.
    /// - Throws: `SandboxError.invalidState` when the experiment was already completed.
    public func completeExperiment(_ id: Int64, success: Bool, resultsJSON: String = "{}") throws -> Experiment {
        _ = try JSONValue.parseObject(resultsJSON, what: "--results")
        let completedAt = now()
        return try write {
            let experiment = try loadExperiment(id)
            guard experiment.completedAt == nil else {
                throw SandboxError.invalidState("experiment \(id) is already completed")
            }
            try db.run(
                "UPDATE experiments SET results = ?, success = ?, completed_at = ? WHERE id = ?",
                resultsJSON, success, Timestamp.string(from: completedAt), id
            )
            return try loadExperiment(id)
        }
    }

    /// The experiments of a project, oldest first.
    public func experiments(project projectID: ProjectID) throws -> ExperimentList {
        try read {
            _ = try loadProject(projectID)
            return ExperimentList(experiments: try loadExperiments(project: projectID))
        }
    }

    /// One page of a project's experiments, oldest first, those after the experiment `cursor`.
    public func experiments(project projectID: ProjectID, cursor: String?, limit: Int) throws -> Page<Experiment> {
        try Page<Experiment>.check(limit: limit)
        let after = try Page<Experiment>.rowID(cursor)
        return try read {
            _ = try loadProject(projectID)
            let rows = try db.query(
                "SELECT \(Self.experimentColumns) FROM experiments WHERE project_id = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3",
                [projectID.rawValue, after, Int64(limit + 1)], Self.decodeExperiment
            )
            return Page(key: "experiments", rows: rows, limit: limit) { String($0.id) }
        }
    }

    /// One experiment.
    public func experiment(_ id: Int64) throws -> Experiment {
        try read { try loadExperiment(id) }
    }

    private static let experimentColumns = "id, project_id, name, hypothesis, config, results, success, started_at, completed_at"

    private static func decodeExperiment(_ row: Row) -> Experiment {
        Experiment(
            id: row.int64(0), projectID: ProjectID(unchecked: row.text(1)), name: row.text(2), hypothesis: row.text(3),
            config: JSONValue.decodeStored(row.text(4)), results: JSONValue.decodeStored(row.optionalText(5)),
            success: row.optionalBool(6), startedAt: Timestamp.date(from: row.text(7)),
            completedAt: Timestamp.date(from: row.optionalText(8))
        )
    }

    func loadExperiment(_ id: Int64) throws -> Experiment {
        let experiment = try db.queryFirst(
            "SELECT \(Self.experimentColumns) FROM experiments WHERE id = ?", [id], Self.decodeExperiment
        )
        guard let experiment else { throw SandboxError.notFound(kind: "experiment", id: String(id)) }
        return experiment
    }

    func loadExperiments(project: ProjectID) throws -> [Experiment] {
        try db.query(
            "SELECT \(Self.experimentColumns) FROM experiments WHERE project_id = ? ORDER BY id", [project.rawValue], Self.decodeExperiment
        )
    }
}
