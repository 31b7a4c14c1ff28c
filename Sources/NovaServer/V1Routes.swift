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
        api.get("production/agents") { request, _ in
            let (cursor, limit) = try paging(request) { $0 }
            return try await document { try Production(paths: configuration.paths).listAgents(cursor: cursor, limit: limit) }
        }
        api.get("production/slots/:slot") { _, context in
            let slot = try context.parameters.require("slot")
            return try await document { try Production(paths: configuration.paths).slot(slot) }
        }
        api.get("production/history") { request, _ in
            let subject = request.uri.queryParameters.get("subject").map { String($0) }
            let (cursor, limit) = try paging(request) { $0 }
            return try await document { try Production(paths: configuration.paths).history(of: subject, cursor: cursor, limit: limit) }
        }
        api.post("production/check") { request, _ in
            var request = request
            let body = try await request.decodeJSON(CheckBody.self, fields: ["dry_run"], maximumBytes: configuration.maximumBodyBytes)
            let paths = configuration.paths
            return try await document { try ProductionGuard(paths: paths).check(dryRun: body.dryRun ?? false) }
        }
    }

    // MARK: - Plumbing

    /// A sandbox for this request (its own connection), `body` on the blocking pool, and the
    /// result as the CLI's `--json` document.
    private func answer<T: Encodable & Sendable>(
        create: Bool = false, status: HTTPResponse.Status = .ok, _ body: @escaping @Sendable (Sandbox) throws -> T
    ) async throws -> Response {
        let pool = pool
        let value = try await blocking { try pool.with(create: create, body) }
        return try APIResponse.document(value, status: status)
    }

    private func document<T: Encodable & Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> Response {
        try APIResponse.document(try await blocking(body))
    }

    private func body<T: Decodable>(_ request: Request, _ type: T.Type, fields: Set<String>) async throws -> T {
        var request = request
        return try await request.decodeJSON(type, fields: fields, maximumBytes: configuration.maximumBodyBytes)
    }

    /// The agent a path names: its ID, or `PROJECT_ID%2FNAME` (the CLI's `PROJECT_ID/NAME`).
    static func agentReference(_ context: BasicRequestContext) throws -> AgentReference {
        let text = try context.parameters.require("id")
        guard let decoded = percentDecoded(text) else { throw APIFailure.badRequest("the agent in the path is not validly percent-encoded") }
        return try AgentReference(decoded)
    }

    /// `text` with its `%XX` escapes decoded (the router leaves them); nil for a broken escape
    /// or bytes that are not UTF-8.
    static func percentDecoded(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap({ UInt8(String(UnicodeScalar($0)), radix: 16) }),
                  let low = iterator.next().flatMap({ UInt8(String(UnicodeScalar($0)), radix: 16) }) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// `?limit=` (default 100) and `?cursor=` (checked by `cursor`).
    private func paging<Cursor>(_ request: Request, cursor: (String) throws -> Cursor) throws -> (Cursor?, Int) {
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
    }

    /// `sandbox run` as a job: 202 with the job, which `GET /api/v1/jobs/{id}` follows. The
    /// agent's output goes to the run's log only; `env` gives the agent variables (never one
    /// of the server's own).
    private func runAgent(_ request: Request, _ reference: AgentReference) async throws -> Response {
        let body = try await body(request, AgentRunBody.self, fields: AgentRunBody.fields)
        guard !body.command.isEmpty, body.command.count <= 1_000 else { throw APIFailure.badRequest("command must be 1 to 1000 arguments, the program first") }
        let timeout = try body.timeout.map { try parseDuration($0) }
        guard let isolation = IsolationMode(rawValue: body.isolation ?? "namespace") else {
            throw APIFailure.badRequest("isolation must be namespace or none")
        }
        if isolation == .none, !configuration.allowUnisolatedRuns {
            throw APIFailure(status: .forbidden, code: "forbidden", message: "isolation none is refused unless the server was started with --allow-unisolated-runs")
        }
        if isolation == .none, body.network == false { throw APIFailure.badRequest("network false needs isolation; it cannot be had with isolation none") }
        let passing = try (body.env ?? [:]).sorted { $0.key < $1.key }.map { name, value in
            guard !name.contains("=") else { throw APIFailure.badRequest("env: a variable name is letters, digits and '_', not \(name.debugDescription)") }
            return name + "=" + value
        }
        _ = try Sandbox.agentVariables(passing, from: [:])
        let configuration = configuration
        let pool = pool
        let agent = try await blocking { try pool.with(create: false) { sandbox in try sandbox.agent(try sandbox.agentID(for: reference)).id } }
        let job = try jobs.submit(kind: .agentRun, subject: agent.rawValue) { shouldStop, note in
            let grace = configuration.environment["NOVAOS_KILL_GRACE_MS"].flatMap(Double.init).map { $0 / 1000 } ?? 2
            var options = RunOptions(
                timeout: timeout, gracePeriod: grace, environment: configuration.environment, currentDirectory: configuration.currentDirectory,
                shouldInterrupt: shouldStop, output: { _, _ in true }, note: note
            )
            options.warn = note
            options.passing = passing
            options.isolation = isolation
            options.network = body.network ?? true
            return try pool.with(create: false) { try $0.runAgent(agent, command: body.command, options: options) }
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
        let repository = try await blocking { try pool.with(create: false) { try $0.repository(reference).id } }
        let job = try jobs.submit(kind: .repositoryRun, subject: repository) { shouldStop, note in
            var options = RepositoryOptions(environment: configuration.environment, currentDirectory: configuration.currentDirectory, warn: note)
            options.shouldInterrupt = shouldStop
            return try pool.with(create: false) { try run($0, repository, options) }
        }
        return try accepted(job)
    }

    /// 202 with the job and where to follow it.
    private func accepted(_ job: Job) throws -> Response {
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
        let tokens = TokenCounts(input: body.inputTokens, output: body.outputTokens, cacheRead: body.cacheReadTokens ?? 0, cacheWrite: body.cacheWriteTokens ?? 0)
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

        enum CodingKeys: String, CodingKey {
            case amount, source, description
            case agentID = "agent_id"
        }
    }

    private func revenue(_ request: Request) async throws -> Response {
        let body = try await body(request, RevenueBody.self, fields: ["agent_id", "amount", "source", "description"])
        let reference = try AgentReference(body.agentID)
        return try await answer(status: .created) { sandbox in
            try sandbox.recordRevenue(agent: try sandbox.agentID(for: reference), amount: body.amount, source: body.source, description: body.description ?? "")
        }
    }

    /// Events in bulk: the body is JSON Lines, as `sandbox import` reads them (up to 64 MiB);
    /// `?skip_invalid=true` records the valid lines. 422 when nothing was committed.
    private func events(_ request: Request) async throws -> Response {
        var request = request
        try request.requireContentType(["application/x-ndjson", "application/jsonl", "text/plain"])
        let skipInvalid = request.uri.queryParameters.get("skip_invalid") == "true"
        let buffer = try await request.collectBody(upTo: Self.maximumEventBytes)
        let bytes = Array(buffer.readableBytesView)
        let pool = pool
        let summary = try await blocking { () throws -> ImportSummary in
            // The import reads a descriptor: the body goes to an unlinked temporary file first.
            var template = Array("/tmp/novaos-events-XXXXXX".utf8CString)
            let file = mkstemp(&template)
            guard file >= 0 else { throw SandboxError.unavailable("cannot make a temporary file: \(String(cString: strerror(errno)))") }
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
            defer { close(file) }
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { throw SandboxError.unavailable("cannot write a temporary file: \(String(cString: strerror(errno)))") }
                offset += written
            }
            lseek(file, 0, SEEK_SET)
            return try pool.with(create: true) { sandbox in
                try sandbox.importEvents(fileDescriptor: file, source: "POST /api/v1/events", options: ImportOptions(skipInvalid: skipInvalid))
            }
        }
        return try APIResponse.document(summary, status: summary.committed ? .ok : .unprocessableContent)
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

    struct CheckBody: Decodable, Sendable {
        var dryRun: Bool?
        enum CodingKeys: String, CodingKey { case dryRun = "dry_run" }
    }
}
