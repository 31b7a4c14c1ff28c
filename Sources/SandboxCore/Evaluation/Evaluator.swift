#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// What the evaluator advises for a project.
public enum Recommendation: String, Codable, Sendable, CaseIterable {
    /// Every criterion passes and ROI is above 300 %.
    case stronglyRecommend = "STRONGLY_RECOMMEND"
    /// Every criterion passes.
    case recommend = "RECOMMEND"
    /// ROI is positive with some cost recorded, but not every criterion passes.
    case consider = "CONSIDER"
    /// Anything else. `promote` refuses it unless forced.
    case notReady = "NOT_READY"
}

/// One criterion's verdict.
public struct Criterion: Codable, Sendable, Equatable {
    public var pass: Bool
    /// The measured value (a percentage, dollars or a count).
    public var value: Double
    /// The bound it is compared with.
    public var threshold: Double
}

/// The four criteria of an evaluation.
public struct Criteria: Codable, Sendable, Equatable {
    /// ROI above 0 %.
    public var positiveROI: Criterion
    /// Profit above $0.
    public var profitable: Criterion
    /// At least one active agent.
    public var hasActiveAgents: Criterion
    /// Some cost recorded (cost above $0), so ROI means something.
    public var hasSufficientData: Criterion

    enum CodingKeys: String, CodingKey {
        case positiveROI = "positive_roi", profitable
        case hasActiveAgents = "has_active_agents", hasSufficientData = "has_sufficient_data"
    }

    /// The names of the criteria that fail, in a fixed order.
    public var failing: [String] {
        [("positive_roi", positiveROI), ("profitable", profitable), ("has_active_agents", hasActiveAgents),
         ("has_sufficient_data", hasSufficientData)].filter { !$0.1.pass }.map(\.0)
    }
}

/// An evaluation of a project: criteria, recommendation and the metrics they were based on.
public struct Evaluation: Codable, Sendable, Equatable {
    public var projectID: ProjectID
    public var recommendation: Recommendation
    public var reason: String
    public var criteria: Criteria
    public var metrics: Metrics
    public var evaluatedAt: Date
    /// Budgets the project's agents or the project itself have reached; they do not change
    /// the recommendation, but a reader should know (empty in stored evaluations read back).
    public var warnings: [String] = []

    enum CodingKeys: String, CodingKey {
        case recommendation, reason, criteria, metrics, warnings
        case projectID = "project_id", evaluatedAt = "evaluated_at"
    }

    public init(projectID: ProjectID, recommendation: Recommendation, reason: String, criteria: Criteria, metrics: Metrics,
                evaluatedAt: Date, warnings: [String] = []) {
        self.projectID = projectID
        self.recommendation = recommendation
        self.reason = reason
        self.criteria = criteria
        self.metrics = metrics
        self.evaluatedAt = evaluatedAt
        self.warnings = warnings
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        projectID = try container.decode(ProjectID.self, forKey: .projectID)
        recommendation = try container.decode(Recommendation.self, forKey: .recommendation)
        reason = try container.decode(String.self, forKey: .reason)
        criteria = try container.decode(Criteria.self, forKey: .criteria)
        metrics = try container.decode(Metrics.self, forKey: .metrics)
        evaluatedAt = try container.decode(Date.self, forKey: .evaluatedAt)
        warnings = try container.decodeIfPresent([String].self, forKey: .warnings) ?? []
    }
}

/// The rules that turn metrics into a recommendation. Pure: no database, no clock.
public enum Evaluator {
    /// ROI above which a project that passes every criterion is strongly recommended.
    public static let strongROIThreshold: Double = 300

    /// Checks the criteria and recommends.
    ///
    /// Every comparison is made on exact integer amounts: ROI > 0 is revenue > cost, and
    /// ROI > 300 % is revenue > 4 × cost, so the edges (exactly 0 % or exactly 300 %) are
    /// never blurred by floating point.
    public static func evaluate(_ metrics: Metrics) -> (recommendation: Recommendation, reason: String, criteria: Criteria) {
        let cost = metrics.totalCost.micros
        let revenue = metrics.totalRevenue.micros
        let hasCost = cost > 0
        let positiveROI = hasCost && revenue > cost
        let criteria = Criteria(
            positiveROI: Criterion(pass: positiveROI, value: metrics.roi, threshold: 0),
            profitable: Criterion(pass: revenue > cost, value: dollars(metrics.profit), threshold: 0),
            hasActiveAgents: Criterion(pass: metrics.activeAgents >= 1, value: Double(metrics.activeAgents), threshold: 1),
            hasSufficientData: Criterion(pass: hasCost, value: dollars(metrics.totalCost), threshold: 0)
        )
        let allPass = criteria.failing.isEmpty
        // revenue > 4 × cost, computed without overflow: cost ≤ Int64.max / 4 or it cannot hold.
        let strong = hasCost && (cost > Int64.max / 4 ? false : revenue > 4 * cost)
        let roiText = fixedDigits(metrics.roi, 2) + "%"
        if allPass && strong {
            return (.stronglyRecommend, "all criteria pass and ROI \(roiText) is above 300%", criteria)
        }
        if allPass {
            return (.recommend, "all criteria pass (ROI \(roiText), at most 300%)", criteria)
        }
        let failing = criteria.failing.joined(separator: ", ")
        if positiveROI {
            return (.consider, "ROI \(roiText) is positive, but not every criterion passes (failing: \(failing))", criteria)
        }
        if !hasCost {
            return (.notReady, "no cost recorded yet, so there is no ROI to judge (failing: \(failing))", criteria)
        }
        return (.notReady, "ROI \(roiText) is not positive (failing: \(failing))", criteria)
    }

    private static func dollars(_ money: Money) -> Double {
        Double(money.micros) / Double(Money.microsPerDollar)
    }
}
