// novaos-bench: the performance table of the README, each figure beside a reference measured
// in the same run, and the instruction-count guard that CI runs. Build in release mode first:
//
//     swift build -c release && .build/release/novaos-bench            # the table (about 4 minutes)
//     .build/release/novaos-bench --quick                              # smaller sizes (about 1 minute)
//     .build/release/novaos-bench --guard [--update-budgets]           # callgrind against Tests/Performance/budgets.json
//     scripts/with-postgres .build/release/novaos-bench --team          # team mode: production on PostgreSQL (about 1 minute)
//
// The table asserts nothing: wall-clock figures move 15-30% between runs on a shared machine,
// so targets are judged by ratios to references measured in the same run, and regressions by
// instruction counts, which callgrind counts repeatably.
import Foundation
import SandboxCore
import TeamRegistry

let arguments = Set(CommandLine.arguments.dropFirst())
let known: Set = ["--quick", "--guard", "--update-budgets", "--team"]
if let unknown = arguments.subtracting(known).first {
    FileHandle.standardError.write(Data("novaos-bench: unknown argument \(unknown); expected --quick, --team, --guard or --guard --update-budgets\n".utf8))
    exit(64)
}
let quick = arguments.contains("--quick")
let binFolder = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]).deletingLastPathComponent()
let novaos = binFolder.appendingPathComponent("novaos").path
guard FileManager.default.isExecutableFile(atPath: novaos) else {
    FileHandle.standardError.write(Data("novaos-bench: no novaos binary beside me at \(novaos); run `swift build -c release` first\n".utf8))
    exit(1)
}

// MARK: - Running and measuring a child process

struct Measured {
    var seconds: Double
    var peakMegabytes: Double
    var status: Int32
}

