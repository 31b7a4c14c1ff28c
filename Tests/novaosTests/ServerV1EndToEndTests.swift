import Foundation
import Testing
@testable import SandboxCore

/// The sandbox under `/api/v1/` through real HTTP (issue 14): the CLI's documents, paging, the
/// confirmations, and eight clients writing usage at once with nothing lost.
@Suite(.serialized) struct ServerV1EndToEndTests {
    @Test func theSandboxOverRESTAnswersWithTheCLIsDocuments() throws {
        let home = try makeHome()
        let server = try RunningServer(home: home)
        defer { server.stop() }

        var ids: [String] = []
        for index in 0..<5 {
            let created = try server.request("POST", "/api/v1/projects", body: #"{"name":"p\#(index)","budget":50,"expires_in":"7d"}"#)
            #expect(created.status == 201, "\(created.body)")
            ids.append(try #require(created.json["id"] as? String))
        }
        // Pages of two, in creation order, the cursor the last ID of a page.
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try server.request("GET", "/api/v1/projects?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
            #expect(page.status == 200)
            seen += (page.json["projects"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            cursor = page.json["next_cursor"] as? String
        } while cursor != nil && seen.count < 10
        #expect(seen == ids)
        #expect(try server.request("GET", "/api/v1/projects?limit=0").status == 400)
        #expect(try server.request("GET", "/api/v1/projects?cursor=prj_00000000").status == 404)

        let project = ids[0]
        let agent = try server.request("POST", "/api/v1/projects/\(project)/agents", body: #"{"type":"customer_support","name":"helper","config":{"tone":"warm"}}"#)
        #expect(agent.status == 201 && agent.json["token_budget"] as? Int == 200_000)
        let agentID = try #require(agent.json["id"] as? String)
        let usage = try server.request("POST", "/api/v1/usage", body: #"{"agent_id":"\#(project)/helper","model":"gpt-4o","input_tokens":1000,"output_tokens":200}"#)
        #expect(usage.status == 201 && usage.json["cost"] as? Double == 0.0045, "\(usage.body)")
        #expect(try server.request("POST", "/api/v1/revenue", body: #"{"agent_id":"\#(agentID)","amount":12.5}"#).status == 201)
        let lines = """
        {"type":"usage","id":"e-1","agent_id":"\(agentID)","model":"gpt-4o","input_tokens":10,"output_tokens":10}
        {"type":"revenue","id":"e-2","agent_id":"\(agentID)","amount":1}
        """
        let imported = try server.request("POST", "/api/v1/events", body: lines, headers: ["Content-Type: application/x-ndjson"])
        #expect(imported.status == 200 && imported.json["new"] as? Int == 2, "\(imported.body)")
        let again = try server.request("POST", "/api/v1/events", body: lines, headers: ["Content-Type: application/x-ndjson"])
        #expect(again.json["duplicate"] as? Int == 2)
        let broken = try server.request("POST", "/api/v1/events", body: "{not json}", headers: ["Content-Type: application/x-ndjson"])
        #expect(broken.status == 422 && broken.json["committed"] as? Bool == false)

        // The same document as the CLI's --json.
        let detail = try server.request("GET", "/api/v1/projects/\(project)")
        let cli = try runBinary(["sandbox", "project", project, "--json"], home: home)
        #expect(detail.status == 200)
        let decoded = try SandboxJSON.decoder().decode(ProjectDetail.self, from: Data(detail.body.utf8))
        #expect(decoded == (try cli.decode(ProjectDetail.self)))
        #expect(decoded.metrics.totalRevenue == Money(micros: 13_500_000))

        #expect(try server.request("POST", "/api/v1/projects/\(project)/experiments", body: #"{"name":"tone","hypothesis":"warm wins"}"#).status == 201)
        #expect((try server.request("GET", "/api/v1/projects/\(project)/experiments").json["experiments"] as? [Any])?.count == 1)
        let evaluation = try server.request("POST", "/api/v1/projects/\(project)/eval")
        #expect(evaluation.status == 200 && evaluation.json["recommendation"] as? String != nil)
        let compared = try server.request("GET", "/api/v1/compare?projects=\(project),\(ids[1])")
        #expect(compared.status == 200 && (compared.json["columns"] as? [Any])?.count == 2)
        #expect((try server.request("GET", "/api/v1/prices").json["prices"] as? [Any])?.isEmpty == false)
        #expect(try server.request("GET", "/api/v1/agents/\(agentID)/runs").json["runs"] is [Any])
        #expect(try server.request("GET", "/api/v1/status").json["total_projects"] as? Int == 5)

        // Promotion and kill need {"confirm": true}; refusals by state are 409.
        let unconfirmed = try server.request("POST", "/api/v1/projects/\(project)/promote", body: "{}")
        #expect(unconfirmed.status == 409 && unconfirmed.errorCode == "confirmation_required")
        let promoted = try server.request("POST", "/api/v1/projects/\(project)/promote", body: #"{"confirm":true}"#)
        #expect(promoted.status == 200 && promoted.json["status"] as? String == "promoted", "\(promoted.body)")
        let killPromoted = try server.request("POST", "/api/v1/projects/\(project)/kill", body: #"{"confirm":true}"#)
        #expect(killPromoted.status == 409 && killPromoted.errorCode == "conflict")
        #expect(try server.request("POST", "/api/v1/projects/\(ids[1])/kill", body: #"{"confirm":true}"#).status == 200)
        let production = try server.request("GET", "/api/v1/production/agents")
        #expect((production.json["agents"] as? [[String: Any]])?.first?["slot"] as? String == "helper")
        #expect(try server.request("GET", "/api/v1/production/slots/helper").json["live"] is String)
        #expect((try server.request("GET", "/api/v1/production/history").json["events"] as? [Any])?.count == 1)
        #expect(try server.request("POST", "/api/v1/production/check", body: #"{"dry_run":true}"#).json["dry_run"] as? Bool == true)

        // Bad input.
        #expect(try server.request("GET", "/api/v1/projects/nonsense").status == 400)
        #expect(try server.request("GET", "/api/v1/projects/prj_00000000").status == 404)
        #expect(try server.request("POST", "/api/v1/usage", body: #"{"agent_id":"\#(agentID)","model":"gpt-4o","input_tokens":-1,"output_tokens":0}"#).status == 400)
        #expect(try server.request("POST", "/api/v1/revenue", body: #"{"agent_id":"\#(agentID)","amount":"ten"}"#).status == 400)
    }

    /// Every page of a list, following next_cursor; the IDs (as text) under `key`.
    func allPages(_ server: RunningServer, _ path: String, _ key: String, limit: Int = 2) throws -> [String] {
        var ids: [String] = []
        var cursor: String?
        for _ in 0..<50 {
            let separator = path.contains("?") ? "&" : "?"
            let page = try server.request("GET", path + separator + "limit=\(limit)" + (cursor.map { "&cursor=\($0)" } ?? ""))
            #expect(page.status == 200, "\(path): \(page.body)")
            let items = page.json[key] as? [[String: Any]] ?? []
            #expect(items.count <= limit)
            ids += items.compactMap { item in (item["id"] as? String) ?? (item["id"] as? Int).map(String.init) }
            cursor = page.json["next_cursor"] as? String
            if cursor == nil { break }
        }
        return ids
    }

    @Test func everyListIsPagedWithoutGapsOrRepeats() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "p", "--json"], home: home).decode(Project.self).id.rawValue
        var agents: [String] = []
        for index in 0..<3 {
            let agent = try runBinary(["sandbox", "deploy", project, "assistant", "--name", "w\(index)", "--json"], home: home).decode(Agent.self).id.rawValue
            if index == 0 { // runs before the usage that spends its budget
                for _ in 0..<3 { #expect(try runBinary(["sandbox", "run", agent, "--", "true"], home: home).exitCode == 0) }
            }
            _ = try runBinary(["sandbox", "usage", agent, "--model", "claude-haiku-3.5", "--input-tokens", "100000", "--output-tokens", "0"], home: home)
            _ = try runBinary(["sandbox", "revenue", agent, "2"], home: home)
            agents.append(agent)
        }
        let server = try RunningServer(home: home)
        defer { server.stop() }
        for index in 0..<3 {
            #expect(try server.request("POST", "/api/v1/projects/\(project)/experiments", body: #"{"name":"e\#(index)"}"#).status == 201)
        }
        #expect(try server.request("POST", "/api/v1/projects/\(project)/promote", body: #"{"confirm":true}"#).status == 200)

        let runs = try runBinary(["sandbox", "runs", agents[0], "--json"], home: home).decode(RunList.self).runs.map { String($0.id) }
        let runPages = try allPages(server, "/api/v1/agents/\(agents[0])/runs", "runs")
        #expect(runs.count == 3 && runPages == runs)
        let experiments = try runBinary(["sandbox", "project", project, "--json"], home: home).decode(ProjectDetail.self).experiments.map { String($0.id) }
        let experimentPages = try allPages(server, "/api/v1/projects/\(project)/experiments", "experiments")
        #expect(experiments.count == 3 && experimentPages == experiments)
        let production = try runBinary(["production", "list", "--json"], home: home).decode(ProductionAgentList.self).agents.map(\.id.rawValue)
        let productionPages = try allPages(server, "/api/v1/production/agents", "agents")
        #expect(production.count == 3 && productionPages == production)
        let history = try runBinary(["production", "history", "--json"], home: home).decode(ProductionHistory.self).events.map { String($0.id) }
        let historyPages = try allPages(server, "/api/v1/production/history", "events")
        #expect(history.count == 3 && historyPages == history)
        #expect((try allPages(server, "/api/v1/production/history?subject=w1", "events", limit: 1)).count == 1)

        for path in ["/api/v1/agents/\(agents[0])/runs?cursor=x", "/api/v1/agents/\(agents[0])/runs?limit=1001", "/api/v1/production/history?cursor=-1",
                     "/api/v1/projects/\(project)/experiments?limit=0", "/api/v1/production/agents?cursor=nonsense"] {
            #expect(try server.request("GET", path).status == 400, "\(path)")
        }
        #expect(try server.request("GET", "/api/v1/production/agents?cursor=prd_0000000000000000").status == 404)
    }

    @Test func theRestOfTheSandboxAndProductionOverREST() throws {
        let (home, project, winner, loser) = try promotableHome()
        let server = try RunningServer(home: home)
        defer { server.stop() }

        // Sandbox: pause, resume, budgets, extend, sweep, as the commands.
        // (Its usage spent the loser's budget, which paused it.)
        let budget = try server.request("POST", "/api/v1/agents/\(loser)/budget", body: #"{"tokens":500000}"#)
        #expect(budget.status == 200 && budget.json["kind"] as? String == "agent", "\(budget.body)")
        #expect(try server.request("POST", "/api/v1/agents/\(loser)/resume").json["status"] as? String == "active")
        #expect(try server.request("POST", "/api/v1/agents/\(loser)/pause").json["status"] as? String == "paused")
        #expect(try server.request("POST", "/api/v1/agents/\(project)%2Floser/resume").json["status"] as? String == "active")
        #expect(try server.request("POST", "/api/v1/projects/\(project)/budget", body: #"{"usd":25}"#).status == 200)
        #expect(try server.request("POST", "/api/v1/projects/\(project)/budget", body: #"{"none":true}"#).status == 200)
        #expect(try server.request("POST", "/api/v1/projects/\(project)/budget", body: #"{"usd":25,"none":true}"#).status == 400)
        #expect(try server.request("POST", "/api/v1/projects/\(project)/budget", body: #"{}"#).status == 400)
        #expect(try server.request("POST", "/api/v1/agents/\(loser)/budget", body: #"{"tokens":-1}"#).status == 400)
        let extended = try server.request("POST", "/api/v1/projects/\(project)/extend", body: #"{"by":"7d"}"#)
        #expect(extended.status == 200 && extended.json["expires_at"] is String, "\(extended.body)")
        #expect(try server.request("POST", "/api/v1/projects/\(project)/extend", body: #"{"by":"soon"}"#).status == 400)
        #expect(try server.request("POST", "/api/v1/sweep").status == 200)

        // Before any promotion: an empty check, and production routes that say there is none.
        let empty = try server.request("POST", "/api/v1/production/check", body: "{}")
        #expect(empty.status == 200 && (empty.json["checks"] as? [Any])?.isEmpty == true, "\(empty.body)")
        #expect(try server.request("POST", "/api/v1/projects/\(project)/promote", body: #"{"confirm":true}"#).status == 200)
        let live = try #require((try server.request("GET", "/api/v1/production/agents").json["agents"] as? [[String: Any]])?.first?["id"] as? String)
        #expect(live.hasPrefix("prd_") && live != winner)

        // The ledger of a live agent, by its slot or its ID.
        let usage = try server.request("POST", "/api/v1/production/usage", body: #"{"agent_id":"winner","model":"gpt-4o","input_tokens":1000,"output_tokens":200}"#)
        #expect(usage.status == 201 && usage.json["cost"] as? Double == 0.0045, "\(usage.body)")
        #expect(try server.request("POST", "/api/v1/production/revenue", body: #"{"agent_id":"\#(live)","amount":3}"#).status == 201)
        let lines = #"{"type":"revenue","id":"p-1","agent_id":"\#(live)","amount":1}"#
        let imported = try server.request("POST", "/api/v1/production/events", body: lines, headers: ["Content-Type: application/x-ndjson"])
        #expect(imported.status == 200 && imported.json["new"] as? Int == 1, "\(imported.body)")
        let metrics = try server.request("GET", "/api/v1/production/agents/winner/metrics?window=1d")
        #expect(metrics.status == 200, "\(metrics.body)")
        #expect(try server.request("GET", "/api/v1/production/agents/winner/metrics?window=forever").status == 400)
        #expect(try server.request("POST", "/api/v1/production/agents/winner/budget", body: #"{"tokens":50000}"#).status == 200)
        let guardrails = try server.request("POST", "/api/v1/production/agents/winner/guardrails", body: #"{"min_events":5,"bake_time":"0"}"#)
        #expect(guardrails.status == 200, "\(guardrails.body)")
        #expect(try server.request("GET", "/api/v1/production/agents/winner/guardrails").status == 200)
        #expect(try server.request("POST", "/api/v1/production/agents/winner/guardrails", body: #"{"speed":"fast"}"#).status == 400)
        #expect(try server.request("POST", "/api/v1/production/agents/winner/guardrails", body: #"{"min_events":[1]}"#).status == 400)

        // A production run is a job too.
        let job = try server.request("POST", "/api/v1/production/agents/winner/run", body: #"{"command":["true"]}"#)
        #expect(job.status == 202 && job.json["kind"] as? String == "production_run", "\(job.body)")
        let jobID = try #require(job.json["id"] as? String)
        var finished = job
        for _ in 0..<200 where !["finished", "failed", "cancelled"].contains(finished.json["status"] as? String ?? "") {
            Thread.sleep(forTimeInterval: 0.1)
            finished = try server.request("GET", "/api/v1/jobs/\(jobID)")
        }
        #expect(finished.json["status"] as? String == "finished", "\(finished.body)")
        #expect((try server.request("GET", "/api/v1/production/agents/winner/runs").json["runs"] as? [Any])?.count == 1)
        #expect(job.json["subject"] as? String == live) // the slot's live version when accepted
        #expect(try server.request("GET", "/api/v1/production/agents/winner/runs?limit=1").json["next_cursor"] is NSNull)
        #expect(try server.request("GET", "/api/v1/production/slots/nothing").status == 404)
        let unknown = try server.request("POST", "/api/v1/production/agents/nothing/run", body: #"{"command":["true"]}"#)
        #expect(unknown.status == 404, "\(unknown.body)")

        // Rollback and retire: a change of the live version needs the confirmation.
        let unconfirmed = try server.request("POST", "/api/v1/production/rollback", body: #"{"agent":"winner","reason":"too slow"}"#)
        #expect(unconfirmed.status == 409 && unconfirmed.errorCode == "confirmation_required", "\(unconfirmed.body)")
        #expect(try server.request("GET", "/api/v1/production/slots/winner").json["live"] as? String == live)
        let rolledBack = try server.request("POST", "/api/v1/production/rollback", body: #"{"agent":"winner","reason":"too slow","confirm":true}"#)
        #expect(rolledBack.status == 200, "\(rolledBack.body)")
        #expect(try server.request("GET", "/api/v1/production/slots/winner").json["live"] is NSNull)
        let retired = try server.request("POST", "/api/v1/production/retire", body: #"{"agent":"\#(live)"}"#)
        #expect(retired.status == 200, "\(retired.body)")
        let kinds = (try server.request("GET", "/api/v1/production/history?subject=winner").json["events"] as? [[String: Any]])?.compactMap { $0["kind"] as? String }
        #expect(kinds?.contains("rollback") == true && kinds?.contains("retire") == true, "\(String(describing: kinds))")
        let unknownRollback = try server.request("POST", "/api/v1/production/rollback", body: #"{"agent":"prd_0000000000000000","confirm":true}"#)
        #expect(unknownRollback.status == 404, "\(unknownRollback.body)")
        #expect(try server.request("POST", "/api/v1/production/retire", body: #"{"agent":"\#(live)","to":"x"}"#).status == 400)
        #expect(try server.request("POST", "/api/v1/production/retire", body: #"{"agent":"prd_0000000000000000","confirm":true}"#).status == 404)
    }

    @Test func eightClientsWritingUsageAtOnceLoseNothing() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "p", "--json"], home: home).decode(Project.self).id.rawValue
        let agent = try runBinary(["sandbox", "deploy", project, "coder", "--budget-tokens", "100000000", "--json"], home: home).decode(Agent.self).id.rawValue
        let server = try RunningServer(home: home)
        defer { server.stop() }
        let failures = NSLock()
        nonisolated(unsafe) var statuses: [Int] = []
        DispatchQueue.concurrentPerform(iterations: 8) { client in
            for call in 0..<25 {
                let reply = try? server.request(
                    "POST", "/api/v1/usage",
                    body: #"{"agent_id":"\#(agent)","model":"gpt-4o","input_tokens":\#(100 + client),"output_tokens":\#(call)}"#
                )
                failures.withLock { statuses.append(reply?.status ?? 0) }
            }
        }
        #expect(statuses.count == 200 && statuses.allSatisfy { $0 == 201 }, "\(Set(statuses))")
        let expectedTokens = (0..<8).reduce(0) { $0 + 25 * (100 + $1) } + 8 * (0..<25).reduce(0, +)
        let detail = try runBinary(["sandbox", "project", project, "--json"], home: home).decode(ProjectDetail.self)
        #expect(detail.metrics.tokensUsed == Int64(expectedTokens))
        #expect(detail.agents[0].tokensUsed == Int64(expectedTokens))
    }
}
