#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import SandboxCore
import Supervision

/// The sandbox and production under `/api/v1/`, answering with the same JSON documents as the
/// CLI's `--json` (errors as the envelope's `error`). Lists are paged with `?limit=&cursor=`.
struct V1Routes {
    let configuration: ServerConfiguration
    let pool: SandboxPool
    let jobs: JobBoard

    /// The largest body `POST /api/v1/events` takes.
    static let maximumEventBytes = 64 << 20

    func register(on router: Router<BasicRequestContext>) {
        let api = router.group("api/v1")
        api.get("status") { _, _ in try await answer { sandbox in try sandbox.status() } }
        api.get("projects") { request, _ in try await listProjects(request) }
        api.post("projects") { request, _ in try await createProject(request) }
        api.get("projects/:id") { _, context in
            let id = try ProjectID(context.parameters.require("id"))
            return try await answer { sandbox in try sandbox.projectDetail(id) }
        }
        api.post("projects/:id/kill") { request, context in try await kill(request, context.parameters.require("id")) }
        api.post("projects/:id/agents") { request, context in try await deploy(request, context.parameters.require("id")) }
        api.get("projects/:id/experiments") { request, context in
            let id = try ProjectID(context.parameters.require("id"))
            let (cursor, limit) = try paging(request) { $0 }
            return try await answer { sandbox in try sandbox.experiments(project: id, cursor: cursor, limit: limit) }
        }
        api.post("projects/:id/experiments") { request, context in try await startExperiment(request, context.parameters.require("id")) }
        api.post("projects/:id/eval") { _, context in
            let id = try ProjectID(context.parameters.require("id"))
            return try await answer(create: true) { sandbox in try sandbox.evaluate(id) }
        }
        api.post("projects/:id/promote") { request, context in try await promote(request, context.parameters.require("id")) }
        api.get("agents/:id") { _, context in
            let agent = try Self.agentReference(context)
            return try await answer { sandbox in try sandbox.agent(try sandbox.agentID(for: agent)) }
        }
        api.get("agents/:id/runs") { request, context in
            let agent = try Self.agentReference(context)
            let (cursor, limit) = try paging(request) { $0 }
            return try await answer { sandbox in try sandbox.runs(agent: try sandbox.agentID(for: agent), cursor: cursor, limit: limit) }
        }
        api.post("agents/:id/run") { request, context in try await runAgent(request, Self.agentReference(context)) }
        api.post("repositories/:id/run") { request, context in try await runRepository(request, context.parameters.require("id")) }
        api.get("jobs") { request, _ in
            let (cursor, limit) = try paging(request, cursor: { $0 })
            return try APIResponse.document(try jobs.page(after: cursor, limit: limit))
        }
        api.get("jobs/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let job = jobs.job(id) else { throw SandboxError.notFound(kind: "job", id: id) }
            return try APIResponse.document(job)
        }
        api.post("jobs/:id/cancel") { _, context in
            let id = try context.parameters.require("id")
            guard let job = jobs.cancel(id) else { throw SandboxError.notFound(kind: "job", id: id) }
            return try APIResponse.document(job, status: .accepted)
        }
        api.post("usage") { request, _ in try await usage(request) }
        api.post("revenue") { request, _ in try await revenue(request) }
        api.post("events") { request, _ in try await events(request) }
        api.get("compare") { request, _ in try await compare(request) }
        api.get("prices") { _, _ in try await answer { sandbox in try sandbox.prices().listing(at: Date()) } }
        api.post("agents/:id/pause") { _, context in
            let agent = try Self.agentReference(context)
            return try await answer { sandbox in try sandbox.pauseAgent(try sandbox.agentID(for: agent)) }
        }
        api.post("agents/:id/resume") { _, context in
            let agent = try Self.agentReference(context)
            return try await answer { sandbox in try sandbox.resumeAgent(try sandbox.agentID(for: agent)) }
        }
        api.post("agents/:id/budget") { request, context in
            let agent = try Self.agentReference(context)
            let body = try await body(request, TokenBudgetBody.self, fields: ["tokens"])
            return try await answer { sandbox in try sandbox.setTokenBudget(agent: try sandbox.agentID(for: agent), tokens: body.tokens) }
        }
        api.post("projects/:id/budget") { request, context in
            let project = try ProjectID(context.parameters.require("id"))
            let body = try await body(request, CostCapBody.self, fields: ["usd", "none"])
            guard (body.usd != nil) != (body.none == true) else { throw APIFailure.badRequest("give {\"usd\": X} to set the cap, or {\"none\": true} to remove it") }
            return try await answer { sandbox in try sandbox.setCostCap(project: project, cap: body.usd) }
        }
        api.post("projects/:id/extend") { request, context in
            let project = try ProjectID(context.parameters.require("id"))
            let body = try await body(request, ExtendBody.self, fields: ["by"])
            let duration = try parseDuration(body.by, maximumDays: 366)
            return try await answer { sandbox in try sandbox.extendProject(project, by: duration) }
        }
        api.post("sweep") { _, _ in try await answer { sandbox in try sandbox.sweep() } }
    }

