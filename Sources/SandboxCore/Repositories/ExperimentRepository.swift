import ExperimentRepos
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Supervision

/// How an experiment repository is hosted.
public enum RepositoryType: String, Codable, Sendable {
    /// Only on this machine.
    case local
    /// With an `origin` the user gave (`--remote` or `EXPERIMENT_REPOSITORY_URL`).
    case remote
    /// Created through GitHub's API and pushed there.
    case github
}

/// A git repository that holds experiments' code and evidence, apart from the main codebase.
public struct ExperimentRepository: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// The local clone, `HOME/sandbox/repositories/NAME`.
    public var path: String
    /// The remote's URL, if any (never with credentials in it).
    @NullEncoded public var url: String?
    public var description: String
    @NullEncoded public var projectID: ProjectID?
    public var repositoryType: RepositoryType
    public var isPrivate: Bool
    public var branch: String
    public var createdAt: Date
    /// The type of agent its experiments are for, if given.
    @NullEncoded public var agentType: String?
    /// The login name of who created it ("" when the system has none).
    public var createdBy: String

    enum CodingKeys: String, CodingKey {
        case id, name, path, url, description, branch
        case projectID = "project_id", repositoryType = "repository_type", isPrivate = "is_private", createdAt = "created_at"
        case agentType = "agent_type", createdBy = "created_by"
    }
}

/// One row of `repo list`: the repository with figures read from git and the database.
public struct RepositorySummary: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    @NullEncoded public var url: String?
    public var repositoryType: RepositoryType
    public var status: String
    public var branch: String
    /// Revisions tested and recorded in this repository.
    public var experimentsCount: Int
    /// Commits on the repository's branch, counted by git.
    public var totalCommits: Int
    /// The time of the latest commit, from git.
    @NullEncoded public var lastActivity: Date?
    public var createdAt: Date
    @NullEncoded public var projectID: ProjectID?
    public var description: String
    @NullEncoded public var agentType: String?
    public var isPrivate: Bool
    public var createdBy: String

    enum CodingKeys: String, CodingKey {
        case id, name, url, status, branch, description
        case repositoryType = "repository_type", experimentsCount = "experiments_count", totalCommits = "total_commits"
        case lastActivity = "last_activity", createdAt = "created_at", projectID = "project_id"
        case agentType = "agent_type", isPrivate = "is_private", createdBy = "created_by"
    }
}

public struct RepositoryList: Codable, Sendable, Equatable {
    public var repositories: [RepositorySummary]
}

/// The stored result of testing and analysing one revision.
public struct ExperimentResult: Codable, Sendable, Equatable {
    public var experimentID: String
    public var repositoryID: String
    @NullEncoded public var sandboxExperimentID: Int64?
    /// The repository tested (a path or URL).
    public var source: String
    public var commitSHA: String
    public var commitMessage: String
    /// `passed` (every suite that ran passed), `failed`, or `no_tests` (none could run).
    public var status: String
    public var success: Bool
    public var timestamp: Date
    public var testResults: [TestSuiteResult]
    public var analysisResults: AnalysisResult
    /// The experiment repository's commit that recorded this result.
    @NullEncoded public var repositoryCommit: String?

    enum CodingKeys: String, CodingKey {
        case source, status, success, timestamp
        case experimentID = "experiment_id", repositoryID = "repository_id", sandboxExperimentID = "sandbox_experiment_id"
        case commitSHA = "commit_sha", commitMessage = "commit_message", testResults = "test_results"
        case analysisResults = "analysis_results", repositoryCommit = "repository_commit"
    }
}

/// What `repo run` did.
public struct RepositoryRunSummary: Codable, Sendable, Equatable {
    public var experimentsRun: Int
    public var successfulExperiments: Int
    /// Test suites run (skipped ones not counted).
    public var testsRun: Int
    public var results: [ExperimentResult]

    enum CodingKeys: String, CodingKey {
        case results
        case experimentsRun = "experiments_run", successfulExperiments = "successful_experiments", testsRun = "tests_run"
    }
}

/// Settings for the repository commands, mostly from the environment.
public struct RepositoryOptions {
    /// The environment git and test suites start from (secrets are stripped for suites).
    public var environment: [String: String]
    public var currentDirectory: String
    /// Receives warnings (a push that failed, GitHub unreachable).
    public var warn: (String) -> Void
    /// `namespace` (the default) runs test suites and the analysis in a bubblewrap sandbox.
    public var isolation: IsolationMode = .namespace
    /// Whether test suites reach the network (they do not by default).
    public var network = false
    /// Polled while revisions are tested; true stops the suite running (its revision is not
    /// recorded) and the run, which then throws. The revisions done before stay recorded.
    public var shouldInterrupt: @Sendable () -> Bool = { false }

    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                currentDirectory: String = FileManager.default.currentDirectoryPath,
                warn: @escaping (String) -> Void = { _ in }) {
        self.environment = environment
        self.currentDirectory = currentDirectory
        self.warn = warn
    }

    var identity: (name: String, email: String) {
        (environment["NOVAOS_GIT_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? "novaos",
         environment["NOVAOS_GIT_EMAIL"].flatMap { $0.isEmpty ? nil : $0 } ?? "novaos@localhost")
    }

    var autoPush: Bool {
        !["false", "0", "no", "off"].contains((environment["EXPERIMENT_AUTO_PUSH"] ?? "").lowercased())
    }
}
