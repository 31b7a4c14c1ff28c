#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Supervision

/// Where novaos keeps its data, all derived from one home folder.
///
/// - `HOME/sandbox/sandbox.db`: the sandbox database.
/// - `HOME/sandbox/projects/<project-id>/`: one workspace per project.
/// - `HOME/production.db`: the production database, unless placed elsewhere.
/// - `HOME/prices.json`: prices over the built-in table (optional).
public struct SandboxPaths: Sendable, Equatable {
    public let home: URL
    public let productionDatabase: URL
    /// A team's production registry on PostgreSQL (`postgres://…`), when production is there
    /// and not in `productionDatabase` (see `TeamRegistry`).
    public let productionRegistryURL: String?

    public init(home: URL, productionDatabase: URL? = nil, productionRegistryURL: String? = nil) {
        self.home = home.standardizedFileURL
        self.productionDatabase = (productionDatabase ?? home.appendingPathComponent("production.db")).standardizedFileURL
        self.productionRegistryURL = productionRegistryURL
    }

    /// Resolves the home folder and production database the way the command line does:
    /// explicit values first, then `NOVAOS_HOME` / `NOVAOS_PRODUCTION_DB`, then the current directory.
    public static func resolve(
        home: String?, productionDatabase: String?, environment: [String: String], currentDirectory: String
    ) -> SandboxPaths {
        func absolute(_ path: String) -> URL {
            let expanded = expandingTilde(path, environment: environment)
            return expanded.hasPrefix("/") ? URL(fileURLWithPath: expanded) : URL(fileURLWithPath: currentDirectory).appendingPathComponent(expanded)
        }
        let homeURL = absolute(nonEmpty(home) ?? nonEmpty(environment["NOVAOS_HOME"]) ?? discoverHome(from: currentDirectory))
        let production = nonEmpty(productionDatabase) ?? nonEmpty(environment["NOVAOS_PRODUCTION_DB"])
        if let production, ProductionRegistry.isPostgresURL(production) {
            return SandboxPaths(home: homeURL, productionRegistryURL: production)
        }
        return SandboxPaths(home: homeURL, productionDatabase: production.map(absolute))
    }

    /// The home when none is given: the nearest of `directory` and its parents that holds
    /// `sandbox/sandbox.db` (as git finds `.git`), else `directory` itself. The search stops at
    /// the first `sandbox/sandbox.db` found there at all: one that is not a regular file, or
    /// belongs to someone else (with its `sandbox` folder), is not taken, and neither is any
    /// parent beyond it (git's CVE-2022-24765: another user's folder up the tree must not
    /// capture commands). It also stops where the file system changes. One `lstat` per level.
    static func discoverHome(from directory: String) -> String {
        var candidate = directory
        var start = stat()
        guard stat(directory, &start) == 0 else { return directory }
        while true {
            let base = candidate == "/" ? "" : candidate
            var folder = stat(), database = stat()
            if lstat(base + "/sandbox/sandbox.db", &database) == 0 {
                let owned = lstat(base + "/sandbox", &folder) == 0 && folder.st_uid == geteuid() && database.st_uid == geteuid()
                let regular = (database.st_mode & S_IFMT) == S_IFREG && (folder.st_mode & S_IFMT) == S_IFDIR
                return owned && regular ? candidate : directory
            }
            guard candidate != "/", let slash = candidate.lastIndex(of: "/") else { return directory }
            let parent = slash == candidate.startIndex ? "/" : String(candidate[..<slash])
            var info = stat()
            guard stat(parent, &info) == 0, info.st_dev == start.st_dev else { return directory }
            candidate = parent
        }
    }

    /// `~/x` and `~user/x` as a shell expands them: `~` is `HOME`, or the user's home folder
    /// from the password database when `HOME` is unset or empty; `~user` is that user's home
    /// folder. A user that does not exist leaves the path as it is.
    static func expandingTilde(_ path: String, environment: [String: String]) -> String {
        guard path.hasPrefix("~") else { return path }
        let name = path.dropFirst().prefix { $0 != "/" }
        let rest = path.dropFirst(1 + name.count)
        let folder: String?
        if name.isEmpty {
            folder = nonEmpty(environment["HOME"]) ?? passwordEntryHome(getpwuid(getuid()))
        } else {
            folder = String(name).withCString { passwordEntryHome(getpwnam($0)) }
        }
        guard let folder else { return path }
        return folder + rest
    }

    private static func passwordEntryHome(_ entry: UnsafeMutablePointer<passwd>?) -> String? {
        guard let directory = entry?.pointee.pw_dir else { return nil }
        return nonEmpty(String(cString: directory))
    }

    /// `HOME/prices.json`: the user's prices over the built-in table, when it exists.
    public var priceFile: URL { home.appendingPathComponent("prices.json") }

    /// `HOME/sandbox`.
    public var sandboxFolder: URL { home.appendingPathComponent("sandbox", isDirectory: true) }
    /// `HOME/sandbox/sandbox.db`.
    public var sandboxDatabase: URL { sandboxFolder.appendingPathComponent("sandbox.db") }
    /// `HOME/sandbox/projects`.
    public var projectsFolder: URL { sandboxFolder.appendingPathComponent("projects", isDirectory: true) }

    /// A project's workspace. Derived from the validated ID alone, never from stored paths,
    /// so it always lies directly inside `projectsFolder`.
    public func workspace(for project: ProjectID) -> URL {
        projectsFolder.appendingPathComponent(project.rawValue, isDirectory: true)
    }

    /// `HOME/production`: the workspaces and run logs of production agents.
    public var productionFolder: URL { home.appendingPathComponent("production", isDirectory: true) }

    /// A new scratch file (unnamed, gone when closed) in the home folder, or in the temporary
    /// directory while there is no home folder yet: nothing is created for it.
    public func scratchFile() throws -> ScratchFile {
        var info = stat()
        let folder = stat(home.path, &info) == 0 ? home.path : FileManager.default.temporaryDirectory.path
        return try ScratchFile(in: Directory.open(folder))
    }

    /// A production agent's workspace, `HOME/production/agents/<id>`, from its ID alone.
    public func workspace(forProductionAgent agent: AgentID) -> URL {
        productionFolder.appendingPathComponent("agents", isDirectory: true).appendingPathComponent(agent.rawValue, isDirectory: true)
    }
}

/// The value, unless it is missing or empty (an empty environment variable means "not set").
func nonEmpty(_ value: String?) -> String? {
    guard let value, !value.isEmpty else { return nil }
    return value
}
