import Foundation
import PostgresTestSupport
import TeamRegistry
import Testing
@testable import SandboxCore

/// A home folder in the temporary directory, removed by nothing: the OS cleans /tmp.
func makeHome() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("novaos-core-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A fixed clock, so timestamps in results are predictable.
let fixedDate = Date(timeIntervalSince1970: 1_795_000_000)

func makeSandbox(home: URL? = nil) throws -> Sandbox {
    try Sandbox(paths: SandboxPaths(home: home ?? makeHome()), clock: { fixedDate })
}

func dollars(_ text: String) -> Money {
    try! Money(parsing: text)
}

/// A project with one profitable and one unprofitable agent.
func seededProject(_ sandbox: Sandbox) throws -> (project: ProjectID, winner: AgentID, loser: AgentID) {
    let project = try sandbox.createProject(name: "seed", description: "two agents")
    let winner = try sandbox.deployAgent(project: project.id, type: "customer_support", name: "winner", configJSON: #"{"tone":"warm"}"#)
    let loser = try sandbox.deployAgent(project: project.id, type: "researcher", name: "loser")
    _ = try sandbox.recordUsage(agent: winner.id, model: "claude-sonnet-4", inputTokens: 100_000, outputTokens: 20_000)
    _ = try sandbox.recordRevenue(agent: winner.id, amount: dollars("10"))
    _ = try sandbox.recordUsage(agent: loser.id, model: "claude-opus-4", inputTokens: 10_000, outputTokens: 1_000)
    return (project.id, winner.id, loser.id)
}

extension ProductionBackend {
    /// The registry to pass to SandboxCore; nil: the default, `production.db` in the sandbox's home.
    func registry() throws -> ProductionRegistry? {
        switch self {
        case .sqlite: nil
        case .postgres: try TeamRegistry.registry(url: try TestPostgres.freshDatabase())
        }
    }
}

@Suite(.enabled(if: TestPostgres.url != nil, Comment(rawValue: TestPostgres.skipReason)))
struct PostgresBackendTests {
    /// The production suite's PostgreSQL half runs (this shows as skipped when it cannot).
    @Test func theProductionSuiteRunsOnPostgreSQL() {
        #expect(ProductionBackend.available.contains(.postgres))
    }
}
