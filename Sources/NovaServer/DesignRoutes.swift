#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import SandboxCore

/// The four endpoints of the experiment-repository design, with exactly its paths, envelope
/// and field names. Request bodies take the options of the matching `repo` commands.
struct DesignRoutes {
    let configuration: ServerConfiguration
    let pool: SandboxPool
    /// Whose stopping stops a test suite a request runs.
    let jobs: JobBoard

    func register(on router: Router<BasicRequestContext>) {
        let api = router.group("api/sandbox")
        api.post("create-experiment-repository") { request, _ in try await create(request) }
        api.get("experiment-repositories") { request, _ in try await list(request) }
        api.get("experiment-results/:experiment_id") { _, context in try await result(context.parameters.require("experiment_id")) }
        api.post("run-sandbox-experiment") { request, _ in try await run(request) }
    }

    /// A sandbox for one request, its own connection, opened and closed on the blocking pool.
    private func withSandbox<T: Sendable>(
        create: Bool = false, longWork: Bool = false, _ body: @escaping @Sendable (Sandbox, RepositoryOptions) throws -> T
    ) async throws -> T {
        let configuration = configuration
        let pool = pool
        let jobs = jobs
        return try await blocking(longWork: longWork) {
            var options = RepositoryOptions(environment: configuration.environment, currentDirectory: configuration.currentDirectory, warn: { _ in })
            options.shouldInterrupt = { jobs.isStopping }
            return try pool.with(create: create) { try body($0, options) }
        }
    }

    // MARK: - POST /api/sandbox/create-experiment-repository

    struct CreateBody: Decodable, Sendable {
        var name: String?
        var description: String?
        var agentType: String?
        var projectID: String?
        var branch: String?
        var remote: String?
        var createdBy: String?

        static let fields: Set<String> = ["name", "description", "agent_type", "project_id", "branch", "remote", "created_by"]

        enum CodingKeys: String, CodingKey {
            case name, description, branch, remote
            case agentType = "agent_type", projectID = "project_id", createdBy = "created_by"
        }
    }

    private func create(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.decodeJSON(CreateBody.self, fields: CreateBody.fields, maximumBytes: configuration.maximumBodyBytes)
        let project = try body.projectID.map(ProjectID.init)
        try Sandbox.validateRepositoryArguments(name: body.name, branch: body.branch, remote: body.remote)
        let repository = try await withSandbox(create: true) { sandbox, options in
            try sandbox.createRepository(
                name: body.name, project: project, description: body.description ?? "", branch: body.branch, remote: body.remote,
                agentType: body.agentType, createdBy: body.createdBy, options: options
            )
        }
        return try APIResponse.success(DesignRepository(repository), status: .created)
    }

    // MARK: - GET /api/sandbox/experiment-repositories

    private func list(_ request: Request) async throws -> Response {
        let project = try request.uri.queryParameters.get("project_id").map { try ProjectID(String($0)) }
        let list = try await withSandbox { sandbox, options in try sandbox.listRepositories(project: project, options: options) }
        let repositories = list.repositories.map(DesignRepository.init)
        return try APIResponse.success(RepositoryListing(repositories: repositories, totalRepositories: repositories.count))
    }

    struct RepositoryListing: Encodable {
        var repositories: [DesignRepository]
        var totalRepositories: Int

        enum CodingKeys: String, CodingKey {
            case repositories
            case totalRepositories = "total_repositories"
        }
    }

    // MARK: - GET /api/sandbox/experiment-results/{experiment_id}

    private func result(_ id: String) async throws -> Response {
        try APIResponse.success(try await withSandbox { sandbox, _ in try sandbox.experimentResult(id) })
    }

    // MARK: - POST /api/sandbox/run-sandbox-experiment

    private func run(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.decodeJSON(RepositoryRunRequest.self, fields: RepositoryRunRequest.fields, maximumBytes: configuration.maximumBodyBytes)
        guard let repository = body.repository else { throw APIFailure.badRequest("the request body is not the JSON expected: missing repository") }
        let run = try body.checked(configuration)
        let (summary, agent) = try await withSandbox(longWork: true) { sandbox, options in
            let summary = try run(sandbox, repository, options)
            let agent = try sandbox.listRepositories(options: options).repositories.first {
                $0.id == repository || $0.name == repository
            }?.agentType
            return (summary, agent)
        }
        return try APIResponse.success(RunReport(summary, agent: agent))
    }

    /// The design's answer to a run: `status, experiments_run, successful_experiments,
    /// tests_run, proposals_created, agent`. A proposal is a tested revision whose result was
    /// committed into the experiment repository; `agent` is the repository's agent type.
    struct RunReport: Encodable {
        var status: String
        var experimentsRun: Int
        var successfulExperiments: Int
        var testsRun: Int
        var proposalsCreated: Int
        var agent: String?
        var results: [ExperimentResult]

        init(_ summary: RepositoryRunSummary, agent: String?) {
            status = summary.successfulExperiments == summary.experimentsRun ? "completed" : "completed_with_failures"
            experimentsRun = summary.experimentsRun
            successfulExperiments = summary.successfulExperiments
            testsRun = summary.testsRun
            proposalsCreated = summary.results.filter { $0.repositoryCommit != nil }.count
            self.agent = agent
            results = summary.results
        }