    // MARK: - Plumbing

    /// A sandbox for this request (its own connection), `body` on the blocking pool, and the
    /// result as the CLI's `--json` document.
    func answer<T: Encodable & Sendable>(
        create: Bool = false, status: HTTPResponse.Status = .ok, _ body: @escaping @Sendable (Sandbox) throws -> T
    ) async throws -> Response {
        let pool = pool
        let value = try await blocking { try pool.with(create: create, body) }
        return try APIResponse.document(value, status: status)
    }

    func document<T: Encodable & Sendable>(status: HTTPResponse.Status = .ok, _ body: @escaping @Sendable () throws -> T) async throws -> Response {
        try APIResponse.document(try await blocking(body), status: status)
    }

    func body<T: Decodable>(_ request: Request, _ type: T.Type, fields: Set<String>) async throws -> T {
        var request = request
        return try await request.decodeJSON(type, fields: fields, maximumBytes: configuration.maximumBodyBytes)
    }

    /// The agent a path names: its ID, or `PROJECT_ID%2FNAME` (the CLI's `PROJECT_ID/NAME`).
    static func agentReference(_ context: BasicRequestContext) throws -> AgentReference {
        let text = try context.parameters.require("id")
        // The router leaves `%XX` escapes in path parameters.
        guard let decoded = PercentEncoding.decoded(text) else { throw APIFailure.badRequest("the agent in the path is not validly percent-encoded") }
        return try AgentReference(decoded)
    }

    /// `?limit=` (default 100) and `?cursor=` (checked by `cursor`).
    func paging<Cursor>(_ request: Request, cursor: (String) throws -> Cursor) throws -> (Cursor?, Int) {
        let query = request.uri.queryParameters
        let limit = try query.get("limit").map { text -> Int in
            guard let limit = Int(text) else { throw APIFailure.badRequest("limit must be a whole number") }
            return limit
        } ?? 100
        return (try query.get("cursor").map { try cursor(String($0)) }, limit)
    }

    // MARK: - Projects

    private func listProjects(_ request: Request) async throws -> Response {
        let status = try request.uri.queryParameters.get("status").map { text -> ProjectStatus in
            guard let status = ProjectStatus(rawValue: String(text)) else { throw APIFailure.badRequest("status must be active, promoted or killed") }
            return status
        }
        let (cursor, limit) = try paging(request, cursor: ProjectID.init)
        return try await answer { sandbox in try sandbox.listProjects(status: status, after: cursor, limit: limit) }
    }

    struct CreateProjectBody: Decodable, Sendable {
        var name: String
        var description: String?
        var budget: Money?
        var expiresIn: String?
        var deleteOnExpiry: Bool?

        static let fields: Set<String> = ["name", "description", "budget", "expires_in", "delete_on_expiry"]
        enum CodingKeys: String, CodingKey {
            case name, description, budget
            case expiresIn = "expires_in", deleteOnExpiry = "delete_on_expiry"
        }
    }

