import Foundation
import Testing
@testable import Supervision

@Suite struct RedactorTests {
    @Test func redactsSecretsSplitAcrossChunks() {
        var redactor = Redactor(secrets: ["sk-SECRET-123", "no"])
        var output = Data()
        for chunk in ["token sk-SEC", "RET-1", "23 and sk-S", "ECRET-123\nsk-SE"] {
            output += redactor.process(Data(chunk.utf8))
        }
        output += redactor.finish()
        #expect(String(decoding: output, as: UTF8.self) == "token [redacted] and [redacted]\nsk-SE")
    }

    @Test func shortValuesAreNotSecrets() {
        let redactor = Redactor(secrets: ["1", "on"])
        #expect(redactor.isEmpty)
        #expect(redactor.redact(Array("on 1".utf8)) == Array("on 1".utf8))
    }

    @Test func aSecretCutShortBeforeAnEllipsisIsRedactedToo() {
        let redactor = Redactor(secrets: ["sk-live-ABCDEF0123456789"])
        #expect(redactor.redactMessage("unknown type 'ppp…psk-live-ABCDEF012345678…'") == "unknown type 'ppp…p[redacted]…'")
        #expect(redactor.redactMessage("got sk-live-ABCDEF0123456789 and sk-li…") == "got [redacted] and sk-li…")
    }
}
