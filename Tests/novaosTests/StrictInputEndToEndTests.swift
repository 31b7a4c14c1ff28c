import Foundation
import SandboxCore
import Testing

/// Every input strict, every output safe: the inputs the issue lists, and more, through the
/// built binary. A refused input is one `Error:` line, the documented exit code, and no change.
@Suite struct StrictInputEndToEndTests {
    func setUp() throws -> (home: URL, project: String, agent: String) {
        try homeWithAgent(tokenBudget: 1_000_000_000_000)
    }

    func importLines(_ lines: [String], home: URL) throws -> CommandOutput {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("novaos-strict-\(UUID().uuidString).jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        return try runBinary(["sandbox", "import", file.path, "--json"], home: home)
    }

    /// Event lines: (line with AGENT for the agent ID, accepted?, what the refusal says).
    @Test(arguments: [
        (#"{"type":"usage","agent_id":"AGENT","model":"claude-sonnet-4","input_tokens":007,"output_tokens":1}"#, false, "leading zeros"),
        (#"{"t\u0079pe":"usage","agent_id":"AGENT","model":"claude-sonnet-4","input_tokens":7,"output_tokens":1}"#, true, ""),
        (#"{"type":"usage","agent_id":"AGENT","agent\u005fid":"agt_000000000000","model":"m","input_tokens":7,"output_tokens":1,"cost":1}"#, false, "duplicate key"),
        (#"{"type":"usage","agent_id":"AGENT","x":1,"\u0078":2,"model":"m","input_tokens":7,"output_tokens":1,"cost":1}"#, false, "duplicate key"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"id":1}"#, false, "\"id\" must be a string"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"id":1.0}"#, false, "\"id\" must be a string"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"id":1e0}"#, false, "\"id\" must be a string"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"id":"1"}"#, true, ""),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"timestamp":"9999-12-31T23:59:59-14:00"}"#, false, "from 1970 to 9999"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"timestamp":"1969-12-31T23:59:59Z"}"#, false, "from 1970 to 9999"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"timestamp":"9999-12-31T23:59:59Z"}"#, true, ""),
        (#"{"type":"revenue","agent_id":"AGENT","amount":12.5000000000000000000000000000000000000000001}"#, false, "more than 6 decimal places"),
        (#"{"type":"usage","agent_id":"AGENT","model":"m","input_tokens":1,"output_tokens":1,"cost":0.00000100000000000000000000000000000000000000000000000000009}"#, false, "more than 6 decimal places"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1e400}"#, false, "too large"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,}"#, false, "not valid JSON"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"note":"\x"}"#, false, "bad escape"),
        // Times are RFC 3339, strictly.
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"timestamp":"2026-11-22T04:30:00+24:00"}"#, false, "from 1970 to 9999"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"timestamp":"2026-11-22T04:30:00+99:99"}"#, false, "from 1970 to 9999"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"timestamp":"2026-11-22T04:30:00Zjunk"}"#, false, "from 1970 to 9999"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"timestamp":"2026-11-22T04:30:00+01:00:30"}"#, false, "from 1970 to 9999"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"timestamp":" 2026-11-22T04:30:00Z"}"#, false, "from 1970 to 9999"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"timestamp":"2026-1-2T04:30:00Z"}"#, false, "from 1970 to 9999"),
        (#"{"type":"revenue","agent_id":"AGENT","amount":1,"timestamp":"2026-11-22T04:30:00.250-14:00"}"#, true, ""),
        // Token counts are read from their digits.
        (#"{"type":"usage","agent_id":"AGENT","model":"m","input_tokens":9999999999.9999999,"output_tokens":1,"cost":1}"#, false, "whole number of tokens"),
        (#"{"type":"usage","agent_id":"AGENT","model":"m","input_tokens":1.00000000000000001,"output_tokens":1,"cost":1}"#, false, "whole number of tokens"),
        (#"{"type":"usage","agent_id":"AGENT","model":"m","input_tokens":1e-400,"output_tokens":1,"cost":1}"#, false, "whole number of tokens"),
        (#"{"type":"usage","agent_id":"AGENT","model":"m","input_tokens":1.5e3,"output_tokens":1,"cost":1}"#, true, ""),
    ] as [(String, Bool, String)])
    func eventLinesAreStrictJSON(line: String, accepted: Bool, message: String) throws {
        let (home, _, agent) = try setUp()
        let before = try snapshot(home)
        let result = try importLines([line.replacingOccurrences(of: "AGENT", with: agent)], home: home)
        if accepted {
            let summary = try result.json()
            #expect(result.exitCode == 0 && summary["new"] as? Int == 1, "\(result.stderr)")
        } else {
            #expect(result.exitCode == 1)
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(try snapshot(home) == before)
        }
    }

    /// Money on the command line: exact, or refused as a usage error with nothing changed.
    @Test(arguments: [
        ["sandbox", "revenue", "AGENT", "12.5000000000000000000000000000000000000000001"],
        ["sandbox", "usage", "AGENT", "--model", "m", "--input-tokens", "1", "--output-tokens", "1",
         "--cost", "0.00000100000000000000000000000000000000000000000000000000009"],
        ["sandbox", "create", "x", "--budget", "abc"],
        ["sandbox", "create", "x", "--budget", "1.0000001"],
        ["sandbox", "budget", "PROJECT", "--usd", "1e-7"],
        ["sandbox", "run", "AGENT", "--timeout", "abc", "--", "true"],
        ["sandbox", "usage", "AGENT", "--model", "m", "--input-tokens", "1,200", "--output-tokens", "1"],
    ])
    func malformedValuesOnTheCommandLineAreUsageErrors(arguments: [String]) throws {
        let (home, project, agent) = try setUp()
        let before = try snapshot(home)
        let result = try runBinary(arguments.map { $0 == "AGENT" ? agent : $0 == "PROJECT" ? project : $0 }, home: home)
        #expect(result.exitCode == 64, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("Error: ") && result.stderr.split(separator: "\n").count == 1)
        #expect(try snapshot(home) == before)
    }

    @Test func namedMistakesGetNamedAnswers() throws {
        let (home, _, agent) = try setUp()
        let negative = try runBinary(["sandbox", "revenue", agent, "-5"], home: home)
        #expect(negative.exitCode == 64 && negative.stderr == "Error: amount must be positive, got -5\n")
        let option = try runBinary(["sandbox", "experiment", "complete", "1", "--sucess"], home: home)
        #expect(option.exitCode == 64 && option.stderr == "Error: unknown option '--sucess'; did you mean '--success'?\n")
        let command = try runBinary(["sandbx", "list"], home: home)
        #expect(command.exitCode == 64 && command.stderr == "Error: unknown command 'sandbx'; did you mean 'sandbox'?\n")
        let group = try runBinary(["sandbox", "--sucess"], home: home)
        #expect(group.exitCode == 64 && group.stderr.hasPrefix("Error: unknown option '--sucess'"))
        let nested = try runBinary(["sandbox", "lst"], home: home)
        #expect(nested.exitCode == 64 && nested.stderr == "Error: unknown command 'lst' for 'sandbox'; did you mean 'list'?\n")
        // What follows `--` belongs to the agent, whatever it looks like.
        #expect(try runBinary(["sandbox", "run", agent, "--isolation", "none", "--", "sh", "-c", "exit 0", "--weird"], home: home).exitCode == 0)
    }

    /// Sums that do not fit in 64 bits are one error line, exit 1, and nothing committed.
    @Test func overflowingTotalsAreAnErrorNotACrash() throws {
        let (home, _, agent) = try setUp()
        let before = try snapshot(home)
        let usage = (0..<9_300).map { _ in #"{"type":"usage","agent_id":"\#(agent)","model":"m","input_tokens":1,"output_tokens":1,"cost":1000000000}"# }
        let first = try importLines(usage, home: home)
        #expect(first.exitCode == 1 && !first.signaled)
        #expect(first.stderr.hasPrefix("Error: ") && first.stderr.contains("overflow"), "\(first.stderr)")
        let revenue = (0..<10_000).map { _ in #"{"type":"revenue","agent_id":"\#(agent)","amount":1000000000}"# }
        let second = try importLines(revenue, home: home)
        #expect(second.exitCode == 1 && !second.signaled && second.stderr.contains("overflow"), "\(second.stderr)")
        #expect(try snapshot(home) == before)
    }

    @Test func textFromOutsideNeverReachesTheTerminalRaw() throws {
        let (home, _, _) = try setUp()
        let evil = "/x\u{1B}]0;PWNED\u{07}\u{1B}[2J\u{202E}"
        for arguments in [["sandbox", "import", evil], ["sandbox", "deploy", "prj_00000000", "t", "--config", "@" + evil],
                          ["repo", "results", evil], ["sandbox", "project", evil], ["sandbox", evil]] {
            let result = try runBinary(arguments, home: home)
            #expect(result.exitCode != 0)
            #expect(!result.stderr.contains("\u{1B}") && !result.stderr.contains("\u{07}") && !result.stderr.contains("\u{202E}"), "\(arguments)")
        }
        let named = try runBinary(["sandbox", "create", "name\u{1B}[31mred\u{9B}c\u{7F}"], home: home)
        let unsafe: Set<UInt32> = [0x1B, 0x9B, 0x7F]
        let namedOutput = named.stdout
        #expect(named.exitCode == 0 && !namedOutput.unicodeScalars.contains(where: { unsafe.contains($0.value) }))
        // --json keeps the exact text.
        let list = try runBinary(["sandbox", "list", "--json"], home: home).decode(ProjectList.self)
        #expect(list.projects.contains { $0.name == "name\u{1B}[31mred\u{9B}c\u{7F}" })
        let backup = try runBinary(["sandbox", "backup", home.appendingPathComponent("b\u{1B}]0;PWNED\u{07}.db").path], home: home)
        #expect(backup.exitCode == 0 && !backup.stdout.unicodeScalars.contains(where: { unsafe.contains($0.value) || $0.value == 0x07 }))
        let table = try runBinary(["sandbox", "list"], home: home).stdout
        #expect(!table.unicodeScalars.contains(where: { unsafe.contains($0.value) }) && table.contains(#"name\u{1b}[31mred"#))
    }

    @Test func argumentsMustBeUTF8() throws {
        let home = try makeHome()
        let output = try bash(#""$0" sandbox create $'caf\xe9' 2>&1; echo "exit=$?""#, home: home)
        #expect(output.contains("exit=64") && output.contains("not valid UTF-8"), "\(output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.path).isEmpty)
    }

    @Test func specialFilesAreRefusedNotWaitedOn() throws {
        let home = try makeHome()
        let fifo = home.appendingPathComponent("fifo.db").path
        #expect(mkfifo(fifo, 0o600) == 0)
        for arguments in [["production", "list", "--production-db", fifo], ["sandbox", "promote", "prj_00000000", "--yes", "--production-db", fifo],
                          ["production", "list", "--production-db", "/dev/null"], ["production", "list", "--production-db", home.path]] {
            let started = Date()
            let result = try runBinary(arguments, home: home)
            #expect(result.exitCode == 1 && Date().timeIntervalSince(started) < 10, "\(arguments)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }
        let fifoResult = try runBinary(["production", "list", "--production-db", fifo], home: home)
        #expect(fifoResult.stderr.contains("it is a FIFO (named pipe), not a database file"))
        let passwd = try runBinary(["sandbox", "create", "x", "--home", "/etc/passwd"], home: home)
        #expect(passwd.exitCode == 1 && passwd.stderr == "Error: cannot create /etc/passwd/sandbox: Not a directory\n")
        // Reading commands too: a home under a file is no empty sandbox.
        for arguments in [["sandbox", "list", "--home", "/etc/passwd"], ["sandbox", "status", "--home", "/etc/passwd/x"]] {
            let read = try runBinary(arguments, home: home)
            #expect(read.exitCode == 1 && read.stderr.contains("Not a directory"), "\(arguments): \(read.stderr)")
        }
    }
}
