#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Why a run ended.
public enum StopReason: String, Codable, Sendable, CaseIterable {
    /// The agent exited by itself.
    case exited
    /// The agent died of a signal novaos did not send.
    case signaled
    /// The agent's tokens used reached its token budget.
    case budgetExceeded = "budget_exceeded"
    /// The project's total cost exceeded its cost cap.
    case projectBudgetExceeded = "project_budget_exceeded"
    /// The run outlived `--timeout`.
    case timeout
    /// novaos itself was interrupted (SIGINT, SIGTERM, SIGHUP, or its output was closed) and stopped the agent.
    case interrupted
    /// The command could not be started.
    case failedToStart = "failed_to_start"
    /// The agent was paused while it ran.
    case agentPaused = "agent_paused"
    /// The agent, or its project, was killed while it ran.
    case agentKilled = "agent_killed"
    /// The agent's project reached its expiry time while it ran (sandbox only).
    case projectExpired = "project_expired"
    /// The database stayed locked or unwritable too long to record the agent's events.
    case databaseUnavailable = "database_unavailable"
    /// The disk filled up while the run was recorded or logged.
    case diskFull = "disk_full"
    /// The supervisor died (SIGKILL, power loss) before it closed the run; found by a later command.
    case lost

    /// True when novaos stopped the agent rather than the agent ending by itself.
    public var stoppedByNovaos: Bool {
        switch self {
        case .budgetExceeded, .projectBudgetExceeded, .timeout, .interrupted, .agentPaused, .agentKilled, .projectExpired, .databaseUnavailable,
             .diskFull: true
        case .exited, .signaled, .failedToStart, .lost: false
        }
    }
}

/// One line the agent wrote to its event pipe.
public struct EventLine: Sendable, Equatable {
    /// 1-based, counting every line of the pipe.
    public var number: Int
    public var bytes: [UInt8]
    /// The line was longer than the limit; `bytes` holds only its start.
    public var overlong: Bool

    public init(number: Int, bytes: [UInt8], overlong: Bool = false) {
        self.number = number
        self.bytes = bytes
        self.overlong = overlong
    }
}

/// What the ledger answers a batch with: whether the agent may go on, and the lines to write
/// back to the agent on its reply pipe (answers to reservations), in order.
public struct LedgerAnswer: Sendable, Equatable {
    public var verdict: LedgerVerdict
    public var replies: [[UInt8]]

    public init(_ verdict: LedgerVerdict, replies: [[UInt8]] = []) {
        self.verdict = verdict
        self.replies = replies
    }
}

/// What the ledger says after recording or checking.
public enum LedgerVerdict: Sendable, Equatable {
    case proceed
    /// Stop the agent, for this reason, with this one-line note.
    case stop(StopReason, String)
}

/// How recording can fail, as far as the supervisor needs to know.
public enum LedgerFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Another process holds the lock, or the database cannot be reached: try again later.
    case busy
    /// No room left to write.
    case full
    /// Anything else; the text says what.
    case failed(String)

    public var description: String {
        switch self {
        case .busy: "the database is busy or cannot be reached"
        case .full: "the database or disk is full"
        case .failed(let text): text
        }
    }
}

/// How a supervised run ended.
public struct RunOutcome: Sendable, Equatable {
    public var exitCode: Int32?
    public var signal: Int32?
    public var stopReason: StopReason
    /// Bytes of output the capped log did not keep.
    public var logBytesCut: Int64
}

/// The narrow interface between the supervisor and the ledger: the supervisor hands over
/// batches of event lines and the finished run; it never sees SQL.
public protocol RunLedger: AnyObject {
    /// Records a batch in one transaction, and says whether the agent may go on and what to
    /// answer it. A batch that arrives when the agent may no longer run is not recorded.
    func record(_ batch: [EventLine]) throws(LedgerFailure) -> LedgerAnswer
    /// Says whether the agent may go on (paused, killed, out of budget), writing nothing.
    func check() throws(LedgerFailure) -> LedgerVerdict
    /// Closes the run.
    func finish(_ outcome: RunOutcome) throws(LedgerFailure)
}

