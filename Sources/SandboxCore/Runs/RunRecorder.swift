#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB
import Supervision

/// A ledger that supervised runs record into (its database has the `runs` table): the
/// sandbox, and production's live agents. What differs is when an agent may go on running
/// and what a budget does.
protocol RunBook: EventLedger {
    /// The database file, for error messages.
    var databasePath: String { get }
    /// Whether the agent may go on, read in the caller's transaction.
    func runState(of agent: AgentID) throws -> RunRecorder.RunState
    /// The budget rules after a batch of a run added `added` tokens and `addedCost`.
    func enforceBudgets(agent: String, added: Int64, addedCost: Int64) throws -> BudgetOutcome
    /// One write transaction (`BEGIN IMMEDIATE`), and one read transaction.
    func write<T>(_ body: () throws -> T) throws -> T
    func read<T>(_ body: () throws -> T) throws -> T
}

/// The ledger side of a supervised run: turns batches of event lines into records, one
/// transaction per batch, and tells the supervisor when the agent must stop.
///
/// Every batch first checks, inside its write transaction, that the agent may still run: a
/// batch that arrives after the commit that paused or killed the agent (or its project) is
/// not recorded. Budgets are checked after the batch, in the same transaction, so two runs of
/// one agent share its budget.
final class RunRecorder: RunLedger {
    /// Where the run records: the sandbox, or production.
    let book: any RunBook
    let agentID: AgentID
    let runID: Int64
    let redactor: Redactor
    /// The prices the run's usage is charged at, read once before the agent started.
    private var prices: PriceLookup
    private let sink: (String) -> Void
    private let warn: (String) -> Void
    /// Agents the run's records paused (its own, or its project's for the cap).
    private(set) var pausedAgents: [AgentID] = []
    /// Refused or duplicate lines noted so far; past `noteLimit` they are only counted.
    private var lineNotes = 0
    static let noteLimit = 20

    init(
        book: any RunBook, agent: AgentID, runID: Int64, prices: PriceCatalog, redactor: Redactor,
        note: @escaping (String) -> Void, warn: @escaping (String) -> Void
    ) {
        self.book = book
        self.prices = PriceLookup(prices)
        self.agentID = agent
        self.runID = runID
        self.redactor = redactor
        self.sink = note
        self.warn = warn
    }

    /// Every note is redacted: an error message may quote a decoded value.
    private func note(_ text: String) {
        sink(redactor.redactMessage(text))
    }

    /// A note about one event line, while under the limit.
    private func lineNote(_ text: String) {
        lineNotes += 1
        if lineNotes <= Self.noteLimit {
            note(text)
        } else if lineNotes == Self.noteLimit + 1 {
            note("more refused or duplicate event lines are not shown; the run counts them in rejected_events")
        }
    }

    /// One line of a batch, checked: something to record, or a reservation to answer.
    private enum Item {
        case event(line: Int, CheckedEvent)
        case reserve(line: Int, tokens: Int64)
        /// A reserve line that could not be read: answered with nothing granted, so an agent
        /// waiting for its reply is not left hanging (and replies stay in step).
        case refusedReserve(line: Int)
    }

    /// This run's open reservations, oldest first: a usage event settles the oldest one whole.
    private var reservations: [Int64] = []
    /// True once any of the run's records reached a budget or cap.
    private(set) var budgetReached = false

