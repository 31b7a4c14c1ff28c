import Foundation
import Testing
@testable import SandboxCore

/// A running `novaos serve`, its stderr collected, stopped (SIGTERM) when the test is done.
final class RunningServer: @unchecked Sendable {
    let process: Process
    let port: Int
    private let lock = NSLock()
    private var collected = Data()

    init(_ arguments: [String] = [], home: URL, environment: [String: String] = [:]) throws {
        process = binaryProcess(["serve", "--port", "0"] + arguments, home: home, environment: environment)
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var port: Int?
        let deadline = Date().addingTimeInterval(20)
        while port == nil, Date() < deadline, process.isRunning {
            let chunk = stderr.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            collected.append(chunk)
            let text = String(decoding: collected, as: UTF8.self)
            if let range = text.range(of: #"listening on http://[^ ]*:(\d+)"#, options: .regularExpression) {
                port = Int(text[range].split(separator: ":").last ?? "")
            }
        }
        guard let port else {
            process.terminate()
            throw ServerFailure(log: String(decoding: collected, as: UTF8.self))
        }
        self.port = port
        Thread { [self] in
            while true {
                let chunk = stderr.fileHandleForReading.availableData
                if chunk.isEmpty { return }
                lock.withLock { collected.append(chunk) }
            }
        }.start()
    }

    struct ServerFailure: Error { var log: String }

    var log: String { lock.withLock { String(decoding: collected, as: UTF8.self) } }

    /// Stops it with SIGTERM and returns its exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { process.terminate() } }

    struct Reply {
        var status: Int
        var body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
        var data: [String: Any] { json["data"] as? [String: Any] ?? [:] }
        var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    }

    /// One request through curl (a real HTTP client on loopback).
    func request(_ method: String, _ path: String, body: String? = nil, headers: [String] = []) throws -> Reply {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var arguments = ["curl", "-s", "-X", method, "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"]
        if let body {
            // From a file: a large body does not fit on a command line.
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("novaos-body-\(UUID().uuidString)")
            try body.write(to: file, atomically: true, encoding: .utf8)
            if !headers.contains(where: { $0.lowercased().hasPrefix("content-type:") }) { arguments += ["-H", "Content-Type: application/json"] }
            arguments += ["--data-binary", "@" + file.path]
        }
        for header in headers { arguments += ["-H", header] }
        curl.arguments = arguments
        let out = Pipe()
        curl.standardOutput = out
        try curl.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return Reply(status: Int(lines.last ?? "") ?? 0, body: lines.dropLast().joined(separator: "\n"))
    }
}