/// Settings of one supervised run.
public struct SupervisorOptions {
    public var timeout: TimeInterval?
    /// Between SIGTERM and SIGKILL.
    public var gracePeriod: TimeInterval = 2
    /// Events are committed at least this often.
    public var flushInterval: TimeInterval = 0.1
    /// With no events to commit, the agent's state is checked this often.
    public var checkInterval: TimeInterval = 0.25
    /// How long the database may stay unavailable before the agent is stopped.
    public var unavailableLimit: TimeInterval = 30
    /// Events waiting to be committed, at most; past this the pipe is not read (the agent's
    /// writes block) until they are.
    public var maximumPendingLines = 10_000
    public var maximumPendingBytes = 8 << 20
    public var maximumLineBytes = 1 << 20
    /// Polled; true asks to stop the agent (`interrupted`).
    public var shouldInterrupt: () -> Bool = { false }
    /// The agent's output as it comes (`true` for stderr); returns false when nobody reads it any more.
    public var output: (Data, Bool) -> Bool = { _, _ in true }
    /// One-line notes about the run.
    public var note: (String) -> Void = { _ in }

    public init() {}
}

/// Watches one running agent: reads its event pipe and output, commits events in batches,
/// enforces the deadline, and stops the agent with the teardown sequence (SIGTERM to every
/// process of it, SIGKILL after the grace period) when anything says so. It never throws:
/// every failure becomes a stop reason, and the run is always closed when the ledger allows.
public final class Supervisor {
    let child: ChildProcess
    let isolated: Bool
    let events: Int32
    /// The write end of the reply pipe (non-blocking), or -1.
    let replies: Int32
    private var outbound: [UInt8] = []
    private var repliesDropped = false
    let log: RunLog
    let ledger: RunLedger
    var redactors: (stdout: Redactor, stderr: Redactor)
    let options: SupervisorOptions

    private var pending: [EventLine] = []
    private var pendingBytes = 0
    private var partial: [UInt8] = []
    private var skippingOverlong = false
    private var lineNumber = 0
    private var stopReason: StopReason?
    private var killAt: Date?
    private var unavailableSince: Date?
    private var outputOpen = true
    private var logOpen = true

    /// - Parameters:
    ///   - isolated: the child is bwrap; SIGTERM then goes to every process inside.
    ///   - events: the read end of the event pipe (non-blocking); closed by `run()`.
    ///   - replies: the write end of the reply pipe, or -1; closed by `run()`.
    public init(child: ChildProcess, isolated: Bool, events: Int32, replies: Int32 = -1, log: RunLog, ledger: RunLedger, redactor: Redactor,
                options: SupervisorOptions) {
        self.child = child
        self.isolated = isolated
        self.events = events
        self.replies = replies
        if replies >= 0 { setNonBlocking(replies) }
        self.log = log
        self.ledger = ledger
        self.redactors = (redactor, redactor)
        self.options = options
        setNonBlocking(events)
    }

