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

    @Option(name: .customLong("production-db"), help: ArgumentHelp(
        "The production database, or a team's registry on PostgreSQL as postgres://USER@HOST/DB (default: $NOVAOS_PRODUCTION_DB, else HOME/production.db).",
        valueName: "path|url"
    ))
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
    /// Where production lives: nil for `production.db` (or the file `--production-db` names);
    /// a team's registry for a `postgres://` URL. `novaos` hands such a command over to
    /// `novaos-team` (the process is replaced), which opens the registry.
    func productionRegistry(in context: CommandContext) throws -> ProductionRegistry? {
        guard let url = paths(in: context).productionRegistryURL else {
            // libpq's other form ("host=db dbname=prod") would be taken for a file's name.
            let given = productionDatabase ?? context.environment["NOVAOS_PRODUCTION_DB"] ?? ""
            let first = given.split(whereSeparator: \.isWhitespace).first ?? ""
            let keyword = first.split(separator: "=").first ?? ""
            if first.contains("="), ["host", "hostaddr", "dbname", "user", "port", "service"].contains(keyword) {
                throw SandboxError.invalidInput("give the production registry as a postgres://USER@HOST/DATABASE URL; a key=value connection string is not read")
            }
            return nil
        }
        guard let open = TeamRegistryHook.open else {
            guard context.isProcess else { throw SandboxError.unavailable("a team's registry needs novaos-team, which this process cannot become") }
            try TeamRegistryHook.handOver()
        }
        return try open(url)
    }

    /// Production as it is, read-only (list, slots, history).
    func production(in context: CommandContext) throws -> Production {
        Production(paths: paths(in: context), registry: try productionRegistry(in: context))
    }

    /// Opens the production ledger (usage, revenue, import, metrics).
    func productionLedger(in context: CommandContext) throws -> ProductionLedger {
        try ProductionLedger(
            paths: paths(in: context), registry: try productionRegistry(in: context), clock: context.clock,
            busyTimeoutMilliseconds: context.busyTimeoutMilliseconds, priceFile: priceFile(in: context)
        )
    }

    /// Opens production's guard (guardrails, checks, rollbacks, retirements).
    func productionGuard(in context: CommandContext) throws -> ProductionGuard {
        try ProductionGuard(
            paths: paths(in: context), registry: try productionRegistry(in: context), clock: context.clock,
            busyTimeoutMilliseconds: context.busyTimeoutMilliseconds
        )
    }
}

/// How `novaos` reaches a team's registry without loading libpq itself.
enum TeamRegistryHook {
    /// Set once by `novaos-team` before any command runs (`CommandLineTool.main`); nil in `novaos`.
    nonisolated(unsafe) static var open: (@Sendable (String) throws -> ProductionRegistry)?

    /// Replaces this process with `novaos-team` (beside this executable), given the same
    /// arguments and environment, before anything was changed.
    static func handOver() throws -> Never {
        let team = siblingExecutable("novaos-team")
        execv(team, CommandLine.unsafeArgv)
        throw SandboxError.unavailable(
            "the production registry is on PostgreSQL, which \(team) serves, but it cannot start: \(String(cString: strerror(errno))) (build it with 'swift build --product novaos-team')"
        )
    }
}

/// The executable `name` in the folder of the running one (`novaos-server`, `novaos-team`).
func siblingExecutable(_ name: String) -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let executable = count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    let folder = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    return (folder.isEmpty ? "." : folder) + "/" + name
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
