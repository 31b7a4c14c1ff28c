#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A process told apart from a later one that reuses its PID: the PID with the time the
/// process started (field 22 of `/proc/PID/stat`, in clock ticks since boot).
public struct ProcessIdentity: Sendable, Equatable {
    public var pid: Int32
    /// 0 where the system does not say (then only the PID is compared).
    public var startTime: Int64

    public init(pid: Int32, startTime: Int64) {
        self.pid = pid
        self.startTime = startTime
    }

    /// This process.
    public static var current: ProcessIdentity {
        let pid = getpid()
        return ProcessIdentity(pid: pid, startTime: startTime(of: pid) ?? 0)
    }

    /// True while the process this identity names is still running.
    public var isAlive: Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0, errno == ESRCH { return false }
        #if os(Linux)
        // A zombie (Z) or dying (X) process has ended, though its entry stays until reaped.
        guard let fields = Self.statFields(of: pid), fields.count > 19, fields[0] != "Z", fields[0] != "X",
              let now = Int64(fields[19]) else { return false }
        return startTime == 0 || now == startTime
        #else
        return true
        #endif
    }

    /// The fields of `/proc/PID/stat` after the command name, which may itself hold spaces
    /// and parentheses (so the text is cut at the last `)`).
    static func statFields(of pid: pid_t) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    static func startTime(of pid: pid_t) -> Int64? {
        // After the name: state is field 3, start time field 22, so index 19 here.
        guard let fields = statFields(of: pid), fields.count > 19 else { return nil }
        return Int64(fields[19])
    }

    static func parent(of pid: pid_t) -> pid_t? {
        guard let fields = statFields(of: pid), fields.count > 1 else { return nil }
        return pid_t(fields[1])
    }
}
