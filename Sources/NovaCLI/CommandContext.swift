import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SandboxCore
import Supervision

/// What a command reads from and writes to, injectable so tests run commands in-process.
struct CommandContext {
    var environment: [String: String]
    var currentDirectory: String
    var writeOutput: (String) -> Void
    var writeError: (String) -> Void
    /// Raw bytes (an agent's output) to stdout or, with `true`, to stderr; false once nobody
    /// reads them any more (a closed pipe), never a crash.
    var writeData: (Data, Bool) -> Bool = { data, toError in
        writeAll(data, to: toError ? STDERR_FILENO : STDOUT_FILENO)
    }
    var stdinIsTerminal: Bool
    var stdoutIsTerminal: Bool
    var stderrIsTerminal: Bool = false
    var readLine: () -> String?
    var clock: () -> Date
    /// The home the command read (set when it resolves its paths), so that a "nothing
    /// found" message can say where it looked.
    let homeRead = HomeRead()
    /// True for the process's own command line, which a hand-over to `novaos-team` may
    /// replace; false in tests that run commands in-process.
    var isProcess = false

    static var live: CommandContext {
        CommandContext(
            environment: ProcessInfo.processInfo.environment,
            currentDirectory: FileManager.default.currentDirectoryPath,
            writeOutput: { text in
                writeAll(Data(text.utf8), to: STDOUT_FILENO)
            },
            writeError: { text in
                writeAll(Data(text.utf8), to: STDERR_FILENO)
            },
            stdinIsTerminal: isatty(STDIN_FILENO) == 1,
            stdoutIsTerminal: isatty(STDOUT_FILENO) == 1,
            stderrIsTerminal: isatty(STDERR_FILENO) == 1,
            readLine: { Swift.readLine() },
            clock: testClock ?? Date.init,
            isProcess: true
        )
    }

    /// A test-only hook: `NOVAOS_TEST_NOW` (an ISO 8601 time) fixes the clock, so tests can
    /// run `production check` past a bake time without waiting for it.
    private static var testClock: (() -> Date)? {
        guard let text = ProcessInfo.processInfo.environment["NOVAOS_TEST_NOW"], let date = try? parseUserDate(text, field: "NOVAOS_TEST_NOW") else {
            return nil
        }
        return { date }
    }

    /// A path from the command line, made absolute against the current directory.
    func url(forPath path: String) -> URL {
        URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: currentDirectory, isDirectory: true)).standardizedFileURL
    }

    /// Busy timeout for SQLite locks: `NOVAOS_BUSY_TIMEOUT_MS`, else 10 s.
    var busyTimeoutMilliseconds: Int32 {
        Sandbox.busyTimeoutMilliseconds(in: environment)
    }

    /// Colour only for a terminal, and never when `NO_COLOR` is set (no-color.org).
    var useColor: Bool {
        stdoutIsTerminal && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
    }

    /// Prints `result` as JSON or as text for people.
    func emit<Result: Encodable & TextRenderable>(_ result: Result, json: Bool) throws {
        if json {
            var bytes = try JSONWriter().encode(result)
            bytes.append(UInt8(ascii: "\n"))
            writeOutput(String(decoding: bytes, as: UTF8.self))
        } else {
            var text = result.renderText(TextStyle(color: useColor))
            text = namingTheHome(text)
            if !text.hasSuffix("\n") { text += "\n" }
            // The last pass: renderers escape what they print, and this catches what one forgot.
            writeOutput(TerminalText.escapeOutput(text, allowing: useColor ? TextStyle.sequences : []))
        }
    }

    /// Prints a list as `emit` would print the whole of it, but row by row as `produce`
    /// hands them over: the JSON document `{"key": [...]}` written in pieces, or a text
    /// table whose column widths come from a first pass over the rows (`produce` is then
    /// called twice, and must hand over the same rows).
    func emitList<Row: JSONObjectWritable>(
        key: String, json: Bool, table: TextTable, empty: String,
        cells: @escaping (Row) -> [String], produce: ((Row) throws -> Void) throws -> Void
    ) throws {
        if json {
            var list = JSONWriter.ListWriter(key: key) { writeOutput(String(decoding: $0, as: UTF8.self)) }
            try produce { try list.element($0) }
            try list.finish()
            return
        }
        let style = TextStyle(color: useColor)
        var widths = table.headers.map(\.count)
        var count = 0
        try produce { row in
            widths = table.widths(adding: cells(row), to: widths)
            count += 1
        }
        guard count > 0 else {
            writeOutput(TerminalText.escapeOutput(namingTheHome(empty), allowing: []) + "\n")
            return
        }
        var chunk = style.bold(table.line(table.headers, widths: widths)) + "\n"
        func flush() {
            // The last pass over what is printed, as in `emit`.
            writeOutput(TerminalText.escapeOutput(chunk, allowing: useColor ? TextStyle.sequences : []))
            chunk = ""
        }
        try produce { row in
            chunk += table.line(cells(row), widths: widths) + "\n"
            if chunk.utf8.count >= 64 << 10 { flush() }
        }
        flush()
    }

    /// A "nothing found" message (one line, "No ….") with the home it looked in:
    /// "No projects in /home/me/novaos.".
    func namingTheHome(_ text: String) -> String {
        guard let home = homeRead.path, text.hasPrefix("No "), text.hasSuffix("."), !text.contains("\n") else { return text }
        return String(text.dropLast()) + " in " + TerminalText.escape(home) + "."
    }

    /// A test-only hook for the steps of a promotion or a rollback: at the step named by
    /// `NOVAOS_TEST_CRASH_AT`, the process dies without any cleanup, as a SIGKILL would.
    func testCrashHook<Step: RawRepresentable & Equatable>() -> (Step) -> Void where Step.RawValue == String {
        let crashPoint = environment["NOVAOS_TEST_CRASH_AT"].flatMap(Step.init(rawValue:))
        return { step in
            if step == crashPoint { _ = kill(getpid(), SIGKILL) }
        }
    }

    /// Asks `question` (`[y/N]`) on a terminal and goes on only on yes; without a terminal on
    /// stdin it refuses, naming `action` and `--yes`. Either refusal changes nothing.
    func confirm(_ question: String, action: String) throws {
        guard stdinIsTerminal else {
            throw SandboxError.promotionRefused("refusing to \(action) without confirmation: stdin is not a terminal; pass --yes")
        }
        writeError("\(question) [y/N] ")
        let answer = readLine().map { $0.trimmingWhitespace() }?.lowercased() ?? ""
        guard answer == "y" || answer == "yes" else {
            throw SandboxError.promotionRefused("cancelled: did not \(action); nothing changed")
        }
    }

    func warn(_ message: String) {
        writeError("warning: \(TerminalText.escape(message))\n")
    }
}

/// A command that runs against a `CommandContext`.
protocol ContextCommand: ParsableCommand {
    func execute(in context: CommandContext) throws
}

extension ContextCommand {
    func run() throws {
        try execute(in: .live)
    }
}

/// Where a command's home turned out to be (a class, so the value-type context can carry it).
final class HomeRead {
    var path: String?
}
