import Foundation
import Testing
@testable import SandboxCore

/// Long work over REST as jobs (issue 14): agent runs and repository runs accepted at once,
/// followed with `GET /api/v1/jobs/{id}`, cancelled, stopped with the server; and a database
/// locked past the busy timeout answered with 503.
@Suite(.serialized) struct ServerJobsEndToEndTests {
    /// Polls the job until it is finished, failed or cancelled (at most `seconds`).
    func finished(_ server: RunningServer, _ id: String, within seconds: Double = 60, auth: [String] = []) throws -> RunningServer.Reply {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let reply = try server.request("GET", "/api/v1/jobs/\(id)", headers: auth)
            let status = reply.json["status"] as? String ?? ""
            if ["finished", "failed", "cancelled"].contains(status) || Date() > deadline { return reply }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// Polls until the job runs.
    func running(_ server: RunningServer, _ id: String) throws {
        let deadline = Date().addingTimeInterval(20)
        while try server.request("GET", "/api/v1/jobs/\(id)").json["status"] as? String != "running", Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    @Test func anAgentRunIsAJobWithTheCLIsRunDocument() throws {
        let (home, project, agent) = try homeWithAgent(tokenBudget: 1_000_000)
        let script = home.appendingPathComponent("agent.py")
        try """
        import json, os
        with open(os.environ["NOVAOS_EVENTS"], "w") as events:
            for _ in range(3):
                events.write(json.dumps({"type": "usage", "model": "gpt-4o", "input_tokens": 100, "output_tokens": 10}) + "\\n")
        print("the secret is", os.environ.get("API_KEY"))
        """.write(to: script, atomically: true, encoding: .utf8)
        let server = try RunningServer(home: home)
        defer { server.stop() }

        let accepted = try server.request(
            "POST", "/api/v1/agents/\(project)%2Fassistant/run", // PROJECT_ID/NAME, as the CLI takes it, escaped
            body: #"{"command":["python3","\#(script.path)"],"env":{"API_KEY":"sk-live-0123456789abcdef"},"timeout":"30s"}"#
        )
        #expect(accepted.status == 202, "\(accepted.body)")
        #expect(Set(accepted.json.keys) == ["id", "kind", "subject", "status", "cancel_requested", "created_at", "started_at", "finished_at",
                                            "result", "error", "notes"])
        #expect(accepted.json["kind"] as? String == "agent_run" && accepted.json["subject"] as? String == agent)
        #expect(["queued", "running"].contains(accepted.json["status"] as? String ?? ""))
        let id = try #require(accepted.json["id"] as? String)

        let done = try finished(server, id)
        #expect(done.json["status"] as? String == "finished", "\(done.body)")
        let result = try #require(done.json["result"] as? [String: Any])
        #expect(result["events"] as? Int == 3 && result["tokens_used"] as? Int == 330 && result["stop_reason"] as? String == "exited")
        #expect(done.json["started_at"] is String && done.json["finished_at"] is String && done.json["error"] is NSNull)
        // The same document as the CLI's, and the secret nowhere: not in the job, not in the log.
        let runs = try runBinary(["sandbox", "runs", agent, "--json"], home: home).decode(RunList.self)
        let resultData = try JSONSerialization.data(withJSONObject: result)
        #expect(try SandboxJSON.decoder().decode(RunRecord.self, from: resultData) == runs.runs[0])
        #expect(!done.body.contains("sk-live-0123456789abcdef"))
        let log = try String(contentsOfFile: try #require(result["log"] as? String), encoding: .utf8)
        #expect(log.contains("the secret is") && !log.contains("sk-live-0123456789abcdef"))

        // The jobs, newest first, in pages.
        let second = try server.request("POST", "/api/v1/agents/\(agent)/run", body: #"{"command":["true"]}"#)
        let secondID = try #require(second.json["id"] as? String)
        _ = try finished(server, secondID)
        let first = try server.request("GET", "/api/v1/jobs?limit=1")
        #expect((first.json["jobs"] as? [[String: Any]])?.map { $0["id"] as? String } == [secondID])
        #expect((first.json["jobs"] as? [[String: Any]])?.first?.keys.contains("result") == false) // lists leave results out
        let next = try server.request("GET", "/api/v1/jobs?limit=1&cursor=\(try #require(first.json["next_cursor"] as? String))")
        #expect((next.json["jobs"] as? [[String: Any]])?.map { $0["id"] as? String } == [id] && next.json["next_cursor"] is NSNull)

        // Bad input is refused before anything runs.
        let before = try runBinary(["sandbox", "runs", agent, "--json"], home: home).decode(RunList.self).runs.count
        for (path, body, status) in [
            ("/api/v1/agents/\(agent)/run", #"{"command":[]}"#, 400),
            ("/api/v1/agents/\(agent)/run", #"{}"#, 400),
            ("/api/v1/agents/\(agent)/run", #"{"command":["true"],"shell":true}"#, 400),
            ("/api/v1/agents/\(agent)/run", #"{"command":["true"],"timeout":"soon"}"#, 400),
            ("/api/v1/agents/\(agent)/run", #"{"command":["true"],"env":{"NOVAOS_AGENT_ID":"x"}}"#, 400),
            ("/api/v1/agents/\(agent)/run", #"{"command":["true"],"env":{"A=B":"x"}}"#, 400),
            ("/api/v1/agents/\(agent)/run", #"{"command":["true"],"isolation":"none"}"#, 403),
            ("/api/v1/agents/agt_000000000000/run", #"{"command":["true"]}"#, 404),
            ("/api/v1/agents/\(project)%2Fnobody/run", #"{"command":["true"]}"#, 404),
            ("/api/v1/agents/nonsense/run", #"{"command":["true"]}"#, 400),
            ("/api/v1/repositories/nothing/run", #"{}"#, 404),
        ] {
            let reply = try server.request("POST", path, body: body)
            #expect(reply.status == status, "\(path) \(body): \(reply.body)")
        }
        #expect(try server.request("GET", "/api/v1/jobs/job_0000000000000000").status == 404)
        #expect(try server.request("POST", "/api/v1/jobs/job_0000000000000000/cancel").status == 404)
        #expect(try server.request("GET", "/api/v1/jobs?cursor=job_0000000000000000").status == 400)
        #expect(try runBinary(["sandbox", "runs", agent, "--json"], home: home).decode(RunList.self).runs.count == before)

        // A command that cannot start names itself in the error: a passed value in it is redacted.
        for secret in ["sk-live-0123456789abcdef", #"sk-\"quoted\\secret"#] {
            let unstartable = try server.request("POST", "/api/v1/agents/\(agent)/run", body: #"{"command":["/nonexistent/\#(secret)"],"env":{"K":"\#(secret)"}}"#)
            let failed = try finished(server, try #require(unstartable.json["id"] as? String))
            #expect(failed.json["status"] as? String == "failed" && !failed.body.contains("quoted") && !failed.body.contains("sk-live"), "\(failed.body)")
        }
    }

    @Test func whatTheServerRunsCannotReadItsToken() throws {
        let (home, _, agent) = try homeWithAgent(tokenBudget: 1_000_000)
        // A path with ':' could not be hidden (NOVAOS_HIDE is a list separated by ':'): refused.
        let odd = home.appendingPathComponent("a:b")
        try FileManager.default.createDirectory(at: odd, withIntermediateDirectories: true)
        try "tok-0123456789abcdef0123456789\n".write(to: odd.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        chmod(odd.appendingPathComponent("token").path, 0o600)
        let refused = try runBinary(["serve", "--port", "0", "--token-file", odd.appendingPathComponent("token").path], home: home)
        #expect(refused.exitCode == 64 && refused.stderr.contains("may not contain ':'"), "\(refused.stderr)")
        let token = home.appendingPathComponent("server.token")
        try "tok-0123456789abcdef0123456789\n".write(to: token, atomically: true, encoding: .utf8)
        chmod(token.path, 0o600)
        let server = try RunningServer(["--token-file", token.path], home: home)
        defer { server.stop() }
        let auth = ["Authorization: Bearer tok-0123456789abcdef0123456789"]
        let accepted = try server.request("POST", "/api/v1/agents/\(agent)/run", body: #"{"command":["cat","\#(token.path)"]}"#, headers: auth)
        let done = try finished(server, try #require(accepted.json["id"] as? String), auth: auth)
        let result = try #require(done.json["result"] as? [String: Any], "\(done.body)")
        #expect(result["exit_code"] as? Int != 0)
        let log = try String(contentsOfFile: try #require(result["log"] as? String), encoding: .utf8)
        #expect(!log.contains("tok-0123456789abcdef"))
    }

    @Test func aCancelledJobStopsItsWorkAndAStoppingServerStopsEveryJob() throws {
        let (home, _, agent) = try homeWithAgent(tokenBudget: 1_000_000)
        let server = try RunningServer(home: home, environment: ["NOVAOS_KILL_GRACE_MS": "500"])

        let accepted = try server.request("POST", "/api/v1/agents/\(agent)/run", body: #"{"command":["sleep","60"]}"#)
        let id = try #require(accepted.json["id"] as? String)
        try running(server, id)
        let asked = Date()
        let cancel = try server.request("POST", "/api/v1/jobs/\(id)/cancel")
        #expect(cancel.status == 202 && cancel.json["cancel_requested"] as? Bool == true)
        let cancelled = try finished(server, id, within: 10)
        #expect(Date().timeIntervalSince(asked) < 5)
        #expect(cancelled.json["status"] as? String == "cancelled", "\(cancelled.body)")
        #expect((cancelled.json["result"] as? [String: Any])?["stop_reason"] as? String == "interrupted")
        // Cancelling a finished job changes nothing.
        #expect(try server.request("POST", "/api/v1/jobs/\(id)/cancel").json["status"] as? String == "cancelled")

        // SIGTERM with a job running: the server stops the run (recorded as interrupted) and exits 0.
        let last = try server.request("POST", "/api/v1/agents/\(agent)/run", body: #"{"command":["sleep","60"]}"#)
        try running(server, try #require(last.json["id"] as? String))
        let stopping = Date()
        #expect(server.stop() == 0)
        #expect(Date().timeIntervalSince(stopping) < 10)
        let runs = try runBinary(["sandbox", "runs", agent, "--json"], home: home).decode(RunList.self).runs
        #expect(runs.count == 2 && runs.allSatisfy { $0.stopReason == .interrupted && $0.endedAt != nil })
    }

    @Test func repositoryRunsAreJobsAndTwoRunsOfOneRevisionAtOnceGetTwoResults() throws {
        let home = try makeHome()
        let environment = ["EXPERIMENT_AUTO_PUSH": "false"]
        #expect(try runBinary(["repo", "create", "--name", "exp"], home: home, environment: environment).exitCode == 0)
        // A source whose one test takes a minute, for the cancellation.
        let slow = home.appendingPathComponent("slow")
        try FileManager.default.createDirectory(at: slow.appendingPathComponent("tests"), withIntermediateDirectories: true)
        try "import time\n\ndef test_slow():\n    time.sleep(60)\n".write(to: slow.appendingPathComponent("tests/test_slow.py"), atomically: true, encoding: .utf8)
        for arguments in [["init", "-q"], ["add", "."], ["commit", "-qm", "slow"]] {
            try git(arguments, in: slow)
        }
        let server = try RunningServer(home: home, environment: environment)
        defer { server.stop() }

        // Two runs of the same revision at once: two results, two commits, nothing refused.
        let ids = try (0..<2).map { _ in
            try #require(try server.request("POST", "/api/v1/repositories/exp/run", body: "{}").json["id"] as? String)
        }
        var experiments: [String] = []
        for id in ids {
            let done = try finished(server, id)
            #expect(done.json["status"] as? String == "finished" && done.json["kind"] as? String == "repository_run", "\(done.body)")
            let results = (done.json["result"] as? [String: Any])?["results"] as? [[String: Any]] ?? []
            experiments += results.compactMap { $0["experiment_id"] as? String }
        }
        #expect(experiments.count == 2 && Set(experiments).count == 2)
        for experiment in experiments {
            #expect(try server.request("GET", "/api/sandbox/experiment-results/\(experiment)").status == 200)
        }
        let repository = home.appendingPathComponent("sandbox/repositories/exp")
        let subjects = try git(["log", "--format=%s"], in: repository)
        #expect(subjects.split(separator: "\n").filter { $0.hasPrefix("Record ") }.count == 2, "\(subjects)")

        // Cancelling a run stops its suite; the revision is not recorded.
        let slowRun = try server.request("POST", "/api/v1/repositories/exp/run", body: #"{"source":"\#(slow.path)"}"#)
        #expect(slowRun.status == 202, "\(slowRun.body)")
        let slowID = try #require(slowRun.json["id"] as? String)
        try running(server, slowID)
        Thread.sleep(forTimeInterval: 1) // into the suite
        #expect(try server.request("POST", "/api/v1/jobs/\(slowID)/cancel").status == 202)
        let cancelled = try finished(server, slowID, within: 15)
        #expect(cancelled.json["status"] as? String == "cancelled", "\(cancelled.body)")
        #expect(((cancelled.json["error"] as? [String: Any])?["message"] as? String)?.contains("interrupted after 0 of 1 revisions") == true)
        let listed = try server.request("GET", "/api/sandbox/experiment-repositories")
        #expect(((listed.data["repositories"] as? [[String: Any]])?.first)?["experiments_count"] as? Int == 2)

        // What a run would fail on is refused before it is accepted.
        for (body, status) in [(#"{"last":100000}"#, 400), (#"{"experiment_id":999}"#, 404), (#"{"source":"/nonexistent"}"#, 400),
                               (#"{"revisions":["--x"]}"#, 400), (#"{"source":"https://user:pw@example.com/r.git"}"#, 400)] {
            let reply = try server.request("POST", "/api/v1/repositories/exp/run", body: body)
            #expect(reply.status == status, "\(body): \(reply.body)")
        }

        // SIGTERM while a request runs a suite and a job runs an agent: both stop, the server exits.
        let agent = try runBinary(["sandbox", "deploy", try runBinary(["sandbox", "create", "p", "--json"], home: home).decode(Project.self).id.rawValue,
                                   "assistant", "--json"], home: home).decode(Agent.self).id.rawValue
        let job = try #require(try server.request("POST", "/api/v1/agents/\(agent)/run", body: #"{"command":["sleep","60"]}"#).json["id"] as? String)
        try running(server, job)
        nonisolated(unsafe) var synchronous: RunningServer.Reply?
        let answered = DispatchSemaphore(value: 0)
        Thread {
            synchronous = try? server.request("POST", "/api/sandbox/run-sandbox-experiment", body: #"{"repository":"exp","source":"\#(slow.path)"}"#)
            answered.signal()
        }.start()
        Thread.sleep(forTimeInterval: 2) // into the suite
        let stopping = Date()
        #expect(server.stop() == 0)
        #expect(Date().timeIntervalSince(stopping) < 15)
        #expect(answered.wait(timeout: .now() + 5) == .success)
        #expect(synchronous?.status == 409, "\(String(describing: synchronous))")
        let runs = try runBinary(["sandbox", "runs", agent, "--json"], home: home).decode(RunList.self).runs
        #expect(runs.count == 1 && runs[0].stopReason == .interrupted)
        let after = try runBinary(["repo", "list", "--json"], home: home, environment: environment).json()
        #expect(((after["repositories"] as? [[String: Any]])?.first)?["experiments_count"] as? Int == 2)
    }

    @Test func aDatabaseLockedPastTheBusyTimeoutIs503AndNothingIsWritten() throws {
        let (home, project, agent) = try homeWithAgent(tokenBudget: 1_000_000)
        let server = try RunningServer(home: home, environment: ["NOVAOS_BUSY_TIMEOUT_MS": "300"])
        defer { server.stop() }
        let usage = #"{"agent_id":"\#(agent)","model":"gpt-4o","input_tokens":100,"output_tokens":10}"#
        #expect(try server.request("POST", "/api/v1/usage", body: usage).status == 201)

        let locker = try holdingWriteLock(on: home.appendingPathComponent("sandbox/sandbox.db").path, forSeconds: 3)
        let busy = try server.request("POST", "/api/v1/usage", body: usage)
        #expect(busy.status == 503 && busy.errorCode == "database_busy", "\(busy.body)")
        locker.waitUntilExit()

        #expect(try server.request("POST", "/api/v1/usage", body: usage).status == 201)
        let detail = try runBinary(["sandbox", "project", project, "--json"], home: home).decode(ProjectDetail.self)
        #expect(detail.agents[0].tokensUsed == 220)
    }
}