/// Runs `arguments` with stdin from `input` (or /dev/null) and stdout to `output` (or
/// /dev/null), and measures its wall time and its own peak resident memory (wait4's ru_maxrss).
func measure(_ arguments: [String], input: String? = nil, output: String? = nil, errors: String? = nil) -> Measured {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, input ?? "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if let errors { posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
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

/// The peak resident memory (MB) of one run of `arguments`, through GNU time (`time -f %M`):
/// a child spawned by this process would inherit this process's peak at `exec` (Linux keeps
/// the old memory's high-water mark in `ru_maxrss`), and this process holds whole workloads.
func peakMegabytes(_ arguments: [String], input: String? = nil) -> Double {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else { return .nan }
    let report = scratch.appendingPathComponent("time.out").path
    let result = measure(["/usr/bin/time", "-f", "%M", "-o", report] + arguments, input: input)
    guard result.status == 0, let text = try? String(contentsOfFile: report, encoding: .utf8),
          let kilobytes = Double(text.split(separator: "\n").last ?? "") else { return .nan }
    return kilobytes / 1024
}

/// The median wall time (ms) of `runs` runs, and the peak memory (MB) of one more.
func timed(_ arguments: [String], runs: Int, input: String? = nil) -> (ms: Double, megabytes: Double) {
    let results = (0..<runs).map { _ in measure(arguments, input: input) }
    guard results.allSatisfy({ $0.status == 0 }) else { fatalError("\(arguments.joined(separator: " ")) failed with status \(results.map(\.status))") }
    return (median(results.map { $0.seconds * 1000 }), peakMegabytes(arguments, input: input))
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func line(_ text: String = "") {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

func fixed(_ value: Double, _ places: Int) -> String { String(format: "%.\(places)f", value) }

func padded(_ text: String, _ width: Int, right: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return right ? padding + text : text + padding
}

// MARK: - Workloads

// The guard's folder has a name of fixed length (the count moves with the length of a path),
// its own per run, so two runs never share it.
let scratch = URL(fileURLWithPath: arguments.contains("--guard")
    ? "/tmp/novaos-perf-guard-" + String(format: "%010d", getpid())
    : NSTemporaryDirectory() + "novaos-bench-\(getpid())")
try? FileManager.default.removeItem(at: scratch)
try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)

/// Removes the scratch folder and exits (`exit` skips `defer`).
func finish(_ status: Int32) -> Never {
    try? FileManager.default.removeItem(at: scratch)
    exit(status)
}

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
            price_source TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        ) STRICT;
        CREATE UNIQUE INDEX api_costs_by_event ON api_costs (event_id) WHERE event_id IS NOT NULL;
        .mode csv
        .import \(csv.path) api_costs

        """.write(to: script, atomically: true, encoding: .utf8)
    return measure(["sqlite3", database], input: script.path)
}

/// The sqlite3 shell printing the rows `sandbox list` prints, from the same database, in
/// `mode` (`json` or `column`): SQLite answering the same question without novaos.
func sqliteList(_ home: URL, mode: String) -> [String] {
    let database = home.appendingPathComponent("sandbox/sandbox.db").path
    return ["sqlite3", "-readonly", "-cmd", ".mode \(mode)", database, """
        SELECT id, name, description, status, created_at, total_agents, active_agents, tokens_used,
               cost_micros, revenue_micros, budget_micros FROM projects ORDER BY created_at, rowid
        """]
}

// MARK: - The instruction-count guard

/// Counts the instructions of `arguments` with callgrind.
func instructions(_ arguments: [String], input: String? = nil) -> Int {
    let log = scratch.appendingPathComponent("callgrind.log").path
    let result = measure(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + arguments, input: input, errors: log)
    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    guard result.status == 0, let collected = text.split(separator: "\n").first(where: { $0.contains("Collected :") }),
          let count = Int(collected.split(separator: " ").last ?? "") else {
        fatalError("callgrind of \(arguments.joined(separator: " ")) failed (status \(result.status)):\n\(text.suffix(2000))")
    }
    return count
}

if arguments.contains("--guard") {
    let budgetsFile = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("Tests/Performance/budgets.json")
    // The fixed workloads: start-up, one usage record, the list of 1,000 projects (JSON and
    // text), an import of 20,000 events.
    let one = try makeHome("one", projects: 1, agentsPerProject: 1)
    let thousand = try makeHome("thousand", projects: 1_000, agentsPerProject: 5)
    let importing = try makeHome("import", projects: 2, agentsPerProject: 5)
    let events = scratch.appendingPathComponent("events.jsonl")
    try writeWorkload(agents: importing.agents, eventsPerAgent: 2_000, jsonl: events, csv: nil)
    let workloads: [(name: String, arguments: [String])] = [
        ("start-up (novaos --version)", [novaos, "--version"]),
        ("one sandbox usage", [novaos, "sandbox", "usage", one.agents[0].rawValue, "--model", "claude-haiku-3.5",
                               "--input-tokens", "100", "--output-tokens", "10", "--home", one.home.path]),
        ("sandbox list --json, 1,000 projects", [novaos, "sandbox", "list", "--json", "--home", thousand.home.path]),
        ("sandbox list (text), 1,000 projects", [novaos, "sandbox", "list", "--home", thousand.home.path]),
        ("sandbox import, 20,000 events", [novaos, "sandbox", "import", events.path, "--home", importing.home.path]),
    ]
    var measured: [String: Int] = [:]
    for workload in workloads { measured[workload.name] = instructions(workload.arguments) }
    if arguments.contains("--update-budgets") {
        try FileManager.default.createDirectory(at: budgetsFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try (encoder.encode(measured) + Data("\n".utf8)).write(to: budgetsFile)
        line("novaos-bench: wrote \(budgetsFile.path); commit it with the change that moved the counts")
        finish(0)
    }
    guard let data = FileManager.default.contents(atPath: budgetsFile.path),
          let budgets = try? JSONDecoder().decode([String: Int].self, from: data) else {
        FileHandle.standardError.write(Data("novaos-bench: no budgets at \(budgetsFile.path); run from the package folder, or write them with --guard --update-budgets\n".utf8))
        finish(1)
    }
    line("Instructions (callgrind), against the budgets in Tests/Performance/budgets.json (fails above +10%)")
    line("workload                                  instructions        budget   change")
    var failed = false
    for workload in workloads {
        let count = measured[workload.name]!
        guard let budget = budgets[workload.name] else {
            line("\(padded(workload.name, 40))  \(padded(String(count), 12, right: true))  no budget: run --guard --update-budgets")
            failed = true
            continue
        }
        let change = Double(count - budget) / Double(budget) * 100
        let verdict = change > 10 ? "  OVER BUDGET" : change < -10 ? "  faster: lower the budget (--update-budgets)" : ""
        if change > 10 { failed = true }
        line("\(padded(workload.name, 40))  \(padded(String(count), 12, right: true))  \(padded(String(budget), 12, right: true))  \(padded((change >= 0 ? "+" : "") + fixed(change, 1) + "%", 7, right: true))\(verdict)")
    }
    if failed {
        line("novaos-bench: instructions grew more than 10% over a budget. Find the cause (callgrind_annotate);")
        line("if the cost is deliberate, update the budgets (--guard --update-budgets) and say why in the commit.")
        finish(1)
    }
    finish(0)
}

// MARK: - The table

line("novaos-bench on \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.operatingSystemVersionString)\(quick ? " (--quick)" : "")")
line("Medians of \(quick ? 5 : 11) runs (import: one run); every reference is measured in this run, on this machine.")
line()

// MARK: - Team mode: production on PostgreSQL, beside production.db in the same run

/// A home with a promoted project of `agents` live agents (into `registry`, or production.db).
func promotedHome(_ name: String, agents count: Int, registry: ProductionRegistry?) throws -> (home: URL, agents: [AgentID]) {
    let home = scratch.appendingPathComponent(name)
    let sandbox = try Sandbox(paths: SandboxPaths(home: home))
    let project = try sandbox.createProject(name: "team-bench")
    for index in 0..<count {
        let agent = try sandbox.deployAgent(project: project.id, type: "assistant", name: "slot-\(index)")
        _ = try sandbox.recordUsage(agent: agent.id, model: "claude-haiku-3.5", inputTokens: 1_000, outputTokens: 100)
        _ = try sandbox.recordRevenue(agent: agent.id, amount: try Money(parsing: "5"))
    }
    let promoted = try sandbox.promote(project.id, registry: registry).migratedAgents.map(\.productionID)
    let paths = SandboxPaths(home: home)
    for agent in promoted {
        _ = try ProductionLedger(paths: paths, registry: registry).setTokenBudget(of: agent.rawValue, tokens: 1_000_000_000_000)
    }
    return (home, promoted)
}

/// `writers` threads at once, each with its own connection, recording `each` usage records
/// for its own live agent; returns the records per second.
func concurrentUsage(home: URL, agents: [AgentID], registry: ProductionRegistry?, writers: Int, each: Int) throws -> Double {
    let paths = SandboxPaths(home: home)
    let started = Date()
    DispatchQueue.concurrentPerform(iterations: writers) { writer in
        do {
            let ledger = try ProductionLedger(paths: paths, registry: registry)
            for _ in 0..<each {
                _ = try ledger.recordUsage(agent: agents[writer].rawValue, model: "claude-sonnet-4", tokens: TokenCounts(input: 100, output: 10))
            }
        } catch {
            fatalError("production usage failed: \(error)")
        }
    }
    return Double(writers * each) / Date().timeIntervalSince(started)
}

if arguments.contains("--team") {
    guard let url = ProcessInfo.processInfo.environment["NOVAOS_TEST_POSTGRES_URL"], !url.isEmpty else {
        FileHandle.standardError.write(Data("novaos-bench --team: no PostgreSQL server; run it through scripts/with-postgres\n".utf8))
        finish(0)
    }
    let registry = try TeamRegistry.registry(url: url)
    let writers = 8, each = quick ? 250 : 1_000
    let team = try promotedHome("team-pg", agents: writers, registry: registry)
    let local = try promotedHome("team-sqlite", agents: writers, registry: nil)
    let pgUsage = try concurrentUsage(home: team.home, agents: team.agents, registry: registry, writers: writers, each: each)
    let sqliteUsage = try concurrentUsage(home: local.home, agents: local.agents, registry: nil, writers: writers, each: each)

    // production import of 1M events (125,000 per live agent), through the release binaries.
    let events = 1_000_000
    let pgEvents = scratch.appendingPathComponent("team-pg.jsonl"), sqliteEvents = scratch.appendingPathComponent("team-sqlite.jsonl")
    try writeWorkload(agents: team.agents, eventsPerAgent: events / writers, jsonl: pgEvents, csv: nil)
    try writeWorkload(agents: local.agents, eventsPerAgent: events / writers, jsonl: sqliteEvents, csv: nil)
    let pgImport = measure([novaos, "production", "import", pgEvents.path, "--json", "--home", team.home.path, "--production-db", url])
    let sqliteImport = measure([novaos, "production", "import", sqliteEvents.path, "--json", "--home", local.home.path])
    guard pgImport.status == 0, sqliteImport.status == 0 else { fatalError("production import failed: \(pgImport.status), \(sqliteImport.status)") }
    // The same files again: every event recorded already (PostgreSQL: the direct copy is
    // refused and the records go in through staging). Not with --quick.
    let again = quick ? nil : (
        pg: measure([novaos, "production", "import", pgEvents.path, "--json", "--home", team.home.path, "--production-db", url]),
        sqlite: measure([novaos, "production", "import", sqliteEvents.path, "--json", "--home", local.home.path])
    )
    guard again.map({ $0.pg.status == 0 && $0.sqlite.status == 0 }) ?? true else { fatalError("production import again failed") }
    let perSecond = { (measured: Measured) in Int(Double(events) / measured.seconds).formatted() }
    line("team mode: production on PostgreSQL (\(url.split(separator: "@").last ?? "")), production.db in the same run as the reference")
    line("  production usage, \(writers) writers x \(each.formatted()) records: \(Int(pgUsage).formatted()) records/s; production.db \(Int(sqliteUsage).formatted()) records/s; ratio \(fixed(pgUsage / sqliteUsage, 2))x")
    line("  production import, \(events.formatted()) events (COPY): \(fixed(pgImport.seconds, 2)) s, \(perSecond(pgImport)) events/s, \(fixed(pgImport.peakMegabytes, 1)) MB; production.db \(fixed(sqliteImport.seconds, 2)) s, \(perSecond(sqliteImport)) events/s; ratio \(fixed(sqliteImport.seconds / pgImport.seconds, 2))x (target: at least 100,000 events/s)")
    if let again {
        line("  the same import again, every event a duplicate: \(fixed(again.pg.seconds, 2)) s, \(perSecond(again.pg)) events/s; production.db \(fixed(again.sqlite.seconds, 2)) s, \(perSecond(again.sqlite)) events/s; ratio \(fixed(again.sqlite.seconds / again.pg.seconds, 2))x")
    }
    finish(0)
}

struct Row {
    var figure: String
    var ours: String
    var reference: String
    var ratio: String
    var target: String
}
var rows: [Row] = []
func ratio(_ ours: Double, _ reference: Double) -> String { fixed(ours / reference, 2) + "x" }

let runs = quick ? 5 : 11

// Start-up.
let start = timed([novaos, "--version"], runs: runs * 2 + 1)
let sqliteStart = timed(["sqlite3", ":memory:", "select 1"], runs: runs * 2 + 1)
rows.append(Row(
    figure: "novaos --version", ours: "\(fixed(start.ms, 1)) ms, \(fixed(start.megabytes, 1)) MB",
    reference: "sqlite3 :memory: 'select 1': \(fixed(sqliteStart.ms, 1)) ms, \(fixed(sqliteStart.megabytes, 1)) MB",
    ratio: ratio(start.ms, sqliteStart.ms), target: "<= 3x, <= 15 MB"
))

// The read commands and one usage record, at two sizes.
let listSizes = quick ? [1_000, 3_000] : [3_000, 10_000]
var listPeaks: [Double] = []
for (index, projects) in listSizes.enumerated() {
    let setup = try makeHome("read-\(projects)", projects: projects, agentsPerProject: 5)
    let jsonl = scratch.appendingPathComponent("read-\(projects).jsonl")
    try writeWorkload(agents: setup.agents, eventsPerAgent: 4, jsonl: jsonl, csv: nil)
    _ = measure([novaos, "sandbox", "import", jsonl.path, "--home", setup.home.path])
    let home = ["--home", setup.home.path]
    let size = "\(projects.formatted()) x 5"
    if index == listSizes.count - 1 {
        let status = timed([novaos, "sandbox", "status", "--json"] + home, runs: runs)
        let sqliteStatus = timed(["sqlite3", "-readonly", setup.home.appendingPathComponent("sandbox/sandbox.db").path, "SELECT * FROM sandbox_totals"], runs: runs)
        rows.append(Row(figure: "sandbox status --json (\(size))", ours: "\(fixed(status.ms, 1)) ms", reference: "sqlite3 reading the same totals: \(fixed(sqliteStatus.ms, 1)) ms",
                        ratio: ratio(status.ms, sqliteStatus.ms), target: "<= 5 ms"))
        let usage = timed([novaos, "sandbox", "usage", setup.agents[0].rawValue, "--model", "claude-haiku-3.5", "--input-tokens", "100", "--output-tokens", "10"] + home, runs: runs)
        let sqliteInsert = timed(["sqlite3", setup.home.appendingPathComponent("sandbox/sandbox.db").path,
                                  "INSERT INTO api_costs (agent_id, model, operation, input_tokens, output_tokens, cost_micros, recorded_at) VALUES ('\(setup.agents[0].rawValue)', 'claude-haiku-3.5', 'bench', 100, 10, 120, '2026-11-22T00:00:00Z')"], runs: runs)
        rows.append(Row(figure: "one sandbox usage (\(size))", ours: "\(fixed(usage.ms, 1)) ms", reference: "sqlite3 inserting one record: \(fixed(sqliteInsert.ms, 1)) ms",
                        ratio: ratio(usage.ms, sqliteInsert.ms), target: "<= 6 ms"))
    }
    let target = projects <= 3_000 ? "<= 30 ms" : "<= 100 ms"
    let json = timed([novaos, "sandbox", "list", "--json"] + home, runs: runs)
    let sqliteJSON = timed(sqliteList(setup.home, mode: "json"), runs: runs)
    listPeaks.append(json.megabytes)
    rows.append(Row(figure: "sandbox list --json (\(size))", ours: "\(fixed(json.ms, 1)) ms, \(fixed(json.megabytes, 1)) MB",
                    reference: "sqlite3 .mode json, same rows: \(fixed(sqliteJSON.ms, 1)) ms", ratio: ratio(json.ms, sqliteJSON.ms),
                    target: projects == 3_000 || projects == 10_000 ? target : "-"))
    let text = timed([novaos, "sandbox", "list"] + home, runs: runs)
    let sqliteText = timed(sqliteList(setup.home, mode: "column"), runs: runs)
    rows.append(Row(figure: "sandbox list, text (\(size))", ours: "\(fixed(text.ms, 1)) ms, \(fixed(text.megabytes, 1)) MB",
                    reference: "sqlite3 .mode column, same rows: \(fixed(sqliteText.ms, 1)) ms", ratio: ratio(text.ms, sqliteText.ms),
                    target: projects == 3_000 || projects == 10_000 ? target : "-"))
}
rows.append(Row(figure: "list peak memory, \(listSizes.last!.formatted()) vs \(listSizes.first!.formatted()) projects", ours: ratio(listPeaks.last!, listPeaks.first!),
                reference: "-", ratio: "-", target: "flat (streamed)"))

// Comparison: two projects of 5,000 events each (half usage, half revenue), 10,000 in all,
// through the bootstrap's 2,000 resamples.
do {
    let setup = try makeHome("compare", projects: 2, agentsPerProject: 1)
    let jsonl = scratch.appendingPathComponent("compare.jsonl")
    var lines = ""
    for (index, agent) in setup.agents.enumerated() {
        for event in 0..<2_500 {
            lines += #"{"type":"usage","agent_id":"\#(agent.rawValue)","model":"claude-haiku-3.5","input_tokens":\#(1_000 + event % 700),"output_tokens":\#(100 + event % 90)}"# + "\n"
            lines += #"{"type":"revenue","agent_id":"\#(agent.rawValue)","amount":\#(1 + index + event % 3)}"# + "\n"
        }
    }
    try lines.write(to: jsonl, atomically: true, encoding: .utf8)
    _ = measure([novaos, "sandbox", "import", jsonl.path, "--home", setup.home.path])
    let compare = timed([novaos, "sandbox", "compare", setup.projects[0].rawValue, setup.projects[1].rawValue, "--json", "--home", setup.home.path], runs: runs)
    let sqliteRows = timed(["sqlite3", "-readonly", setup.home.appendingPathComponent("sandbox/sandbox.db").path,
                            "SELECT cost_micros FROM api_costs; SELECT amount_micros FROM revenue"], runs: runs)
    rows.append(Row(figure: "sandbox compare, 2 x 5,000 events", ours: "\(fixed(compare.ms, 1)) ms, \(fixed(compare.megabytes, 1)) MB",
                    reference: "sqlite3 reading the same rows: \(fixed(sqliteRows.ms, 1)) ms", ratio: ratio(compare.ms, sqliteRows.ms), target: "<= 50 ms"))
}

// Bulk import.
let importSizes = quick ? [10_000, 100_000] : [100_000, 1_000_000]
var importPeaks: [Double] = []
for events in importSizes {
    let setup = try makeHome("import-\(events)", projects: 10, agentsPerProject: 10)
    let jsonl = scratch.appendingPathComponent("events-\(events).jsonl")
    let csv = scratch.appendingPathComponent("events-\(events).csv")
    try writeWorkload(agents: setup.agents, eventsPerAgent: events / setup.agents.count, jsonl: jsonl, csv: csv)
    // Memory from the same import into a copy of the home made before it.
    let copy = scratch.appendingPathComponent("import-\(events)-copy")
    try FileManager.default.copyItem(at: setup.home, to: copy)
    var ours = measure([novaos, "sandbox", "import", jsonl.path, "--json", "--home", setup.home.path])
    guard ours.status == 0 else { fatalError("import failed with status \(ours.status)") }
    let baseline = baselineImport(csv: csv, events: events)
    ours.peakMegabytes = peakMegabytes([novaos, "sandbox", "import", jsonl.path, "--json", "--home", copy.path])
    importPeaks.append(ours.peakMegabytes)
    rows.append(Row(
        figure: "sandbox import, \(events.formatted()) events", ours: "\(fixed(ours.seconds, 2)) s (\(Int(Double(events) / ours.seconds).formatted())/s), \(fixed(ours.peakMegabytes, 1)) MB",
        reference: "sqlite3 .import of the same rows: \(fixed(baseline.seconds, 2)) s", ratio: ratio(ours.seconds, baseline.seconds),
        target: events == 1_000_000 ? "<= 1.25x" : "-"
    ))
}
rows.append(Row(figure: "import peak memory, \(importSizes.last!.formatted()) vs \(importSizes.first!.formatted()) events", ours: ratio(importPeaks.last!, importPeaks.first!),
                reference: "-", ratio: "-", target: "flat"))

let widths = [
    rows.map(\.figure.count).max()!, rows.map(\.ours.count).max()!, rows.map(\.reference.count).max()!, max(5, rows.map(\.ratio.count).max()!),
]
line("\(padded("figure", widths[0]))  \(padded("novaos", widths[1]))  \(padded("reference, same run", widths[2]))  \(padded("ratio", widths[3], right: true))  target")
for row in rows {
    line("\(padded(row.figure, widths[0]))  \(padded(row.ours, widths[1]))  \(padded(row.reference, widths[2]))  \(padded(row.ratio, widths[3], right: true))  \(row.target)")
}

finish(0)
