// novaos-bench: measures bulk import and the read commands at scale, against baselines
// measured in the same run. Build in release mode first:
//
//     swift build -c release && .build/release/novaos-bench [--quick]
//
// It prints its figures; it asserts nothing (targets belong in a benchmark, not a test).
import Foundation
import SandboxCore

let arguments = CommandLine.arguments.dropFirst()
let quick = arguments.contains("--quick")
let binFolder = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]).deletingLastPathComponent()
let novaos = binFolder.appendingPathComponent("novaos").path
guard FileManager.default.isExecutableFile(atPath: novaos) else {
    FileHandle.standardError.write(Data("novaos-bench: no novaos binary beside me at \(novaos); run `swift build -c release` first\n".utf8))
    exit(1)
}
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("novaos-bench-\(getpid())")
try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: scratch) }

// MARK: - Running and measuring a child process

struct Measured {
    var seconds: Double
    var peakMegabytes: Double
    var status: Int32
}

/// Runs `arguments` with stdin from `input` (or /dev/null) and stdout to `output` (or /dev/null),
/// and measures its wall time and its own peak resident memory (wait4's ru_maxrss).
func measure(_ arguments: [String], input: String? = nil, output: String? = nil) -> Measured {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, input ?? "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let start = DispatchTime.now()
    guard posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ) == 0 else {
        fatalError("cannot start \(arguments[0])")
    }
    var status: Int32 = 0
    var usage = rusage()
    wait4(pid, &status, 0, &usage)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    return Measured(seconds: seconds, peakMegabytes: Double(usage.ru_maxrss) / 1024, status: (status >> 8) & 0xFF)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func line(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

// MARK: - Workloads

/// A home with `projects` projects of `agentsPerProject` agents each.
func makeHome(_ name: String, projects: Int, agentsPerProject: Int) throws -> (home: URL, agents: [AgentID], projects: [ProjectID]) {
    let home = scratch.appendingPathComponent(name)
    let sandbox = try Sandbox(paths: SandboxPaths(home: home))
    var agents: [AgentID] = []
    var projectIDs: [ProjectID] = []
    for index in 0..<projects {
        let project = try sandbox.createProject(name: "bench-\(index)")
        projectIDs.append(project.id)
        for agentIndex in 0..<agentsPerProject {
            agents.append(try sandbox.deployAgent(project: project.id, type: "assistant", name: "agent-\(agentIndex)", configJSON: #"{"token_budget": 1000000000000}"#).id)
        }
    }
    return (home, agents, projectIDs)
}

let models = ["claude-sonnet-4", "claude-haiku-3.5", "claude-opus-4"]

/// Writes `eventsPerAgent` usage events per agent as JSON Lines and the same rows as CSV.
func writeWorkload(agents: [AgentID], eventsPerAgent: Int, jsonl: URL, csv: URL?) throws {
    _ = FileManager.default.createFile(atPath: jsonl.path, contents: nil)
    let jsonHandle = try FileHandle(forWritingTo: jsonl)
    var csvHandle: FileHandle?
    if let csv {
        _ = FileManager.default.createFile(atPath: csv.path, contents: nil)
        csvHandle = try FileHandle(forWritingTo: csv)
    }
    var json = ""
    var rows = ""
    for agent in agents {
        for event in 0..<eventsPerAgent {
            let model = models[event % models.count]
            let input = 500 + (event * 37) % 3000
            let output = 100 + (event * 11) % 800
            let id = "\(agent.rawValue)-\(event)"
            json += #"{"type":"usage","agent_id":"\#(agent.rawValue)","id":"\#(id)","model":"\#(model)","input_tokens":\#(input),"output_tokens":\#(output),"operation":"bench"}"# + "\n"
            if csvHandle != nil {
                let entry = try PriceCatalog.builtIn.entry(for: model, at: "2026-11-22T00:00:00Z")
                let cost = try entry.cost(of: TokenCounts(input: Int64(input), output: Int64(output))).micros
                rows += "\(agent.rawValue),\(id),\(entry.model),bench,\(input),\(output),0,0,5m,0,\(cost),\(entry.priceSource),2026-11-22T00:00:00Z\n"
            }
            if json.utf8.count > 1 << 20 {
                jsonHandle.write(Data(json.utf8)); json = ""
                csvHandle?.write(Data(rows.utf8)); rows = ""
            }
        }
    }
    jsonHandle.write(Data(json.utf8))
    csvHandle?.write(Data(rows.utf8))
    try jsonHandle.close()
    try csvHandle?.close()
}

/// The sqlite3 shell's `.import` of the CSV into a table like `api_costs` (the same columns,
/// types, checks and unique index on event_id; the rowid stands for `id`), in a WAL database.
func baselineImport(csv: URL, events: Int) -> Measured {
    let database = scratch.appendingPathComponent("baseline-\(events).db").path
    let script = scratch.appendingPathComponent("baseline-\(events).sql")
    try! """
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = NORMAL;
        CREATE TABLE api_costs (
            agent_id TEXT NOT NULL, event_id TEXT, model TEXT NOT NULL, operation TEXT NOT NULL,
            input_tokens INTEGER NOT NULL CHECK (input_tokens >= 0), output_tokens INTEGER NOT NULL CHECK (output_tokens >= 0),
            cache_read_tokens INTEGER NOT NULL CHECK (cache_read_tokens >= 0), cache_write_tokens INTEGER NOT NULL CHECK (cache_write_tokens >= 0),
            cache_ttl TEXT NOT NULL CHECK (cache_ttl IN ('5m', '1h')), batch INTEGER NOT NULL CHECK (batch IN (0, 1)),
            cost_micros INTEGER NOT NULL CHECK (cost_micros >= 0),
            price_source TEXT NOT NULL CHECK (price_source = 'explicit' OR price_source GLOB 'table:?*' OR price_source GLOB 'override:?*'),
            recorded_at TEXT NOT NULL
        ) STRICT;
        CREATE UNIQUE INDEX api_costs_by_event ON api_costs (event_id) WHERE event_id IS NOT NULL;
        .mode csv
        .import \(csv.path) api_costs

        """.write(to: script, atomically: true, encoding: .utf8)
    return measure(["sqlite3", database], input: script.path)
}

// MARK: - Import

line("novaos-bench on \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.operatingSystemVersionString)")
line("")
line("Bulk import (`sandbox import`, 10 projects x 10 agents, usage events with ids)")
line("events      novaos s  events/s   peak MB   sqlite3 .import s  ratio   re-import s (all duplicates)")
let importSizes = quick ? [10_000, 100_000] : [100_000, 1_000_000]
var peaks: [Double] = []
for events in importSizes {
    let setup = try makeHome("import-\(events)", projects: 10, agentsPerProject: 10)
    let jsonl = scratch.appendingPathComponent("events-\(events).jsonl")
    let csv = scratch.appendingPathComponent("events-\(events).csv")
    try writeWorkload(agents: setup.agents, eventsPerAgent: events / setup.agents.count, jsonl: jsonl, csv: csv)
    let ours = measure([novaos, "sandbox", "import", jsonl.path, "--json", "--home", setup.home.path])
    guard ours.status == 0 else { fatalError("import failed with status \(ours.status)") }
    let again = measure([novaos, "sandbox", "import", jsonl.path, "--json", "--home", setup.home.path])
    let baseline = baselineImport(csv: csv, events: events)
    peaks.append(ours.peakMegabytes)
    line(String(
        format: "%-10d  %8.2f  %9.0f  %8.1f   %17.2f  %5.2fx  %.2f",
        events, ours.seconds, Double(events) / ours.seconds, ours.peakMegabytes, baseline.seconds, ours.seconds / baseline.seconds, again.seconds
    ))
}
line(String(format: "peak memory, largest vs smallest import: %.2fx", peaks.last! / peaks.first!))

// MARK: - Read commands at scale

line("")
line("Read commands (5 agents per project, 20 usage events per agent; median of 5 runs, ms)")
line("projects   list --json   status --json   eval")
let projectCounts = quick ? [100, 1_000] : [100, 10_000]
var timings: [[Double]] = []
for projects in projectCounts {
    let setup = try makeHome("read-\(projects)", projects: projects, agentsPerProject: 5)
    let jsonl = scratch.appendingPathComponent("read-\(projects).jsonl")
    try writeWorkload(agents: setup.agents, eventsPerAgent: 20, jsonl: jsonl, csv: nil)
    _ = measure([novaos, "sandbox", "import", jsonl.path, "--home", setup.home.path])
    let target = setup.projects[setup.projects.count / 2].rawValue
    var row: [Double] = []
    for command in [["sandbox", "list", "--json"], ["sandbox", "status", "--json"], ["sandbox", "eval", target, "--json"]] {
        row.append(median((0..<5).map { _ in measure([novaos] + command + ["--home", setup.home.path]).seconds * 1000 }))
    }
    timings.append(row)
    line(String(format: "%-9d  %11.1f  %14.1f  %5.1f", projects, row[0], row[1], row[2]))
}
let growth = Double(projectCounts.last!) / Double(projectCounts.first!)
line(String(
    format: "growth for %.0fx the projects: list %.2fx, status %.2fx, eval %.2fx",
    growth, timings.last![0] / timings.first![0], timings.last![1] / timings.first![1], timings.last![2] / timings.first![2]
))
let baselineStart = median((0..<5).map { _ in measure([novaos, "--version"]).seconds * 1000 })
line(String(format: "baseline: `novaos --version` (process start, no database) takes %.1f ms", baselineStart))
