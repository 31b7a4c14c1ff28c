import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SandboxCore

/// How long a new project lives: `create`'s expiry flags.
struct LifetimeFlags: ParsableArguments {
    @Option(
        name: .customLong("expires-in"),
        help: ArgumentHelp("Kill the project after this long (30m, 12h, 7d; at most 366d).", valueName: "duration"),
        transform: lifetimeArgument
    ) var expiresIn: TimeInterval?
    @Option(
        name: .customLong("expires-at"),
        help: ArgumentHelp("Kill the project at this time (2026-12-01 or 2026-12-01T09:00:00Z).", valueName: "time"),
        transform: dateArgument
    ) var expiresAt: Date?
    @Flag(name: .customLong("delete-on-expiry"), help: "When it expires, also delete its workspace folder.") var deleteOnExpiry = false

    /// With a template, `--delete-on-expiry` may apply to the template's expiry.
    func check(templateGiven: Bool = false) throws {
        if expiresIn != nil, expiresAt != nil {
            throw ValidationError("give --expires-in or --expires-at, not both")
        }
        if deleteOnExpiry, expiresIn == nil, expiresAt == nil, !templateGiven {
            throw ValidationError("--delete-on-expiry needs --expires-in or --expires-at")
        }
    }

    /// The expiry the flags ask for, if any.
    func expiry(now: Date) -> ProjectExpiry? {
        if let expiresIn { return ProjectExpiry(after: expiresIn, from: now, deleteWorkspace: deleteOnExpiry) }
        if let expiresAt { return ProjectExpiry(at: expiresAt, deleteWorkspace: deleteOnExpiry) }
        return nil
    }
}

extension SandboxCommand {
    struct Extend: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "extend",
            abstract: "Move a project's expiry later (a project without one gets one, from now)."
        )

        @Argument(help: "The project, prj_XXXXXXXX.") var projectID: String
        @Argument(help: ArgumentHelp("How much later (30m, 12h, 7d; at most 366d).", valueName: "duration"), transform: lifetimeArgument)
        var duration: TimeInterval
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let project = try ProjectID(projectID)
            try context.emit(try global.sandbox(in: context).extendProject(project, by: duration), json: global.json)
        }
    }

    struct Sweep: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "sweep",
            abstract: "Kill the projects whose expiry has come (for cron; every command does it too).",
            discussion: "Exits 0 whether or not something expired; --json lists what did."
        )

        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            try context.emit(try global.sandbox(in: context, reportingExpiries: false).sweep(), json: global.json)
        }
    }
}