    private func createProject(_ request: Request) async throws -> Response {
        let body = try await body(request, CreateProjectBody.self, fields: CreateProjectBody.fields)
        let lifetime = try body.expiresIn.map { try parseDuration($0, maximumDays: 366) }
        if body.deleteOnExpiry == true, lifetime == nil { throw APIFailure.badRequest("delete_on_expiry needs expires_in") }
        return try await answer(create: true, status: .created) { sandbox in
            let expiry = lifetime.map { ProjectExpiry(after: $0, from: Date(), deleteWorkspace: body.deleteOnExpiry ?? false) }
            return try sandbox.createProject(name: body.name, description: body.description ?? "", budget: body.budget, expiry: expiry)
        }
    }

    struct KillBody: Decodable, Sendable {
        var confirm: Bool?
        var delete: Bool?
    }

    private func kill(_ request: Request, _ id: String) async throws -> Response {
        let project = try ProjectID(id)
        let body = try await body(request, KillBody.self, fields: ["confirm", "delete"])
        guard body.confirm == true else { throw APIFailure(status: .conflict, code: "confirmation_required", message: "killing needs {\"confirm\": true}") }
        return try await answer { sandbox in try sandbox.kill(project, deleteWorkspace: body.delete ?? false) }
    }

    struct DeployBody: Decodable, Sendable {
        var type: String
        var name: String?
        var config: JSONValue?
        var budgetTokens: Int64?

        static let fields: Set<String> = ["type", "name", "config", "budget_tokens"]
        enum CodingKeys: String, CodingKey {
            case type, name, config
            case budgetTokens = "budget_tokens"
        }
    }

    private func deploy(_ request: Request, _ id: String) async throws -> Response {
        let project = try ProjectID(id)
        let body = try await body(request, DeployBody.self, fields: DeployBody.fields)
        return try await answer(status: .created) { sandbox in
            try sandbox.deployAgent(
                project: project, type: body.type, name: body.name, configJSON: body.config?.jsonText ?? "{}", normalBudget: body.budgetTokens
            )
        }
    }

    struct ExperimentBody: Decodable, Sendable {
        var name: String
        var hypothesis: String?
        var config: JSONValue?
    }

    private func startExperiment(_ request: Request, _ id: String) async throws -> Response {
        let project = try ProjectID(id)
        let body = try await body(request, ExperimentBody.self, fields: ["name", "hypothesis", "config"])
        return try await answer(status: .created) { sandbox in
            try sandbox.startExperiment(project: project, name: body.name, hypothesis: body.hypothesis ?? "", configJSON: body.config?.jsonText ?? "{}")
        }
    }

    struct PromoteBody: Decodable, Sendable {
        var confirm: Bool?
        var force: Bool?
    }

    private func promote(_ request: Request, _ id: String) async throws -> Response {
        let project = try ProjectID(id)
        let body = try await body(request, PromoteBody.self, fields: ["confirm", "force"])
        guard body.confirm == true else {
            throw APIFailure(status: .conflict, code: "confirmation_required", message: "promoting needs {\"confirm\": true}")
        }
        return try await answer { sandbox in try sandbox.promote(project, force: body.force ?? false) }
    }

    // MARK: - Jobs

    struct AgentRunBody: Decodable, Sendable {
        var command: [String]
        var timeout: String?
        var env: [String: String]?
        var network: Bool?
        var isolation: String?

        static let fields: Set<String> = ["command", "timeout", "env", "network", "isolation"]

        /// The run's options, checked (400, or 403 for isolation `none` on a server that does
        /// not allow it), to be made once the job starts.
        func checked(_ configuration: ServerConfiguration) throws -> @Sendable (_ shouldStop: @escaping @Sendable () -> Bool, _ note: @escaping @Sendable (String) -> Void) -> RunOptions {
            guard !command.isEmpty, command.count <= 1_000 else { throw APIFailure.badRequest("command must be 1 to 1000 arguments, the program first") }
            let timeout = try timeout.map { try parseDuration($0) }
            guard let isolation = IsolationMode(rawValue: isolation ?? "namespace") else {
                throw APIFailure.badRequest("isolation must be namespace or none")
            }
            if isolation == .none, !configuration.allowUnisolatedRuns {
                throw APIFailure(status: .forbidden, code: "forbidden", message: "isolation none is refused unless the server was started with --allow-unisolated-runs")
            }
            if isolation == .none, network == false { throw APIFailure.badRequest("network false needs isolation; it cannot be had with isolation none") }
            // Only NAME=VALUE: a bare NAME would take the server's own value.
            let passing = try (env ?? [:]).sorted { $0.key < $1.key }.map { name, value in
                guard !name.contains("=") else { throw APIFailure.badRequest("env: a variable name is letters, digits and '_', not \(name.debugDescription)") }
                return name + "=" + value
            }
            _ = try Sandbox.agentVariables(passing, from: [:])
            let network = network ?? true
            return { shouldStop, note in
                var options = RunOptions(
                    timeout: timeout, gracePeriod: configuration.killGracePeriod, environment: configuration.environment, currentDirectory: configuration.currentDirectory,
                    shouldInterrupt: shouldStop, output: { _, _ in true }, note: note
                )
                options.warn = note
                options.passing = passing
                options.isolation = isolation
                options.network = network
                return options
            }
        }
    }

