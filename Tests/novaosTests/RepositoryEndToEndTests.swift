import Foundation
import SandboxCore
import Testing

/// Runs git in `directory` with a fixed identity; returns its output.
@discardableResult
func git(_ arguments: [String], in directory: URL) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"] + arguments
    process.currentDirectoryURL = directory
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "git \(arguments.joined(separator: " ")) failed")
    return String(decoding: data, as: UTF8.self)
}

/// A small Python project whose last three commits pass, fail, and do not parse.
func pythonProject(in home: URL, printEnvironment: Bool = false) throws -> URL {
    let project = home.appendingPathComponent("calc")
    try FileManager.default.createDirectory(at: project.appendingPathComponent("tests"), withIntermediateDirectories: true)
    try git(["init", "--quiet"], in: project)
    try "[pytest]\npythonpath = .\n".write(to: project.appendingPathComponent("pytest.ini"), atomically: true, encoding: .utf8)
    let environmentCheck = printEnvironment ? "\n\ndef test_environment():\n    import os\n    print(sorted(os.environ.items()))\n    assert False, 'show the environment'\n" : ""
    try ("from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\ndef test_add_more():\n    assert add(2, 2) == 4\n" + environmentCheck)
        .write(to: project.appendingPathComponent("tests/test_calc.py"), atomically: true, encoding: .utf8)
    for (source, message) in [("def add(a, b):\n    return a + b\n", "Add add()"), ("def add(a, b):\n    return a - b\n", "Break add()"),
                              ("def add(a, b)\n    return a + b\n", "Forget a colon")] {
        try source.write(to: project.appendingPathComponent("calc.py"), atomically: true, encoding: .utf8)
        try git(["add", "--all"], in: project)
        try git(["commit", "--quiet", "-m", message], in: project)
    }
    return project
}

