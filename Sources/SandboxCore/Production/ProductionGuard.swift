#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Watches production: guardrail policies, `production check` (which rolls back an agent at
/// its failure limit), and rollbacks and retirements by hand. Every change is one transaction
/// with its history row, so a crash at any point leaves production as before or as after.
public final class ProductionGuard {
    let store: ProductionStore

    public var paths: SandboxPaths { store.paths }

    /// Opens the production registry (nil: `production.db`, which a promotion must have created).
    public init(
        paths: SandboxPaths, registry: ProductionRegistry? = nil, clock: @escaping () -> Date = Date.init, busyTimeoutMilliseconds: Int32 = 10_000
    ) throws {
        store = try ProductionStore(paths: paths, registry: registry, clock: clock, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
    }

    // MARK: Policies

    /// The guardrails of an agent (or a slot's live version).
    public func guardrails(of subject: String) throws -> AgentGuardrails {
        try store.read {
            let agent = try store.resolve(subject)
            return AgentGuardrails(agentID: agent.id, slot: agent.slot, policy: try policy(of: agent.id), previous: nil, changes: [])
        }
    }

    /// Changes an agent's guardrails (`KEY=VALUE` pairs, applied in order); the history
    /// records what changed, by whom.
    public func setGuardrails(of subject: String, _ pairs: [String]) throws -> AgentGuardrails {
        guard !pairs.isEmpty else { throw SandboxError.invalidInput("name at least one guardrail to set, like min_roi=10") }
        return try store.write {
            try store.db.lockHistory()
            let at = store.now() // read under the write lock, so the history stays in order
            let agent = try store.resolve(subject)
            guard agent.slot != nil else { throw SandboxError.invalidState("agent \(agent.id) fills no slot, so it has no guardrails") }
            let previous = try policy(of: agent.id)
            var policy = previous
            try policy.apply(pairs)
            let changes = policy.changes(from: previous)
            if !changes.isEmpty {
                try store.db.run(
                    """
                    INSERT INTO guardrails (agent_id, min_roi, min_roi_vs_sandbox, min_events, window_seconds, bake_seconds, failure_limit)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                    ON CONFLICT (agent_id) DO UPDATE SET min_roi = ?2, min_roi_vs_sandbox = ?3, min_events = ?4, window_seconds = ?5,
                                                         bake_seconds = ?6, failure_limit = ?7
                    """,
                    agent.id.rawValue, policy.minROI, policy.minROIVsSandbox, policy.minEvents, policy.window, policy.bakeTime, policy.failureLimit
                )
                let live = try store.liveAgent(in: agent.slot)
                try store.appendEvent(
                    at: at, kind: "guardrail", slot: agent.slot, agent: agent.id, previous: live, live: live, actor: "production guardrail",
                    reason: changes.joined(separator: ", "),
                    details: ["previous": try JSONValue(encoding: previous), "policy": try JSONValue(encoding: policy)]
                )
            }
            return AgentGuardrails(agentID: agent.id, slot: agent.slot, policy: policy, previous: previous, changes: changes)
        }
    }

    func policy(of agent: AgentID) throws -> GuardrailPolicy {
        try store.db.queryFirst(
            "SELECT min_roi, min_roi_vs_sandbox, min_events, window_seconds, bake_seconds, failure_limit FROM guardrails WHERE agent_id = ?",
            [agent.rawValue]
        ) { row in
            var policy = GuardrailPolicy()
            policy.minROI = row.double(0)
            policy.minROIVsSandbox = row.double(1)
            policy.minEvents = row.int64(2)
            policy.window = row.int64(3)
            policy.bakeTime = row.int64(4)
            policy.failureLimit = row.int64(5)
            return policy
        } ?? GuardrailPolicy()
    }

    // MARK: Checks

    /// Judges every live agent against its guardrails, stores each check, and rolls back an
    /// agent whose failed checks in a row reach its failure limit (its slot's newest standby
    /// version goes live again, or the slot is left empty). All in one transaction.
    ///
    /// - Parameters:
    ///   - dryRun: judge and report what would happen; store and change nothing.
    ///   - step: called inside a rollback (tests stop the process there).
    public func check(dryRun: Bool = false, step: (SlotChangeStep) throws -> Void = { _ in }) throws -> CheckReport {
        func body() throws -> CheckReport {
            // Read under the lock: a check that waited for another sees its changes and comes after them.
            if !dryRun { try self.store.db.lockHistory() }
            let at = self.store.now()
            var report = CheckReport(checkedAt: at, dryRun: dryRun, checks: [])
            for agent in try self.store.liveAgents() {
                var check = try self.judge(agent, at: at)
                if dryRun {
                    if check.action == .rolledBack { check.action = .wouldRollBack }
                } else {
                    if check.action == .rolledBack {
                        check.liveAfter = try self.store.takeOutOfService(agent, as: .rolledBack, replacement: nil, at: at, step: step)
                    }
                    check.checkID = try self.store(check)
                    if check.action == .rolledBack {
                        try self.store.appendEvent(
                            at: at, kind: "rollback", slot: agent.slot, agent: agent.id, previous: agent.id, live: check.liveAfter,
                            actor: "production check", reason: check.reason,
                            details: ["check_id": .integer(check.checkID ?? 0), "measured": try JSONValue(encoding: check.measured)]
                        )
                        try step(.recorded)
                    }
                }
                report.checks.append(check)
            }
            return report
        }
        return try dryRun ? store.read(body) : store.write(body)
    }

    /// One agent's verdict now.
    private func judge(_ agent: ProductionStore.StoredAgent, at: Date) throws -> GuardrailCheck {
        let policy = try policy(of: agent.id)
        let liveSince = agent.liveSince ?? agent.deployedAt
        // The window, but only the time since the agent last went live: a version live again
        // is not judged on its earlier period.
        let from = max(at.addingTimeInterval(-TimeInterval(policy.window)), liveSince)
        let measured = try store.figures(agent: agent.id, from: from, to: at)
        let sandbox = try store.sandboxFigures(agent: agent.id)
        let secondsLive = Int64(at.timeIntervalSince(liveSince))

        // ROI ≥ threshold, compared exactly: (revenue − cost) × 100 ≥ threshold × cost (with no
        // cost, anything passes).
        func meets(_ threshold: Double) -> Bool {
            ExactROI.atLeast(revenue: measured.revenue.micros, cost: measured.cost.micros, percent: threshold)
        }
        var criteria = [
            GuardrailCriterion(name: "bake_time", value: Double(secondsLive), threshold: Double(policy.bakeTime), pass: secondsLive >= policy.bakeTime),
            GuardrailCriterion(
                name: "min_events", value: Double(measured.usageEvents), threshold: Double(policy.minEvents), pass: measured.usageEvents >= policy.minEvents
            ),
            GuardrailCriterion(name: "min_roi", value: measured.roi, threshold: policy.minROI, pass: meets(policy.minROI)),
        ]
        var required: Double?
        var meetsSandbox = true
        if let sandbox, sandbox.cost.micros > 0, sandbox.revenue > sandbox.cost {
            required = sandbox.roi * policy.minROIVsSandbox / 100
            meetsSandbox = ExactROI.atLeast(
                revenue: measured.revenue.micros, cost: measured.cost.micros, share: policy.minROIVsSandbox,
                ofRevenue: sandbox.revenue.micros, cost: sandbox.cost.micros
            )
            criteria.append(GuardrailCriterion(
                name: "min_roi_vs_sandbox", value: measured.roi, threshold: ((required! * 10_000).rounded() / 10_000), pass: meetsSandbox
            ))
        }

        var check = GuardrailCheck(
            agentID: agent.id, slot: agent.slot ?? "", verdict: .pass, reason: "", liveSince: liveSince, windowStart: from, windowEnd: at,
            measured: measured, sandbox: sandbox, criteria: criteria, policy: policy, consecutiveFailures: 0, action: .none
        )
        let roiText = GuardrailPolicy.format(measured.roi) + "%"
        let previousFailures = try store.db.scalarInt(
            "SELECT consecutive_failures FROM guardrail_checks WHERE agent_id = ? AND checked_at >= ? ORDER BY id DESC LIMIT 1",
            [agent.id.rawValue, Timestamp.string(from: liveSince)]
        )
        if secondsLive < policy.bakeTime {
            check.verdict = .inconclusive
            check.reason = "baking: live for \(GuardrailPolicy.duration(max(0, secondsLive))) of bake_time \(GuardrailPolicy.duration(policy.bakeTime))"
        } else if measured.usageEvents < policy.minEvents {
            check.verdict = .inconclusive
            check.reason = "\(measured.usageEvents) usage event(s) in the last \(GuardrailPolicy.duration(policy.window)), fewer than min_events \(policy.minEvents)"
        } else {
            var failures: [String] = []
            if !meets(policy.minROI) { failures.append("ROI \(roiText) is under min_roi \(GuardrailPolicy.format(policy.minROI))%") }
            if let required, !meetsSandbox {
                failures.append("ROI \(roiText) is under min_roi_vs_sandbox \(GuardrailPolicy.format(policy.minROIVsSandbox))% of the sandbox ROI (\(GuardrailPolicy.format((required * 100).rounded() / 100))%)")
            }
            if failures.isEmpty {
                check.reason = "ROI \(roiText) over \(measured.usageEvents) usage events meets every guardrail"
            } else {
                check.verdict = .fail
                check.consecutiveFailures = previousFailures + 1
                check.reason = failures.joined(separator: "; ") + "; failed check \(check.consecutiveFailures) of \(policy.failureLimit) in a row"
                if check.consecutiveFailures >= policy.failureLimit {
                    check.action = .rolledBack
                }
            }
        }
        return check
    }

    /// Stores a check; returns its ID.
    private func store(_ check: GuardrailCheck) throws -> Int64 {
        let measurements = String(decoding: try JSONWriter(pretty: false).encode(check), as: UTF8.self)
        return try store.db.insertReturningID(
            """
            INSERT INTO guardrail_checks (agent_id, slot, checked_at, verdict, reason, consecutive_failures, action, measurements)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [check.agentID.rawValue, check.slot, Timestamp.string(from: check.windowEnd), check.verdict.rawValue, check.reason,
             check.consecutiveFailures, check.action == .rolledBack ? "rolled_back" : "none", measurements]
        )!
    }

    /// The stored checks of an agent (or a slot's live version), newest first.
    public func checks(of subject: String, limit: Int = 20) throws -> [GuardrailCheck] {
        try store.read {
            let agent = try store.resolve(subject)
            return try store.db.query(
                "SELECT id, measurements FROM guardrail_checks WHERE agent_id = ? ORDER BY id DESC LIMIT ?", [agent.id.rawValue, Int64(limit)]
            ) { row in
                var check = try SandboxJSON.decoder().decode(GuardrailCheck.self, from: Data(row.text(1).utf8))
                check.checkID = row.int64(0)
                return check
            }
        }
    }

    // MARK: Changes by hand

    /// What `rollback` or `retire` would change, changing nothing.
    public func preview(_ kind: SlotChange.Kind, _ subject: String, to replacement: String? = nil) throws -> SlotChange {
        try store.read { try plan(kind, subject, to: replacement.map(AgentID.init(unchecked:)), at: store.now()) }
    }

    /// Rolls back a live version (named by its ID or its slot): it becomes `rolled_back` and
    /// `to` (default: the slot's newest standby version) goes live, or the slot is left empty.
    /// An agent already rolled back is left as it is (`changed` false), so a re-run after a
    /// crash changes nothing twice.
    ///
    /// - Parameter expected: the `preview` a person confirmed (or that needed no confirmation).
    ///   When the slot has changed since, so that the change would now leave a different
    ///   version live than the preview said, nothing is done (`invalidState`).
    public func rollback(
        _ subject: String, to replacement: String? = nil, reason: String? = nil, expected: SlotChange? = nil,
        step: (SlotChangeStep) throws -> Void = { _ in }
    ) throws -> SlotChange {
        try change(.rollback, subject, to: replacement.map(AgentID.init(unchecked:)), reason: reason, expected: expected, step: step)
    }

    /// Takes a version out of service for good (`retired`). Retiring the live version puts
    /// the slot's newest standby version live, as a rollback does. `expected` as for `rollback`.
    public func retire(
        _ agent: String, reason: String? = nil, expected: SlotChange? = nil, step: (SlotChangeStep) throws -> Void = { _ in }
    ) throws -> SlotChange {
        try change(.retire, agent, to: nil, reason: reason, expected: expected, step: step)
    }

    private func change(
        _ kind: SlotChange.Kind, _ subject: String, to replacement: AgentID?, reason: String?, expected: SlotChange?,
        step: (SlotChangeStep) throws -> Void
    ) throws -> SlotChange {
        if let reason { try Self.validateReason(reason) }
        return try store.write {
            try store.db.lockHistory()
            let at = store.now() // read under the write lock, so the history stays in order
            var change = try plan(kind, subject, to: replacement, at: at)
            guard change.changed else { return change }
            if let expected, change.liveBefore != expected.liveBefore || change.liveAfter != expected.liveAfter {
                let now = change.liveAfter.map { "\($0) would go live" } ?? "the slot would be left empty"
                throw SandboxError.invalidState(
                    "slot \(quoted(change.slot)) changed since it was looked at (\(change.liveBefore.map(\.rawValue) ?? "nothing") is live now, and \(now)); nothing was changed: look again"
                )
            }
            let agent = try store.agent(change.agentID.rawValue)!
            change.liveAfter = try store.takeOutOfService(agent, as: change.state, replacement: change.liveAfter, at: at, step: step)
            change.reason = reason ?? (kind == .rollback ? "rolled back by hand" : "retired by hand")
            change.eventID = try store.appendEvent(
                at: at, kind: kind.rawValue, slot: change.slot, agent: agent.id, previous: change.liveBefore, live: change.liveAfter,
                actor: "production \(kind.rawValue)", reason: change.reason, details: ["previous_state": .string(change.previousState.rawValue)]
            )
            try step(.recorded)
            return change
        }
    }

    /// A `--reason`: 1 to 2,000 characters, no NUL.
    public static func validateReason(_ reason: String) throws {
        try validateText(reason, field: "--reason", maximumLength: 2_000)
    }

    /// Works out a rollback or retirement: the agent, its state after, and the live version after.
    private func plan(_ kind: SlotChange.Kind, _ subject: String, to replacement: AgentID?, at: Date) throws -> SlotChange {
        let agent: ProductionStore.StoredAgent
        switch kind {
        case .rollback:
            agent = try store.resolve(subject)
        case .retire:
            guard let found = try store.agent(subject) else {
                throw SandboxError.notFound(kind: "production agent", id: subject, hint: "retire names a version by its ID ('novaos production slot NAME' lists them)")
            }
            agent = found
        }
        guard let slot = agent.slot, let state = agent.state else {
            throw SandboxError.invalidState("agent \(agent.id) fills no slot; there is nothing to \(kind == .rollback ? "roll back" : "retire")")
        }
        let live = try store.liveAgent(in: slot)
        let newState: ProductionState = kind == .rollback ? .rolledBack : .retired
        var change = SlotChange(
            kind: kind, slot: slot, agentID: agent.id, previousState: state, state: newState, liveBefore: live, liveAfter: live,
            changed: false, at: at, reason: ""
        )
        switch (kind, state) {
        case (.rollback, .rolledBack), (.retire, .retired):
            guard replacement == nil else {
                throw SandboxError.invalidState("agent \(agent.id) is already \(state.rawValue); roll back the live version\(live.map { " (\($0))" } ?? "") instead")
            }
            change.reason = "already \(state.rawValue); nothing changed"
            return change
        case (.rollback, .live), (.retire, _):
            break
        case (.rollback, _):
            throw SandboxError.invalidState(
                "agent \(agent.id) is \(state.rawValue), not live; only the live version of slot \(quoted(slot)) can be rolled back\(live.map { " (\($0))" } ?? "")"
            )
        }
        if state == .live {
            if let replacement {
                let target = try store.agent(replacement.rawValue)
                guard let target, target.slot == slot, target.state == .standby else {
                    throw SandboxError.invalidState(
                        "--to \(replacement) is not a standby version of slot \(quoted(slot)) ('novaos production slot \(slot)' lists its versions)"
                    )
                }
                change.liveAfter = replacement
            } else {
                change.liveAfter = try store.previousVersion(in: slot)
            }
        } else if replacement != nil {
            throw SandboxError.invalidInput("--to only applies when the live version is rolled back")
        }
        change.changed = true
        return change
    }
}

/// An agent's guardrails, and what `production guardrail` changed.
public struct AgentGuardrails: Codable, Sendable, Equatable {
    public var agentID: AgentID
    @NullEncoded public var slot: String?
    public var policy: GuardrailPolicy
    /// Before the change (null when only shown).
    @NullEncoded public var previous: GuardrailPolicy?
    /// `key old → new`, one per change.
    public var changes: [String]

    enum CodingKeys: String, CodingKey {
        case agentID = "agent_id", slot, policy, previous, changes
    }
}

public enum GuardrailVerdict: String, Codable, Sendable {
    case pass, fail, inconclusive
}

/// One measured value against its threshold. `bake_time` and `min_events` not met make a
/// check `inconclusive`; `min_roi` or `min_roi_vs_sandbox` not met make it `fail`.
public struct GuardrailCriterion: Codable, Sendable, Equatable {
    public var name: String
    public var value: Double
    public var threshold: Double
    public var pass: Bool
}

/// One agent's check.
public struct GuardrailCheck: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable {
        case none
        case rolledBack = "rolled_back"
        case wouldRollBack = "would_roll_back"
    }

    public var agentID: AgentID
    public var slot: String
    public var verdict: GuardrailVerdict
    public var reason: String
    public var liveSince: Date
    public var windowStart: Date
    public var windowEnd: Date
    /// The agent's records in the window.
    public var measured: LedgerFigures
    /// Its sandbox period (null when unknown).
    @NullEncoded public var sandbox: LedgerFigures?
    public var criteria: [GuardrailCriterion]
    public var policy: GuardrailPolicy
    /// Failed checks in a row since the agent went live, this one included; a `pass` or an
    /// `inconclusive` check ends the row (0).
    public var consecutiveFailures: Int64
    public var action: Action
    /// The slot's live version after a rollback (null: the slot is empty).
    @NullEncoded public var liveAfter: AgentID?
    /// The stored check's ID (null for `--dry-run`).
    @NullEncoded public var checkID: Int64?

    enum CodingKeys: String, CodingKey {
        case agentID = "agent_id", slot, verdict, reason, measured, sandbox, criteria, policy, action
        case liveSince = "live_since", windowStart = "window_start", windowEnd = "window_end"
        case consecutiveFailures = "consecutive_failures", liveAfter = "live_after", checkID = "check_id"
    }
}

/// What `production check` found and did.
public struct CheckReport: Codable, Sendable, Equatable {
    public var checkedAt: Date
    public var dryRun: Bool
    public var checks: [GuardrailCheck]

    public var passed: Int { checks.count { $0.verdict == .pass } }
    public var failed: Int { checks.count { $0.verdict == .fail } }
    public var inconclusive: Int { checks.count { $0.verdict == .inconclusive } }
    /// A check of a production that has no database yet: nothing to judge.
    public static func empty(at date: Date, dryRun: Bool) -> CheckReport {
        CheckReport(checkedAt: wholeSeconds(date), dryRun: dryRun, checks: [])
    }

    /// The agents rolled back.
    public var rolledBack: [AgentID] { checks.filter { $0.action == .rolledBack }.map(\.agentID) }
    /// With `--dry-run`, the agents that would have been rolled back.
    public var wouldRollBack: [AgentID] { checks.filter { $0.action == .wouldRollBack }.map(\.agentID) }

    enum CodingKeys: String, CodingKey {
        case checkedAt = "checked_at", dryRun = "dry_run", checks, passed, failed, inconclusive, rolledBack = "rolled_back"
        case wouldRollBack = "would_roll_back"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(checkedAt, forKey: .checkedAt)
        try container.encode(dryRun, forKey: .dryRun)
        try container.encode(checks, forKey: .checks)
        try container.encode(passed, forKey: .passed)
        try container.encode(failed, forKey: .failed)
        try container.encode(inconclusive, forKey: .inconclusive)
        try container.encode(rolledBack, forKey: .rolledBack)
        try container.encode(wouldRollBack, forKey: .wouldRollBack)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        checkedAt = try container.decode(Date.self, forKey: .checkedAt)
        dryRun = try container.decode(Bool.self, forKey: .dryRun)
        checks = try container.decode([GuardrailCheck].self, forKey: .checks)
    }

    init(checkedAt: Date, dryRun: Bool, checks: [GuardrailCheck]) {
        self.checkedAt = checkedAt
        self.dryRun = dryRun
        self.checks = checks
    }
}

/// What `production rollback` or `production retire` changed.
public struct SlotChange: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case rollback, retire
    }

    public var kind: Kind
    public var slot: String
    public var agentID: AgentID
    public var previousState: ProductionState
    public var state: ProductionState
    /// The slot's live version before and after (null: empty).
    @NullEncoded public var liveBefore: AgentID?
    @NullEncoded public var liveAfter: AgentID?

    /// Whether the change puts another version live (or empties the slot): what a person
    /// confirms before a rollback or a retirement.
    public var changesLiveVersion: Bool { liveBefore != liveAfter }
    /// False when the agent was already in that state (nothing changed).
    public var changed: Bool
    public var at: Date
    public var reason: String
    /// The history row written (null when nothing changed, or for a preview).
    @NullEncoded public var eventID: Int64?

    enum CodingKeys: String, CodingKey {
        case kind, slot, state, changed, at, reason
        case agentID = "agent_id", previousState = "previous_state", liveBefore = "live_before", liveAfter = "live_after", eventID = "event_id"
    }
}

/// ROI thresholds judged exactly, on the integer micro-dollars: a threshold of at most four
/// decimals (as `GuardrailPolicy` takes them) is scaled to an integer, and the products are
/// formed in 128 bits, so "at least" holds at the boundary.
enum ExactROI {
    /// A percentage with at most four decimals, times 10,000.
    private static func scaled(_ percent: Double) -> Int128 { Int128((percent * 10_000).rounded()) }

    /// (revenue − cost) / cost × 100 ≥ `percent`; true when there is no cost.
    static func atLeast(revenue: Int64, cost: Int64, percent: Double) -> Bool {
        guard cost > 0 else { return true }
        // (revenue − cost) × 100 × 10⁴ ≥ percent × 10⁴ × cost
        return (Int128(revenue) - Int128(cost)) * 1_000_000 >= scaled(percent) * Int128(cost)
    }

    /// The ROI of (`revenue`, `cost`) is at least `share` percent of the ROI of
    /// (`sandboxRevenue`, `sandboxCost`); true when there is no cost.
    static func atLeast(revenue: Int64, cost: Int64, share: Double, ofRevenue sandboxRevenue: Int64, cost sandboxCost: Int64) -> Bool {
        guard cost > 0 else { return true }
        guard sandboxCost > 0 else { return false }
        // (r − c)/c × 100 ≥ share/100 × (R − C)/C × 100  ⇔  (r − c) × C × 100 × 10⁴ ≥ share × 10⁴ × (R − C) × c
        let left = (Int128(revenue) - Int128(cost)).multipliedReportingOverflow(by: Int128(sandboxCost) * 1_000_000)
        let right = (scaled(share) * (Int128(sandboxRevenue) - Int128(sandboxCost))).multipliedReportingOverflow(by: Int128(cost))
        if !left.overflow, !right.overflow { return left.partialValue >= right.partialValue }
        // Amounts beyond any real ledger: compare the ratios in floating point.
        let production = (Double(revenue) - Double(cost)) / Double(cost)
        let sandbox = (Double(sandboxRevenue) - Double(sandboxCost)) / Double(sandboxCost)
        return production * 100 >= share * sandbox
    }
}