    /// `sandbox run` as a job: 202 with the job, which `GET /api/v1/jobs/{id}` follows. The
    /// agent's output goes to the run's log only; `env` gives the agent variables (never one
    /// of the server's own).
    private func runAgent(_ request: Request, _ reference: AgentReference) async throws -> Response {
        let body = try await body(request, AgentRunBody.self, fields: AgentRunBody.fields)
        let options = try body.checked(configuration)
        let pool = pool
        let agent = try await blocking { try pool.with(create: false) { sandbox in try sandbox.agent(try sandbox.agentID(for: reference)).id } }
        let job = try jobs.submit(kind: .agentRun, subject: agent.rawValue) { shouldStop, note in
            try pool.with(create: false) { try $0.runAgent(agent, command: body.command, options: options(shouldStop, note)) }
        }
        return try accepted(job)
    }

    /// `repo run` as a job, with the body of `run-sandbox-experiment` (no `repository`: it is
    /// in the path).
    private func runRepository(_ request: Request, _ reference: String) async throws -> Response {
        var fields = RepositoryRunRequest.fields
        fields.remove("repository")
        let body = try await body(request, RepositoryRunRequest.self, fields: fields)
        let run = try body.checked(configuration)
        let configuration = configuration
        let pool = pool
        // Everything but the work itself is checked now: a 400 or 404 here, not a failed job.
        let repository = try await blocking {
            try pool.with(create: false) {
                try $0.checkRepositoryRun(
                    reference, source: body.source, revisions: body.revisions ?? [], last: body.last, experiment: body.experimentID,
                    currentDirectory: configuration.currentDirectory
                ).id
            }
        }
        let job = try jobs.submit(kind: .repositoryRun, subject: repository) { shouldStop, note in
            var options = RepositoryOptions(environment: configuration.environment, currentDirectory: configuration.currentDirectory, warn: note)
            options.shouldInterrupt = shouldStop
            return try pool.with(create: false) { try run($0, repository, options) }
        }
        return try accepted(job)
    }

    /// 202 with the job and where to follow it.
    func accepted(_ job: Job) throws -> Response {
        var response = try APIResponse.document(job, status: .accepted)
        response.headers[.location] = "/api/v1/jobs/\(job.id)"
        return response
    }

    // MARK: - The ledger

    struct UsageBody: Decodable, Sendable {
        var agentID: String
        var model: String
        var inputTokens: Int64
        var outputTokens: Int64
        var cacheReadTokens: Int64?
        var cacheWriteTokens: Int64?
        var cacheTTL: CacheDuration?
        var batch: Bool?
        var operation: String?
        var cost: Money?

        var tokens: TokenCounts {
            TokenCounts(input: inputTokens, output: outputTokens, cacheRead: cacheReadTokens ?? 0, cacheWrite: cacheWriteTokens ?? 0)
        }

        static let fields: Set<String> = [
            "agent_id", "model", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cache_ttl", "batch", "operation", "cost",
        ]
        enum CodingKeys: String, CodingKey {
            case model, batch, operation, cost
            case agentID = "agent_id", inputTokens = "input_tokens", outputTokens = "output_tokens", cacheReadTokens = "cache_read_tokens"
            case cacheWriteTokens = "cache_write_tokens", cacheTTL = "cache_ttl"
        }
    }