    func record(_ batch: [EventLine]) throws(LedgerFailure) -> LedgerAnswer {
        // Parse and price outside the transaction, so the write lock is held only to insert.
        let now = Timestamp.string(from: book.now())
        var items: [Item] = []
        var rejected: [(line: Int, reason: String)] = []
        for line in batch {
            if line.overlong {
                rejected.append((line.number, "line is too long (more than \(EventParser.maximumLineBytes) bytes)"))
                continue
            }
            do {
                // Redacted before and after decoding: a secret may be written with JSON escapes.
                let bytes = redactor.redact(line.bytes)
                var event = try bytes.withUnsafeBufferPointer { try EventParser.parse($0) }
                if !redactor.isEmpty { event = event.redacted(by: redactor) }
                if let other = event.agentID, other != agentID.rawValue {
                    throw SandboxError.invalidInput("event for agent \(quoted(other)) in a run of \(agentID)")
                }
                if case .reserve(let reserve) = event {
                    items.append(.reserve(line: line.number, tokens: reserve.tokens))
                } else {
                    items.append(.event(line: line.number, try CheckedEvent(event, now: now, prices: &prices)))
                }
            } catch {
                rejected.append((line.number, "\(error)"))
                if Self.looksLikeReserve(line.bytes) { items.append(.refusedReserve(line: line.number)) }
            }
        }
        let refusedLines = rejected
        var duplicates: [Int] = []
        var budgets = BudgetOutcome()
        var replies: [[UInt8]] = []
        let verdict = try transaction {
            // The transaction may run again after a conflict (PostgreSQL): each attempt starts
            // from what the lines alone said, so no reply or note is given twice.
            rejected = refusedLines
            duplicates = []
            replies = []
            budgets = BudgetOutcome()
            // Paused by hand or killed: nothing after that commit is recorded. Paused by a
            // budget: the calls were made and paid for, so they are recorded, and the run stops.
            let before = try state()
            if case .drop(let reason, let message) = before {
                replies = items.compactMap {
                    switch $0 {
                    case .reserve: Self.reply(granted: 0, reason: reason.rawValue)
                    case .refusedReserve: Self.reply(granted: 0, reason: "invalid_request")
                    case .event: nil
                    }
                }
                return LedgerVerdict.stop(reason, message + "; \(batch.count) event line(s) after that were not recorded")
            }
            // Reservations: what the agent may still spend is its budget less what it used and
            // what every open run of it (this one included) holds reserved. A usage event
            // settles this run's reservation; the end of the run releases the rest.
            var ledger = try reservationFigures()
            var open = reservations
            var total = EventEffect()
            var recorded = 0
            for item in items {
                switch item {
                case .event(let line, let event):
                    // An event whose amounts would overflow the run's totals is refused like a
                    // bad line, before anything of it is written.
                    var trial = total
                    let used: Int64
                    do {
                        try trial.add(event.effect)
                        used = try checkedSum(ledger.used, event.effect.tokens, "token")
                    } catch {
                        rejected.append((line, "\(error); not recorded"))
                        continue
                    }
                    if try book.insert(event, agent: agentID.rawValue) {
                        total = trial
                        recorded += 1
                        ledger.used = used
                        if event.effect.tokens > 0, !open.isEmpty { open.removeFirst() }
                    } else {
                        duplicates.append(line)
                    }
                case .reserve(_, let tokens):
                    if case .stopAfterRecording(let reason, _) = before {
                        replies.append(Self.reply(granted: 0, reason: reason.rawValue))
                    } else if tokens <= ledger.available(reservedHere: open.reduce(0, +)) {
                        open.append(tokens)
                        replies.append(Self.reply(granted: tokens, reason: nil))
                    } else {
                        replies.append(Self.reply(granted: 0, reason: StopReason.budgetExceeded.rawValue))
                    }
                case .refusedReserve:
                    replies.append(Self.reply(granted: 0, reason: "invalid_request"))
                }
            }
            if recorded > 0 { try book.addToTotals(agent: agentID.rawValue, total) }
            try book.ledgerDatabase.run(
                """
                UPDATE runs SET events = events + ?, rejected_events = rejected_events + ?, tokens_used = tokens_used + ?,
                                cost_micros = cost_micros + ?, revenue_micros = revenue_micros + ?, reserved_tokens = ? WHERE id = ?
                """,
                [Int64(recorded), Int64(rejected.count), total.tokens, total.cost, total.revenue, open.reduce(0, +), runID]
            )
            budgets = try book.enforceBudgets(agent: agentID.rawValue, added: total.tokens, addedCost: total.cost)
            let verdict = try state().verdict
            reservations = open // only once the transaction stands
            return verdict
        }
        if budgets.budgetExceeded { budgetReached = true }
        for id in budgets.pausedAgents where !pausedAgents.contains(id) { pausedAgents.append(id) }
        budgets.warnings.forEach(warn)
        for (line, reason) in rejected.sorted(by: { $0.line < $1.line }) { lineNote("events line \(line): \(reason); skipped") }
        for line in duplicates { lineNote("events line \(line): duplicate event id, skipped") }
        return LedgerAnswer(verdict, replies: replies)
    }

    /// The figures a reservation is judged by, read at the start of a batch.
    private struct ReservationFigures {
        var budget: Int64
        var used: Int64
        /// Held by the agent's other runs whose supervisors are alive.
        var reservedByOtherRuns: Int64

