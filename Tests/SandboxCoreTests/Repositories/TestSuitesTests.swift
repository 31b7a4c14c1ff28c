import Foundation
import Testing
@testable import ExperimentRepos
@testable import SandboxCore

@Suite struct TestSuitesTests {
    /// A tool's output and the counts it should give; described by its tool and counts only,
    /// so the sample output (which has ✘ lines) is not echoed into the test log.
    struct Sample: CustomTestStringConvertible, Sendable {
        var type: String, output: String, passed: Int, failed: Int, skipped: Int
        var testDescription: String { "\(type) \(passed)/\(failed)/\(skipped)" }
    }

    @Test(arguments: ([
        ("pytest", "....\n4 passed in 0.02s", 4, 0, 0),
        ("pytest", "===== 2 passed, 1 failed, 3 skipped in 1.20s =====", 2, 1, 3),
        ("pytest", "1 failed, 1 passed, 2 errors in 0.5s", 1, 3, 0),
        ("pytest", "!!! Interrupted: 1 error during collection !!!\n1 error in 0.10s", 0, 1, 0),
        ("pytest", "no tests ran in 0.01s", 0, 0, 0),
        ("swift", "✔ Test a() passed after 0.1 seconds.\n✘ Test b() failed after 0.1 seconds with 1 issue.\n✘ Test run with 5 tests failed after 0.2 seconds with 1 issue.", 4, 1, 0),
        ("swift", "✔ Test run with 7 tests in 2 suites passed after 0.3 seconds.", 7, 0, 0),
        ("swift", "Test Suite 'All tests' failed.\n\t Executed 6 tests, with 2 failures (0 unexpected) in 0.1 (0.1) seconds", 4, 2, 0),
        ("cargo", "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured\ntest result: FAILED. 1 passed; 2 failed; 0 ignored", 4, 2, 1),
        ("go", "--- PASS: TestA\n--- FAIL: TestB\n--- SKIP: TestC\n--- PASS: TestD", 2, 1, 1),
    ] as [(String, String, Int, Int, Int)]).map { Sample(type: $0.0, output: $0.1, passed: $0.2, failed: $0.3, skipped: $0.4) } as [Sample])
    func readsEachToolsSummary(_ sample: Sample) {
        let counts = TestSuites.parseCounts(type: sample.type, output: sample.output)
        #expect(counts.passed == sample.passed && counts.failed == sample.failed && counts.skipped == sample.skipped)
    }

    @Test func detectsSuitesByTheirMarkers() throws {
        let folder = try makeHome()
        for file in ["Package.swift", "package.json", "Cargo.toml", "go.mod"] {
            _ = FileManager.default.createFile(atPath: folder.appendingPathComponent(file).path, contents: Data())
        }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("tests"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("tests/test_x.py").path, contents: Data())
        #expect(TestSuites.detect(in: folder.path).map(\.type) == ["pytest", "swift", "npm", "cargo", "go"])
        let empty = try makeHome()
        try Data("[tool.pytest.ini_options]\n".utf8).write(to: empty.appendingPathComponent("pyproject.toml"))
        #expect(TestSuites.detect(in: empty.path).map(\.type) == ["pytest"])
    }

