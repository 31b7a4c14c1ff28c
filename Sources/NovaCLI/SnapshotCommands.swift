import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SandboxCore

extension SandboxCommand {
    struct Snapshot: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "snapshot",
            abstract: "Save everything of a project (rows and workspace files) into one file under HOME/sandbox/snapshots."
        )

        @Argument(help: "The project, prj_XXXXXXXX.") var projectID: String
        @Option(help: "A name to find it by.") var name: String?
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let project = try ProjectID(projectID)
            try context.emit(try global.sandbox(in: context).takeSnapshot(project: project, name: name), json: global.json)
        }
    }

    struct Snapshots: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "snapshots", abstract: "List snapshots, oldest first.")

        @Argument(help: "Only this project's snapshots.") var projectID: String?
        @OptionGroup var table: TableFormat
        @OptionGroup var global: GlobalOptions

        func validate() throws { try table.check(json: global.json) }

        func execute(in context: CommandContext) throws {
            let project = try projectID.map(ProjectID.init)
            try context.emit(try global.sandbox(in: context).snapshots(project: project), json: global.json, format: table)
        }
    }

    struct Restore: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "restore",
            abstract: "Recreate a snapshot as a new project (--as NAME), or roll its project back to it (--in-place).",
            discussion: "--in-place asks for confirmation on a terminal; without a terminal, pass --yes. A promoted project cannot be rolled back."
        )

        @Argument(help: "The snapshot: snp_XXXXXXXX, or its name.") var snapshot: String
        @Option(name: .customLong("as"), help: ArgumentHelp("Create a new project with this name, with new IDs.", valueName: "name")) var newName: String?
        @Flag(name: .customLong("in-place"), help: "Roll the snapshot's project back to it: what happened since is gone.") var inPlace = false
        @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.") var yes = false
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard (newName != nil) != inPlace else { throw ValidationError("give --as NAME or --in-place (one of them)") }
        }

        func execute(in context: CommandContext) throws {
            let sandbox = try global.sandbox(in: context)
            let hook: (RestoreStep) -> Void = context.testCrashHook()
            if let newName {
                try context.emit(try sandbox.restoreSnapshot(snapshot, as: newName, hook: hook), json: global.json)
                return
            }
            if !yes {
                let info = try sandbox.snapshotInfo(snapshot)
                try sandbox.checkInPlaceRestore(info.projectID)
                try context.confirm(
                    "Roll \(info.projectID) (\(TerminalText.escape(info.projectName))) back to snapshot \(info.id) of \(Timestamp.text(info.takenAt)), "
                        + "losing everything since?",
                    action: "roll \(info.projectID) back"
                )
            }
            try context.emit(try sandbox.restoreSnapshotInPlace(snapshot, hook: hook), json: global.json)
        }
    }
}
