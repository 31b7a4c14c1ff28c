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
            let sandbox = try global.sandbox(in: context)
            try importEventFile(file, context: context, json: global.json) { fileDescriptor, progress in
                try sandbox.importEvents(fileDescriptor: fileDescriptor, source: file, options: ImportOptions(skipInvalid: skipInvalid), progress: progress)
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

/// Opens an event file (`-`: standard input), hands it to `record` (the sandbox's import or
/// production's) with a progress bar, reports rejected lines and budget warnings on stderr,
/// prints the summary, and fails when nothing was committed.
func importEventFile(
    _ file: String, context: CommandContext, json: Bool, record: (Int32, (Int64) -> Void) throws -> ImportSummary
) throws {
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

    let bar = ProgressBar(context: context, total: size)
    let summary = try record(fileDescriptor) { bar.update($0) }
    bar.finish()
    for error in summary.errors {
        context.writeError("line \(error.line): \(TerminalText.escape(error.message))\n")
    }
    if summary.rejected > summary.errors.count {
        context.writeError("… and \(summary.rejected - summary.errors.count) more rejected line(s)\n")
    }
    summary.budgetWarnings.forEach(context.warn)
    if json || summary.committed {
        try context.emit(summary, json: json)
    }
    guard summary.committed else {
        let first = summary.errors.first.map { " (first: line \($0.line): \($0.message))" } ?? ""
        throw SandboxError.invalidInput(
            "import rejected: \(summary.rejected) invalid line(s)\(first); nothing was committed (use --skip-invalid to record the valid lines)"
        )
    }
}

/// The flags of one API call, shared by `sandbox usage` and `production usage`.
struct UsageFlags: ParsableArguments {
    @Option(help: "The model called (claude-sonnet-4, gpt-4o, gemini-2.5-pro, ...; see 'novaos prices list').") var model: String
    @Option(name: .customLong("input-tokens"), parsing: .unconditional, help: "Input tokens, without cached ones.") var inputTokens: Int64
    @Option(name: .customLong("output-tokens"), parsing: .unconditional, help: "Output tokens.") var outputTokens: Int64
    @Option(name: .customLong("cache-read-tokens"), parsing: .unconditional, help: "Input tokens read from the prompt cache.")
    var cacheReadTokens: Int64 = 0
    @Option(name: .customLong("cache-write-tokens"), parsing: .unconditional, help: "Input tokens written to the prompt cache.")
    var cacheWriteTokens: Int64 = 0
    @Option(name: .customLong("cache-ttl"), help: ArgumentHelp("How long the written cache entries live: 5m or 1h.", valueName: "ttl"))
    var cacheTTL: CacheDuration = .fiveMinutes
    @Flag(help: "A call of the provider's batch API (priced with its batch discount).") var batch = false
    @Option(help: "What the call was for (default: api_call).") var operation: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("The cost in dollars, overriding the price table.", valueName: "usd"), transform: moneyArgument) var cost: Money?

    var tokens: TokenCounts {
        TokenCounts(input: inputTokens, output: outputTokens, cacheRead: cacheReadTokens, cacheWrite: cacheWriteTokens)
    }
}
