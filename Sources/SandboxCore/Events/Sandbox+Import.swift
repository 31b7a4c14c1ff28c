#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB

/// How `importEvents` treats invalid lines.
public struct ImportOptions: Sendable {
    /// Record the valid lines and report the rejected ones, instead of committing nothing.
    public var skipInvalid: Bool
    /// How many rejected lines the summary lists (all are counted).
    public var maximumReportedErrors: Int

    public init(skipInvalid: Bool = false, maximumReportedErrors: Int = 100) {
        self.skipInvalid = skipInvalid
        self.maximumReportedErrors = maximumReportedErrors
    }
}

/// What an import did.
public struct ImportSummary: Codable, Sendable, Equatable {
    /// The file read, or `-` for standard input.
    public var source: String
    /// Event lines read (blank lines are not counted).
    public var lines: Int
    /// Events recorded by this import.
    public var new: Int
    /// Events skipped because their `id` was already recorded.
    public var duplicate: Int
    /// Lines refused (malformed, unknown agent, bad value).
    public var rejected: Int
    /// Of the new events, how many were usage and revenue.
    public var usageEvents: Int
    public var revenueEvents: Int
    /// Tokens and money the new events added.
    public var tokens: Int64
    public var cost: Money
    public var revenue: Money
    /// False when nothing was committed (invalid lines without `skipInvalid`).
    public var committed: Bool
    /// The first rejected lines, with their line numbers.
    public var errors: [LineError]
    /// True when the import took an agent to its token budget or a project to its cap.
    public var budgetExceeded = false
    /// The agents the import paused for that.
    public var pausedAgents: [AgentID] = []
    /// One line per budget reached, for people (not part of the JSON).
    public var budgetWarnings: [String] = []

    enum CodingKeys: String, CodingKey {
        case source, lines, new, duplicate, rejected, tokens, cost, revenue, committed, errors
        case usageEvents = "usage_events", revenueEvents = "revenue_events"
        case budgetExceeded = "budget_exceeded", pausedAgents = "paused_agents"
    }
}

extension Sandbox {
    /// Imports events in JSON Lines from a file descriptor, streaming: memory stays flat
    /// whatever the size of the input.
    ///
    /// Every line is an `AgentEvent` with an `agent_id`. By default it is all or nothing: one
    /// transaction, rolled back if any line is invalid (every line is still checked, so the
    /// summary lists all the problems at once). Events whose `id` is already recorded are
    /// skipped, so importing a file twice changes nothing. Agent totals are updated in the
    /// same transaction as the records.
    ///
    /// - Parameter progress: called after each chunk read with the bytes read so far.
    public func importEvents(
        fileDescriptor: Int32, source: String, options: ImportOptions = ImportOptions(),
        progress: (Int64) -> Void = { _ in }
    ) throws -> ImportSummary {
        guard !isEphemeral else {
            throw SandboxError.invalidState("there is no sandbox yet at \(paths.sandboxDatabase.path): create a project and deploy agents first")
        }
        try requireWritable()
        return try importLines(fileDescriptor: fileDescriptor, source: source, options: options, progress: progress)
    }

    /// The sandbox's budget rules after an import: each agent's token budget, then each
    /// project's cap against what the whole import added to it.
    func enforceBudgets(after effects: [String: EventEffect]) throws -> BudgetOutcome {
        var budgets = BudgetOutcome()
        var addedByProject: [String: EventEffect] = [:]
        for agent in effects.keys.sorted() {
            let effect = effects[agent] ?? EventEffect()
            budgets.merge(try enforceBudgets(agent: agent, added: effect.tokens, addedCost: 0))
            if let project = try db.scalarText("SELECT project_id FROM agents WHERE id = ?", [agent]) {
                try addedByProject[project, default: EventEffect()].add(EventEffect(cost: effect.cost))
            }
        }
        // A cap is crossed by what the whole import added to its project.
        for (project, added) in addedByProject.sorted(by: { $0.key < $1.key }) {
            budgets.merge(try enforceCap(project: project, addedCost: added.cost))
        }
        return budgets
    }

    func checkRecording(agent: String) throws {
        _ = try loadRecordingAgent(try AgentID(agent))
    }
}