    private func usage(_ request: Request) async throws -> Response {
        let body = try await body(request, UsageBody.self, fields: UsageBody.fields)
        let reference = try AgentReference(body.agentID)
        let tokens = body.tokens
        return try await answer(status: .created) { sandbox in
            try sandbox.recordUsage(
                agent: try sandbox.agentID(for: reference), model: body.model, tokens: tokens, batch: body.batch ?? false,
                cacheDuration: body.cacheTTL ?? .fiveMinutes, operation: body.operation, cost: body.cost
            )
        }
    }

    struct RevenueBody: Decodable, Sendable {
        var agentID: String
        var amount: Money
        var source: String?
        var description: String?

        static let fields: Set<String> = ["agent_id", "amount", "source", "description"]
        enum CodingKeys: String, CodingKey {
            case amount, source, description
            case agentID = "agent_id"
        }
    }

    private func revenue(_ request: Request) async throws -> Response {
        let body = try await body(request, RevenueBody.self, fields: RevenueBody.fields)
        let reference = try AgentReference(body.agentID)
        return try await answer(status: .created) { sandbox in
            try sandbox.recordRevenue(agent: try sandbox.agentID(for: reference), amount: body.amount, source: body.source, description: body.description ?? "")
        }
    }

    /// Events in bulk: the body is JSON Lines, as `sandbox import` reads them (up to 64 MiB);
    /// `?skip_invalid=true` records the valid lines. 422 when nothing was committed.
    private func events(_ request: Request) async throws -> Response {
        let (bytes, skipInvalid) = try await eventLines(request)
        let pool = pool
        let summary = try await blocking { () throws -> ImportSummary in
            try Self.spooled(bytes) { file in
                try pool.with(create: true) { sandbox in
                    try sandbox.importEvents(fileDescriptor: file, source: "POST /api/v1/events", options: ImportOptions(skipInvalid: skipInvalid))
                }
            }
        }
        return try APIResponse.document(summary, status: summary.committed ? .ok : .unprocessableContent)
    }

    /// The events of a request body, as the import reads them: `sandbox import` reads a
    /// descriptor, so the body goes to an unlinked temporary file first.
    func eventLines(_ request: Request) async throws -> (bytes: [UInt8], skipInvalid: Bool) {
        var request = request
        try request.requireContentType(["application/x-ndjson", "application/jsonl", "text/plain"])
        let skipInvalid = request.uri.queryParameters.get("skip_invalid") == "true"
        let buffer = try await request.collectBody(upTo: Self.maximumEventBytes)
        return (Array(buffer.readableBytesView), skipInvalid)
    }

    /// `bytes` in an unlinked temporary file, read from its start by `body`.
    static func spooled<T>(_ bytes: [UInt8], _ body: (Int32) throws -> T) throws -> T {
        var template = Array("/tmp/novaos-events-XXXXXX".utf8CString)
        let file = mkstemp(&template)
        guard file >= 0 else { throw SandboxError.unavailable("cannot make a temporary file: \(String(cString: strerror(errno)))") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        defer { close(file) }
        guard writeAll(bytes, to: file) else { throw SandboxError.unavailable("cannot write a temporary file: \(String(cString: strerror(errno)))") }
        lseek(file, 0, SEEK_SET)
        return try body(file)
    }

    // MARK: - Comparison

    private func compare(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        if let projects = query.get("projects") {
            let ids = try projects.split(separator: ",").map { try ProjectID(String($0)) }
            return try await answer { sandbox in try sandbox.compare(projects: ids) }
        }
        if let agents = query.get("agents") {
            let ids = try agents.split(separator: ",").map { try AgentID(String($0)) }
            return try await answer { sandbox in try sandbox.compare(agents: ids) }
        }
        throw APIFailure.badRequest("give ?projects=ID,ID... or ?agents=ID,ID...")
    }

    struct TokenBudgetBody: Decodable, Sendable {
        var tokens: Int64
    }

    struct CostCapBody: Decodable, Sendable {
        var usd: Money?
        var none: Bool?
    }

    struct ExtendBody: Decodable, Sendable {
        var by: String
    }
}
