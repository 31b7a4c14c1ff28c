import Testing
@testable import SandboxCore

@Suite struct EvaluatorTests {
    struct Case: CustomStringConvertible, Sendable {
        var cost: Int64, revenue: Int64, active: Int, expected: Recommendation
        var description: String { "cost \(cost) revenue \(revenue) active \(active) → \(expected.rawValue)" }
    }

    @Test(arguments: [
        Case(cost: 0, revenue: 0, active: 1, expected: .notReady),                       // no data
        Case(cost: 0, revenue: 5_000_000, active: 1, expected: .notReady),               // revenue but no cost: ROI undefined
        Case(cost: 1_000_000, revenue: 1_000_000, active: 1, expected: .notReady),       // ROI exactly 0
        Case(cost: 1_000_000, revenue: 1_000_001, active: 1, expected: .recommend),      // just above 0
        Case(cost: 1_000_000, revenue: 4_000_000, active: 1, expected: .recommend),      // ROI exactly 300
        Case(cost: 1_000_000, revenue: 4_000_001, active: 1, expected: .stronglyRecommend), // just above 300
        Case(cost: 3, revenue: 12, active: 1, expected: .recommend),                     // exactly 300 in micro-dollars
        Case(cost: 3, revenue: 13, active: 1, expected: .stronglyRecommend),
        Case(cost: 1_000_000, revenue: 9_000_000, active: 0, expected: .consider),       // positive ROI, no active agent
        Case(cost: 1_000_000, revenue: 500_000, active: 2, expected: .notReady),         // losing money
    ])
    func recommendsAtTheEdges(_ example: Case) {
        let metrics = Metrics(
            totalAgents: 2, activeAgents: example.active, tokensUsed: 10,
            totalCost: Money(micros: example.cost), totalRevenue: Money(micros: example.revenue)
        )
        #expect(Evaluator.evaluate(metrics).recommendation == example.expected)
    }

    @Test func criteriaCarryValuesAndThresholds() {
        let metrics = Metrics(totalAgents: 3, activeAgents: 2, tokensUsed: 10, totalCost: dollars("2"), totalRevenue: dollars("3"))
        let criteria = Evaluator.evaluate(metrics).criteria
        #expect(criteria.positiveROI == Criterion(pass: true, value: 50, threshold: 0))
        #expect(criteria.profitable == Criterion(pass: true, value: 1, threshold: 0))
        #expect(criteria.hasActiveAgents == Criterion(pass: true, value: 2, threshold: 1))
        #expect(criteria.hasSufficientData == Criterion(pass: true, value: 2, threshold: 0))
    }

    @Test func roiIsZeroWithoutCostAndRounded() {
        #expect(ROI.percent(revenue: dollars("5"), cost: .zero) == 0)
        #expect(ROI.percent(revenue: dollars("4"), cost: dollars("3")) == 33.3333)
        #expect(ROI.percent(revenue: dollars("0"), cost: dollars("3")) == -100)
    }

    @Test func reasonNamesTheFailingCriteria() {
        let metrics = Metrics(totalAgents: 1, activeAgents: 0, tokensUsed: 0, totalCost: .zero, totalRevenue: .zero)
        let verdict = Evaluator.evaluate(metrics)
        #expect(verdict.reason.contains("has_active_agents"))
        #expect(verdict.reason.contains("has_sufficient_data"))
    }
}