/// Thrown inside an import's transaction to undo it when invalid lines are not skipped.
private struct ImportRollback: Error {}

extension EventLedger {
    /// `importEvents` for any ledger: the events' agents must pass `checkRecording`, and
    /// `enforceBudgets(after:)` applies the budget rules in the import's transaction.
    func importLines(
        fileDescriptor: Int32, source: String, options: ImportOptions, progress: (Int64) -> Void
    ) throws -> ImportSummary {
        var summary = ImportSummary(
            source: source, lines: 0, new: 0, duplicate: 0, rejected: 0, usageEvents: 0, revenueEvents: 0,
            tokens: 0, cost: .zero, revenue: .zero, committed: false, errors: []
        )
        let now = Timestamp.string(from: self.now())
        var prices = PriceLookup(try prices())
        // Agents seen so far: nil when it may record, else why not. Lines usually come grouped
        // by agent, so the last one is checked first, without hashing.
        var agents: [String: String?] = [:]
        var lastAgent: String?
        var effects: [String: EventEffect] = [:]
        var currentEffect = (agent: "", effect: EventEffect())
        var total = EventEffect()
        var deferredOverflow: SandboxError?

        func addEffect(_ agent: String, _ effect: EventEffect) throws(TotalOverflow) {
            if agent != currentEffect.agent {
                try flushEffect()
                currentEffect.agent = agent
            }
            try currentEffect.effect.add(effect)
        }

        func flushEffect() throws(TotalOverflow) {
            guard !currentEffect.agent.isEmpty else { return }
            try effects[currentEffect.agent, default: EventEffect()].add(currentEffect.effect)
            currentEffect = ("", EventEffect())
        }

        func checkAgent(_ text: String) throws {
            if text == lastAgent { return }
            if let known = agents[text] {
                if let problem = known { throw SandboxError.invalidInput(problem) }
                lastAgent = text
                return
            }
            let problem: String?
            do {
                try checkRecording(agent: text)
                problem = nil
            } catch let error as SandboxError {
                problem = error.description
            }
            agents[text] = problem
            if let problem { throw SandboxError.invalidInput(problem) }
            lastAgent = text
        }

        do {
            try mappingErrors {
                try importTransaction {
                    // A database that takes the records at once (PostgreSQL's COPY) counts
                    // what was new at the end; otherwise each insert says.
                    let bulk = try ledgerDatabase.bulkInsert(scratch: paths.scratchFile)
                    var accepted = 0
                    var reader = LineReader(fileDescriptor: fileDescriptor)
                    var lineNumber = 0
                    try reader.forEachLine(progress: progress) { line in
                        lineNumber += 1
                        guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { return }
                        summary.lines += 1
                        let insert = options.skipInvalid || summary.rejected == 0
                        do {
                            let event = try EventParser.parse(line)
                            guard let agent = event.agentID else { throw SandboxError.invalidInput("missing \"agent_id\"") }
                            try checkAgent(agent)
                            let checked = try CheckedEvent(event, now: now, prices: &prices)
                            guard insert else { return }
                            if let bulk {
                                // Counted as new; `finish` says if some were not.
                                switch checked {
                                case .usage(let usage): try bulk.addUsage(usage.columnValues(agent: agent))
                                case .revenue(let revenue): try bulk.addRevenue(revenue.columnValues(agent: agent))
                                }
                                accepted += 1
                            } else {
                                guard try self.insert(checked, agent: agent) else { summary.duplicate += 1; return }
                            }
                            let effect = checked.effect
                            if case .usage = checked { summary.usageEvents += 1 } else { summary.revenueEvents += 1 }
                            summary.new += 1
                            guard deferredOverflow == nil else { return }
                            do {
                                try addEffect(agent, effect)
                                try total.add(effect)
                            } catch let overflow where bulk != nil {
                                // Which records were new is known at the end: an overflow of
                                // these sums counts only if every one was.
                                deferredOverflow = SandboxError.invalidInput("\(overflow) at line \(summary.lines); nothing was imported")
                            }
                        } catch let error as SandboxError {
                            summary.rejected += 1
                            if summary.errors.count < options.maximumReportedErrors {
                                summary.errors.append(LineError(line: lineNumber, message: error.description))
                            }
                        }
                    }
                    if summary.rejected > 0 && !options.skipInvalid {
                        throw ImportRollback()
                    }
                    if let bulk, let counted = try bulk.finish() {
                        deferredOverflow = nil
                        // Some event IDs were recorded already: what the database added.
                        effects = [:]
                        currentEffect = ("", EventEffect())
                        total = EventEffect()
                        summary.usageEvents = 0
                        summary.revenueEvents = 0
                        for (agent, added) in counted {
                            let effect = EventEffect(tokens: added.tokens, cost: added.costMicros, revenue: added.revenueMicros)
                            try addEffect(agent, effect)
                            try total.add(effect)
                            summary.usageEvents += added.usageRecords
                            summary.revenueEvents += added.revenueRecords
                        }
                        summary.new = summary.usageEvents + summary.revenueEvents
                        summary.duplicate = accepted - summary.new
                    }
                    if let deferredOverflow { throw deferredOverflow }
                    try flushEffect()
                    summary.tokens = total.tokens
                    summary.cost = Money(micros: total.cost)
                    summary.revenue = Money(micros: total.revenue)
                    for (agent, effect) in effects {
                        try addToTotals(agent: agent, effect)
                    }
                    // Budgets bind in the same transaction as the records that reached them.
                    let budgets = try enforceBudgets(after: effects)
                    summary.budgetExceeded = budgets.budgetExceeded
                    summary.pausedAgents = budgets.pausedAgents
                    summary.budgetWarnings = budgets.warnings
                }
            }
            summary.committed = true
        } catch is ImportRollback {
            summary.new = 0
            summary.duplicate = 0
            summary.usageEvents = 0
            summary.revenueEvents = 0
            summary.tokens = 0
            summary.cost = .zero
            summary.revenue = .zero
        } catch let overflow as TotalOverflow {
            throw SandboxError.invalidInput("\(overflow) at line \(summary.lines); nothing was imported")
        }
        return summary
    }
}

