#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command to completion with a timeout, capturing its output: for git and for test
/// suites. The command gets its own process group, stdin from /dev/null and no descriptor of
/// ours; on timeout it is stopped with the teardown sequence (SIGTERM, grace, SIGKILL), and
/// whatever of it is left when it ends is killed, so nothing outlives the call.
public struct ProcessRunner: Sendable {
    public struct Outcome: Sendable {
        public var exitCode: Int32?
        public var signal: Int32?
        public var timedOut: Bool
        /// Stopped because `shouldStop` said so.
        public var stopped: Bool = false
        public var seconds: Double
        /// stdout and stderr interleaved, cut to the limit (head and tail kept).
        public var output: String
        public var truncated: Bool

        public var succeeded: Bool { exitCode == 0 && !timedOut && !stopped }
    }

    /// Where and how the command runs inside a sandbox.
    public struct Containment: Sendable {
        public var bubblewrap: Bubblewrap
        public var layout: SandboxLayout

        public init(bubblewrap: Bubblewrap, layout: SandboxLayout) {
            self.bubblewrap = bubblewrap
            self.layout = layout
        }
    }

    public var timeout: TimeInterval
    public var gracePeriod: TimeInterval = 2
    public var outputLimit = 256 * 1024
    /// Polled while the command runs (every 50 ms); true stops it as a timeout does.
    public var shouldStop: @Sendable () -> Bool

    public init(timeout: TimeInterval, gracePeriod: TimeInterval = 2, outputLimit: Int = 256 * 1024, shouldStop: @escaping @Sendable () -> Bool = { false }) {
        self.timeout = timeout
        self.gracePeriod = gracePeriod
        self.outputLimit = outputLimit
        self.shouldStop = shouldStop
    }

    /// Runs `executable` (an absolute path) with `arguments` in `directory`, with exactly
    /// `environment`; inside `containment` when given (its layout's directory is then used).
    public func run(_ executable: String, _ arguments: [String], environment: [String: String], directory: String,
                    containment: Containment? = nil) throws -> Outcome {
        let child: ChildProcess
        if let containment {
            let argv = containment.bubblewrap.arguments(layout: containment.layout, program: executable, arguments: arguments)
            child = try ChildProcess(executable: containment.bubblewrap.executable, arguments: argv, environment: environment, directory: "/")
        } else {
            child = try ChildProcess(executable: executable, arguments: [executable] + arguments, environment: environment, directory: directory)
        }
        let start = Date()
        var buffer = HeadTailBuffer(limit: outputLimit)
        var open = (stdout: true, stderr: true)
        var timedOut = false
        var stopped = false
        var killAt: Date?
        var exitedAt: Date?

        while true {
            var fds = [
                pollfd(fd: open.stdout ? child.stdout : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: open.stderr ? child.stderr : -1, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, 50)
            if open.stdout { open.stdout = readAvailable(child.stdout) { buffer.append($0) } }
            if open.stderr { open.stderr = readAvailable(child.stderr) { buffer.append($0) } }
            if !timedOut, !stopped {
                if Date().timeIntervalSince(start) > timeout { timedOut = true } else if shouldStop() { stopped = true }
                if timedOut || stopped {
                    if containment != nil { Bubblewrap.signalContents(of: child.pid, SIGTERM) } else { child.signalGroup(SIGTERM) }
                    killAt = Date().addingTimeInterval(gracePeriod)
                }
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
        return Outcome(
            exitCode: child.exitCode, signal: child.terminatingSignal, timedOut: timedOut, stopped: stopped,
            seconds: Date().timeIntervalSince(start), output: buffer.text, truncated: buffer.truncated
        )
    }

    /// The path of `command` in `PATH`, or nil.
    public static func which(_ command: String, environment: [String: String]) -> String? {
        try? ChildProcess.resolve(command, path: environment["PATH"], currentDirectory: "/")
    }
}

/// Keeps the first and the last `limit / 2` bytes of a stream.
struct HeadTailBuffer {
    let limit: Int
    var head = Data()
    var tail = Data()
    var truncated = false

    init(limit: Int) { self.limit = limit }

    mutating func append(_ data: Data) {
        if head.count < limit / 2 {
            let room = limit / 2 - head.count
            head.append(data.prefix(room))
            if data.count > room { tail.append(data.dropFirst(room)) }
        } else {
            tail.append(data)
        }
        if tail.count > limit / 2 {
            truncated = true
            tail = tail.suffix(limit / 2)
        }
    }

    var text: String {
        var text = String(decoding: head, as: UTF8.self)
        if truncated { text += "\n… [output cut to \(limit / 1024) KiB] …\n" }
        return text + String(decoding: tail, as: UTF8.self)
    }
}
