#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Supervision

/// Finds a revision's test suites by their marker files, runs those whose tool is installed,
/// and reads the passed, failed and skipped counts from their output.
public enum TestSuites {
    public struct Suite: Sendable {
        public var type: String
        public var tool: String
        public var arguments: [String]
        /// How to check that the tool can run this suite.
        public var probe: [String]
    }

    /// The suites whose marker files are in `folder` (links are not followed).
    public static func detect(in folder: String) -> [Suite] {
        func exists(_ name: String) -> Bool {
            var info = stat()
            return lstat(folder + "/" + name, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        }
        var suites: [Suite] = []
        let pyproject = exists("pyproject.toml") ? (try? String(contentsOfFile: folder + "/pyproject.toml", encoding: .utf8)) ?? "" : ""
        var testsHavePython = false
        FileWalk.regularFiles(under: folder + "/tests") { testsHavePython = $0.hasSuffix(".py"); return !testsHavePython }
        if exists("pytest.ini") || pyproject.contains("[tool.pytest") || testsHavePython {
            suites.append(Suite(type: "pytest", tool: "python3", arguments: ["-m", "pytest", "-q", "-p", "no:cacheprovider"], probe: ["-m", "pytest", "--version"]))
        }
        if exists("Package.swift") {
            suites.append(Suite(type: "swift", tool: "swift", arguments: ["test"], probe: ["--version"]))
        }
        if exists("package.json") {
            suites.append(Suite(type: "npm", tool: "npm", arguments: ["test", "--silent"], probe: ["--version"]))
        }
        if exists("Cargo.toml") {
            suites.append(Suite(type: "cargo", tool: "cargo", arguments: ["test"], probe: ["--version"]))
        }
        if exists("go.mod") {
            suites.append(Suite(type: "go", tool: "go", arguments: ["test", "./..."], probe: ["version"]))
        }
        return suites
    }

    /// The variables a test suite gets: no secrets at all. `PATH`, locale and time zone, a
    /// private `HOME` and `TMPDIR`, `CI=true`, and the variables that locate toolchains
    /// (pyenv, rustup, Go, Java), set to their defaults under the real home when that is
    /// where the toolchain is installed.
    public static func environment(from base: [String: String], home: String) -> [String: String] {
        var environment: [String: String] = ["PATH": base["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home,
                                             "CI": "true", "PYTHONDONTWRITEBYTECODE": "1", "LANG": base["LANG"] ?? "C.UTF-8"]
        for key in ["TZ", "LC_ALL", "PYENV_ROOT", "PYENV_VERSION", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "GOROOT", "GOPATH",
                    "GOTOOLCHAIN", "GOFLAGS", "JAVA_HOME", "VIRTUAL_ENV", "CONDA_PREFIX", "NODE_PATH"] {
            if let value = base[key], !value.isEmpty { environment[key] = value }
        }
        if let realHome = base["HOME"], !realHome.isEmpty {
            for (key, folder) in [("PYENV_ROOT", ".pyenv"), ("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup"), ("GOPATH", "go")] where environment[key] == nil {
                let path = realHome + "/" + folder
                if FileWalk.isFolder(path) { environment[key] = path }
            }
        }
        return environment
    }

    /// Runs one suite in `folder`, inside `containment` when given, with exactly `environment`.
    /// `shouldStop` is polled while it runs: true stops it (status `interrupted`).
    public static func run(_ suite: Suite, in folder: String, environment: [String: String], timeout: TimeInterval,
                           containment: ProcessRunner.Containment?, shouldStop: @escaping @Sendable () -> Bool = { false }) -> TestSuiteResult {
        let command = ([suite.tool] + suite.arguments).joined(separator: " ")
        let isolation: IsolationMode = containment == nil ? .none : .namespace
        func skipped(_ reason: String) -> TestSuiteResult {
            TestSuiteResult(type: suite.type, status: "skipped", success: false, passed: 0, failed: 0, skipped: 0, durationSeconds: 0,
                            command: command, exitCode: nil, reason: reason, output: "", isolation: nil)
        }
        guard !shouldStop() else {
            var result = skipped("interrupted before it started")
            result.status = "interrupted"
            return result
        }
        guard let tool = ProcessRunner.which(suite.tool, environment: environment) else {
            return skipped("\(suite.tool) is not installed")
        }
        if let probe = try? ProcessRunner(timeout: 30, shouldStop: shouldStop).run(tool, suite.probe, environment: environment, directory: folder, containment: containment),
           !probe.succeeded {
            return skipped("\(suite.type) is not available: \(probe.output.split(whereSeparator: \.isNewline).last.map(String.init) ?? "probe failed")")
        }
        let outcome: ProcessRunner.Outcome
        do {
            outcome = try ProcessRunner(timeout: timeout, shouldStop: shouldStop).run(tool, suite.arguments, environment: environment, directory: folder, containment: containment)
        } catch {
            return skipped("cannot start \(suite.tool): \(error)")
        }
        var counts = parseCounts(type: suite.type, output: outcome.output)
        let success = outcome.succeeded
        if !success && counts.failed == 0 && !outcome.timedOut && !outcome.stopped {
            counts.failed = max(1, counts.failed) // a suite that failed to run at all (a syntax error, say)
        }
        var output = outcome.output
        if outcome.timedOut { output += "\n[novaos: killed after the timeout of \(Int(timeout))s]\n" }
        if outcome.stopped { output += "\n[novaos: interrupted]\n" }
        return TestSuiteResult(
            type: suite.type, status: outcome.timedOut ? "timeout" : outcome.stopped ? "interrupted" : (success ? "passed" : "failed"), success: success,
            passed: counts.passed, failed: counts.failed, skipped: counts.skipped,
            durationSeconds: (outcome.seconds * 1000).rounded() / 1000, command: command, exitCode: outcome.exitCode,
            reason: outcome.timedOut ? "timed out after \(Int(timeout))s" : outcome.stopped ? "interrupted" : nil, output: output, isolation: isolation
        )
    }

    /// Reads the summary each tool prints.
    public static func parseCounts(type: String, output: String) -> (passed: Int, failed: Int, skipped: Int) {
        let lines = output.split(whereSeparator: \.isNewline).map(String.init)
        func number(before word: String, in line: String) -> Int {
            // "3 passed", "1 failed", "2 skipped", "1 error"
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "," || $0 == ";" })
            var total = 0
            for (index, part) in parts.enumerated() where index > 0 && part.hasPrefix(word) {
                total += Int(parts[index - 1]) ?? 0
            }
            return total
        }
        switch type {
        case "pytest":
            // The last summary line: "==== 2 passed, 1 failed, 1 skipped in 0.12s ====" (or without the rules with -q).
            guard let summary = lines.last(where: { $0.contains(#/\d+ (passed|failed|skipped|error|errors|deselected|xfailed|xpassed)/#) && $0.contains(" in ") })
            else { return (0, 0, 0) }
            return (number(before: "passed", in: summary) + number(before: "xpassed", in: summary),
                    number(before: "failed", in: summary) + number(before: "error", in: summary),
                    number(before: "skipped", in: summary) + number(before: "xfailed", in: summary) + number(before: "deselected", in: summary))
        case "swift":
            // Swift Testing: "✔ Test run with 5 tests passed" / "✘ Test run with 5 tests failed with 2 issues";
            // XCTest: "Executed 5 tests, with 1 failure (0 unexpected)".
            var passed = 0, failed = 0, skipped = 0
            for line in lines {
                if line.contains("Test run with"), let total = Int(line.split(separator: "Test run with ", omittingEmptySubsequences: false).last?.split(separator: " ").first ?? "") {
                    let failures = lines.filter { $0.hasPrefix("✘ Test ") && !$0.contains("Test run with") && $0.contains(" failed after ") }.count
                    failed += failures
                    passed += max(0, total - failures)
                }
                if line.contains("Executed"), line.contains("tests, with") || line.contains("test, with"),
                   let total = Int(line.split(separator: "Executed ", omittingEmptySubsequences: false).last?.split(separator: " ").first ?? "") {
                    let failures = Int(line.split(separator: "with ", omittingEmptySubsequences: false).last?.split(separator: " ").first ?? "") ?? 0
                    if total > 0 && !line.contains("Selected") {
                        passed = max(passed, total - failures)
                        failed = max(failed, failures)
                    }
                }
                if line.contains("skipped") && line.hasPrefix("➜ Test") { skipped += 1 }
            }
            return (passed, failed, skipped)
        case "cargo":
            var totals = (0, 0, 0)
            for line in lines where line.hasPrefix("test result:") {
                totals.0 += number(before: "passed", in: line)
                totals.1 += number(before: "failed", in: line)
                totals.2 += number(before: "ignored", in: line)
            }
            return totals
        case "go":
            return (lines.filter { $0.contains("--- PASS") }.count, lines.filter { $0.contains("--- FAIL") }.count,
                    lines.filter { $0.contains("--- SKIP") }.count)
        default:
            return (number(before: "passing", in: lines.first { $0.contains("passing") } ?? ""),
                    number(before: "failing", in: lines.first { $0.contains("failing") } ?? ""), 0)
        }
    }
}
