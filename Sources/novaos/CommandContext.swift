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
            clock: Date.init
        )
    }

    /// A path from the command line, made absolute against the current directory.
    func url(forPath path: String) -> URL {
        URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: currentDirectory, isDirectory: true)).standardizedFileURL
    }

    /// Busy timeout for SQLite locks: `NOVAOS_BUSY_TIMEOUT_MS`, else 10 s.
    var busyTimeoutMilliseconds: Int32 {
        environment["NOVAOS_BUSY_TIMEOUT_MS"].flatMap { Int32($0) }.map { max(0, $0) } ?? 10_000
    }

    /// Colour only for a terminal, and never when `NO_COLOR` is set (no-color.org).
    var useColor: Bool {
        stdoutIsTerminal && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
    }

    /// Prints `result` as JSON or as text for people.
    func emit<Result: Encodable & TextRenderable>(_ result: Result, json: Bool) throws {
        if json {
            let data = try SandboxJSON.encoder().encode(result)
            writeOutput(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            var text = result.renderText(TextStyle(color: useColor))
            if !text.hasSuffix("\n") { text += "\n" }
            // The last pass: renderers escape what they print, and this catches what one forgot.
            writeOutput(TerminalText.escapeOutput(text, allowing: useColor ? TextStyle.sequences : []))
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

/// Writes all of `data` to `fd`; false when it cannot (a closed pipe, a full disk). Never
/// crashes, unlike `FileHandle.write(_:)`, which traps on EPIPE once SIGPIPE is ignored.
@discardableResult
func writeAll(_ data: Data, to fd: Int32) -> Bool {
    data.withUnsafeBytes { raw in
        var done = 0
        while done < raw.count {
            let count = write(fd, raw.baseAddress! + done, raw.count - done)
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            done += count
        }
        return true
    }
}
