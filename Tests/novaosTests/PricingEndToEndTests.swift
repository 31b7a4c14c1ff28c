import Foundation
import SandboxCore
import Testing

/// Prices through the built binary: the merged table, price files, cache and batch usage in
/// every way in, stamped records, and repricing.
@Suite struct PricingEndToEndTests {
    func setUp() throws -> (home: URL, project: String, agent: String) {
        try homeWithAgent(tokenBudget: 100_000_000)
    }

    func database(_ home: URL) -> String { home.appendingPathComponent("sandbox/sandbox.db").path }

    /// The sum of the records equals every total kept beside them.
    func expectTotalsExact(_ home: URL, project: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let sum = sqliteScalar(database(home), "SELECT sum(cost_micros) FROM api_costs")
        #expect(sqliteScalar(database(home), "SELECT sum(cost_micros) FROM agents") == sum, sourceLocation: sourceLocation)
        #expect(sqliteScalar(database(home), "SELECT cost_micros FROM sandbox_totals") == sum, sourceLocation: sourceLocation)
        let detail = try runBinary(["sandbox", "project", project, "--json"], home: home).decode(ProjectDetail.self)
        #expect(String(detail.metrics.totalCost.micros) == sum, sourceLocation: sourceLocation)
    }

    @Test func pricesListAndShowTheMergedTableWithWhereEachEntryComesFrom() throws {
        let home = try makeHome()
        let file = home.appendingPathComponent("prices.json")
        try Data("""
            {"models": [
              {"model": "acme-small", "provider": "acme", "aliases": ["acme-s"], "input": 0.5, "output": 1.5},
              {"model": "gpt-4o", "input": 2, "output": 8, "cache_read": 1, "source": "our contract"}
            ]}
            """.utf8).write(to: file)
        let list = try runBinary(["prices", "list", "--json"], home: home)
        #expect(list.exitCode == 0 && list.stderr.isEmpty)
        let prices = try #require(try list.json()["prices"] as? [[String: Any]])
        let acme = try #require(prices.first { $0["model"] as? String == "acme-small" })
        #expect(acme["origin"] as? String == "override:\(file.path)" && acme["in_force"] as? Bool == true)
        #expect(acme["price_source"] as? String == "override:\(file.path)")
        #expect(Set(acme.keys) == [
            "id", "model", "provider", "aliases", "input", "output", "cache_read", "cache_write", "cache_write_1h", "batch_discount",
            "tiers", "effective_from", "effective_until", "source", "checked", "origin", "price_source", "in_force",
        ])
        // The correction replaced every built-in gpt-4o entry; other models are the built-in ones.
        #expect(prices.filter { $0["model"] as? String == "gpt-4o" }.count == 1)
        let sonnet = try #require(prices.first { $0["model"] as? String == "claude-sonnet-4" })
        #expect(sonnet["origin"] as? String == "built-in" && sonnet["id"] as? String == "claude-sonnet-4@2025-05-22")
        #expect(prices.contains { $0["provider"] as? String == "google" } && prices.contains { $0["provider"] as? String == "openai" })

        let text = try runBinary(["prices", "list"], home: home)
        #expect(text.stdout.contains("acme-small") && text.stdout.contains("override: \(file.path)\n"))

        let show = try runBinary(["prices", "show", "acme-s", "--json"], home: home).json()
        #expect(show["model"] as? String == "acme-small" && show["input"] as? Double == 0.5)
        // The built-in table at a past day: gpt-4o's launch price, when no price file is in the way.
        try FileManager.default.removeItem(at: file)
        let past = try runBinary(["prices", "show", "gpt-4o", "--at", "2024-06-01", "--json"], home: home).json()
        #expect(past["input"] as? Double == 5 && past["id"] as? String == "gpt-4o@2024-05-13")
        let unknown = try runBinary(["prices", "show", "gpt-99"], home: home)
        #expect(unknown.exitCode == 1 && unknown.stderr.hasPrefix("Error: unknown model 'gpt-99'") && unknown.stderr.split(separator: "\n").count == 1)
        let badDate = try runBinary(["prices", "show", "gpt-4o", "--at", "June"], home: home)
        #expect(badDate.exitCode == 64 && badDate.stderr.contains("invalid for '--at <date>'"))
    }

    @Test func pricesFlagAndEnvironmentPointElsewhere() throws {
        let home = try makeHome()
        let flagFile = home.appendingPathComponent("flag.json")
        let envFile = home.appendingPathComponent("env.json")
        try Data(#"{"models": [{"model": "from-flag", "input": 1, "output": 1}]}"#.utf8).write(to: flagFile)
        try Data(#"{"models": [{"model": "from-env", "input": 1, "output": 1}]}"#.utf8).write(to: envFile)
        let viaEnv = try runBinary(["prices", "show", "from-env"], home: home, environment: ["NOVAOS_PRICES": envFile.path])
        #expect(viaEnv.exitCode == 0)
        let viaFlag = try runBinary(["--prices", flagFile.path, "prices", "show", "from-flag"], home: home, environment: ["NOVAOS_PRICES": envFile.path])
        #expect(viaFlag.exitCode == 0)
        let missing = try runBinary(["prices", "list", "--prices", home.appendingPathComponent("nope.json").path], home: home)
        #expect(missing.exitCode == 1 && missing.stderr.contains("nope.json"))
    }

    @Test func aMalformedPriceFileIsRefusedWithItsLineAndFieldAndNothingChanges() throws {
        let (home, _, agent) = try setUp()
        try Data("{\"models\": [\n  {\"model\": \"x\", \"input\": 1,\n   \"output\": \"lots\"}\n]}".utf8).write(to: home.appendingPathComponent("prices.json"))
        let before = try snapshot(home)
        let usage = try runBinary(["sandbox", "usage", agent, "--model", "claude-sonnet-4", "--input-tokens", "1", "--output-tokens", "1"], home: home)
        #expect(usage.exitCode == 1)
        #expect(usage.stderr == "Error: \(home.appendingPathComponent("prices.json").path):3: models[0].output: must be a number of dollars per million tokens, like 3.75, not a string\n")
        #expect(try snapshot(home) == before)
        // `import` and `run` refuse alike, before anything is recorded or started.
        let events = FileManager.default.temporaryDirectory.appendingPathComponent("novaos-events-\(UUID().uuidString).jsonl")
        try Data(#"{"type":"revenue","agent_id":"\#(agent)","amount":1}"#.utf8).write(to: events)
        let imported = try runBinary(["sandbox", "import", events.path], home: home)
        #expect(imported.exitCode == 1 && imported.stderr.contains("prices.json:3: models[0].output"))
        let run = try runBinary(["sandbox", "run", agent, "--", "sh", "-c", "echo started"], home: home)
        #expect(run.exitCode == 1 && run.stderr.contains("prices.json:3: models[0].output") && !run.stdout.contains("started"))
        #expect(try snapshot(home) == before)
        // Commands that price nothing still work.
        #expect(try runBinary(["sandbox", "list"], home: home).exitCode == 0)
    }

    /// The README's worked example, through `usage`, `import` and `run` alike.
    @Test func cacheAndBatchUsageIsPricedAndStampedInEveryWayIn() throws {
        let (home, project, agent) = try setUp()
        let usage = try runBinary([
            "sandbox", "usage", agent, "--model", "claude-sonnet-4", "--input-tokens", "2000", "--output-tokens", "1000",
            "--cache-read-tokens", "50000", "--cache-write-tokens", "10000", "--json",
        ], home: home)
        #expect(usage.exitCode == 0)
        let record = try usage.json()
        #expect(record["cost"] as? Double == 0.0735 && record["total_tokens"] as? Int == 63_000)
        #expect(record["cache_read_tokens"] as? Int == 50_000 && record["cache_write_tokens"] as? Int == 10_000)
        #expect(record["batch"] as? Bool == false && record["cache_ttl"] as? String == "5m")
        #expect(record["price_source"] as? String == "table:claude-sonnet-4@2025-05-22")
        let batch = try runBinary([
            "sandbox", "usage", agent, "--model", "claude-sonnet-4", "--input-tokens", "2000", "--output-tokens", "1000",
            "--cache-read-tokens", "50000", "--cache-write-tokens", "10000", "--cache-ttl", "1h", "--batch",
        ], home: home)
        #expect(batch.stdout.contains("cost $0.048 (table:claude-sonnet-4@2025-05-22)") && batch.stdout.contains("(batch)"))

        let events = home.appendingPathComponent("events.jsonl")
        try Data("""
            {"type":"usage","agent_id":"\(agent)","model":"claude-sonnet-4","input_tokens":2000,"output_tokens":1000,"cache_read_tokens":50000,"cache_write_tokens":10000}
            {"type":"usage","agent_id":"\(agent)","model":"claude-sonnet-4","input_tokens":2000,"output_tokens":1000,"cache_read_tokens":50000,"cache_write_tokens":10000,"batch":true}
            {"type":"usage","agent_id":"\(agent)","model":"mystery","input_tokens":1,"output_tokens":1,"cost":0.5}

            """.utf8).write(to: events)
        let imported = try runBinary(["sandbox", "import", events.path, "--json"], home: home)
        #expect(imported.exitCode == 0)
        #expect(try imported.json()["cost"] as? Double == 0.0735 + 0.03675 + 0.5)

        let line = #"{"type":"usage","model":"claude-sonnet-4","input_tokens":2000,"output_tokens":1000,"cache_read_tokens":50000,"cache_write_tokens":10000}"#
        let run = try runBinary(["sandbox", "run", agent, "--json", "--", "sh", "-c", "echo '\(line)' > \"$NOVAOS_EVENTS\""], home: home)
        #expect(run.exitCode == 0)
        #expect(try run.json()["tokens_used"] as? Int == 63_000)

        let sources = sqliteScalar(database(home), "SELECT group_concat(price_source || ' ' || cost_micros, ';') FROM (SELECT * FROM api_costs ORDER BY id)")
        #expect(sources == [
            "table:claude-sonnet-4@2025-05-22 73500", "table:claude-sonnet-4@2025-05-22 48000", "table:claude-sonnet-4@2025-05-22 73500",
            "table:claude-sonnet-4@2025-05-22 36750", "explicit 500000", "table:claude-sonnet-4@2025-05-22 73500",
        ].joined(separator: ";"))
        try expectTotalsExact(home, project: project)
    }

    @Test func repriceDryRunChangesNothingAndRepriceKeepsTotalsExact() throws {
        let (home, project, agent) = try setUp()
        for (model, input) in [("claude-haiku-3.5", "333333"), ("claude-haiku-3.5", "1000"), ("gpt-4o", "5000")] {
            #expect(try runBinary(["sandbox", "usage", agent, "--model", model, "--input-tokens", input, "--output-tokens", "777"], home: home).exitCode == 0)
        }
        #expect(try runBinary(["sandbox", "usage", agent, "--model", "claude-haiku-3.5", "--input-tokens", "1", "--output-tokens", "1", "--cost", "3"], home: home).exitCode == 0)
        try Data(#"{"models": [{"model": "claude-haiku-3.5", "input": 1, "output": 5}]}"#.utf8).write(to: home.appendingPathComponent("prices.json"))
        let before = try snapshot(home)

        let dry = try runBinary(["sandbox", "reprice", "--dry-run", "--json"], home: home)
        #expect(dry.exitCode == 0 && dry.stderr.isEmpty)
        #expect(try snapshot(home) == before)
        let preview = try dry.json()
        #expect(preview["dry_run"] as? Bool == true && preview["changed_records"] as? Int == 2 && preview["examined_records"] as? Int == 3)
        let models = try #require(preview["models"] as? [[String: Any]])
        #expect(models.count == 1 && models[0]["model"] as? String == "claude-haiku-3.5")
        #expect(Set(models[0].keys) == ["model", "records", "changed_records", "old_cost", "new_cost", "difference"])
        #expect(models[0]["old_cost"] as? Double == 0.273_682 && models[0]["new_cost"] as? Double == 0.342_103)
        #expect(try runBinary(["sandbox", "reprice", "--dry-run"], home: home).stdout.hasPrefix("Dry run: nothing was changed."))

        let applied = try runBinary(["sandbox", "reprice", "--project", project, "--since", "2020-01-01"], home: home)
        #expect(applied.exitCode == 0 && applied.stdout.contains("claude-haiku-3.5") && applied.stdout.contains("+$0.068421"))
        try expectTotalsExact(home, project: project)
        #expect(sqliteScalar(database(home), "SELECT count(*) FROM api_costs WHERE price_source = 'explicit' AND cost_micros = 3000000") == "1")
        #expect(try runBinary(["sandbox", "reprice", "--json"], home: home).json()["changed_records"] as? Int == 0)
    }

    @Test(arguments: [
        (["sandbox", "reprice", "--since", "yesterday"], "invalid for '--since <date>'"),
        (["sandbox", "reprice", "--project", "prj_nothere"], "prj_nothere"),
        (["sandbox", "reprice", "--project", "prj_00000000"], "prj_00000000"),
        (["sandbox", "usage", "AGENT", "--model", "gpt-4o", "--input-tokens", "1", "--output-tokens", "1", "--cache-read-tokens", "-1"], "cache read tokens"),
        (["sandbox", "usage", "AGENT", "--model", "gpt-4o", "--input-tokens", "1", "--output-tokens", "1", "--cache-ttl", "2h"], "cache-ttl"),
        (["sandbox", "usage", "AGENT", "--model", "gpt-4o", "--input-tokens", "1", "--output-tokens", "1", "--cache-write-tokens", "5"], "'gpt-4o' has no cache-write price"),
        (["sandbox", "usage", "AGENT", "--model", "gemini-2.0-flash", "--input-tokens", "1", "--output-tokens", "1", "--batch"], "no batch price"),
        (["sandbox", "usage", "AGENT", "--model", "nobody-knows", "--input-tokens", "1", "--output-tokens", "1"], "unknown is not free"),
    ] as [([String], String)])
    func badInputIsOneLineAndChangesNothing(arguments: [String], message: String) throws {
        let (home, _, agent) = try setUp()
        let before = try snapshot(home)
        let result = try runBinary(arguments.map { $0 == "AGENT" ? agent : $0 }, home: home)
        #expect(result.exitCode != 0)
        #expect(result.stderr.contains(message) && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(try snapshot(home) == before)
    }
}
