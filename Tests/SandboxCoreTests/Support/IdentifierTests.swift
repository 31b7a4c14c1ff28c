import Testing
@testable import SandboxCore

@Suite struct IdentifierTests {
    @Test(arguments: ["prj_../../x", "prj_1' OR '1'='1", "../..", "/etc", "prj_ABCDEF12", "prj_1234567", "prj_123456789", "", "prj_1234567g"])
    func refusesMalformedProjectIDs(text: String) {
        #expect(throws: SandboxError.self) { try ProjectID(text) }
    }

    @Test func acceptsWellFormedIDs() throws {
        #expect(try ProjectID("prj_0a1b2c3d").rawValue == "prj_0a1b2c3d")
        #expect(try AgentID("agt_0123456789ab").rawValue == "agt_0123456789ab")
        #expect(ProjectID.random().rawValue.count == 12)
        #expect(try parseExperimentID("42") == 42)
        #expect(throws: SandboxError.self) { try parseExperimentID("-1") }
        #expect(throws: SandboxError.self) { try parseExperimentID("1; DROP TABLE experiments") }
    }

    @Test func errorMessagesAreOneLine() {
        let error = SandboxError.invalidID(kind: "project", value: "a\nb", expected: "x")
        #expect(!error.description.contains("\n"))
    }
}
