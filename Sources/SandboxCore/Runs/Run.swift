#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Supervision

/// One run of an agent program started by `sandbox run`.
public struct RunRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var agentID: AgentID
    /// The command and its arguments, as given.
    public var command: [String]
    public var startedAt: Date
    @NullEncoded public var endedAt: Date?
    /// The agent's exit status, when it exited normally.
    @NullEncoded public var exitCode: Int32?
    /// The signal that ended it, when one did.
    @NullEncoded public var signal: Int32?
    /// Why it ended; nil while it runs.
    @NullEncoded public var stopReason: StopReason?
    /// Tokens, cost and revenue that the run's events recorded.
    public var tokensUsed: Int64
    public var cost: Money
    public var revenue: Money
    /// Events recorded, and event lines refused.
    public var events: Int
    public var rejectedEvents: Int
    /// The file holding the agent's stdout and stderr.
    public var log: String
    /// How the agent ran: `namespace` (bubblewrap) or `none`.
    public var isolation: IsolationMode
    /// True when the run ended because a budget or cap was reached.
    public var budgetExceeded = false
    /// The agents this run's records paused (known to the command that ran it; empty in `runs`).
    public var pausedAgents: [AgentID] = []

    enum CodingKeys: String, CodingKey {
        case id, command, signal, cost, revenue, events, log, isolation
        case pausedAgents = "paused_agents", budgetExceeded = "budget_exceeded"
        case agentID = "agent_id", startedAt = "started_at", endedAt = "ended_at", exitCode = "exit_code"
        case stopReason = "stop_reason", tokensUsed = "tokens_used", rejectedEvents = "rejected_events"
    }
}

/// The runs of one agent, newest first.
public struct RunList: Codable, Sendable, Equatable {
    public var runs: [RunRecord]
}

/// Settings of one run.
public struct RunOptions {
    /// The grace period `NOVAOS_KILL_GRACE_MS` in `environment` asks for (milliseconds), else 2 s.
    public static func gracePeriod(in environment: [String: String]) -> TimeInterval {
        environment["NOVAOS_KILL_GRACE_MS"].flatMap(Double.init).map { $0 / 1000 } ?? 2
    }

    /// Stop the agent after this many seconds.
    public var timeout: TimeInterval?
    /// How long the agent has between SIGTERM and SIGKILL.
    public var gracePeriod: TimeInterval
    /// novaos's own environment: `PATH`, `LANG`, `TZ`, `TERM` and the values of `passing`
    /// come from it; nothing else reaches the agent.
    public var environment: [String: String]
    /// Variables the agent gets: a name alone takes its value from `environment`,
    /// `NAME=VALUE` gives it. Their values are redacted from the log, the output, stored
    /// events and the stored command.
    public var passing: [String] = []
    /// `namespace` (the default) runs the agent in a bubblewrap sandbox; `none` runs it as a
    /// plain child process.
    public var isolation: IsolationMode = .namespace
    /// Whether the agent reaches the network (it does by default: agents call model APIs).
    public var network = true
    /// The most the run's log keeps, in bytes (the first and the last half of the output).
    public var logLimit = 64 << 20
    /// How long the database may stay locked before the agent is stopped (`database_unavailable`).
    public var unavailableLimit: TimeInterval = 30
    /// The directory relative command paths are resolved against.
    public var currentDirectory: String
    /// Polled while the run goes on; true asks novaos to stop the agent (`interrupted`).
    public var shouldInterrupt: () -> Bool
    /// Receives the agent's output as it comes (`true` for stderr); returns false when
    /// nobody reads it any more (the agent is then stopped).
    public var output: (Data, Bool) -> Bool
    /// Receives one-line notes about the run (refused event lines, why the agent was stopped).
    public var note: (String) -> Void
    /// Receives warnings: a budget or cap reached (`agent … reached its token budget …`).
    public var warn: ((String) -> Void)?

    public init(
        timeout: TimeInterval? = nil, gracePeriod: TimeInterval = 2, environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath,
        shouldInterrupt: @escaping () -> Bool = { false }, output: @escaping (Data, Bool) -> Bool = { _, _ in true },
        note: @escaping (String) -> Void = { _ in }
    ) {
        self.timeout = timeout
        self.gracePeriod = gracePeriod
        self.environment = environment
        self.currentDirectory = currentDirectory
        self.shouldInterrupt = shouldInterrupt
        self.output = output
        self.note = note
    }
}

/// Parses a duration: `90`, `90s`, `500ms`, `5m`, `1h`, `1.5h`, `7d`, at most `maximumDays` days.
public func parseDuration(_ text: String, maximumDays: Int = 30) throws -> TimeInterval {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
    var number = text
    var scale = 1.0
    for (suffix, factor) in units where text.hasSuffix(suffix) {
        number = String(text.dropLast(suffix.count))
        scale = factor
        break
    }
    // Plain decimal digits only: `Double` would also read `0x10`, `1e3` and `inf`.
    let plain = !number.isEmpty && number.utf8.allSatisfy { (48...57).contains($0) || $0 == 46 } && number.utf8.first != 46
    guard plain, let value = Double(number), value.isFinite, value > 0, value * scale <= Double(maximumDays) * 24 * 3600 else {
        throw SandboxError.invalidInput("invalid duration \(quoted(text)): use a positive number with s, ms, m, h or d, like 30s, 5m or 7d, at most \(maximumDays)d")
    }
    return value * scale
}
