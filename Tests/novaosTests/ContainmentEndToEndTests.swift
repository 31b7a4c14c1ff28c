import Foundation
import SandboxCore
import Testing

/// The built binary started in the background, its output going to files in `home`.
final class BackgroundRun {
    let process: Process
    let stdout: URL
    let stderr: URL

    init(_ arguments: [String], home: URL, environment extra: [String: String] = [:]) throws {
        stdout = home.appendingPathComponent("bg-\(UUID().uuidString).out")
        stderr = home.appendingPathComponent("bg-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: stdout.path, contents: nil)
        FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process = binaryProcess(arguments, home: home, environment: extra)
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        try process.run()
    }

    /// Waits for the process to end, at most `seconds`; true when it did.
    func wait(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        return !process.isRunning
    }

    var output: String { (try? String(contentsOf: stdout, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOf: stderr, encoding: .utf8)) ?? "" }
}

/// PIDs of the `sleep` processes whose command line contains `text` (not novaos or bwrap,
/// whose command lines name the agent's too).
func processes(matching text: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let name = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8), name.hasPrefix("sleep") else { return false }
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(text)
    }
}

/// Runs `script` with bash in `home` (`$0` is the built novaos); returns its stdout.
func bash(_ script: String, home: URL) throws -> String {
    let shell = Process()
    shell.executableURL = URL(fileURLWithPath: "/bin/bash")
    shell.arguments = ["-c", script, novaosBinary.path]
    shell.currentDirectoryURL = home
    shell.environment = ["NOVAOS_HOME": home.path, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
    let pipe = Pipe()
    shell.standardOutput = pipe
    shell.standardError = FileHandle.nullDevice
    try shell.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    shell.waitUntilExit()
    return text
}

/// Waits until `condition` holds, at most `seconds`; true when it did.
func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// Every byte under `folder`, as text (for grepping for secrets).
func contents(of folder: String) -> String {
    var text = ""
    let enumerator = FileManager.default.enumerator(atPath: folder)
    while let file = enumerator?.nextObject() as? String {
        if let data = FileManager.default.contents(atPath: folder + "/" + file) { text += String(decoding: data, as: UTF8.self) }
    }
    return text
}

@Suite struct ContainmentEndToEndTests {
    let secret = "ghp_containmentTestSecret0123456789"
    let passed = "sk-passed-on-purpose-98765"

    func setUp(budget: Int = 1_000_000) throws -> (home: URL, project: String, agent: String) {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "contained", "--json"], home: home).decode(Project.self)
        let agent = try runBinary(["sandbox", "deploy", project.id.rawValue, "assistant", "--config", #"{"token_budget": \#(budget)}"#, "--json"], home: home)
            .decode(Agent.self)
        return (home, project.id.rawValue, agent.id.rawValue)
    }

    func script(_ body: String, in home: URL, name: String = "agent.sh") throws -> String {
        let url = home.appendingPathComponent(name)
        try ("#!/bin/sh\n" + body).write(to: url, atomically: true, encoding: .utf8)
        chmod(url.path, 0o755)
        return url.path
    }

    @Test func anAgentSeesNoSecretNoOtherProcessAndNoneOfNovaosData() throws {
        let (home, _, agent) = try setUp()
        let spy = try script("""
            echo "passed: $PASSED"
            for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < "$f"; done
            echo "processes: $(ls /proc | grep -c '^[0-9]')"
            echo "listing: $(ls -a "\(home.path)/sandbox" | tr '\\n' ' ')"
            cat "\(home.path)/sandbox/sandbox.db" > /dev/null && echo "READ THE DATABASE"
            echo x > "\(home.path)/outside.txt" && echo "WROTE OUTSIDE"
            echo x > "$HOME/inside.txt" && echo "wrote inside"
            ls /proc/self/fd
            """, in: home)
        let run = try runBinary(["sandbox", "run", agent, "--env", "PASSED", "--json", "--", spy], home: home,
                                environment: ["GITHUB_TOKEN": secret, "PASSED": passed, "AWS_SECRET_ACCESS_KEY": secret])
        #expect(run.exitCode == 0, "\(run.stderr)")
        let record = try run.decode(RunRecord.self)
        #expect(record.isolation == .namespace)
        let output = run.stderr // with --json the agent's output goes to stderr
        #expect(output.contains("passed: [redacted]"))
        #expect(output.contains("PASSED=[redacted]"))
        let count = output.components(separatedBy: "processes: ").last.flatMap { Int($0.prefix { $0.isNumber }) } ?? 99
        #expect(count <= 6, "only the sandbox's own processes are visible (\(count))")
        #expect(!output.contains("READ THE DATABASE") && !output.contains("WROTE OUTSIDE") && output.contains("wrote inside"))
        #expect(output.contains("listing: . .. projects \n"), "only the workspace's own folder is visible: \(output)")
        #expect(output.contains("0\n1\n2\n3\n4\n") && !output.contains("\n6\n"), "only 0-4 (and ls's own) descriptors")
        #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("outside.txt").path))
        let everything = run.stdout + run.stderr + contents(of: home.path) + (try snapshot(home))
        #expect(!everything.contains(secret), "a secret reached the agent or was stored")
        #expect(!everything.contains(passed), "a value passed with --env was stored or printed")
    }

    @Test func aDaemonDoesNotOutliveItsRun() throws {
        let (home, _, agent) = try setUp()
        let marker = "1234.\(Int.random(in: 100_000...999_999))"
        let daemon = try script("setsid sleep \(marker) > /dev/null 2>&1 < /dev/null &\nsleep 0.3\n", in: home)
        let run = try runBinary(["sandbox", "run", agent, "--", daemon], home: home)
        #expect(run.exitCode == 0, "\(run.stderr)")
        #expect(eventually(1) { processes(matching: "sleep \(marker)").isEmpty }, "the daemon outlived the run")
    }

    @Test func sigkillOfNovaosEndsTheAgentAndTheNextCommandClosesTheRunAsLost() throws {
        let (home, _, agent) = try setUp()
        let marker = "4321.\(Int.random(in: 100_000...999_999))"
        let background = try BackgroundRun(["sandbox", "run", agent, "--", "sleep", marker], home: home)
        #expect(eventually(10) { !processes(matching: "sleep \(marker)").isEmpty }, "the agent started")
        kill(background.process.processIdentifier, SIGKILL)
        _ = background.wait(seconds: 5)
        let killedAt = Date()
        #expect(eventually(2) { processes(matching: "sleep \(marker)").isEmpty }, "the agent outlived novaos")
        #expect(Date().timeIntervalSince(killedAt) < 2)
        let runs = try runBinary(["sandbox", "runs", agent, "--json"], home: home).decode(RunList.self)
        #expect(runs.runs.first?.stopReason == .lost && runs.runs.first?.endedAt != nil)
    }

    @Test func anEventFloodIsStoppedAtItsTimeoutAndTheLogStaysCapped() throws {
        let (home, _, agent) = try setUp()
        let flood = home.appendingPathComponent("flood.py")
        try """
            import os, sys
            line = b'{"type":"revenue","amount":0.01,"source":"flood"}\\n' * 200
            events = os.open(os.environ["NOVAOS_EVENTS"], os.O_WRONLY)
            noise = b"x" * 65536
            while True:
                os.write(events, line)
                os.write(1, noise)
            """.write(to: flood, atomically: true, encoding: .utf8)
        let started = Date()
        let run = try runBinary(["sandbox", "run", agent, "--timeout", "3s", "--log-limit", "1MiB", "--json", "--", "python3", flood.path], home: home)
        let elapsed = Date().timeIntervalSince(started)
        #expect(run.exitCode == 124, "\(run.stderr.suffix(500))")
        // 3 s, the grace, the process's own start and end: about 4 s, more while the other suites
        // load both cores; a flood that held the supervisor would run on without end.
        #expect(elapsed < 7, "took \(elapsed)s")
        let record = try run.decode(RunRecord.self)
        #expect(record.stopReason == .timeout && record.events > 0)
        let size = (try FileManager.default.attributesOfItem(atPath: record.log)[.size] as? NSNumber)?.intValue ?? 0
        #expect(size <= (1 << 20) + 200 && size >= 1 << 20)
        #expect(try String(contentsOfFile: record.log, encoding: .utf8).contains("bytes cut here"))
    }

    @Test func killingTheProjectMidRunStopsTheAgentAndNothingIsRecordedAfter() throws {
        let (home, project, agent) = try setUp()
        let steady = home.appendingPathComponent("steady.py")
        try """
            import os, time
            events = os.open(os.environ["NOVAOS_EVENTS"], os.O_WRONLY)
            while True:
                os.write(events, b'{"type":"usage","model":"claude-haiku-3.5","input_tokens":10,"output_tokens":1}\\n')
                time.sleep(0.01)
            """.write(to: steady, atomically: true, encoding: .utf8)
        let background = try BackgroundRun(["sandbox", "run", agent, "--json", "--", "python3", steady.path], home: home)
        let database = home.appendingPathComponent("sandbox/sandbox.db").path
        func recorded() -> Int { Int(sqliteScalar(database, "SELECT count(*) FROM api_costs") ?? "0") ?? 0 }
        #expect(eventually(10) { recorded() > 10 }, "events are recorded while the agent runs")
        let kill = try runBinary(["sandbox", "kill", project, "--yes", "--json"], home: home)
        #expect(kill.exitCode == 0)
        let afterKill = recorded()
        let stoppedAt = Date()
        #expect(background.wait(seconds: 5))
        // A check every 0.25 s, then the stop: well under a second, under 3 s on a loaded machine.
        #expect(Date().timeIntervalSince(stoppedAt) < 3, "the agent was stopped within a second or so")
        #expect(background.process.terminationStatus == 4)
        #expect(recorded() == afterKill, "events were recorded after the kill")
        let record = try SandboxJSON.decoder().decode(RunRecord.self, from: Data(background.output.utf8))
        #expect(record.stopReason == .agentKilled && record.endedAt != nil)
        #expect(record.events == afterKill)
    }

    /// `run … | head -n 1`: novaos's output closes; the agent is stopped, the run closed as
    /// `interrupted`, and novaos exits 130 without crashing.
    @Test func aClosedOutputStopsTheAgentAndClosesTheRun() throws {
        let (home, _, agent) = try setUp()
        let text = try bash("\"$0\" sandbox run \(agent) -- sh -c 'while :; do echo line; done' | head -n 1; echo \"status ${PIPESTATUS[0]}\"", home: home)
        #expect(text == "line\nstatus 130\n", "\(text)")
        let runs = try runBinary(["sandbox", "runs", agent, "--json"], home: home).decode(RunList.self)
        #expect(runs.runs.first?.stopReason == .interrupted && runs.runs.first?.endedAt != nil)
    }

    /// A reader that stops reading novaos's stderr while the agent floods it with bad event
    /// lines: supervision goes on, the timeout holds, and refusals are summarized, not listed.
    @Test func aStalledReaderNeverStallsTheSupervisor() throws {
        let (home, _, agent) = try setUp()
        let text = try bash("""
            start=$(date +%s%N)
            "$0" sandbox run \(agent) --timeout 2s -- sh -c 'trap "" TERM; yes garbage >&3 & yes "bad event" & wait' > /dev/null 2> >(sleep 10 > /dev/null 2>&1)
            code=$?
            echo "$code $(( ($(date +%s%N) - start) / 1000000 ))"
            """, home: home)
        let parts = text.split(separator: " ").map { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1 }
        #expect(parts.first == 124, "\(text)")
        // 2 s, then the grace, the process's own start and end: about 3 to 4.5 s, more while the
        // other suites load both cores (a browser among them). Waiting on the reader would take
        // its whole 10 s stall: the bound sits between the two.
        #expect((parts.last ?? 99_999) < 8_000, "the run took \(parts.last ?? -1) ms for a 2 s timeout, with the reader stalled 10 s")
        let run = try #require(try runBinary(["sandbox", "runs", agent, "--json"], home: home).decode(RunList.self).runs.first)
        #expect(run.stopReason == .timeout && run.rejectedEvents > 1_000)
    }

    /// A secret written with JSON escapes is decoded, then redacted, before it is stored or shown.
    @Test func anEscapedSecretIsRedactedToo() throws {
        let (home, _, agent) = try setUp()
        let leak = try script(#"""
            printf '%s\n' '{"type":"usage","id":"\u0073k-TOPSECRET123456","model":"claude-haiku-3.5","input_tokens":1,"output_tokens":1,"operation":"\u0073k-TOPSECRET123456"}' >&3
            printf '%s\n' '{"type":"usage","model":"\u0073k-TOPSECRET123456","input_tokens":1,"output_tokens":1}' >&3
            """#, in: home)
        let run = try runBinary(["sandbox", "run", agent, "--env", "API_KEY", "--", leak], home: home, environment: ["API_KEY": "sk-TOPSECRET123456"])
        #expect(run.exitCode == 0, "\(run.stderr)")
        #expect(run.stderr.contains("unknown model '[redacted]'"), "\(run.stderr)")
        let everything = run.stdout + run.stderr + contents(of: home.appendingPathComponent("sandbox").path) + (try snapshot(home))
        #expect(!everything.contains("TOPSECRET"))
    }

    /// A home, sandbox folder and production database reached through symbolic links: the
    /// run works, and what the links point to is hidden all the same.
    @Test func linkedDataFoldersAreHiddenWhereTheyReallyAre() throws {
        let base = try makeHome()
        let realHome = base.appendingPathComponent("real-home")
        let realSandbox = base.appendingPathComponent("real-sandbox")
        let realProduction = base.appendingPathComponent("real-production")
        for folder in [realHome, realSandbox, realProduction] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        let home = base.appendingPathComponent("home-link")
        try FileManager.default.createSymbolicLink(at: home, withDestinationURL: realHome)
        try FileManager.default.createSymbolicLink(at: realHome.appendingPathComponent("sandbox"), withDestinationURL: realSandbox)
        try "PRODUCTION SECRET".write(to: realProduction.appendingPathComponent("prod.db"), atomically: true, encoding: .utf8)
        let production = base.appendingPathComponent("prod-link.db")
        try FileManager.default.createSymbolicLink(at: production, withDestinationURL: realProduction.appendingPathComponent("prod.db"))
        let environment = ["NOVAOS_PRODUCTION_DB": production.path]
        let project = try runBinary(["sandbox", "create", "linked", "--json"], home: home, environment: environment).decode(Project.self)
        let agent = try runBinary(["sandbox", "deploy", project.id.rawValue, "assistant", "--json"], home: home, environment: environment).decode(Agent.self)
        let spy = try script("""
            cat "\(production.path)" "\(realProduction.path)/prod.db" 2>/dev/null
            cat "\(realSandbox.path)/sandbox.db" "\(home.path)/sandbox/sandbox.db" 2>/dev/null | head -c 16
            echo "listing: $(ls "\(realSandbox.path)" | tr '\\n' ' ')"
            """, in: base, name: "spy.sh")
        let run = try runBinary(["sandbox", "run", agent.id.rawValue, "--json", "--", spy], home: home, environment: environment)
        #expect(run.exitCode == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("PRODUCTION SECRET") && !run.stderr.contains("SQLite format"), "\(run.stderr)")
        #expect(run.stderr.contains("listing: projects \n"), "\(run.stderr)")
    }

    /// A secret with quotes, backslashes or tabs is redacted from the stored command, and a
    /// note that cuts a long value short shows no start of a secret.
    @Test func awkwardSecretsAreRedactedEverywhere() throws {
        let (home, _, agent) = try setUp()
        let secret = "pa\"ss\\wörd-123\tz"
        let long = "sk-live-ABCDEF0123456789"
        // The secret is written with a JSON escape, so only the decoded text shows it, cut at 60 characters.
        let line = #"{"type":""# + String(repeating: "p", count: 40) + #"\u0073k-live-ABCDEF0123456789"}"# + "\n"
        try line.write(to: home.appendingPathComponent("line.jsonl"), atomically: true, encoding: .utf8)
        let leak = try script("cat \"\(home.path)/line.jsonl\" >&3\n", in: home)
        let run = try runBinary(["sandbox", "run", agent, "--env", "K=\(secret)", "--env", "L=\(long)", "--", leak, secret], home: home)
        #expect(run.exitCode == 0, "\(run.stderr)")
        let everything = run.stdout + run.stderr + contents(of: home.appendingPathComponent("sandbox").path) + (try snapshot(home))
        #expect(run.stderr.contains("events line 1"), "\(run.stderr)")
        #expect(!everything.contains("wörd-123") && !everything.contains("sk-live-ABCDEF"), "\(run.stderr)")
    }

    @Test func aFullDiskStopsTheAgentAndTheRunIsClosed() throws {
        let (home, _, agent) = try setUp(budget: 1_000_000_000)
        let database = home.appendingPathComponent("sandbox/sandbox.db").path
        let pages = try #require(sqliteScalar(database, "PRAGMA page_count").flatMap { Int($0) })
        let filler = home.appendingPathComponent("filler.py")
        try """
            import os
            events = os.open(os.environ["NOVAOS_EVENTS"], os.O_WRONLY)
            line = b'{"type":"usage","model":"claude-haiku-3.5","input_tokens":1,"output_tokens":1,"operation":"' + b"x" * 150 + b'"}\\n'
            while True:
                os.write(events, line)
            """.write(to: filler, atomically: true, encoding: .utf8)
        let run = try runBinary(["sandbox", "run", agent, "--timeout", "20s", "--", "python3", filler.path], home: home,
                                environment: ["NOVAOS_TEST_MAX_PAGE_COUNT": String(pages + 20)])
        #expect(run.exitCode == 74, "\(run.stderr.suffix(300))")
        #expect(run.stderr.contains("the disk is full"))
        let runs = try runBinary(["sandbox", "runs", agent, "--json"], home: home).decode(RunList.self)
        #expect(runs.runs.first?.stopReason == .diskFull && runs.runs.first?.endedAt != nil)
        #expect(sqliteScalar(database, "PRAGMA integrity_check") == "ok")
    }

    @Test func aPlantedLogLinkLeavesTheOutsideUntouched() throws {
        let (home, project, agent) = try setUp()
        #expect(try runBinary(["sandbox", "run", agent, "--", "true"], home: home).exitCode == 0)
        let victim = home.appendingPathComponent("victim")
        try FileManager.default.createDirectory(at: victim, withIntermediateDirectories: true)
        try "precious\n".write(to: victim.appendingPathComponent("2.log"), atomically: true, encoding: .utf8)
        let agentLogs = home.appendingPathComponent("sandbox/logs/\(project)/\(agent)")
        try FileManager.default.removeItem(at: agentLogs)
        try FileManager.default.createSymbolicLink(at: agentLogs, withDestinationURL: victim)
        let run = try runBinary(["sandbox", "run", agent, "--", "echo", "overwrite"], home: home)
        #expect(run.exitCode != 0)
        #expect(run.stderr.contains("symbolic link"), "\(run.stderr)")
        #expect(try String(contentsOf: victim.appendingPathComponent("2.log"), encoding: .utf8) == "precious\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: victim.path) == ["2.log"])
    }

    @Test func isolationThatCannotBeHadIsRefusedWithAdvice() throws {
        let (home, _, agent) = try setUp()
        let before = try snapshot(home)
        let missing = try runBinary(["sandbox", "run", agent, "--", "true"], home: home, environment: ["NOVAOS_TEST_BWRAP": "/nonexistent/bwrap"])
        #expect(missing.exitCode == 1)
        #expect(missing.stderr == "Error: isolation needs bubblewrap, which is not installed: install bubblewrap (apt-get install bubblewrap) or pass --isolation none to run without isolation, knowingly\n")
        #expect(try snapshot(home) == before)
        let bad = try runBinary(["sandbox", "run", agent, "--isolation", "sometimes", "--", "true"], home: home)
        #expect(bad.exitCode == 64 && bad.stderr.hasPrefix("Error: --isolation must be namespace or none"))
        #expect(try snapshot(home) == before)
        let none = try runBinary(["sandbox", "run", agent, "--isolation", "none", "--json", "--", "true"], home: home)
        #expect(none.exitCode == 0 && none.stderr.contains("warning: --isolation none"))
        #expect(try none.decode(RunRecord.self).isolation == IsolationMode.none)
    }
}

@Suite struct ContainedTestSuitesEndToEndTests {
    @Test func aHostileTestSuiteFindsNoSecretLeavesNoDaemonAndWritesNothingOutside() throws {
        let home = try makeHome()
        let token = "ghp_hostileSuiteToken0123456789abcdef"
        let marker = "2345.\(Int.random(in: 100_000...999_999))"
        let created = try runBinary(["repo", "create", "--name", "hostile", "--json"], home: home, environment: ["GITHUB_TOKEN": token])
        #expect(created.exitCode == 0, "\(created.stderr)")
        let repository = try created.decode(ExperimentRepository.self)
        let project = home.appendingPathComponent("evil")
        try FileManager.default.createDirectory(at: project.appendingPathComponent("tests"), withIntermediateDirectories: true)
        try git(["init", "--quiet"], in: project)
        try """
            import glob, os, subprocess

            def test_spy():
                found = []
                for path in glob.glob("/proc/[0-9]*/environ"):
                    try:
                        found.append(open(path, "rb").read().decode(errors="replace"))
                    except OSError:
                        pass
                subprocess.Popen(["setsid", "sleep", "\(marker)"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for target in ["\(home.path)/outside.txt", "\(repository.path)/planted.txt", "\(home.path)/sandbox/sandbox.db"]:
                    try:
                        with open(target, "a") as handle:
                            handle.write("pwned")
                        found.append("WROTE " + target)
                    except OSError:
                        pass
                print("\\n".join(found))
                print("processes:", len(glob.glob("/proc/[0-9]*")))
                assert False, "show what was found"
            """.write(to: project.appendingPathComponent("tests/test_spy.py"), atomically: true, encoding: .utf8)
        try git(["add", "--all"], in: project)
        try git(["commit", "--quiet", "-m", "Spy"], in: project)
        let run = try runBinary(["repo", "run", "hostile", "--source", project.path, "--json"], home: home, environment: ["GITHUB_TOKEN": token])
        #expect(run.exitCode == 1, "\(run.stderr)")
        let summary = try run.decode(RepositoryRunSummary.self)
        let suite = try #require(summary.results.first?.testResults.first)
        #expect(suite.type == "pytest" && suite.status == "failed" && suite.isolation == .namespace)
        #expect(suite.output.contains("show what was found"), "\(suite.output.prefix(2000))")
        #expect(eventually(2) { processes(matching: "sleep \(marker)").isEmpty }, "the suite's daemon outlived it")
        #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("outside.txt").path))
        #expect(!FileManager.default.fileExists(atPath: repository.path + "/planted.txt"))
        let history = try git(["log", "-p", "--all"], in: URL(fileURLWithPath: repository.path))
        let everything = run.stdout + run.stderr + history + contents(of: home.appendingPathComponent("sandbox").path) + (try snapshot(home))
        #expect(!everything.contains(token), "the token reached the suite or was stored")
    }

    /// A source repository whose own configuration names a smudge filter: novaos's git copies
    /// the repository first and never reads that configuration, so the program never runs.
    @Test func aSourcesOwnGitConfigurationNeverRunsAProgram() throws {
        let home = try makeHome()
        #expect(try runBinary(["repo", "create", "--name", "filtered"], home: home).exitCode == 0)
        let project = home.appendingPathComponent("filtered-source")
        try FileManager.default.createDirectory(at: project, withIntermediateDirectories: true)
        try git(["init", "--quiet"], in: project)
        try "a.txt filter=pwn\n".write(to: project.appendingPathComponent(".gitattributes"), atomically: true, encoding: .utf8)
        try "hello\n".write(to: project.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        try git(["add", "--all"], in: project)
        try git(["commit", "--quiet", "-m", "Filtered"], in: project)
        let marker = home.appendingPathComponent("PWNED")
        for (key, value) in [("filter.pwn.smudge", "sh -c 'env > \(marker.path); cat'"), ("filter.pwn.required", "true"),
                             ("log.showSignature", "true"), ("gpg.program", "sh -c 'env > \(marker.path)'"),
                             ("core.fsmonitor", "sh -c 'env > \(marker.path)'")] {
            try git(["config", key, value], in: project)
        }
        let run = try runBinary(["repo", "run", "filtered", "--source", project.path, "--json"], home: home, environment: ["GITHUB_TOKEN": "ghp_filterTest123"])
        #expect(try run.decode(RepositoryRunSummary.self).experimentsRun == 1, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker.path), "a program from the source's configuration ran")
    }

    @Test(arguments: ["https://ghp_abc123@github.com/o/r.git", "https://github.com/o/r.git?access_token=ghp_abc123",
                      "https://x-access-token:ghp_abc123@github.com/o/r.git", "ext::sh -c touch% /tmp/pwned",
                      "ghp_abc123@github.com:o/r.git", "ssh://ghp_abc123@github.com/o/r.git", "https:ghp_abc123@host/o/r",
                      "ssh://AKIAEXAMPLEKEYghp_abc123@host/o/r", "a1b2c3d4e5f60718293a4b5c6d7e8f90@github.com:o/r.git",
                      "ssh://deadbeefcafebabe0123456789abcdef@host/r", "https:/\\/tok@github.com/o/r"])
    func aRemoteWithATokenIsRefusedAndNothingChanges(remote: String) throws {
        let home = try makeHome()
        _ = try runBinary(["sandbox", "create", "remotes"], home: home)
        let before = try snapshot(home)
        let refused = try runBinary(["repo", "create", "--name", "leaky", "--remote", remote], home: home)
        #expect(refused.exitCode == 1 && refused.stderr.hasPrefix("Error: ") && refused.stderr.split(separator: "\n").count == 1)
        #expect(!refused.stderr.contains("ghp_abc123"))
        #expect(try snapshot(home) == before)
    }
}

@Suite struct SupervisorDatabaseLockTests {
    /// A write lock held by another process for 40 s: recording waits, the agent is stopped
    /// after 30 s with `database_unavailable`, and the run row is closed once the lock goes.
    @Test(.timeLimit(.minutes(2))) func aLockHeldFortySecondsEndsTheRunAsDatabaseUnavailable() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "locked", "--json"], home: home).decode(Project.self)
        let agent = try runBinary(["sandbox", "deploy", project.id.rawValue, "assistant", "--json"], home: home).decode(Agent.self).id.rawValue
        let steady = home.appendingPathComponent("steady.py")
        try """
            import os, time
            events = os.open(os.environ["NOVAOS_EVENTS"], os.O_WRONLY)
            open("started", "w").close()
            while True:
                os.write(events, b'{"type":"revenue","amount":1,"source":"steady"}\\n')
                time.sleep(0.05)
            """.write(to: steady, atomically: true, encoding: .utf8)
        let background = try BackgroundRun(["sandbox", "run", agent, "--json", "--", "python3", steady.path], home: home)
        let workspace = home.appendingPathComponent("sandbox/projects/\(project.id.rawValue)/started").path
        #expect(eventually(10) { FileManager.default.fileExists(atPath: workspace) })
        let database = home.appendingPathComponent("sandbox/sandbox.db").path
        let locker = Process()
        locker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        locker.arguments = ["python3", "-c", "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\nc.execute('BEGIN IMMEDIATE')\nprint('locked', flush=True)\ntime.sleep(40)\nc.execute('COMMIT')", database]
        let lockerOutput = Pipe()
        locker.standardOutput = lockerOutput
        try locker.run()
        _ = lockerOutput.fileHandleForReading.availableData // "locked"
        let lockedAt = Date()
        #expect(background.wait(seconds: 60))
        let ended = Date().timeIntervalSince(lockedAt)
        locker.waitUntilExit()
        #expect(ended >= 30 && ended < 45, "ended after \(ended)s")
        #expect(background.process.terminationStatus == 75, "\(background.errors.suffix(400))")
        #expect(background.errors.contains("the database stayed unavailable"))
        let runs = try runBinary(["sandbox", "runs", agent, "--json"], home: home).decode(RunList.self)
        #expect(runs.runs.first?.stopReason == .databaseUnavailable && runs.runs.first?.endedAt != nil)
    }
}

/// One value read with the sqlite3 shell (read-only).
func sqliteScalar(_ database: String, _ sql: String) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    // A busy timeout: a read-only connection that opens while another process closes the
    // last connection (and checkpoints) meets SQLITE_BUSY, which would read as "no rows".
    process.arguments = ["sqlite3", "-readonly", "-cmd", ".timeout 5000", database, sql]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