@Suite(.serialized) struct RepositoryEndToEndTests {
    func home() throws -> (URL, String) {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "repos", "--json"], home: home).decode(Project.self).id.rawValue
        return (home, project)
    }

    @Test func createCommitsTheSkeletonAndPushesToTheRemote() throws {
        let (home, project) = try home()
        let remote = home.appendingPathComponent("remote.git")
        try FileManager.default.createDirectory(at: remote, withIntermediateDirectories: true)
        try git(["init", "--quiet", "--bare"], in: remote)
        let created = try runBinary(["repo", "create", "--project", project, "--remote", remote.path, "--description", "tries", "--json"], home: home)
        #expect(created.exitCode == 0, "\(created.stderr)")
        #expect(try created.jsonKeys() == ["id", "name", "path", "url", "description", "project_id", "repository_type", "is_private", "branch", "created_at", "agent_type", "created_by"])
        let repository = try created.decode(ExperimentRepository.self)
        #expect(repository.repositoryType == .remote && repository.url == remote.path && repository.branch == "main")
        #expect(repository.name.range(of: #"^ai-sandbox-experiments-\d{8}_\d{6}$"#, options: .regularExpression) != nil)
        #expect(repository.path == home.appendingPathComponent("sandbox/repositories/\(repository.name)").path)
        let files = try git(["ls-files"], in: URL(fileURLWithPath: repository.path)).split(separator: "\n").map(String.init)
        #expect(files == ["README.md", "experiments/.gitkeep", "logs/.gitkeep", "results/.gitkeep", "tests/.gitkeep"])
        #expect(try git(["log", "--format=%an <%ae>", "main"], in: remote) == "novaos <novaos@localhost>\n")
        #expect(try String(contentsOfFile: repository.path + "/README.md", encoding: .utf8).contains(project))

        // The same name in the same second gets a suffix; an explicit name that is taken is refused.
        let second = try runBinary(["repo", "create", "--name", repository.name, "--json"], home: home)
        #expect(second.exitCode == 1 && second.stderr.contains("already exists"))
        let named = try runBinary(["repo", "create", "--name", "pricing", "--branch", "experiments", "--json"], home: home, environment: ["EXPERIMENT_AUTO_PUSH": "false"])
        #expect(try named.decode(ExperimentRepository.self).branch == "experiments")
        for bad in ["../escape", ".hidden", "-rf", "has space", "a/b"] {
            #expect(try runBinary(["repo", "create", "--name", bad], home: home).exitCode != 0)
        }
        #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("sandbox/escape").path))
        let detail = try runBinary(["sandbox", "project", project, "--json"], home: home).decode(ProjectDetail.self)
        #expect(detail.repositories.map(\.id) == [repository.id])
    }

    @Test func runTestsAndAnalysesTheLastThreeCommitsAndCommitsTheResults() throws {
        let (home, project) = try home()
        let source = try pythonProject(in: home)
        let remote = home.appendingPathComponent("remote.git")
        try FileManager.default.createDirectory(at: remote, withIntermediateDirectories: true)
        try git(["init", "--quiet", "--bare"], in: remote)
        let repository = try runBinary(["repo", "create", "--project", project, "--name", "calc-experiments", "--remote", remote.path, "--json"], home: home).decode(ExperimentRepository.self)
        let experiment = try runBinary(["sandbox", "experiment", "start", project, "calc-history", "--json"], home: home).decode(Experiment.self)

        let output = try runBinary(["repo", "run", "calc-experiments", "--source", source.path, "--last", "3", "--experiment", String(experiment.id), "--json"], home: home)
        #expect(output.exitCode == 1, "some revisions fail: \(output.stderr)")
        #expect(try output.jsonKeys() == ["experiments_run", "successful_experiments", "tests_run", "results"])
        let summary = try output.decode(RepositoryRunSummary.self)
        #expect(summary.experimentsRun == 3 && summary.successfulExperiments == 1 && summary.testsRun == 3)
        let results = summary.results
        #expect(results.map(\.commitMessage) == ["Add add()", "Break add()", "Forget a colon"])
        #expect(results.map(\.status) == ["passed", "failed", "failed"])
        #expect(results.map { $0.testResults.first?.passed } == [2, 0, 0])
        #expect(results.map { $0.testResults.first?.failed } == [0, 2, 1])
        #expect(results[2].analysisResults.potentialIssues.map(\.kind) == ["syntax_error"])
        #expect(results[2].analysisResults.potentialIssues.first?.file == "calc.py")
        #expect(results[0].analysisResults.functionsFound == 3 && results[0].analysisResults.filesAnalyzed == 2)
        let shas = try git(["rev-list", "--max-count=3", "--reverse", "HEAD"], in: source).split(separator: "\n").map(String.init)
        #expect(results.map(\.commitSHA) == shas)

        // Recorded in the experiment repository, one commit each, and pushed.
        let folder = URL(fileURLWithPath: repository.path)
        for result in results {
            for file in ["experiments/\(result.experimentID)/metadata.json", "results/\(result.experimentID).json", "logs/\(result.experimentID).log"] {
                #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), "\(file)")
            }
            let stored = try runBinary(["repo", "results", result.experimentID, "--json"], home: home)
            #expect(try stored.jsonKeys().isSuperset(of: ["experiment_id", "repository_id", "commit_sha", "commit_message", "status", "success", "timestamp", "test_results", "analysis_results"]))
            #expect(try stored.decode(ExperimentResult.self) == result)
        }
        #expect(try git(["rev-list", "--count", "main"], in: remote) == "4\n")
        let log = try String(contentsOf: folder.appendingPathComponent("logs/\(results[1].experimentID).log"), encoding: .utf8)
        #expect(log.contains("2 failed"))

        let list = try runBinary(["repo", "list", "--project", project, "--json"], home: home)
        let row = try #require(try list.decode(RepositoryList.self).repositories.first)
        #expect(row.experimentsCount == 3 && row.totalCommits == 4 && row.lastActivity != nil && row.status == "active")
        let linked = try runBinary(["sandbox", "experiment", "list", project, "--json"], home: home).decode(ExperimentList.self).experiments[0]
        #expect(linked.success == false && linked.completedAt != nil)
        #expect(try runBinary(["repo", "results", "exp_nothing"], home: home).exitCode == 1)
    }

    @Test func aHangingSuiteIsKilledAtItsTimeout() throws {
        let (home, _) = try home()
        let project = home.appendingPathComponent("hang")
        try FileManager.default.createDirectory(at: project.appendingPathComponent("tests"), withIntermediateDirectories: true)
        try git(["init", "--quiet"], in: project)
        try "import time\n\n\ndef test_forever():\n    time.sleep(600)\n".write(to: project.appendingPathComponent("tests/test_hang.py"), atomically: true, encoding: .utf8)
        try git(["add", "--all"], in: project)
        try git(["commit", "--quiet", "-m", "Hang"], in: project)
        _ = try runBinary(["repo", "create", "--name", "hangs"], home: home)
        let started = Date()
        let output = try runBinary(["repo", "run", "hangs", "--source", project.path, "--timeout", "3s", "--json"], home: home)
        #expect(Date().timeIntervalSince(started) < 30)
        let suite = try #require(try output.decode(RepositoryRunSummary.self).results.first?.testResults.first)
        #expect(suite.status == "timeout" && !suite.success && suite.reason == "timed out after 3s")
        #expect(suite.output.contains("killed after the timeout"))
    }

    @Test func theGitHubPathCreatesAPrivateRepositoryAndTheTokenNeverLeaks() throws {
        let (home, project) = try home()
        let token = "ghp_novaosTestToken1234567890abcdef"
        let remote = home.appendingPathComponent("github-remote.git")
        try FileManager.default.createDirectory(at: remote, withIntermediateDirectories: true)
        try git(["init", "--quiet", "--bare"], in: remote)
        let requests = home.appendingPathComponent("requests.jsonl")
        // A stand-in for the GitHub API on loopback: answers POST /user/repos with a clone URL.
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-c", """
            import http.server, json, sys
            remote, log = sys.argv[1], sys.argv[2]
            class Handler(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                    with open(log, "a") as f:
                        f.write(json.dumps({"path": self.path, "auth": self.headers.get("Authorization"), "body": body}) + "\\n")
                    answer = json.dumps({"clone_url": remote, "html_url": "https://example.invalid/" + body["name"]}).encode()
                    self.send_response(201)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                def log_message(self, *args):
                    pass
            server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
            print(server.server_address[1], flush=True)
            server.handle_request()
            """, remote.path, requests.path]
        let portPipe = Pipe()
        server.standardOutput = portPipe
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        let port = String(decoding: portPipe.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let environment = ["GITHUB_TOKEN": token, "GITHUB_USERNAME": "octo", "GITHUB_API_URL": "http://127.0.0.1:\(port)"]

        let created = try runBinary(["repo", "create", "--project", project, "--name", "gh-experiments", "--json"], home: home, environment: environment)
        #expect(created.exitCode == 0, "\(created.stderr)")
        let repository = try created.decode(ExperimentRepository.self)
        #expect(repository.repositoryType == .github && repository.isPrivate && repository.url == remote.path)
        let request = try String(contentsOf: requests, encoding: .utf8)
        #expect(request.contains(#""path": "/user/repos""#) && request.contains("Bearer \(token)") && request.contains(#""private": true"#))
        #expect(try git(["rev-list", "--count", "main"], in: remote) == "1\n")

        // A run whose suite prints its whole environment: the token must not be in it.
        let source = try pythonProject(in: home, printEnvironment: true)
        let run = try runBinary(["repo", "run", "gh-experiments", "--source", source.path, "--rev", "HEAD~2"], home: home, environment: environment)
        var everything = created.stdout + created.stderr + run.stdout + run.stderr
        let roots = [home.appendingPathComponent("sandbox").path, remote.path]
        for root in roots {
            let enumerator = FileManager.default.enumerator(atPath: root)
            while let file = enumerator?.nextObject() as? String {
                if let data = FileManager.default.contents(atPath: root + "/" + file) {
                    everything += String(decoding: data, as: UTF8.self)
                }
            }
        }
        #expect(everything.contains("show the environment"), "the environment check ran")
        #expect(!everything.contains(token), "the token leaked")
        #expect(!everything.contains(Data("octo:\(token)".utf8).base64EncodedString()), "the encoded token leaked")

        // GitHub unreachable: a warning, and a local repository.
        let offline = try runBinary(["repo", "create", "--name", "offline", "--json"], home: home, environment: environment.merging(["GITHUB_API_URL": "http://127.0.0.1:1"]) { $1 })
        #expect(offline.exitCode == 0)
        #expect(offline.stderr.hasPrefix("warning: GitHub repository not created"))
        #expect(!offline.stderr.contains(token))
        let local = try offline.decode(ExperimentRepository.self)
        #expect(local.repositoryType == .local && local.url == nil)
    }
}

@Suite(.serialized) struct RepositoryNetworkTests {
    @Test func anUnreachableRemoteNeverHangsAndTheCommitIsKept() throws {
        let home = try makeHome()
        let started = Date()
        // Nothing listens on port 9: git must fail at once, not prompt for a password.
        let output = try runBinary(["repo", "create", "--name", "offline-remote", "--remote", "http://127.0.0.1:9/team/experiments.git", "--json"], home: home)
        #expect(Date().timeIntervalSince(started) < 60)
        #expect(output.exitCode == 0, "\(output.stderr)")
        #expect(output.stderr.hasPrefix("warning: push of offline-remote to origin failed"))
        let repository = try output.decode(ExperimentRepository.self)
        #expect(repository.repositoryType == .remote)
        #expect(try git(["rev-list", "--count", "HEAD"], in: URL(fileURLWithPath: repository.path)) == "1\n")
        let withPassword = try runBinary(["repo", "create", "--name", "leaky", "--remote", "https://user:secret@example.com/x.git"], home: home)
        #expect(withPassword.exitCode == 1 && withPassword.stderr.contains("must not contain a token, password"))
        let fresh = try makeHome()
        #expect(try runBinary(["repo", "create", "--name", "../escape"], home: fresh).exitCode == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fresh.path).isEmpty, "bad input created files")
    }

    @Test func aSourceGivenAsAURLIsClonedFirst() throws {
        let home = try makeHome()
        let source = try pythonProject(in: home)
        _ = try runBinary(["repo", "create", "--name", "by-url"], home: home)
        let output = try runBinary(["repo", "run", "by-url", "--source", "file://\(source.path)", "--rev", "HEAD~2", "--json"], home: home)
        #expect(output.exitCode == 0, "\(output.stderr)")
        let result = try #require(try output.decode(RepositoryRunSummary.self).results.first)
        #expect(result.status == "passed" && result.source == "file://\(source.path)")
        #expect(try runBinary(["repo", "run", "by-url", "--source", source.path, "--rev", "no-such-branch"], home: home).stderr.contains("unknown revision"))
        #expect(try runBinary(["repo", "run", "by-url", "--source", source.path, "--rev", "--upload-pack=evil"], home: home).exitCode != 0)
    }
}
