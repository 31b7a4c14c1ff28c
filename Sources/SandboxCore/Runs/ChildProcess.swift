import Foundation

/// A child process in its own process group, with its stdout and stderr on pipes.
///
/// Spawned with `posix_spawn`, so nothing runs between fork and exec in this process; the
/// group lets novaos signal the agent and every process it started at once.
final class ChildProcess {
    let pid: pid_t
    let stdout: Int32
    let stderr: Int32
    private(set) var status: Int32?

    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// `posix_spawn_file_actions_addchdir_np` (glibc 2.29, macOS 10.15), looked up at run
    /// time because the C library's headers hide it behind feature macros.
    private static let addChdir: AddChdir? = {
        #if os(Linux)
        let defaultHandle: UnsafeMutableRawPointer? = nil // RTLD_DEFAULT in glibc
        #else
        let defaultHandle = UnsafeMutableRawPointer(bitPattern: -2) // RTLD_DEFAULT on Darwin
        #endif
        guard let symbol = dlsym(defaultHandle, "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: AddChdir.self)
    }()

    /// Starts `executable` with `arguments` (argv, including argv[0]) in `directory`.
    init(executable: String, arguments: [String], environment: [String: String], directory: String) throws {
        guard let addChdir = Self.addChdir else {
            throw SandboxError.invalidState("this C library cannot start a process in another directory (posix_spawn_file_actions_addchdir_np is missing)")
        }
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0 else { throw Self.error("pipe") }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw Self.error("pipe")
        }
        // Close-on-exec everywhere: the child gets its ends through dup2, which clears the flag.
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], STDOUT_FILENO)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], STDERR_FILENO)
        _ = directory.withCString { addChdir(&actions, $0) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group (pgid = its pid), default signal handlers, nothing blocked.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(outPipe[1])
        close(errPipe[1])
        guard code == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw SandboxError.invalidInput("cannot start \(quoted(arguments.first ?? executable)): \(String(cString: strerror(code)))")
        }
        self.pid = pid
        self.stdout = outPipe[0]
        self.stderr = errPipe[0]
        _ = fcntl(stdout, F_SETFL, fcntl(stdout, F_GETFL) | O_NONBLOCK)
        _ = fcntl(stderr, F_SETFL, fcntl(stderr, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        close(stdout)
        close(stderr)
    }

    /// Reaps the child if it has ended; true once it has.
    @discardableResult
    func poll() -> Bool {
        if status != nil { return true }
        var raw: Int32 = 0
        let result = waitpid(pid, &raw, WNOHANG)
        if result == pid { status = raw }
        return status != nil
    }

    /// Sends `signal` to the child's whole process group.
    func signalGroup(_ signal: Int32) {
        kill(-pid, signal)
    }

    /// The exit code, when the child exited normally.
    var exitCode: Int32? {
        guard let status, status & 0x7F == 0 else { return nil }
        return (status >> 8) & 0xFF
    }

    /// The signal that ended the child, when one did.
    var terminatingSignal: Int32? {
        guard let status, status & 0x7F != 0, status & 0x7F != 0x7F else { return nil }
        return status & 0x7F
    }

    /// Finds `command` the way a shell does: a path with a slash is taken relative to
    /// `currentDirectory`; a bare name is searched in `PATH`.
    static func resolve(_ command: String, path: String?, currentDirectory: String) throws -> String {
        if command.contains("/") {
            let absolute = command.hasPrefix("/") ? command : (currentDirectory as NSString).appendingPathComponent(command)
            guard access(absolute, X_OK) == 0 else {
                throw SandboxError.invalidInput("cannot start \(quoted(command)): \(String(cString: strerror(errno)))")
            }
            return absolute
        }
        for folder in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = (String(folder) as NSString).appendingPathComponent(command)
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw SandboxError.invalidInput("cannot start \(quoted(command)): command not found in PATH")
    }

    private static func error(_ call: String) -> SandboxError {
        .invalidState("\(call) failed: \(String(cString: strerror(errno)))")
    }
}