    /// Supervises until the agent and everything it started are gone, then closes the run.
    public func run() -> RunOutcome {
        defer {
            close(events)
            if replies >= 0 { close(replies) }
        }
        let started = Date()
        let deadline = options.timeout.map { started.addingTimeInterval($0) }
        var lastFlush = started
        var lastCheck = started
        var exitedAt: Date?
        var open = (events: true, stdout: true, stderr: true)

        while true {
            let accepting = open.events && pending.count < options.maximumPendingLines && pendingBytes < options.maximumPendingBytes
            var fds = [
                pollfd(fd: accepting ? events : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: open.stdout ? child.stdout : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: open.stderr ? child.stderr : -1, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, nfds_t(fds.count), 20)
            // A pipe read dry means the agent is waiting (for a reply, perhaps): commit now.
            var eventBytes = 0
            if accepting { open.events = readAvailable(events) { eventBytes += $0.count; takeEvents($0) } }
            let drained = eventBytes > 0 && eventBytes < 1 << 20
            if open.stdout { open.stdout = readAvailable(child.stdout) { pass($0, isError: false) } }
            if open.stderr { open.stderr = readAvailable(child.stderr) { pass($0, isError: true) } }

            let now = Date()
            if stopReason == nil {
                if let deadline, now >= deadline {
                    requestStop(.timeout, "stopped: the run passed its timeout of \(formatSeconds(options.timeout!))")
                } else if options.shouldInterrupt() {
                    requestStop(.interrupted, "stopped: novaos was interrupted")
                }
            }
            if now.timeIntervalSince(lastFlush) >= options.flushInterval || pending.count >= options.maximumPendingLines || drained {
                lastFlush = now
                if !pending.isEmpty {
                    flush(now: now)
                    lastCheck = now
                }
            }
            if pending.isEmpty, stopReason == nil, now.timeIntervalSince(lastCheck) >= options.checkInterval {
                lastCheck = now
                consult(now: now) { try ledger.check() }
            }
            sendReplies()
            if let killAt, now >= killAt, !child.poll() {
                child.signalGroup(SIGKILL)
                self.killAt = nil
            }
            if child.poll() {
                exitedAt = exitedAt ?? now
                // Once the agent has exited, read what is left; a descendant that keeps the
                // pipes open (only possible without isolation) gets one second.
                if (!open.stdout && !open.stderr && !open.events) || now.timeIntervalSince(exitedAt!) > 1 {
                    break
                }
            }
        }
        child.signalGroup(SIGKILL)
        // What is still in the pipe, then the last line even without its newline.
        if open.events { _ = readAvailable(events, limit: 64 << 20) { takeEvents($0) } }
        if !partial.isEmpty, !skippingOverlong { appendLine(partial, overlong: false) }
        partial = []
        for (data, isError) in [(redactors.stdout.finish(), false), (redactors.stderr.finish(), true)] where !data.isEmpty {
            emit(data, isError: isError)
        }
        // The last batch and the closing of the run wait out a lock up to the limit again.
        let finalDeadline = Date().addingTimeInterval(options.unavailableLimit)
        unavailableSince = nil
        while !pending.isEmpty {
            flush(now: Date())
            if pending.isEmpty || Date() >= finalDeadline { break }
            usleep(50_000)
        }
        if !pending.isEmpty {
            options.note("\(pending.count) event line(s) could not be recorded: the database stayed unavailable")
            pending = []
        }
        var logCut: Int64 = 0
        do {
            try log.close()
            logCut = log.bytesCut
        } catch {
            options.note("the log could not be completed: \(error)")
            if stopReason == nil { stopReason = .diskFull }
        }
        if logCut > 0 { options.note("the log kept its first and last \(log.limit / 2 / 1024) KiB; \(logCut) bytes in between were cut") }
        let reason = stopReason ?? (child.terminatingSignal != nil ? .signaled : .exited)
        let outcome = RunOutcome(exitCode: child.exitCode, signal: child.terminatingSignal, stopReason: reason, logBytesCut: logCut)
        while true {
            do {
                try ledger.finish(outcome)
                break
            } catch .busy where Date() < finalDeadline {
                usleep(100_000)
            } catch {
                options.note("the run could not be closed (\(error)); the next novaos command will close it as lost")
                break
            }
        }
        return outcome
    }

    /// Stops the agent: SIGTERM now (to every process of it), SIGKILL after the grace.
    private func requestStop(_ reason: StopReason, _ message: String) {
        guard stopReason == nil else { return }
        stopReason = reason
        options.note(message)
        // Isolated, SIGTERM goes to the processes inside only: bwrap itself would die of it,
        // and --die-with-parent would SIGKILL them at once, with no grace.
        if isolated { Bubblewrap.signalContents(of: child.pid, SIGTERM) } else { child.signalGroup(SIGTERM) }
        // A deadline is a deadline: past --timeout the agent gets at most half a second.
        killAt = Date().addingTimeInterval(reason == .timeout ? min(options.gracePeriod, 0.5) : options.gracePeriod)
    }

    private func flush(now: Date) {
        let batch = pending
        consult(now: now) {
            let answer = try ledger.record(batch)
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
            for reply in answer.replies { queueReply(reply) }
            return answer.verdict
        }
    }

    /// Asks the ledger, and turns its answer or failure into a stop when it calls for one.
    private func consult(now: Date, _ ask: () throws -> LedgerVerdict) {
        do {
            let verdict = try ask()
            if unavailableSince != nil { options.note("the database is available again; recording goes on") }
            unavailableSince = nil
            if case .stop(let reason, let message) = verdict { requestStop(reason, message) }
        } catch {
            switch error as? LedgerFailure ?? .failed("\(error)") {
            case .busy:
                if unavailableSince == nil {
                    unavailableSince = now
                    options.note("the database is locked by another process; events wait and are retried")
                } else if now.timeIntervalSince(unavailableSince!) >= options.unavailableLimit {
                    requestStop(.databaseUnavailable, "stopped: the database stayed unavailable for \(formatSeconds(options.unavailableLimit))")
                }
            case .full:
                pending = []
                pendingBytes = 0
                requestStop(.diskFull, "stopped: the disk is full; the run's events can no longer be recorded")
            case .failed(let message):
                pending = []
                pendingBytes = 0
                requestStop(.databaseUnavailable, "stopped: the events cannot be recorded (\(message))")
            }
        }
    }

    /// Replies wait here when the agent does not read them; at most 1 MiB, then they are dropped.
    private func queueReply(_ line: [UInt8]) {
        guard replies >= 0 else { return }
        guard outbound.count + line.count <= 1 << 20 else {
            if !repliesDropped { options.note("the agent does not read its replies; further replies are dropped") }
            repliesDropped = true
            return
        }
        outbound += line
        sendReplies()
    }

    private func sendReplies() {
        guard replies >= 0, !outbound.isEmpty else { return }
        let written = outbound.withUnsafeBytes { write(replies, $0.baseAddress, $0.count) }
        if written > 0 { outbound.removeFirst(written) }
    }

    private func takeEvents(_ data: Data) {
        for byte in data {
            if byte == 0x0A {
                if skippingOverlong { skippingOverlong = false } else { appendLine(partial, overlong: false) }
                partial.removeAll(keepingCapacity: true)
                continue
            }
            if skippingOverlong { continue }
            partial.append(byte)
            if partial.count > options.maximumLineBytes {
                appendLine(Array(partial.prefix(64)), overlong: true)
                partial.removeAll()
                skippingOverlong = true
            }
        }
    }

    private func appendLine(_ bytes: [UInt8], overlong: Bool) {
        lineNumber += 1
        // Blank lines count as lines but carry nothing.
        guard overlong || bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { return }
        pending.append(EventLine(number: lineNumber, bytes: bytes, overlong: overlong))
        pendingBytes += bytes.count
    }

    /// Agent output: secrets redacted, then to the log and to whoever reads novaos's output.
    private func pass(_ data: Data, isError: Bool) {
        let clean = isError ? redactors.stderr.process(data) : redactors.stdout.process(data)
        emit(clean, isError: isError)
    }

    private func emit(_ data: Data, isError: Bool) {
        guard !data.isEmpty else { return }
        if logOpen {
            do {
                try log.write(data)
            } catch {
                logOpen = false
                if case .diskFull = error as? SupervisionError {
                    requestStop(.diskFull, "stopped: the disk is full (\(log.path))")
                } else {
                    requestStop(.diskFull, "stopped: the log cannot be written (\(error))")
                }
            }
        }
        if outputOpen, !options.output(data, isError) {
            outputOpen = false
            requestStop(.interrupted, "stopped: novaos's output was closed")
        }
    }
}

func formatSeconds(_ seconds: TimeInterval) -> String {
    if seconds == seconds.rounded() { return "\(Int(seconds))s" }
    let millis = Int((seconds.magnitude * 1000).rounded())
    let fraction = String(millis % 1000)
    return (seconds < 0 ? "-" : "") + "\(millis / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)s"
}
