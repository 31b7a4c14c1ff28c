import Foundation

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
    /// novaos itself was interrupted (Ctrl-C, SIGTERM) and stopped the agent.
    case interrupted
    /// The command could not be started.
    case failedToStart = "failed_to_start"

    /// True when novaos stopped the agent rather than the agent ending by itself.
    public var stoppedByNovaos: Bool {
        switch self {
        case .budgetExceeded, .projectBudgetExceeded, .timeout, .interrupted: true
        case .exited, .signaled, .failedToStart: false
        }
    }
}

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

    enum CodingKeys: String, CodingKey {
        case id, command, signal, cost, revenue, events, log
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
    /// Stop the agent after this many seconds.
    public var timeout: TimeInterval?
    /// How long the agent has between SIGTERM and SIGKILL.
    public var gracePeriod: TimeInterval
    /// The environment the agent starts from; novaos adds its `NOVAOS_*` variables.
    public var environment: [String: String]
    /// The directory relative command paths are resolved against.
    public var currentDirectory: String
    /// Polled while the run goes on; true asks novaos to stop the agent (`interrupted`).
    public var shouldInterrupt: () -> Bool
    /// Receives the agent's output as it comes: `true` for stderr.
    public var output: (Data, Bool) -> Void
    /// Receives one-line notes about the run (refused event lines, why the agent was stopped).
    public var note: (String) -> Void

    public init(
        timeout: TimeInterval? = nil, gracePeriod: TimeInterval = 2, environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath,
        shouldInterrupt: @escaping () -> Bool = { false }, output: @escaping (Data, Bool) -> Void = { _, _ in },
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

/// Parses a duration: `90`, `90s`, `500ms`, `5m`, `1h`, `1.5h`.
public func parseDuration(_ text: String) throws -> TimeInterval {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    var number = text
    var scale = 1.0
    for (suffix, factor) in units where text.hasSuffix(suffix) {
        number = String(text.dropLast(suffix.count))
        scale = factor
        break
    }
    guard let value = Double(number), value.isFinite, value > 0, value * scale <= 30 * 24 * 3600 else {
        throw SandboxError.invalidInput("invalid duration \(quoted(text)): use a positive number with s, ms, m or h, like 30s or 5m")
    }
    return value * scale
}