/// Reads lines from a file descriptor in 1 MiB chunks, without keeping more than one chunk
/// and one partial line. A line longer than the event limit is cut there (and then refused
/// by the parser), so one huge line cannot grow memory either.
struct LineReader {
    let fileDescriptor: Int32
    static let chunkSize = 1 << 20

    mutating func forEachLine(progress: (Int64) -> Void, _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: Self.chunkSize)
        defer { buffer.deallocate() }
        var carry: [UInt8] = []
        var carryOverflowed = false
        var total: Int64 = 0
        let limit = EventParser.maximumLineBytes + 1

        func emit(_ line: UnsafeBufferPointer<UInt8>) throws {
            var line = line
            if let last = line.last, last == 0x0D { line = UnsafeBufferPointer(rebasing: line.dropLast()) }
            try body(line)
        }

        while true {
            let count = read(fileDescriptor, buffer.baseAddress, Self.chunkSize)
            if count < 0 {
                if errno == EINTR { continue }
                throw SandboxError.fileSystem(path: "input", message: "read failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            total += Int64(count)
            let chunk = UnsafeBufferPointer(rebasing: buffer[0..<count])
            var start = 0
            while let newline = chunk[start...].firstIndex(of: 0x0A) {
                if carry.isEmpty && !carryOverflowed {
                    try emit(UnsafeBufferPointer(rebasing: chunk[start..<newline]))
                } else {
                    if !carryOverflowed { carry.append(contentsOf: chunk[start..<min(newline, start + limit - carry.count)]) }
                    try carry.withUnsafeBufferPointer { try emit($0) }
                    carry.removeAll(keepingCapacity: true)
                    carryOverflowed = false
                }
                start = newline + 1
            }
            if start < count {
                let room = limit - carry.count
                if room > 0 {
                    carry.append(contentsOf: chunk[start..<min(count, start + room)])
                } else {
                    carryOverflowed = true
                }
                if carry.count >= limit { carryOverflowed = true }
            }
            progress(total)
        }
        if !carry.isEmpty || carryOverflowed {
            try carry.withUnsafeBufferPointer { try emit($0) }
        }
    }
}
