import Foundation
import PostgresDB
import PostgresTestSupport
import SandboxCore
import Testing
@testable import NovaCLI

func makeHome() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("novaos-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// What a command printed, and how it ended.
struct CommandOutput {
    var stdout = ""
    var stderr = ""
    var exitCode: Int32 = 0
    /// True when a signal ended the process; `exitCode` is then the signal's number.
    var signaled = false

    /// stdout decoded as one JSON document into `T`.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try SandboxJSON.decoder().decode(T.self, from: Data(stdout.utf8))
    }

    /// The top-level keys of stdout's JSON object.
    func jsonKeys() throws -> Set<String> {
        let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]
        return Set(object?.keys.map { $0 } ?? [])
    }

    func json() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
    }
}

/// Runs a command in-process against `home`, through the same parsing as the binary.
final class InProcess {
    let home: URL
    var stdinIsTerminal = false
    var input: [String] = []

    init(home: URL) {
        self.home = home
    }

    func run(_ arguments: [String]) throws -> CommandOutput {
        var output = CommandOutput()
        var input = self.input
        let context = CommandContext(
            environment: ["NOVAOS_HOME": home.path], currentDirectory: home.path,
            writeOutput: { output.stdout += $0 }, writeError: { output.stderr += $0 },
            stdinIsTerminal: stdinIsTerminal, stdoutIsTerminal: false,
            readLine: { input.isEmpty ? nil : input.removeFirst() }, clock: Date.init
        )
        let command = try NovaOS.parseAsRoot(NovaOS.hoistingGlobalOptions(arguments))
        let runnable = try #require(command as? any ContextCommand)
        try runnable.execute(in: context)
        return output
    }
}

/// The built `novaos` executable, beside the test bundle.
let novaosBinary: URL = {
    let testBinary = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
    var folder = testBinary.deletingLastPathComponent()
    // On Linux the tests run from .build/<triple>/debug/novaosPackageTests.xctest.
    while !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("novaos").path), folder.path != "/" {
        folder = folder.deletingLastPathComponent()
    }
    return folder.appendingPathComponent("novaos")
}()

/// The built binary, set up to run `arguments` in `home` as current directory, with no
/// NOVAOS_* variables unless given, and stdin from /dev/null.
func binaryProcess(_ arguments: [String], home: URL, environment extra: [String: String] = [:]) -> Process {
    let process = Process()
    process.executableURL = novaosBinary
    process.arguments = arguments
    process.currentDirectoryURL = home
    var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("NOVAOS_") }
    if let registry = TeamHomes.registry(of: home) { environment["NOVAOS_PRODUCTION_DB"] = registry }
    environment.merge(extra) { $1 }
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    return process
}

/// Runs the built binary (see `binaryProcess`) to its end.
func runBinary(_ arguments: [String], home: URL, environment extra: [String: String] = [:]) throws -> CommandOutput {
    let process = binaryProcess(arguments, home: home, environment: extra)
    let stdout = Pipe(), stderr = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    // Both pipes are read at once, so a large output on either cannot fill it and stall the child.
    nonisolated(unsafe) var err = Data()
    let errorRead = DispatchSemaphore(value: 0)
    Thread {
        err = stderr.fileHandleForReading.readDataToEndOfFile()
        errorRead.signal()
    }.start()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    errorRead.wait()
    process.waitUntilExit()
    return CommandOutput(
        stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self), exitCode: process.terminationStatus,
        signaled: process.terminationReason == .uncaughtSignal
    )
}

/// A snapshot of everything novaos could change: a `sqlite3 .dump` of both databases and
/// a listing of every file under the home folder.
func snapshot(_ home: URL) throws -> String {
    var text = ""
    for database in ["sandbox/sandbox.db", "production.db"] {
        let path = home.appendingPathComponent(database).path
        guard FileManager.default.fileExists(atPath: path) else { continue }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", "-readonly", path, ".dump"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        text += String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
    }
    // A team registry's rows, every table's, in order.
    if let url = TeamHomes.registry(of: home) {
        let db = try PostgresConnection(url)
        for table in ["schema_version", "agents", "api_costs", "revenue", "production_events", "guardrails", "guardrail_checks", "runs"] {
            text += table + ":\n" + (try db.query("SELECT row_to_json(t)::text FROM \(table) AS t ORDER BY 1").map { $0.text(at: 0) ?? "" }).joined(separator: "\n")
        }
    }
    let enumerator = FileManager.default.enumerator(atPath: home.path)
    var files: [String] = []
    while let file = enumerator?.nextObject() as? String {
        // SQLite's WAL and shared-memory files come and go with connections; the dump covers their content.
        if !file.hasSuffix("-wal"), !file.hasSuffix("-shm") { files.append(file) }
    }
    return text + files.sorted().joined(separator: "\n")
}

/// A fresh home with one project ("demo") and one assistant agent of `tokenBudget` sandbox tokens.
func homeWithAgent(tokenBudget: Int64) throws -> (home: URL, project: String, agent: String) {
    let home = try makeHome()
    let project = try runBinary(["sandbox", "create", "demo", "--json"], home: home).decode(Project.self).id.rawValue
    let agent = try runBinary(["sandbox", "deploy", project, "assistant", "--config", #"{"token_budget": \#(tokenBudget)}"#, "--json"], home: home)
        .decode(Agent.self).id.rawValue
    return (home, project, agent)
}

/// Another process holding the write lock of the database at `path` (`BEGIN EXCLUSIVE`) for
/// `seconds`; it holds it when this returns. Wait for it with `waitUntilExit()`.
func holdingWriteLock(on path: String, forSeconds seconds: Int) throws -> Process {
    let locker = Process()
    locker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    locker.arguments = ["python3", "-c", """
        import sqlite3, sys, time
        db = sqlite3.connect(sys.argv[1], isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
        """, path, String(seconds)]
    let ready = Pipe()
    locker.standardOutput = ready
    try locker.run()
    _ = ready.fileHandleForReading.availableData // "locked"
    return locker
}

extension ProductionBackend {
    /// Points `home` at this backend: every command run in it gets the registry's URL in
    /// `NOVAOS_PRODUCTION_DB`.
    func use(in home: URL) throws {
        if self == .postgres { TeamHomes.assign(try TestPostgres.freshDatabase(), to: home) }
    }
}

/// Test homes whose production is a team registry.
enum TeamHomes {
    private static let lock = NSLock()
    // Guarded by `lock`.
    nonisolated(unsafe) private static var registries: [String: String] = [:]

    static func assign(_ url: String, to home: URL) {
        lock.withLock { registries[home.standardizedFileURL.path] = url }
    }

    static func registry(of home: URL) -> String? {
        lock.withLock { registries[home.standardizedFileURL.path] }
    }
}
