import Foundation
import Testing
@testable import SandboxCore

@Suite struct PromotionRulesTests {
    func agent(_ status: AgentStatus, cost: Int64, revenue: Int64) -> Agent {
        Agent(
            id: AgentID(unchecked: "agt_000000000001"), projectID: ProjectID(unchecked: "prj_00000001"), type: "assistant",
            name: "a", status: status, tokenBudget: 10, config: .object([:]), deployedAt: Date(), tokensUsed: 0,
            totalCost: Money(micros: cost), totalRevenue: Money(micros: revenue), profit: Money(micros: revenue - cost), roi: 0,
            pauseReason: nil, budgetUsedPercent: 0
        )
    }

    @Test(arguments: [
        (AgentStatus.active, 100, 101, true),
        (.paused, 100, 101, true),
        (.killed, 100, 1_000, false),
        (.active, 100, 100, false),   // breaking even is not enough
        (.active, 0, 1, true),        // free and earning
        (.active, 0, 0, false),
    ] as [(AgentStatus, Int64, Int64, Bool)])
    func migratesOnlyLiveProfitableAgents(status: AgentStatus, cost: Int64, revenue: Int64, migrates: Bool) {
        #expect((PromotionRules.skipReason(for: agent(status, cost: cost, revenue: revenue)) == nil) == migrates)
    }
}