/// `novaos serve` through real HTTP on loopback (issue 14): the four endpoints of the
/// experiment-repository design field by field, the token, error codes and a clean stop.
@Suite(.serialized) struct ServerEndToEndTests {
    @Test func theFourDesignEndpointsAnswerWithTheirFields() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "p", "--json"], home: home).decode(Project.self).id.rawValue
        let server = try RunningServer(["--allow-unisolated-runs"], home: home)
        defer { server.stop() }

        let created = try server.request("POST", "/api/sandbox/create-experiment-repository",
                                         body: #"{"name":"pricing-exp","description":"try tiers","agent_type":"coder","project_id":"\#(project)"}"#)
        #expect(created.status == 201, "\(created.body)")
        #expect(created.json["status"] as? String == "success")
        let repository = created.data
        #expect(Set(repository.keys) == ["id", "name", "url", "description", "agent_type", "status", "repository_type", "is_private",
                                         "experiments_count", "total_commits", "last_activity", "created_at", "created_by", "branch",
                                         "project_id", "path"])
        #expect(repository["name"] as? String == "pricing-exp" && repository["agent_type"] as? String == "coder")
        #expect(repository["repository_type"] as? String == "local" && repository["is_private"] as? Bool == true)
        #expect(repository["project_id"] as? String == project && repository["description"] as? String == "try tiers")

        let listed = try server.request("GET", "/api/sandbox/experiment-repositories")
        #expect(listed.status == 200)
        #expect(Set(listed.data.keys) == ["repositories", "total_repositories"] && listed.data["total_repositories"] as? Int == 1)
        let entry = try #require((listed.data["repositories"] as? [[String: Any]])?.first)
        #expect(Set(entry.keys) == ["id", "name", "url", "description", "agent_type", "status", "repository_type", "is_private",
                                    "experiments_count", "total_commits", "last_activity", "created_at", "created_by", "branch", "project_id"])
        #expect(entry["status"] as? String == "active" && entry["total_commits"] as? Int == 1 && entry["experiments_count"] as? Int == 0)
        #expect(entry["created_by"] is String && entry["url"] is NSNull)
        let filtered = try server.request("GET", "/api/sandbox/experiment-repositories?project_id=prj_00000000")
        #expect(filtered.status == 404 && filtered.errorCode == "not_found")

        let ran = try server.request("POST", "/api/sandbox/run-sandbox-experiment", body: #"{"repository":"pricing-exp","isolation":"none"}"#)
        #expect(ran.status == 200, "\(ran.body)")
        for key in ["status", "experiments_run", "successful_experiments", "tests_run", "proposals_created", "agent"] {
            #expect(ran.data[key] != nil, "missing \(key)")
        }
        #expect(ran.data["experiments_run"] as? Int == 1 && ran.data["proposals_created"] as? Int == 1 && ran.data["agent"] as? String == "coder")
        let experiment = try #require(((ran.data["results"] as? [[String: Any]])?.first)?["experiment_id"] as? String)

        let result = try server.request("GET", "/api/sandbox/experiment-results/\(experiment)")
        #expect(result.status == 200 && result.data["experiment_id"] as? String == experiment)
        #expect(result.data["test_results"] is [Any] && result.data["analysis_results"] is [String: Any])
        // The CLI sees the same data.
        #expect(try runBinary(["repo", "results", experiment, "--json"], home: home).exitCode == 0)
        let after = try server.request("GET", "/api/sandbox/experiment-repositories")
        #expect(((after.data["repositories"] as? [[String: Any]])?.first)?["experiments_count"] as? Int == 1)
    }

    @Test func errorsComeAsTheEnvelopeWithTheirStatus() throws {
        let home = try makeHome()
        let server = try RunningServer(home: home)
        defer { server.stop() }
        for (method, path, body, status, code) in [
            ("GET", "/api/sandbox/experiment-results/exp_nope", nil, 404, "not_found"),
            ("GET", "/no/such/route", nil, 404, "not_found"),
            ("POST", "/api/sandbox/create-experiment-repository", "{not json", 400, "invalid_input"),
            ("POST", "/api/sandbox/create-experiment-repository", #"{"nmae":"x"}"#, 400, "invalid_input"),
            ("POST", "/api/sandbox/create-experiment-repository", #"{"name":"../evil"}"#, 400, "invalid_input"),
            ("POST", "/api/sandbox/create-experiment-repository", #"{"agent_type":"Not A Type"}"#, 400, "invalid_input"),
            ("POST", "/api/sandbox/create-experiment-repository", #"{"project_id":"prj_00000000"}"#, 404, "not_found"),
            ("POST", "/api/sandbox/run-sandbox-experiment", #"{"repository":"nope"}"#, 404, "not_found"),
            ("POST", "/api/sandbox/run-sandbox-experiment", #"{}"#, 400, "invalid_input"),
            ("POST", "/api/sandbox/run-sandbox-experiment", #"{"repository":"x","revisions":["a"],"last":2}"#, 400, "invalid_input"),
            ("POST", "/api/sandbox/create-experiment-repository", String(repeating: " ", count: 2 << 20), 413, "too_large"),
        ] as [(String, String, String?, Int, String)] {
            let reply = try server.request(method, path, body: body)
            #expect(reply.status == status && reply.errorCode == code, "\(method) \(path): \(reply.status) \(reply.body.prefix(200))")
            #expect(reply.json["status"] as? String == "error" && ((reply.json["error"] as? [String: Any])?["message"] as? String)?.isEmpty == false)
        }
        // A run outside the sandbox needs the server's consent.
        let unisolated = try server.request("POST", "/api/sandbox/run-sandbox-experiment", body: #"{"repository":"x","isolation":"none"}"#)
        #expect(unisolated.status == 403 && unisolated.errorCode == "forbidden")
        // What a web page in the user's browser could send is refused: another site's Origin, a
        // rebound Host, a body that is not JSON.
        let body = #"{"name":"csrf"}"#
        #expect(try server.request("POST", "/api/v1/projects", body: body, headers: ["Origin: http://evil.example"]).status == 403)
        #expect(try server.request("POST", "/api/v1/projects", body: body, headers: ["Origin: null"]).status == 403)
        #expect(try server.request("GET", "/api/v1/status", headers: ["Host: evil.example:\(server.port)"]).status == 403)
        #expect(try server.request("POST", "/api/v1/projects", body: body, headers: ["Content-Type: text/plain"]).status == 415)
        #expect(try server.request("POST", "/api/v1/projects", body: body, headers: ["Origin: http://127.0.0.1:\(server.port)"]).status == 201)
        // A chunked body over the limit is 413 too.
        let chunked = try server.request("POST", "/api/v1/projects", body: String(repeating: " ", count: 2 << 20), headers: ["Transfer-Encoding: chunked"])
        #expect(chunked.status == 413 && chunked.errorCode == "too_large", "\(chunked.body.prefix(200))")
        // Nothing was created by the refusals.
        #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("sandbox/repositories/evil").path))
        // One line per request on stderr: method, path, status, duration.
        #expect(server.log.contains("GET /no/such/route 404 "))
        #expect(server.stop() == 0)
    }

    @Test func aTokenIsNeededOffLoopbackAndIsComparedNotLogged() throws {
        let home = try makeHome()
        let token = "t0ken-" + UUID().uuidString
        let file = home.appendingPathComponent("token")
        try (token + "\n").write(to: file, atomically: true, encoding: .utf8)
        #expect(chmod(file.path, 0o600) == 0)
        // Without a token, only loopback; a token file others can read is refused.
        let open = try runBinary(["serve", "--host", "0.0.0.0", "--port", "0"], home: home)
        #expect(open.exitCode == 64 && open.stderr.contains("--token-file"))
        #expect(chmod(file.path, 0o644) == 0)
        let readable = try runBinary(["serve", "--host", "0.0.0.0", "--port", "0", "--token-file", file.path], home: home)
        #expect(readable.exitCode == 64 && readable.stderr.contains("chmod 600"))
        #expect(chmod(file.path, 0o600) == 0)

        let server = try RunningServer(["--host", "0.0.0.0", "--token-file", file.path], home: home)
        let path = "/api/sandbox/experiment-repositories"
        #expect(try server.request("GET", path).status == 401)
        #expect(try server.request("GET", path, headers: ["Authorization: Bearer wrong"]).status == 401)
        #expect(try server.request("GET", path, headers: ["Authorization: Bearer \(token)x"]).status == 401)
        #expect(try server.request("GET", path, headers: ["Authorization: Basic \(token)"]).status == 401)
        #expect(try server.request("GET", path, headers: ["Authorization: bearer \(token)"]).status == 200) // the scheme in any case
        let allowed = try server.request("GET", path, headers: ["Authorization: Bearer \(token)"])
        #expect(allowed.status == 200 && allowed.json["status"] as? String == "success")
        #expect(server.stop() == 0)
        #expect(!server.log.contains(token) && server.log.contains("GET \(path) 401 ") && server.log.contains("GET \(path) 200 "))
    }
}