        enum CodingKeys: String, CodingKey {
            case status, agent, results
            case experimentsRun = "experiments_run", successfulExperiments = "successful_experiments", testsRun = "tests_run"
            case proposalsCreated = "proposals_created"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(status, forKey: .status)
            try container.encode(agent, forKey: .agent)
            try container.encode(results, forKey: .results)
            try container.encode(experimentsRun, forKey: .experimentsRun)
            try container.encode(successfulExperiments, forKey: .successfulExperiments)
            try container.encode(testsRun, forKey: .testsRun)
            try container.encode(proposalsCreated, forKey: .proposalsCreated)
        }
    }
}

/// The options of `repo run`, as `POST /api/sandbox/run-sandbox-experiment` and
/// `POST /api/v1/repositories/{id}/run` take them.
struct RepositoryRunRequest: Decodable, Sendable {
    var repository: String?
    var source: String?
    var revisions: [String]?
    var last: Int?
    var timeout: String?
    var experimentID: Int64?
    var network: Bool?
    var isolation: String?

    static let fields: Set<String> = ["repository", "source", "revisions", "last", "timeout", "experiment_id", "network", "isolation"]

    enum CodingKeys: String, CodingKey {
        case repository, source, revisions, last, timeout, network, isolation
        case experimentID = "experiment_id"
    }

    /// The run these options ask for, checked (400, or 403 for isolation `none` or the network
    /// on a server that does not allow them), ready to be started with a sandbox, the
    /// repository and the server's options.
    func checked(_ configuration: ServerConfiguration) throws -> @Sendable (Sandbox, String, RepositoryOptions) throws -> RepositoryRunSummary {
        if !(revisions ?? []).isEmpty, last != nil { throw APIFailure.badRequest("give revisions or last, not both") }
        if let last, last < 1 { throw APIFailure.badRequest("last must be at least 1") }
        let timeout = try timeout.map { try parseDuration($0) } ?? 600
        guard let isolation = IsolationMode(rawValue: isolation ?? "namespace") else {
            throw APIFailure.badRequest("isolation must be namespace or none")
        }
        if isolation == .none || network == true, !configuration.allowUnisolatedRuns {
            throw APIFailure(
                status: .forbidden, code: "forbidden",
                message: "isolation none and network are refused unless the server was started with --allow-unisolated-runs"
            )
        }
        let request = self
        return { sandbox, repository, options in
            var options = options
            options.isolation = isolation
            options.network = request.network ?? false
            return try sandbox.runRepository(
                repository, source: request.source, revisions: request.revisions ?? [], last: request.last, timeout: timeout,
                experiment: request.experimentID, options: options
            )
        }
    }
}

/// A repository with the design's fields: `id, name, url, description, agent_type, status,
/// repository_type, is_private, experiments_count, total_commits, last_activity, created_at,
/// created_by` (and `path`, `branch`, `project_id`, which the CLI shows too).
struct DesignRepository: Encodable {
    var id: String
    var name: String
    var url: String?
    var description: String
    var agentType: String?
    var status: String
    var repositoryType: String
    var isPrivate: Bool
    var experimentsCount: Int
    var totalCommits: Int
    var lastActivity: Date?
    var createdAt: Date
    var createdBy: String
    var branch: String
    var projectID: String?
    var path: String?

    init(_ summary: RepositorySummary) {
        id = summary.id
        name = summary.name
        url = summary.url
        description = summary.description
        agentType = summary.agentType
        status = summary.status
        repositoryType = summary.repositoryType.rawValue
        isPrivate = summary.isPrivate
        experimentsCount = summary.experimentsCount
        totalCommits = summary.totalCommits
        lastActivity = summary.lastActivity
        createdAt = summary.createdAt
        createdBy = summary.createdBy
        branch = summary.branch
        projectID = summary.projectID?.rawValue
        path = nil
    }

    init(_ repository: ExperimentRepository) {
        id = repository.id
        name = repository.name
        url = repository.url
        description = repository.description
        agentType = repository.agentType
        status = "active"
        repositoryType = repository.repositoryType.rawValue
        isPrivate = repository.isPrivate
        experimentsCount = 0
        totalCommits = 1
        lastActivity = repository.createdAt
        createdAt = repository.createdAt
        createdBy = repository.createdBy
        branch = repository.branch
        projectID = repository.projectID?.rawValue
        path = repository.path
    }

    enum CodingKeys: String, CodingKey {
        case id, name, url, description, status, branch, path
        case agentType = "agent_type", repositoryType = "repository_type", isPrivate = "is_private", experimentsCount = "experiments_count"
        case totalCommits = "total_commits", lastActivity = "last_activity", createdAt = "created_at", createdBy = "created_by"
        case projectID = "project_id"
    }

    /// Every field always present, `null` when empty, as the CLI's JSON.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(url, forKey: .url)
        try container.encode(description, forKey: .description)
        try container.encode(agentType, forKey: .agentType)
        try container.encode(status, forKey: .status)
        try container.encode(repositoryType, forKey: .repositoryType)
        try container.encode(isPrivate, forKey: .isPrivate)
        try container.encode(experimentsCount, forKey: .experimentsCount)
        try container.encode(totalCommits, forKey: .totalCommits)
        try container.encode(lastActivity, forKey: .lastActivity)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(createdBy, forKey: .createdBy)
        try container.encode(branch, forKey: .branch)
        try container.encode(projectID, forKey: .projectID)
        if let path { try container.encode(path, forKey: .path) }
    }
}
