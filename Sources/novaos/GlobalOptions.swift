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

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The home folder (default: $NOVAOS_HOME, else the nearest of the current folder and its parents holding sandbox/sandbox.db, else the current folder).",
        valueName: "dir"
    ))
    var home: String?

    @Option(name: .customLong("production-db"), help: ArgumentHelp("The production database (default: $NOVAOS_PRODUCTION_DB, else HOME/production.db).", valueName: "path"))
    var productionDatabase: String?

    @Flag(name: .long, help: "Print one JSON document on stdout instead of text.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("A price file over the built-in table (default: $NOVAOS_PRICES, else HOME/prices.json when it exists).", valueName: "file"))
    var prices: String?

    func paths(in context: CommandContext) -> SandboxPaths {
        let paths = SandboxPaths.resolve(
            home: home, productionDatabase: productionDatabase,
            environment: context.environment, currentDirectory: context.currentDirectory
        )
        context.homeRead.path = paths.home.path
        return paths
    }

    /// The price file given with `--prices` or `NOVAOS_PRICES`; nil: `HOME/prices.json` when it exists.
    func priceFile(in context: CommandContext) -> URL? {
        [prices, context.environment["NOVAOS_PRICES"]].compactMap { $0 }.first { !$0.isEmpty }.map(context.url(forPath:))
    }

    /// The price table: the built-in one with the user's price file on top.
    func priceCatalog(in context: CommandContext) throws -> PriceCatalog {
        try PriceCatalog.load(paths: paths(in: context), file: priceFile(in: context))
    }

    /// Opens the sandbox. Only commands that create something pass `create: true`, so that
    /// reading a fresh home leaves no file behind.
    ///
    /// Opening applies expiries: each project it killed is said on stderr, unless
    /// `reportingExpiries` is false (`sweep`, which lists them as its result).
    func sandbox(in context: CommandContext, create: Bool = false, reportingExpiries: Bool = true) throws -> Sandbox {
        let sandbox = try Sandbox(
            paths: paths(in: context), create: create, clock: context.clock,
            busyTimeoutMilliseconds: context.busyTimeoutMilliseconds,
            maximumPageCount: context.environment["NOVAOS_TEST_MAX_PAGE_COUNT"].flatMap(Int.init),
            priceFile: priceFile(in: context)
        )
        if reportingExpiries {
            for project in sandbox.expiredOnOpening where project.killedNow {
                context.warn("project \(project.projectID) expired at \(Timestamp.text(project.expiresAt)) and was killed"
                    + (project.workspaceDeleted ? ", its workspace deleted" : ""))
            }
        }
        return sandbox
    }
}

extension GlobalOptions {
    /// Opens the production ledger (usage, revenue, import, metrics).
    func productionLedger(in context: CommandContext) throws -> ProductionLedger {
        try ProductionLedger(
            paths: paths(in: context), clock: context.clock, busyTimeoutMilliseconds: context.busyTimeoutMilliseconds, priceFile: priceFile(in: context)
        )
    }

    /// Opens production's guard (guardrails, checks, rollbacks, retirements).
    func productionGuard(in context: CommandContext) throws -> ProductionGuard {
        try ProductionGuard(paths: paths(in: context), clock: context.clock, busyTimeoutMilliseconds: context.busyTimeoutMilliseconds)
    }
}

/// A JSON argument: the text itself, or `@FILE` to read it from a file (for documents larger
/// than a command line can hold).
func jsonArgument(_ value: String, flag: String) throws -> String {
    guard value.hasPrefix("@") else { return value }
    let path = String(value.dropFirst())
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
        throw SandboxError.fileSystem(path: path, message: "cannot read \(flag) from it: not a readable file")
    }
    guard Int(info.st_size) <= JSONValue.maximumDocumentBytes else {
        throw SandboxError.invalidInput("\(flag) is too large: \(info.st_size) bytes, at most \(JSONValue.maximumDocumentBytes) (1 MiB)")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw SandboxError.fileSystem(path: path, message: "cannot read \(flag) from it")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw SandboxError.invalidInput("\(flag) file \(path) is not UTF-8 text")
    }
    return text
}
