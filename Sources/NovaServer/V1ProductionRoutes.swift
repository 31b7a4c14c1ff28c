#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import SandboxCore

/// Production under `/api/v1/production/`, answering with the documents of the `production`
/// commands' `--json`. An agent is a production agent's ID or a slot (its live version), as
/// the commands take it.
struct V1ProductionRoutes {
    let v1: V1Routes

    var configuration: ServerConfiguration { v1.configuration }

    func register(on router: Router<BasicRequestContext>) {
        let api = router.group("api/v1/production")
        api.get("agents") { request, _ in
            let (cursor, limit) = try v1.paging(request) { $0 }
            return try await v1.document { try Production(paths: configuration.paths).listAgents(cursor: cursor, limit: limit) }
        }
        api.get("slots/:slot") { _, context in
            let slot = try context.parameters.require("slot")
            return try await v1.document { try Production(paths: configuration.paths).slot(slot) }
        }
        api.get("history") { request, _ in
            let subject = request.uri.queryParameters.get("subject").map { String($0) }
            let (cursor, limit) = try v1.paging(request) { $0 }
            return try await v1.document { try Production(paths: configuration.paths).history(of: subject, cursor: cursor, limit: limit) }
        }
        api.post("check") { request, _ in
            let body = try await v1.body(request, CheckBody.self, fields: ["dry_run"])
            let dryRun = body.dryRun ?? false
            // Before any promotion there is nothing to judge: an empty report, as the command.
            guard FileManager.default.fileExists(atPath: configuration.paths.productionDatabase.path) else {
                return try APIResponse.document(CheckReport.empty(at: Date(), dryRun: dryRun))
            }
            return try await v1.document { try guardian().check(dryRun: dryRun) }
        }
        api.get("agents/:id/metrics") { request, context in
            let agent = try context.parameters.require("id")
            let query = request.uri.queryParameters
            let since = try query.get("since").map { try parseUserDate(String($0), field: "since") }
            let window = try query.get("window").map { try parseDuration(String($0), maximumDays: 366) }
            return try await v1.document { try ledger().metrics(of: agent, since: since, window: window) }
        }
        api.get("agents/:id/runs") { request, context in
            let agent = try context.parameters.require("id")
            let (cursor, limit) = try v1.paging(request) { $0 }
            return try await v1.document { try ledger().runs(of: agent, cursor: cursor, limit: limit) }
        }
        api.post("agents/:id/run") { request, context in try await run(request, context.parameters.require("id")) }
        api.post("agents/:id/budget") { request, context in
            let agent = try context.parameters.require("id")
            let body = try await v1.body(request, V1Routes.TokenBudgetBody.self, fields: ["tokens"])
            return try await v1.document { try ledger().setTokenBudget(of: agent, tokens: body.tokens) }
        }
        api.get("agents/:id/guardrails") { _, context in
            let agent = try context.parameters.require("id")
            return try await v1.document { try guardian().guardrails(of: agent) }
        }
        api.post("agents/:id/guardrails") { request, context in
            let agent = try context.parameters.require("id")
            let body = try await v1.body(request, [String: JSONValue].self, fields: Set(GuardrailPolicy.keys))
            let pairs = try body.sorted { $0.key < $1.key }.map { key, value -> String in
                switch value {
                case .string(let text): return "\(key)=\(text)"
                case .integer(let number): return "\(key)=\(number)"
                case .number(let number): return "\(key)=\(number)"
                default: throw APIFailure.badRequest("\(key) must be a number or a string like \"24h\"")
                }
            }
            guard !pairs.isEmpty else { throw APIFailure.badRequest("give at least one guardrail to set (GET shows them)") }
            return try await v1.document { try guardian().setGuardrails(of: agent, pairs) }
        }
        api.post("usage") { request, _ in
            let body = try await v1.body(request, V1Routes.UsageBody.self, fields: V1Routes.UsageBody.fields)
            return try await v1.document(status: .created) {
                try ledger().recordUsage(
                    agent: body.agentID, model: body.model, tokens: body.tokens, batch: body.batch ?? false,
                    cacheDuration: body.cacheTTL ?? .fiveMinutes, operation: body.operation, cost: body.cost
                )
            }
        }
        api.post("revenue") { request, _ in
            let body = try await v1.body(request, V1Routes.RevenueBody.self, fields: V1Routes.RevenueBody.fields)
            return try await v1.document(status: .created) {
                try ledger().recordRevenue(agent: body.agentID, amount: body.amount, source: body.source, description: body.description ?? "")
            }
        }
        api.post("events") { request, _ in
            let (bytes, skipInvalid) = try await v1.eventLines(request)
            let summary = try await blocking {
                try V1Routes.spooled(bytes) { file in
                    try ledger().importEvents(fileDescriptor: file, source: "POST /api/v1/production/events", options: ImportOptions(skipInvalid: skipInvalid))
                }
            }
            return try APIResponse.document(summary, status: summary.committed ? .ok : .unprocessableContent)
        }
        api.post("rollback") { request, _ in try await change(.rollback, request) }
        api.post("retire") { request, _ in try await change(.retire, request) }
    }

