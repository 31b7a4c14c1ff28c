#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A child process in its own process group, stdin from `/dev/null`, stdout and stderr on
/// pipes, and no descriptor of ours but the ones passed on purpose.
///
/// Spawned with `posix_spawn`, so nothing runs between fork and exec in this process. Every
/// call's result is checked. The child gets descriptors 0, 1, 2 and `passing` (as 3, 4, …);
/// everything else is closed in the child (`posix_spawn_file_actions_addclosefrom_np` on
/// Linux, `POSIX_SPAWN_CLOEXEC_DEFAULT` on Darwin), whatever flags it had here.
public final class ChildProcess {
    public let pid: pid_t
    /// Read ends of the child's stdout and stderr, non-blocking.
    public let stdout: Int32
    public let stderr: Int32
    /// The raw wait status, once the child has been reaped.
    public private(set) var status: Int32?

    /// Starts `executable` (an absolute path) with `arguments` (argv, including argv[0]).
    ///
    /// - Parameters:
    ///   - directory: the working directory, or nil for ours.
    ///   - passing: descriptors the child gets as 3, 4, … in this order.
    public init(executable: String, arguments: [String], environment: [String: String], directory: String?, passing: [Int32] = []) throws {
        let output = try makePipe()
        let errors: (read: Int32, write: Int32)
        do { errors = try makePipe() } catch {
            close(output.read); close(output.write)
            throw error
        }
        // Sources are moved above the range being assigned, so no dup2 overwrites another source.
        var sources: [Int32] = []
        defer { sources.forEach { close($0) } }
        for fd in [output.write, errors.write] + passing {
            let high = fcntl(fd, F_DUPFD_CLOEXEC, 64)
            guard high >= 0 else {
                close(output.read); close(output.write); close(errors.read); close(errors.write)
                throw SupervisionError.errno("fcntl(F_DUPFD_CLOEXEC)")
            }
            sources.append(high)
        }
        close(output.write)
        close(errors.write)

        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        func check(_ call: String, _ code: Int32) throws {
            guard code == 0 else { throw SupervisionError.system(call: call, message: systemMessage(code)) }
        }
        do {
            try check("posix_spawn_file_actions_init", posix_spawn_file_actions_init(&actions))
        } catch {
            close(output.read); close(errors.read)
            throw error
        }
        defer { posix_spawn_file_actions_destroy(&actions) }
        do {
            try check("posix_spawnattr_init", posix_spawnattr_init(&attributes))
        } catch {
            close(output.read); close(errors.read)
            throw error
        }
        defer { posix_spawnattr_destroy(&attributes) }

        var pid: pid_t = 0
        do {
            try check("posix_spawn_file_actions_addopen", posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0))
            try check("posix_spawn_file_actions_adddup2", posix_spawn_file_actions_adddup2(&actions, sources[0], STDOUT_FILENO))
            try check("posix_spawn_file_actions_adddup2", posix_spawn_file_actions_adddup2(&actions, sources[1], STDERR_FILENO))
            for (index, source) in sources.dropFirst(2).enumerated() {
                try check("posix_spawn_file_actions_adddup2", posix_spawn_file_actions_adddup2(&actions, source, Int32(3 + index)))
            }
            if let directory {
                guard let addChdir = Self.addChdir else {
                    throw SupervisionError.system(call: "posix_spawn_file_actions_addchdir_np", message: "missing from this C library")
                }
                try check("posix_spawn_file_actions_addchdir_np", directory.withCString { addChdir(&actions, $0) })
            }
            var flags = Int32(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
            #if os(Linux)
            guard let closeFrom = Self.addCloseFrom else {
                throw SupervisionError.system(call: "posix_spawn_file_actions_addclosefrom_np", message: "missing from this C library (glibc 2.34 or later needed)")
            }
            try check("posix_spawn_file_actions_addclosefrom_np", closeFrom(&actions, Int32(3 + passing.count)))
            #else
            flags |= 0x4000 // POSIX_SPAWN_CLOEXEC_DEFAULT: only the descriptors named above survive exec
            #endif
            try check("posix_spawnattr_setflags", posix_spawnattr_setflags(&attributes, Int16(flags)))
            try check("posix_spawnattr_setpgroup", posix_spawnattr_setpgroup(&attributes, 0))
            // Default handlers for every signal (we ignore SIGPIPE; the child must not inherit that), nothing blocked.
            var defaults = sigset_t()
            sigfillset(&defaults)
            sigdelset(&defaults, SIGKILL)
            sigdelset(&defaults, SIGSTOP)
            try check("posix_spawnattr_setsigdefault", posix_spawnattr_setsigdefault(&attributes, &defaults))
            var empty = sigset_t()
            sigemptyset(&empty)
            try check("posix_spawnattr_setsigmask", posix_spawnattr_setsigmask(&attributes, &empty))

            let argv = arguments.map { strdup($0) } + [nil]
            let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer {
                argv.forEach { free($0) }
                envp.forEach { free($0) }
            }
            let code = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            guard code == 0 else { throw SupervisionError.cannotStart(command: executable, reason: systemMessage(code)) }
        } catch {
            close(output.read); close(errors.read)
            throw error
        }
        self.pid = pid
        self.stdout = output.read
        self.stderr = errors.read
        setNonBlocking(stdout)
        setNonBlocking(stderr)
    }