        func available(reservedHere: Int64) -> Int64 { budget - used - reservedHere - reservedByOtherRuns }
    }

    private func reservationFigures() throws -> ReservationFigures {
        let (budget, used) = try book.ledgerDatabase.queryFirst(
            "SELECT token_budget, tokens_used FROM agents WHERE id = ?", [agentID.rawValue], { ($0.int64(0), $0.int64(1)) }
        ) ?? (0, 0)
        return ReservationFigures(budget: budget, used: used, reservedByOtherRuns: try book.tokensReserved(agent: agentID, excludingRun: runID))
    }

    /// True for a line that names the reserve type, even when it cannot be parsed otherwise.
    static func looksLikeReserve(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
        return text.contains("\"reserve\"") && text.contains("\"type\"")
    }

    /// `{"granted":N}`, or `{"granted":0,"reason":"…"}`, and a newline.
    static func reply(granted: Int64, reason: String?) -> [UInt8] {
        let text = reason.map { #"{"granted":\#(granted),"reason":"\#($0)"}"# } ?? #"{"granted":\#(granted)}"#
        return Array((text + "\n").utf8)
    }

    func check() throws(LedgerFailure) -> LedgerVerdict {
        try guarded { try book.ledgerDatabase.read { try state().verdict } }
    }

    func finish(_ outcome: RunOutcome) throws(LedgerFailure) {
        try transaction {
            _ = try book.ledgerDatabase.run(
                "UPDATE runs SET ended_at = ?, exit_code = ?, signal = ?, stop_reason = ?, reserved_tokens = 0 WHERE id = ? AND ended_at IS NULL",
                Timestamp.string(from: book.now()), outcome.exitCode.map(Int64.init), outcome.signal.map(Int64.init),
                outcome.stopReason.rawValue, runID
            )
        }
    }

    /// What the agent's state means for its run.
    enum RunState {
        case runnable
        /// Stop, and record nothing more (paused by hand, killed).
        case drop(StopReason, String)
        /// Stop, but record what arrives meanwhile (a budget was reached: the calls were paid for).
        case stopAfterRecording(StopReason, String)

        var verdict: LedgerVerdict {
            switch self {
            case .runnable: .proceed
            case .drop(let reason, let message), .stopAfterRecording(let reason, let message): .stop(reason, message)
            }
        }
    }

    /// Whether the agent may go on, read in the caller's transaction.
    private func state() throws -> RunState {
        try book.runState(of: agentID)
    }

    private func transaction<T>(_ body: () throws -> T) throws(LedgerFailure) -> T {
        try guarded { try book.ledgerDatabase.write(body) }
    }

    /// The database's failures, as the supervisor needs to tell them apart.
    private func guarded<T>(_ body: () throws -> T) throws(LedgerFailure) -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            if error.isBusy { throw .busy }
            if error.isFull { throw .full }
            throw .failed(DatabaseFile.describe(error, path: book.databasePath).description)
        } catch {
            if let described = book.ledgerDatabase.describe(error) {
                switch described {
                // Unreachable (a PostgreSQL server restarting): like a lock held, it may pass;
                // the supervisor keeps the events and tries again, up to its limit.
                case .busy, .unavailable: throw .busy
                default: throw .failed(described.description)
                }
            }
            throw .failed("\(error)")
        }
    }
}

extension AgentEvent {
    /// The event with every secret in its text fields replaced.
    func redacted(by redactor: Redactor) -> AgentEvent {
        func clean(_ text: String?) -> String? { text.map(redactor.redact) }
        func clean(_ text: String) -> String { redactor.redact(text) }
        switch self {
        case .usage(var usage):
            usage.agentID = clean(usage.agentID)
            usage.eventID = clean(usage.eventID)
            usage.model = clean(usage.model)
            usage.operation = clean(usage.operation)
            usage.timestamp = clean(usage.timestamp)
            return .usage(usage)
        case .revenue(var revenue):
            revenue.agentID = clean(revenue.agentID)
            revenue.eventID = clean(revenue.eventID)
            revenue.source = clean(revenue.source)
            revenue.description = clean(revenue.description)
            revenue.timestamp = clean(revenue.timestamp)
            return .revenue(revenue)
        case .reserve(var reserve):
            reserve.agentID = clean(reserve.agentID)
            return .reserve(reserve)
        }
    }
}
