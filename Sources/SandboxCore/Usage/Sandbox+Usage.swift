import Foundation
import SQLiteDB

extension Sandbox {
    /// Records one API call of an agent and adds it to the agent's running totals, in one
    /// transaction.
    ///
    /// - Parameters:
    ///   - model: the model called; priced from `PriceTable.standard` unless `cost` is given.
    ///   - operation: what the call was for; defaults to `api_call`.
    ///   - cost: an explicit cost, which overrides the price table.
    /// - Throws: `SandboxError.unknownModel` for a model without a price and no `cost`.
    public func recordUsage(
        agent id: AgentID, model: String, inputTokens: Int64, outputTokens: Int64,
        operation: String? = nil, cost: Money? = nil
    ) throws -> UsageRecord {
        try validateText(model, field: "model", maximumLength: 200)
        let operation = operation ?? "api_call"
        try validateText(operation, field: "operation", maximumLength: 200)
        try UsageLimits.validate(inputTokens: inputTokens, outputTokens: outputTokens)
        let price: Money
        if let cost {
            guard cost.micros >= 0, cost <= Money.recordLimit else {
                throw SandboxError.invalidInput("cost must be between $0 and \(Money.recordLimit)")
            }
            price = cost
        } else {
            price = try PriceTable.standard.cost(model: model, inputTokens: inputTokens, outputTokens: outputTokens)
        }
        let storedModel = PriceTable.standard.canonicalName(model) ?? model
        let recordedAt = now()
        return try write {
            _ = try loadRecordingAgent(id)
            try db.run(
                """
                INSERT INTO api_costs (agent_id, model, operation, input_tokens, output_tokens, cost_micros, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                id.rawValue, storedModel, operation, inputTokens, outputTokens, price.micros, Timestamp.string(from: recordedAt)
            )
            let recordID = db.lastInsertRowID
            try db.run(
                "UPDATE agents SET tokens_used = tokens_used + ?, cost_micros = cost_micros + ? WHERE id = ?",
                inputTokens + outputTokens, price.micros, id.rawValue
            )
            return UsageRecord(
                id: recordID, agentID: id, model: storedModel, operation: operation, inputTokens: inputTokens,
                outputTokens: outputTokens, totalTokens: inputTokens + outputTokens, cost: price, recordedAt: recordedAt
            )
        }
    }

    /// Records revenue an agent earned and adds it to the agent's running total.
    ///
    /// - Parameter amount: greater than zero, at most six decimal places.
    public func recordRevenue(agent id: AgentID, amount: Money, source: String? = nil, description: String = "") throws -> RevenueRecord {
        guard amount.micros > 0, amount <= Money.recordLimit else {
            throw SandboxError.invalidInput("revenue amount must be greater than $0 and at most \(Money.recordLimit), got \(amount)")
        }
        let source = source ?? "manual"
        try validateText(source, field: "source", maximumLength: 200)
        try validateText(description, field: "description", maximumLength: Self.maximumDescriptionLength, allowEmpty: true)
        let recordedAt = now()
        return try write {
            _ = try loadRecordingAgent(id)
            try db.run(
                "INSERT INTO revenue (agent_id, amount_micros, source, description, recorded_at) VALUES (?, ?, ?, ?, ?)",
                id.rawValue, amount.micros, source, description, Timestamp.string(from: recordedAt)
            )
            let recordID = db.lastInsertRowID
            try db.run("UPDATE agents SET revenue_micros = revenue_micros + ? WHERE id = ?", amount.micros, id.rawValue)
            return RevenueRecord(
                id: recordID, agentID: id, amount: amount, source: source, description: description, recordedAt: recordedAt
            )
        }
    }
}
