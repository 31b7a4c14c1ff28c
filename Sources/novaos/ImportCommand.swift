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

extension SandboxCommand {
    struct Import: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Import usage and revenue events from JSON Lines, all or nothing.",
            discussion: """
                Each line: {"type":"usage","agent_id":"agt_...","model":"claude-sonnet-4","input_tokens":1200,"output_tokens":300} \
                or {"type":"revenue","agent_id":"agt_...","amount":49.0}, with optional id, timestamp, operation, cost, \
                source, description. Events whose id is already recorded are skipped.
                """
        )

        @Argument(help: "A JSON Lines file, or - for standard input.") var file: String = "-"
        @Flag(name: .customLong("skip-invalid"), help: "Record the valid lines and report the rejected ones, instead of committing nothing.")
        var skipInvalid = false
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let fileDescriptor: Int32
            var size: Int64?
            if file == "-" {
                fileDescriptor = STDIN_FILENO
            } else {
                fileDescriptor = open(file, O_RDONLY)
                guard fileDescriptor >= 0 else {
                    throw SandboxError.fileSystem(path: file, message: "cannot open: \(String(cString: strerror(errno)))")
                }
                var info = stat()
                if fstat(fileDescriptor, &info) == 0 {
                    guard (info.st_mode & S_IFMT) != S_IFDIR else {
                        close(fileDescriptor)
                        throw SandboxError.fileSystem(path: file, message: "is a directory, not a JSON Lines file")
                    }
                    if (info.st_mode & S_IFMT) == S_IFREG { size = Int64(info.st_size) }
                }
            }
            defer { if fileDescriptor != STDIN_FILENO { close(fileDescriptor) } }

            let sandbox = try global.sandbox(in: context)
            let bar = ProgressBar(context: context, total: size)
            let summary = try sandbox.importEvents(
                fileDescriptor: fileDescriptor, source: file, options: ImportOptions(skipInvalid: skipInvalid),
                progress: { bar.update($0) }
            )
            bar.finish()
            for error in summary.errors {
                context.writeError("line \(error.line): \(TerminalText.escape(error.message))\n")
            }
            if summary.rejected > summary.errors.count {
                context.writeError("… and \(summary.rejected - summary.errors.count) more rejected line(s)\n")
            }
            summary.budgetWarnings.forEach(context.warn)
            if global.json || summary.committed {
                try context.emit(summary, json: global.json)
            }
            guard summary.committed else {
                let first = summary.errors.first.map { " (first: line \($0.line): \($0.message))" } ?? ""
                throw SandboxError.invalidInput(
                    "import rejected: \(summary.rejected) invalid line(s)\(first); nothing was committed (use --skip-invalid to record the valid lines)"
                )
            }
        }
    }
}

/// A progress bar on stderr, only when stderr is a terminal and the input is large (or of
/// unknown size), redrawn at most ten times a second.
final class ProgressBar {
    private let context: CommandContext
    private let total: Int64?
    private let enabled: Bool
    private var lastDraw = Date.distantPast
    private var drawn = false

    init(context: CommandContext, total: Int64?) {
        self.context = context
        self.total = total
        self.enabled = context.stderrIsTerminal && (total.map { $0 >= 8 << 20 } ?? true)
    }

    func update(_ bytes: Int64) {
        guard enabled, Date().timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = Date()
        drawn = true
        let megabytes = fixedDigits(Double(bytes) / 1_000_000, 1) + " MB"
        if let total, total > 0 {
            let fraction = min(1, Double(bytes) / Double(total))
            let filled = Int(fraction * 30)
            let percent = fixedDigits(fraction * 100, 0)
            let padding = String(repeating: " ", count: max(0, 3 - percent.count))
            context.writeError("\r[" + String(repeating: "#", count: filled) + String(repeating: " ", count: 30 - filled) + "] " + padding + percent + "% " + megabytes)
        } else {
            context.writeError("\rread " + megabytes)
        }
    }

    func finish() {
        if drawn { context.writeError("\r\u{1B}[K") }
    }
}
