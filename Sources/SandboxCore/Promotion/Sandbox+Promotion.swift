#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB

extension Sandbox {
    /// Promotes a project: copies the agents that earned it to production, with new IDs,
    /// their configuration and their normal token budget, and marks the project `promoted`.
    ///
    /// `sandbox.db` and `production.db` are separate files, and SQLite does not commit a
    /// transaction atomically across two WAL databases (SQLite docs, lang_attach). So the
    /// promotion runs in steps, each its own transaction, and is safe to re-run after a crash
    /// at any point:
    /// 0. check (read only): refuse a promoted or killed project, or `NOT_READY` without
    ///    `force`, before any file is opened for writing;
    /// 1. lock production (`BEGIN IMMEDIATE`): a read-only or locked `production.db` refuses
    ///    here, and the sandbox is unchanged;
    /// 2. plan (sandbox): evaluate, choose agents, fix their production IDs, state `pending`;
    /// 3. copy (production, in the transaction of step 1): insert each planned agent unless
    ///    its ID is already there, then commit;
    /// 4. complete (sandbox): state `complete`, project `promoted`.
    /// A later call finds a pending plan and resumes at step 3; fixed IDs and a unique
    /// `promoted_from_agent_id` keep every agent in production exactly once. Two promotions
    /// of one project at once serialize on production's lock; the second one reports that
    /// the project is already promoted.
    ///
    /// - Parameters:
    ///   - force: promote even when the evaluation says `NOT_READY`.
    ///   - registry: where production lives; nil: `production.db` (created when missing).
    ///   - target: where the plan is copied, over the registry's own (tests stop it halfway).
    ///   - hook: called at each `PromotionStep`; tests throw or kill the process there to
    ///     prove that a later call completes the promotion.
    /// - Throws: `SandboxError.promotionRefused` for `NOT_READY` without `force`;
    ///   `SandboxError.invalidState` for a project already promoted or killed.
    public func promote(
        _ id: ProjectID, force: Bool = false, slotMap: [AgentID: String] = [:], guardrails: [String] = [],
        registry: ProductionRegistry? = nil, target: (any PromotionTarget)? = nil, hook: (PromotionStep) throws -> Void = { _ in }
    ) throws -> PromotionResult {
        var policy = GuardrailPolicy()
        try policy.apply(guardrails)
        switch try read({ try promotionState(id) }) {
        case nil: _ = try promotionPreview(id, force: force, slotMap: slotMap)
        case "complete"?: throw SandboxError.invalidState("project \(id) is already promoted")
        default: // pending: resume
            try read {
                try checkSlotMapMatchesPlan(id, slotMap)
                try checkGuardrailsMatchPlan(id, guardrails)
            }
        }
        let plannedGuardrails = String(decoding: try JSONWriter(pretty: false).encode(guardrails), as: UTF8.self)

        try requireWritable()
        let target = try target ?? (registry ?? .file(paths)).promotionTarget(busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        try target.lock()
        defer { target.abandon() }

        try write {
            if let state = try promotionState(id) {
                // Another promotion planned (or finished) it while this one waited for the lock.
                if state == "complete" { throw SandboxError.invalidState("project \(id) is already promoted") }
                return
            }
            let project = try loadProject(id)
            try checkPromotable(project)
            let (evaluation, evaluationRowID) = try evaluateAndStoreWithID(id)
            try checkRecommendation(evaluation, force: force)
            try db.run(
                "INSERT INTO promotions (project_id, state, evaluation_id, forced, started_at, guardrails) VALUES (?, 'pending', ?, ?, ?, ?)",
                id.rawValue, evaluationRowID, force, Timestamp.string(from: evaluation.evaluatedAt), plannedGuardrails
            )
            let agents = try loadAgents(project: id)
            let migrating = agents.filter { PromotionRules.skipReason(for: $0) == nil }
            let slots = try chooseSlots(migrating, slotMap: slotMap, project: id)
            for agent in agents {
                let reason = PromotionRules.skipReason(for: agent)
                try db.run(
                    """
                    INSERT INTO promotion_agents (sandbox_agent_id, project_id, decision, production_agent_id, reason, roi, slot)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                    agent.id.rawValue, id.rawValue, reason == nil ? "migrate" : "skip",
                    reason == nil ? AgentID.randomProduction().rawValue : nil, reason ?? "", agent.roi, slots[agent.id]
                )
            }
        }
        try hook(.planned)

        let plan = try loadPlan(id)
        // The history says when the change happened: now, in the target's transaction.
        try target.copy(plan, at: now(), hook: hook)
        try target.commit()
        try hook(.copied)

        try write {
            guard try promotionState(id) == "pending" else {
                throw SandboxError.invalidState("project \(id) is already promoted")
            }
            let startedAt = try db.scalarText("SELECT started_at FROM promotions WHERE project_id = ?", [id.rawValue])
            let completedAt = Timestamp.string(from: now())
            try db.run("UPDATE promotions SET state = 'complete', completed_at = ? WHERE project_id = ?", completedAt, id.rawValue)
            try db.run("UPDATE projects SET status = 'promoted', promoted_at = ? WHERE id = ?", startedAt ?? completedAt, id.rawValue)
        }
        try hook(.completed)
        return try read { try loadPlanResult(id, status: .promoted) }
    }

    /// What `promote` would do, changing nothing: the same checks and the same choice of
    /// agents (production IDs are shown as they will be only once planned).
    public func promotionPreview(_ id: ProjectID, force: Bool = false, slotMap: [AgentID: String] = [:]) throws -> PromotionResult {
        try read {
            if try promotionState(id) == "pending" {
                try checkSlotMapMatchesPlan(id, slotMap)
                return try loadPlanResult(id, status: .dryRun)
            }
            let project = try loadProject(id)
            try checkPromotable(project)
            let evaluation = try computeEvaluation(id)
            try checkRecommendation(evaluation, force: force)
            let agents = try loadAgents(project: id)
            let slots = try chooseSlots(agents.filter { PromotionRules.skipReason(for: $0) == nil }, slotMap: slotMap, project: id)
            var migrated: [MigratedAgent] = []
            var skipped: [SkippedAgent] = []
            for agent in agents {
                if let reason = PromotionRules.skipReason(for: agent) {
                    skipped.append(SkippedAgent(sandboxID: agent.id, reason: reason))
                } else {
                    migrated.append(MigratedAgent(
                        sandboxID: agent.id, productionID: AgentID.randomProduction(), name: agent.name, type: agent.type, roi: agent.roi,
                        slot: slots[agent.id] ?? agent.name
                    ))
                }
            }
            return PromotionResult(
                status: .dryRun, projectID: id, agentsMigrated: migrated.count, migratedAgents: migrated,
                skippedAgents: skipped, evaluation: evaluation
            )
        }
    }

    /// The slot of each agent that goes: `slotMap`'s choice or its name (`PromotionRules.slots`).
    /// A choice for an agent that does not go, or an unreadable slot name, is refused.
    private func chooseSlots(_ migrating: [Agent], slotMap: [AgentID: String], project: ProjectID) throws -> [AgentID: String] {
        let going = Set(migrating.map(\.id))
        for (agent, slot) in slotMap.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            guard going.contains(agent) else {
                throw SandboxError.invalidInput("--slot-map names agent \(agent), which is not promoted with project \(project) (not in it, or it stays behind)")
            }
            try PromotionRules.validateSlot(slot)
        }
        let slots = try PromotionRules.slots(for: migrating.map { ($0.id, $0.name) }, chosen: slotMap)
        // A slot taken from an agent's name must be a usable slot name too.
        for (agent, slot) in zip(migrating, slots) where slotMap[agent.id] == nil {
            do { try PromotionRules.validateSlot(slot) } catch {
                throw SandboxError.invalidInput(
                    "agent \(agent.id)'s name cannot be its production slot (\(error)); give it one with --slot-map \(agent.id)=SLOT"
                )
            }
        }
        return Dictionary(uniqueKeysWithValues: zip(migrating.map(\.id), slots))
    }

    /// A pending plan keeps the slots it was made with: a re-run that asks for others is refused.
    private func checkSlotMapMatchesPlan(_ id: ProjectID, _ slotMap: [AgentID: String]) throws {
        guard !slotMap.isEmpty else { return }
        for (agent, slot) in slotMap {
            let planned = try db.scalarText("SELECT slot FROM promotion_agents WHERE project_id = ? AND sandbox_agent_id = ?", [id.rawValue, agent.rawValue])
            guard planned == slot else {
                throw SandboxError.invalidState(
                    "the promotion of \(id) was planned with other slots and is pending; finish it without --slot-map (or with the same map)"
                )
            }
        }
    }

    private func checkGuardrailsMatchPlan(_ id: ProjectID, _ guardrails: [String]) throws {
        guard !guardrails.isEmpty else { return }
        let planned = try db.scalarText("SELECT guardrails FROM promotions WHERE project_id = ?", [id.rawValue])
        guard planned == String(decoding: try JSONWriter(pretty: false).encode(guardrails), as: UTF8.self) else {
            throw SandboxError.invalidState(
                "the promotion of \(id) was planned with other guardrails and is pending; finish it without --guardrail (or with the same ones)"
            )
        }
    }

    private func checkPromotable(_ project: Project) throws {
        switch project.status {
        case .active: return
        case .promoted: throw SandboxError.invalidState("project \(project.id) is already promoted")
        case .killed: throw SandboxError.invalidState("project \(project.id) is killed and cannot be promoted")
        }
    }

    private func checkRecommendation(_ evaluation: Evaluation, force: Bool) throws {
        if evaluation.recommendation == .notReady && !force {
            throw SandboxError.promotionRefused(
                "project \(evaluation.projectID) is NOT_READY (\(evaluation.reason)); pass --force to promote anyway"
            )
        }
    }

    /// The promotion's state, `pending` or `complete`, or nil when none was planned.
    func promotionState(_ id: ProjectID) throws -> String? {
        try db.scalarText("SELECT state FROM promotions WHERE project_id = ?", [id.rawValue])
    }

    func pendingPromotionExists(_ id: ProjectID) throws -> Bool {
        try promotionState(id) == "pending"
    }

    /// Step 3's input: the plan as production receives it, read back from the sandbox.
    private func loadPlan(_ id: ProjectID) throws -> PromotionPlan {
        try read {
            let rows = try db.query(
                """
                SELECT pa.sandbox_agent_id, pa.production_agent_id, a.type, a.name, a.normal_token_budget, a.config, pa.slot,
                       a.tokens_used, a.cost_micros, a.revenue_micros,
                       (SELECT count(*) FROM api_costs WHERE agent_id = a.id), (SELECT count(*) FROM revenue WHERE agent_id = a.id)
                FROM promotion_agents AS pa JOIN agents AS a ON a.id = pa.sandbox_agent_id
                WHERE pa.project_id = ? AND pa.decision = 'migrate'
                ORDER BY a.deployed_at, a.rowid
                """,
                [id.rawValue]
            ) { row in
                (PromotionPlan.Agent(
                    sandboxID: AgentID(unchecked: row.text(0)), productionID: AgentID(unchecked: row.text(1)), type: row.text(2), name: row.text(3),
                    normalBudget: row.int64(4), config: row.text(5), slot: "", tokens: row.int64(7), cost: row.int64(8), revenue: row.int64(9),
                    usageEvents: row.int64(10), revenueEvents: row.int64(11)
                ), row.optionalText(6))
            }
            var policy = GuardrailPolicy()
            let pairs = try db.scalarText("SELECT guardrails FROM promotions WHERE project_id = ?", [id.rawValue]) ?? "[]"
            if case .array(let values) = JSONValue.decodeStored(pairs) {
                try policy.apply(values.compactMap { if case .string(let pair) = $0 { pair } else { nil } })
            }
            // What was learned travels with the agents: the evaluation the plan was made on,
            // and the project's completed experiments.
            let evaluation = try db.queryFirst("SELECT evaluation_id FROM promotions WHERE project_id = ?", [id.rawValue]) { $0.int64(0) }
                .flatMap { try loadEvaluation(rowID: $0) }
            let experiments = try loadExperiments(project: id).filter { $0.completedAt != nil }
            let learnings = try JSONWriter(pretty: false).encode(PromotionLearnings(evaluation: evaluation, experiments: experiments))
            // The slots the plan fixed (plans from before slots were planned: the agents' names).
            let slots = try PromotionRules.slots(
                for: rows.map { ($0.0.sandboxID, $0.0.name) },
                chosen: Dictionary(uniqueKeysWithValues: rows.compactMap { agent, slot in slot.map { (agent.sandboxID, $0) } })
            )
            return PromotionPlan(
                projectID: id,
                agents: rows.enumerated().map { index, row in var agent = row.0; agent.slot = slots[index]; return agent },
                startedAt: try db.scalarText("SELECT started_at FROM promotions WHERE project_id = ?", [id.rawValue]) ?? Timestamp.string(from: now()),
                policy: policy, learnings: String(decoding: learnings, as: UTF8.self), user: ProductionStore.userName
            )
        }
    }

    /// Rebuilds a promotion's result from its stored plan and evaluation.
    private func loadPlanResult(_ id: ProjectID, status: PromotionResult.Status) throws -> PromotionResult {
        guard let evaluationID = try db.queryFirst("SELECT evaluation_id FROM promotions WHERE project_id = ?", [id.rawValue], { $0.int64(0) }),
              let evaluation = try loadEvaluation(rowID: evaluationID)
        else {
            throw SandboxError.notFound(kind: "promotion of project", id: id.rawValue)
        }
        var migrated: [MigratedAgent] = []
        var skipped: [SkippedAgent] = []
        _ = try db.query(
            """
            SELECT pa.sandbox_agent_id, pa.decision, pa.production_agent_id, pa.reason, pa.roi, a.name, a.type, pa.slot
            FROM promotion_agents AS pa JOIN agents AS a ON a.id = pa.sandbox_agent_id
            WHERE pa.project_id = ? ORDER BY a.deployed_at, a.rowid
            """,
            [id.rawValue]
        ) { row in
            let sandboxID = AgentID(unchecked: row.text(0))
            if row.text(1) == "migrate" {
                migrated.append(MigratedAgent(
                    sandboxID: sandboxID, productionID: AgentID(unchecked: row.text(2)), name: row.text(5), type: row.text(6), roi: row.double(4),
                    slot: row.optionalText(7) ?? ""
                ))
            } else {
                skipped.append(SkippedAgent(sandboxID: sandboxID, reason: row.text(3)))
            }
        }
        // Plans from before slots were planned go to the slots of their agents' names.
        let slots = try PromotionRules.slots(
            for: migrated.map { ($0.sandboxID, $0.name) },
            chosen: Dictionary(uniqueKeysWithValues: migrated.filter { !$0.slot.isEmpty }.map { ($0.sandboxID, $0.slot) })
        )
        for index in migrated.indices { migrated[index].slot = slots[index] }
        return PromotionResult(
            status: status, projectID: id, agentsMigrated: migrated.count, migratedAgents: migrated,
            skippedAgents: skipped, evaluation: evaluation
        )
    }
}
