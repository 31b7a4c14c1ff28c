#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// How untrusted code is run.
public enum IsolationMode: String, Codable, Sendable, CaseIterable {
    /// Inside Linux namespaces made by bubblewrap: its own PID namespace and `/proc`, a
    /// read-only view of the system, one writable place, no capabilities.
    case namespace
    /// As a plain child process: chosen knowingly with `--isolation none`.
    case none
}

/// What an isolated program sees of the file system, and whether it reaches the network.
public struct SandboxLayout: Sendable, Equatable {
    /// Folders bound read-write at the same path; everything else is read-only.
    public var writable: [String]
    /// Folders bound read-only before anything is hidden (the program's own folder, which may
    /// lie in `/tmp`, private inside); the hidden entries stay hidden within them.
    public var readable: [String] = []
    /// Folders replaced by an empty one and files replaced by an empty file (`/dev/null`).
    public var hidden: [String]
    /// Folders inside hidden ones bound back read-only (applied after `hidden`).
    public var revealed: [String] = []
    /// Whether the network namespace is shared with the host.
    public var network: Bool
    /// The working directory inside.
    public var directory: String

    public init(writable: [String], readable: [String] = [], hidden: [String], revealed: [String] = [], network: Bool, directory: String) {
        self.writable = writable
        self.readable = readable
        self.hidden = hidden
        self.revealed = revealed
        self.network = network
        self.directory = directory
    }

    /// Entries of a home folder that commonly hold credentials; hidden from untrusted code
    /// although the rest of the system stays readable (toolchains live in odd places, such
    /// as `~/.pyenv`).
    public static let credentialEntries = [
        ".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".netrc", ".git-credentials", ".gitconfig", ".pgpass", ".pg_service.conf", ".postgresql",
        ".npmrc", ".pypirc", ".terraformrc", ".config", ".local/share/keyrings", ".cargo/credentials", ".cargo/credentials.toml",
        ".bash_history", ".python_history", ".psql_history", ".sqlite_history", ".lesshst", ".viminfo",
    ]
}

/// Runs programs inside a bubblewrap sandbox (`bwrap`, Debian package `bubblewrap`).
///
/// The sandbox has its own PID, IPC and UTS namespaces (and network, when cut), a new
/// `/proc` that shows only its own processes, a minimal `/dev`, private `/tmp` and `/run`,
/// the host's root read-only, no capabilities even for root (`--cap-drop ALL`), a new
/// session (no terminal to inject keystrokes into), and `--die-with-parent`. When the
/// program (PID 2 inside, under bwrap's init) exits, the kernel ends every other process of
/// the namespace, daemons included.
public struct Bubblewrap: Sendable {
    public let executable: String

    /// Where bwrap is looked for when it is not in `PATH`.
    static let knownLocations = ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"]

    /// The line shown when isolation cannot be had.
    public static let installAdvice = "install bubblewrap (apt-get install bubblewrap) or pass --isolation none to run without isolation, knowingly"

    /// Finds bwrap and checks once that the kernel lets it make namespaces.
    ///
    /// - Throws: `SupervisionError.isolationUnavailable` with a line that says what to do.
    /// - Parameter only: look at this path alone (tests use it to simulate a machine without bwrap).
    public static func locate(path: String?, only: String? = nil) throws -> Bubblewrap {
        #if os(Linux)
        let candidates = only.map { [$0] } ?? (path ?? "").split(separator: ":").map { String($0) + "/bwrap" } + knownLocations
        guard let found = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw SupervisionError.isolationUnavailable("isolation needs bubblewrap, which is not installed: \(installAdvice)")
        }
        let probe = try ProcessRunner(timeout: 10).run(
            found, ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-pid", "--cap-drop", "ALL", "--die-with-parent", "--", "/bin/true"],
            environment: ["PATH": "/usr/bin:/bin"], directory: "/"
        )
        guard probe.succeeded else {
            let reason = probe.output.split(whereSeparator: \.isNewline).last.map(String.init) ?? "exit status \(probe.exitCode ?? -1)"
            throw SupervisionError.isolationUnavailable("bubblewrap cannot make a sandbox on this machine (\(reason); user namespaces may be disabled): \(installAdvice)")
        }
        return Bubblewrap(executable: found)
        #else
        throw SupervisionError.isolationUnavailable("isolation needs Linux namespaces, which this system does not have: pass --isolation none to run without isolation, knowingly")
        #endif
    }

    /// bwrap's argv (including argv[0]) for running `program` with `arguments` in `layout`.
    public func arguments(layout: SandboxLayout, program: String, arguments: [String]) -> [String] {
        var argv = [executable, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp", "--tmpfs", "/run"]
        // A resolv.conf that points into /run (systemd-resolved) would vanish with it.
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/etc/resolv.conf") {
            let target = resolved.hasPrefix("/") ? resolved : "/etc/" + resolved
            if target.hasPrefix("/run/") { argv += ["--ro-bind-try", target, target] }
        }
        // Every path is resolved first: bwrap follows links when it mounts, so a hidden entry
        // reached through a link (a linked home, sandbox folder or production database) must be
        // hidden where it really is, and mount points must be made on real folders.
        for path in layout.readable.compactMap(resolvedPath) where Self.isRealDirectory(path) {
            argv += ["--ro-bind", path, path]
        }
        let hidden = Self.unique(layout.hidden.compactMap(resolvedPath))
        for path in hidden {
            argv += Self.isRealDirectory(path) ? ["--tmpfs", path] : ["--ro-bind", "/dev/null", path]
        }
        for path in layout.revealed.compactMap(resolvedPath) where Self.isRealDirectory(path) {
            argv += ["--ro-bind", path, path]
        }
        for path in layout.writable.compactMap(resolvedPath) {
            argv += ["--bind", path, path]
        }
        // Hidden folders are empty and read-only; remounted last, once the mount points of
        // the binds inside them exist.
        for path in hidden where Self.isRealDirectory(path) {
            argv += ["--remount-ro", path]
        }
        argv += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if !layout.network { argv += ["--unshare-net"] }
        argv += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--chdir", resolvedPath(layout.directory) ?? layout.directory, "--", program]
        return argv + arguments
    }

    static func unique(_ paths: [String]) -> [String] {
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    /// True when `path` is a folder itself, not a link to one.
    public static func isRealDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Sends `signal` to every process inside the sandbox that bwrap (`pid`) started, but
    /// its init: the program and all it started, even those in sessions of their own.
    /// Returns how many processes were signalled.
    @discardableResult
    public static func signalContents(of pid: pid_t, _ signal: Int32) -> Int {
        #if os(Linux)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return 0 }
        let pids = entries.compactMap { pid_t($0) }
        // bwrap's child is the namespace's init; every process in its PID namespace is inside.
        guard let initPID = pids.first(where: { ProcessIdentity.parent(of: $0) == pid }),
              let namespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(initPID)/ns/pid") else { return 0 }
        var count = 0
        for candidate in pids where candidate != initPID && candidate != pid {
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(candidate)/ns/pid")) == namespace {
                if kill(candidate, signal) == 0 { count += 1 }
            }
        }
        return count
        #else
        return 0
        #endif
    }
}
