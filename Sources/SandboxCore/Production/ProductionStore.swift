#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A connection to `production.db` for the commands that change production after promotion
/// (its ledger, its guardrails, rollbacks and retirements): transactions, the agents by ID or
/// slot, the history, and the one rule for taking a live version out of service.
final class ProductionStore {
    let paths: SandboxPaths
    let registry: ProductionRegistry
    let db: any LedgerDatabase
    private let clock: () -> Date

    /// Opens the production registry, which must exist (promotion creates `production.db`).
    init(paths: SandboxPaths, registry: ProductionRegistry?, clock: @escaping () -> Date, busyTimeoutMilliseconds: Int32) throws {
        self.paths = paths
        self.clock = clock
        let registry = registry ?? .file(paths)
        self.registry = registry
        db = try registry.writable(busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        // Runs whose supervisor is gone are closed as `lost` by every command that writes here.
        ProductionLedger.closeRunsOfDeadSupervisors(in: db, now: now())
    }

    /// The current time, to whole seconds.
    func now() -> Date { wholeSeconds(clock()) }

    /// Runs `body` in one write transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL:
    /// serializable, run again after a conflict).
    func write<T>(maximumAttempts: Int = 8, _ body: () throws -> T) throws -> T {
        if db.isReadOnly {
            throw SandboxError.database(path: db.location, message: "the database is read-only; nothing was changed")
        }
        return try db.mappingErrors { try db.write(maximumAttempts: maximumAttempts, body) }
    }

    /// Runs `body` in one read transaction.
    func read<T>(_ body: () throws -> T) throws -> T {
        try db.mappingErrors { try db.read(body) }
    }

    func mappingErrors<T>(_ body: () throws -> T) throws -> T {
        try db.mappingErrors(body)
    }

    /// A production agent as the commands that change production need it.
    struct StoredAgent {
        var id: AgentID
        var name: String
        var slot: String?
        var state: ProductionState?
        var status: AgentStatus
        var tokenBudget: Int64
        var tokensUsed: Int64
        var liveSince: Date?
        var deployedAt: Date
    }

    private static let agentColumns = "id, name, slot, state, status, token_budget, tokens_used, live_since, deployed_at"

    private static func storedAgent(_ row: any LedgerRow) -> StoredAgent {
        StoredAgent(
            id: AgentID(unchecked: row.text(0)), name: row.text(1), slot: row.optionalText(2),
            state: row.optionalText(3).flatMap(ProductionState.init(rawValue:)), status: AgentStatus(rawValue: row.text(4)) ?? .killed,
            tokenBudget: row.int64(5), tokensUsed: row.int64(6), liveSince: Timestamp.date(from: row.optionalText(7)),
            deployedAt: Timestamp.date(from: row.text(8))
        )
    }

    func agent(_ id: String) throws -> StoredAgent? {
        try db.queryFirst("SELECT \(Self.agentColumns) FROM agents WHERE id = ?", [id], Self.storedAgent)
    }

    /// The live version of every slot, in the order they went live.
    func liveAgents() throws -> [StoredAgent] {
        try db.query("SELECT \(Self.agentColumns) FROM agents WHERE state = 'live' ORDER BY live_since, rowid", [], Self.storedAgent)
    }

    /// An agent named by its ID, or a slot's live version named by the slot.
    ///
    /// - Throws: `invalidInput` when nothing is named so; `invalidState` for an empty slot.
    func resolve(_ subject: String) throws -> StoredAgent {
        if let agent = try agent(subject) { return agent }
        if try db.scalarInt("SELECT count(*) FROM agents WHERE slot = ?", [subject]) > 0 {
            guard let live = try db.queryFirst("SELECT \(Self.agentColumns) FROM agents WHERE slot = ? AND state = 'live'", [subject], Self.storedAgent) else {
                throw SandboxError.invalidState("slot \(quoted(subject)) is empty: no version of it is live ('novaos production slot \(subject)' shows its versions)")
            }
            return live
        }
        throw SandboxError.notFound(kind: "production agent or slot named", id: subject, hint: "'novaos production list' shows them")
    }

    /// The live version of `slot`; nil for an empty slot, or no slot.
    func liveAgent(in slot: String?) throws -> AgentID? {
        guard let slot else { return nil }
        return try db.scalarText("SELECT id FROM agents WHERE slot = ? AND state = 'live'", [slot]).map(AgentID.init(unchecked:))
    }

    /// Refuses an agent that is not its slot's live version: only live agents run and record.
    func requireLive(_ agent: StoredAgent) throws {
        guard agent.state == .live else {
            guard let slot = agent.slot, let state = agent.state else {
                throw SandboxError.invalidState("agent \(agent.id) fills no slot; only a slot's live version records")
            }
            let live = try liveAgent(in: slot)
            throw SandboxError.invalidState(
                "agent \(agent.id) is \(state.rawValue) in slot \(quoted(slot)); only the live version records and runs (\(live.map { "live: \($0)" } ?? "the slot is empty"))"
            )
        }
        guard agent.status != .killed else {
            throw SandboxError.invalidState("agent \(agent.id) is killed; it can no longer record usage or revenue")
        }
    }

    /// Appends one row to the history, in the caller's transaction. `live` is the slot's live
    /// version after the change.
    @discardableResult
    func appendEvent(
        at: Date, kind: String, slot: String?, agent: AgentID?, previous: AgentID? = nil, live: AgentID?,
        actor: String, reason: String, details: [String: JSONValue] = [:]
    ) throws -> Int64 {
        var details = details
        if let user = Self.userName { details["user"] = .string(user) }
        let json = String(decoding: try JSONWriter(pretty: false).encode(JSONValue.object(details)), as: UTF8.self)
        try db.lockHistory()
        return try db.insertReturningID(
            """
            INSERT INTO production_events (at, kind, slot, agent_id, previous_agent_id, live_agent_id, actor, reason, details)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [Timestamp.string(from: at), kind, slot, agent?.rawValue, previous?.rawValue, live?.rawValue, actor, reason, json]
        )!
    }

    /// Who runs this process, for the history: the login name of the effective user.
    static let userName: String? = {
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
    }()

    /// Takes `agent` out of service as `state` (`rolled_back` or `retired`), in the caller's
    /// transaction. When it was live, `replacement` (nil: the slot's newest standby version)
    /// goes live in its place; with no standby the slot is left empty. Returns the slot's live
    /// version after. The unique index on live versions makes two live versions impossible,
    /// and the transaction makes a crash between the steps leave none of them.
    func takeOutOfService(
        _ agent: StoredAgent, as state: ProductionState, replacement: AgentID?, at: Date, step: (SlotChangeStep) throws -> Void
    ) throws -> AgentID? {
        guard let slot = agent.slot else { throw SandboxError.invalidState("agent \(agent.id) fills no slot") }
        try db.lockSlot(slot)
        try db.run("UPDATE agents SET state = ? WHERE id = ?", state.rawValue, agent.id.rawValue)
        try step(.outOfService)
        guard agent.state == .live else { return try liveAgent(in: slot) }
        // The slot has no live version now; `next` (when there is one) becomes it.
        let next = try replacement ?? previousVersion(in: slot)
        if let next {
            let changed = try db.run("UPDATE agents SET state = 'live', live_since = ? WHERE id = ? AND state = 'standby'", Timestamp.string(from: at), next.rawValue)
            guard changed == 1 else { throw SandboxError.invalidState("agent \(next) is not a standby version of slot \(quoted(slot))") }
        }
        try step(.replaced)
        return next
    }

    /// The standby version of a slot that was live most recently: the one a rollback
    /// restores (newest promoted first among those never live since promotion).
    func previousVersion(in slot: String) throws -> AgentID? {
        try db.scalarText(
            "SELECT id FROM agents WHERE slot = ? AND state = 'standby' ORDER BY live_since DESC NULLS LAST, rowid DESC LIMIT 1", [slot]
        ).map(AgentID.init(unchecked:))
    }
}

/// The points inside a rollback or retirement at which a test can stop the process
/// (`NOVAOS_TEST_CRASH_AT`), to prove that a crash leaves the slot as it was.
public enum SlotChangeStep: String, Sendable, CaseIterable {
    /// The version is out of service and nothing is live in its slot (not committed).
    case outOfService = "after_out_of_service"
    /// The standby version is live again (not committed).
    case replaced = "after_replacement"
    /// The history row is written (not committed).
    case recorded = "after_history"
}
