import Foundation

/// Runs a command to completion with a timeout, capturing its output: for git and for test
/// suites. The command gets its own process group, stdin from /dev/null, and on timeout the
/// whole group is killed (SIGTERM, then SIGKILL after a grace period).
struct ProcessRunner {
    struct Outcome {
        var exitCode: Int32?
        var signal: Int32?
        var timedOut: Bool
        var seconds: Double
        /// stdout and stderr interleaved, cut to the limit (head and tail kept).
        var output: String
        var truncated: Bool

        var succeeded: Bool { exitCode == 0 && !timedOut }
    }

    var timeout: TimeInterval
    var gracePeriod: TimeInterval = 2
    var outputLimit = 256 * 1024

    func run(_ executable: String, _ arguments: [String], environment: [String: String], directory: String) throws -> Outcome {
        let child = try ChildProcess(executable: executable, arguments: [executable] + arguments, environment: environment, directory: directory)
        let start = Date()
        var head = Data()
        var tail = Data()
        var truncated = false
        var open = (stdout: true, stderr: true)
        var timedOut = false
        var killAt: Date?
        var exitedAt: Date?

        func take(_ data: Data) {
            if head.count < outputLimit / 2 {
                let room = outputLimit / 2 - head.count
                head.append(data.prefix(room))
                if data.count > room { tail.append(data.dropFirst(room)) }
            } else {
                tail.append(data)
            }
            if tail.count > outputLimit / 2 {
                truncated = true
                tail = tail.suffix(outputLimit / 2)
            }
        }

        while true {
            var fds = [
                pollfd(fd: open.stdout ? child.stdout : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: open.stderr ? child.stderr : -1, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, 50)
            if open.stdout { open.stdout = readAvailable(child.stdout, into: take) }
            if open.stderr { open.stderr = readAvailable(child.stderr, into: take) }
            if !timedOut, Date().timeIntervalSince(start) > timeout {
                timedOut = true
                child.signalGroup(SIGTERM)
                killAt = Date().addingTimeInterval(gracePeriod)
            }
            if let deadline = killAt, Date() >= deadline {
                child.signalGroup(SIGKILL)
                killAt = nil
            }
            if child.poll() {
                exitedAt = exitedAt ?? Date()
                // Done once the pipes close; a descendant holding them open gets one second.
                if (!open.stdout && !open.stderr) || Date().timeIntervalSince(exitedAt!) > 1 { break }
            }
        }
        child.signalGroup(SIGKILL) // nothing of the command outlives it
        var text = String(decoding: head, as: UTF8.self)
        if truncated { text += "\n… [output cut to \(outputLimit / 1024) KiB] …\n" }
        text += String(decoding: tail, as: UTF8.self)
        return Outcome(
            exitCode: child.exitCode, signal: child.terminatingSignal, timedOut: timedOut,
            seconds: Date().timeIntervalSince(start), output: text, truncated: truncated
        )
    }

    /// The path of `command` in `PATH`, or nil.
    static func which(_ command: String, environment: [String: String]) -> String? {
        try? ChildProcess.resolve(command, path: environment["PATH"], currentDirectory: "/")
    }
}

/// A new private folder (mode 0700) in the temporary directory; the caller removes it.
func makeTemporaryFolder(prefix: String) throws -> String {
    var template = Array((FileManager.default.temporaryDirectory.path + "/\(prefix)-XXXXXX").utf8CString)
    guard let folder = mkdtemp(&template) else {
        throw SandboxError.fileSystem(path: FileManager.default.temporaryDirectory.path, message: "cannot create a temporary folder: \(String(cString: strerror(errno)))")
    }
    return String(cString: folder)
}

/// Reads what a non-blocking pipe holds now, handing each chunk to `take`. Returns false at
/// end of file, true while the pipe is still open.
func readAvailable(_ fd: Int32, into take: (Data) -> Void) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count > 0 { take(Data(buffer[0..<count])); continue }
        if count == 0 { return false }
        return errno == EAGAIN || errno == EINTR
    }
}