    /// A ledger (its own connection) for one request.
    private func ledger() throws -> ProductionLedger {
        try ProductionLedger(paths: configuration.paths, busyTimeoutMilliseconds: configuration.busyTimeoutMilliseconds)
    }

    private func guardian() throws -> ProductionGuard {
        try ProductionGuard(paths: configuration.paths, busyTimeoutMilliseconds: configuration.busyTimeoutMilliseconds)
    }

    struct CheckBody: Decodable, Sendable {
        var dryRun: Bool?
        enum CodingKeys: String, CodingKey { case dryRun = "dry_run" }
    }

    /// `production run` as a job (`kind: production_run`), with the body of `agents/{id}/run`.
    private func run(_ request: Request, _ agent: String) async throws -> Response {
        let body = try await v1.body(request, V1Routes.AgentRunBody.self, fields: V1Routes.AgentRunBody.fields)
        let options = try body.checked(configuration)
        // The agent is looked up now: an unknown one is a 404 rather than a failed job, and a
        // slot runs the version live when the job was accepted (if it is not live any more when
        // the job starts, the job fails, as `production run` would).
        let id = try await blocking { try ledger().agentID(for: agent) }
        let job = try v1.jobs.submit(kind: .productionRun, subject: id.rawValue) { shouldStop, note in
            try ledger().runAgent(id.rawValue, command: body.command, options: options(shouldStop, note))
        }
        return try v1.accepted(job)
    }

    struct ChangeBody: Decodable, Sendable {
        var agent: String
        var to: String?
        var reason: String?
        var confirm: Bool?
    }

    /// `production rollback` and `retire`: what would change is worked out first; a change of a
    /// slot's live version needs `{"confirm": true}` (409 without), as the commands ask on a
    /// terminal. The change then acts on the agent the preview named, so a slot that changed
    /// meanwhile, or a request sent twice, rolls nothing back twice.
    private func change(_ kind: SlotChange.Kind, _ request: Request) async throws -> Response {
        let fields: Set<String> = kind == .rollback ? ["agent", "to", "reason", "confirm"] : ["agent", "reason", "confirm"]
        let body = try await v1.body(request, ChangeBody.self, fields: fields)
        if let reason = body.reason { try ProductionGuard.validateReason(reason) }
        let change = try await blocking { () throws -> SlotChange in
            let guardian = try guardian()
            let preview = try guardian.preview(kind, body.agent, to: body.to)
            if preview.changesLiveVersion, body.confirm != true {
                let verb = kind == .rollback ? "rolling back" : "retiring"
                throw APIFailure(
                    status: .conflict, code: "confirmation_required",
                    message: "\(verb) \(preview.agentID) changes the live version of slot \(preview.slot); send {\"confirm\": true}"
                )
            }
            return kind == .rollback
                ? try guardian.rollback(preview.agentID.rawValue, to: body.to, reason: body.reason, expected: preview)
                : try guardian.retire(preview.agentID.rawValue, reason: body.reason, expected: preview)
        }
        return try APIResponse.document(change)
    }
}