    /// A checkout is untrusted: `tests -> /outside` (with Python files there), or a link to a
    /// folder deeper in, is never entered, so detection never walks outside the checkout.
    @Test func detectionFollowsNoLink() throws {
        let outside = try makeHome()
        try FileManager.default.createDirectory(at: outside.appendingPathComponent("deep"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: outside.appendingPathComponent("deep/test_outside.py").path, contents: Data())
        let checkout = try makeHome()
        try FileManager.default.createSymbolicLink(at: checkout.appendingPathComponent("tests"), withDestinationURL: outside)
        #expect(TestSuites.detect(in: checkout.path).isEmpty)
        let nested = try makeHome()
        try FileManager.default.createDirectory(at: nested.appendingPathComponent("tests"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: nested.appendingPathComponent("tests/more"), withDestinationURL: outside)
        #expect(TestSuites.detect(in: nested.path).isEmpty)
        var seen: [String] = []
        FileWalk.regularFiles(under: nested.path) { seen.append($0); return true }
        #expect(seen.isEmpty)
    }

    @Test func aMarkerWithoutItsToolIsSkippedNotFailed() throws {
        let folder = try makeHome()
        _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("go.mod").path, contents: Data())
        let suite = try #require(TestSuites.detect(in: folder.path).first)
        let result = TestSuites.run(suite, in: folder.path, environment: ["PATH": "/nonexistent"], timeout: 10, containment: nil)
        #expect(result.status == "skipped" && !result.success && result.failed == 0)
        #expect(result.reason == "go is not installed")
    }

    @Test func theSuitesEnvironmentIsBuiltFromNothing() {
        let environment = TestSuites.environment(from: [
            "PATH": "/bin", "HOME": "/nonexistent-home", "GITHUB_TOKEN": "t", "AWS_SECRET_ACCESS_KEY": "s", "API_KEY": "k", "DB_PASSWORD": "p",
            "GITHUB_USERNAME": "u", "MY_TOKEN_FILE": "f", "NOVAOS_HOME": "/h", "LANG": "C.UTF-8", "PYENV_ROOT": "/opt/pyenv",
        ], home: "/tmp/private")
        #expect(environment == [
            "PATH": "/bin", "HOME": "/tmp/private", "TMPDIR": "/tmp/private", "CI": "true", "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8", "PYENV_ROOT": "/opt/pyenv",
        ])
    }
}

@Suite struct CodeAnalysisTests {
    @Test func countsFunctionsClassesComplexityAndIssues() throws {
        let folder = try makeHome()
        let branches = (0..<12).map { "    if x == \($0):\n        return \($0)" }.joined(separator: "\n")
        let statements = (0..<55).map { "    y = \($0)" }.joined(separator: "\n")
        let source = """
            class Shop:
                def price(self, x):
                    return x * 2 if x > 0 else 0

            async def fetch(x):
                return x

            def branchy(x):
            \(branches)
                return -1

            def long():
            \(statements)

            """
        try source.write(to: folder.appendingPathComponent("shop.py"), atomically: true, encoding: .utf8)
        try "def broken(:\n    pass\n".write(to: folder.appendingPathComponent("broken.py"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("node_modules/x"), withIntermediateDirectories: true)
        try "def ignored(): pass\n".write(to: folder.appendingPathComponent("node_modules/x/skip.py"), atomically: true, encoding: .utf8)
        try "func main() {}\nlet x = 1\n".write(to: folder.appendingPathComponent("main.swift"), atomically: true, encoding: .utf8)

        let result = CodeAnalysis.analyse(folder.path, environment: ProcessInfo.processInfo.environment)
        #expect(result.pythonAvailable)
        #expect(result.filesAnalyzed == 2)
        #expect(result.functionsFound == 4)
        #expect(result.classesFound == 1)
        // price: 1 + IfExp = 2; fetch: 1; branchy: 1 + 12 ifs = 13; long: 1. Mean 17 / 4.
        #expect(result.complexityScore == 4.25)
        #expect(Set(result.potentialIssues.map(\.kind)) == ["syntax_error", "complex_function", "long_function"])
        #expect(result.potentialIssues.first { $0.kind == "syntax_error" }?.file == "broken.py")
        #expect(result.potentialIssues.first { $0.kind == "complex_function" }?.line == 8)
        #expect(result.otherLanguages["swift"] == AnalysisResult.FileCount(files: 1, lines: 2))
    }

    @Test func saysSoWhenPythonIsMissing() throws {
        let result = CodeAnalysis.analyse(try makeHome().path, environment: ["PATH": "/nonexistent"])
        #expect(!result.pythonAvailable && result.note?.contains("python3 not found") == true)
    }
}
