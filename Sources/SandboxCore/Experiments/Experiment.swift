#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A named hypothesis tried in a project, with its configuration and, once completed, its
/// results and whether it succeeded.
public struct Experiment: Codable, Sendable, Equatable {
    public var id: Int64
    public var projectID: ProjectID
    public var name: String
    public var hypothesis: String
    public var config: JSONValue
    /// The results given at completion; `null` while running.
    public var results: JSONValue
    /// Whether it succeeded; nil while running.
    @NullEncoded public var success: Bool?
    public var startedAt: Date
    @NullEncoded public var completedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, hypothesis, config, results, success
        case projectID = "project_id", startedAt = "started_at", completedAt = "completed_at"
    }
}

/// The experiments of one project.
public struct ExperimentList: Codable, Sendable, Equatable {
    public var experiments: [Experiment]
}