    deinit {
        close(stdout)
        close(stderr)
    }

    /// Reaps the child if it has ended; true once it has.
    @discardableResult
    public func poll() -> Bool {
        if status != nil { return true }
        var raw: Int32 = 0
        let result = waitpid(pid, &raw, WNOHANG)
        if result == pid { status = raw }
        return status != nil
    }

    /// Sends `signal` to the child's whole process group.
    public func signalGroup(_ signal: Int32) {
        _ = kill(-pid, signal)
    }

    /// The exit code, when the child exited normally.
    public var exitCode: Int32? {
        guard let status, status & 0x7F == 0 else { return nil }
        return (status >> 8) & 0xFF
    }

    /// The signal that ended the child, when one did.
    public var terminatingSignal: Int32? {
        guard let status, status & 0x7F != 0, status & 0x7F != 0x7F else { return nil }
        return status & 0x7F
    }

    /// Finds `command` the way a shell does: a path with a slash is taken relative to
    /// `currentDirectory`; a bare name is searched in `path` (a `PATH` value).
    public static func resolve(_ command: String, path: String?, currentDirectory: String) throws -> String {
        if command.contains("/") {
            let absolute = command.hasPrefix("/") ? command : joinedPath(currentDirectory, command)
            guard access(absolute, X_OK) == 0 else {
                throw SupervisionError.cannotStart(command: command.debugDescription, reason: systemMessage())
            }
            return absolute
        }
        for folder in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = joinedPath(String(folder), command)
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw SupervisionError.cannotStart(command: command.debugDescription, reason: "command not found in PATH")
    }

    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// Looked up at run time: the C library's headers hide these behind feature macros.
    private static let addChdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")
    private static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")

    private static func symbol<T>(_ name: String) -> T? {
        #if os(Linux)
        let defaultHandle: UnsafeMutableRawPointer? = nil // RTLD_DEFAULT in glibc
        #else
        let defaultHandle = UnsafeMutableRawPointer(bitPattern: -2) // RTLD_DEFAULT on Darwin
        #endif
        guard let pointer = dlsym(defaultHandle, name) else { return nil }
        return unsafeBitCast(pointer, to: T.self)
    }
}

/// `folder/name`, with one slash between them (what `NSString.appendingPathComponent` did here).
public func joinedPath(_ folder: String, _ name: String) -> String {
    folder.hasSuffix("/") ? folder + name : folder + "/" + name
}
