import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Dashboard
import SandboxCore
import Supervision

extension SandboxCommand {
    struct Report: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "Write a project's dashboard page (metrics, agents, daily chart, experiments, runs) as one self-contained HTML file."
        )

        @Argument(help: "The project, prj_XXXXXXXX.") var projectID: String
        @Option(help: ArgumentHelp("The HTML file to write (replaced whole, never half-written).", valueName: "file")) var html: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let project = try ProjectID(projectID)
            let sandbox = try global.sandbox(in: context)
            let page = try sandbox.readingOneSnapshot {
                DashboardPages.project(try sandbox.projectDetail(project), daily: try sandbox.dailyFigures(project: project))
            }
            let destination = context.url(forPath: html)
            try writeReplacing(Array(page.utf8), to: destination)
            try context.emit(ReportFile(projectID: project.rawValue, path: destination.path, bytes: page.utf8.count), json: global.json)
        }
    }
}

/// Where `sandbox report` wrote its page.
struct ReportFile: Encodable, TextRenderable {
    var projectID: String
    var path: String
    var bytes: Int

    enum CodingKeys: String, CodingKey {
        case path, bytes
        case projectID = "project_id"
    }

    func renderText(_ style: TextStyle) -> String { "Wrote the report of \(projectID) to \(path) (\(groupedDigits(Int64(bytes))) bytes)" }
}

/// Writes `bytes` to a temporary file beside `destination`, flushes it and renames it into
/// place: the file is the old one or the new one, never half of either.
func writeReplacing(_ bytes: [UInt8], to destination: URL) throws {
    let folder = destination.deletingLastPathComponent().path
    var template = Array((folder + "/." + destination.lastPathComponent + ".XXXXXX").utf8CString)
    let file = mkstemp(&template)
    guard file >= 0 else { throw SandboxError.fileSystem(path: destination.path, message: "cannot write beside it: \(String(cString: strerror(errno)))") }
    let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    var ok = false
    defer { if !ok { unlink(temporary) } }
    guard writeAll(Data(bytes), to: file) else {
        close(file)
        throw SandboxError.fileSystem(path: destination.path, message: "cannot write it: \(String(cString: strerror(errno)))")
    }
    fchmod(file, 0o644)
    fsync(file)
    close(file)
    guard rename(temporary, destination.path) == 0 else {
        throw SandboxError.fileSystem(path: destination.path, message: "cannot put it in place: \(String(cString: strerror(errno)))")
    }
    ok = true
}
