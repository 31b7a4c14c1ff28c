import Testing
@testable import SandboxCore

@Suite struct EventParserTests {
    @Test func parsesAUsageEvent() throws {
        let event = try AgentEvent.parse(#"{"type":"usage","model":"claude-sonnet-4","input_tokens":1200,"output_tokens":300,"operation":"draft","cost":0.25,"id":"7"}"#)
        #expect(event == .usage(AgentEvent.Usage(
            agentID: nil, eventID: "7", model: "claude-sonnet-4", operation: "draft", tokens: TokenCounts(input: 1200, output: 300),
            cost: dollars("0.25"), timestamp: nil
        )))
    }

    @Test func parsesCacheTokensBatchAndCacheLifetime() throws {
        let event = try AgentEvent.parse(
            #"{"type":"usage","model":"m","input_tokens":10,"output_tokens":20,"cache_read_tokens":300,"cache_write_tokens":4000,"cache_ttl":"1h","batch":true}"#
        )
        #expect(event == .usage(AgentEvent.Usage(
            model: "m", tokens: TokenCounts(input: 10, output: 20, cacheRead: 300, cacheWrite: 4000), batch: true, cacheDuration: .oneHour
        )))
        // Absent or null: no cache tokens, five-minute cache, not a batch call.
        let plain = try AgentEvent.parse(#"{"type":"usage","model":"m","input_tokens":1,"output_tokens":2,"cache_read_tokens":null,"batch":false}"#)
        #expect(plain == .usage(AgentEvent.Usage(model: "m", tokens: TokenCounts(input: 1, output: 2))))
    }

    @Test func parsesARevenueEventWithEscapesAndATimestamp() throws {
        let event = try AgentEvent.parse(#" { "type" : "revenue", "amount": 49.0, "source": "stripe", "description": "caf\u00e9 \ud83d\ude00 \"q\"\n", "agent_id": "agt_0123456789ab", "timestamp": "2026-01-02T03:04:05.5+01:00", "extra": [1, 2] }"#.replacingOccurrences(of: #", "extra": [1, 2]"#, with: #", "extra": true"#))
        #expect(event == .revenue(AgentEvent.Revenue(
            agentID: "agt_0123456789ab", eventID: nil, amount: dollars("49"), source: "stripe",
            description: "café 😀 \"q\"\n", timestamp: "2026-01-02T02:04:05Z"
        )))
    }

    @Test(arguments: [
        "not json", "[1]", "{", #"{"type":"usage""#, #"{"type":"usage","model":"m","input_tokens":1,"output_tokens":1} trailing"#,
        #"{"type":"usage","model":"m","input_tokens":-1,"output_tokens":1}"#,
        #"{"type":"usage","model":"m","input_tokens":1.5,"output_tokens":1}"#,
        #"{"type":"usage","model":"m","input_tokens":"1","output_tokens":1}"#,
        #"{"type":"usage","model":"m","input_tokens":1e30,"output_tokens":1}"#,
        #"{"type":"usage","model":"m","input_tokens":1}"#,
        #"{"type":"usage","input_tokens":1,"output_tokens":1}"#,
        #"{"type":"usage","model":"m","input_tokens":1,"output_tokens":1,"cost":-1}"#,
        #"{"type":"usage","model":"m","input_tokens":1,"output_tokens":1,"cost":0.0000001}"#,
        #"{"type":"revenue","amount":0}"#, #"{"type":"revenue","amount":-5}"#, #"{"type":"revenue","amount":"5"}"#,
        #"{"type":"revenue","amount":5.}"#, #"{"type":"revenue"}"#, #"{"type":"refund","amount":5}"#, #"{"model":"m"}"#,
        #"{"type":"revenue","amount":5,"type":"usage"}"#, #"{"type":"revenue","amount":5,"meta":{"a":1}}"#,
        #"{"type":"revenue","amount":5,"timestamp":"yesterday"}"#, #"{"type":"revenue","amount":5,"timestamp":"2026-02-30T00:00:00Z"}"#,
        #"{"type":"revenue","amount":5,"source":"\ud800"}"#,
        #"{"type":"revenue","amount":NaN}"#, #"{"type":"revenue","amount":Infinity}"#,
        #"{"type":"usage","model":"m","input_tokens":1,"output_tokens":1,"cache_read_tokens":-1}"#,
        #"{"type":"usage","model":"m","input_tokens":1,"output_tokens":1,"cache_write_tokens":"5"}"#,
        #"{"type":"usage","model":"m","input_tokens":1,"output_tokens":1,"cache_write_tokens":10000000001}"#,
        #"{"type":"usage","model":"m","input_tokens":1,"output_tokens":1,"batch":1}"#,
        #"{"type":"usage","model":"m","input_tokens":1,"output_tokens":1,"batch":"true"}"#,
        #"{"type":"usage","model":"m","input_tokens":1,"output_tokens":1,"cache_ttl":"2h"}"#,
        #"{"type":"usage","model":"m","input_tokens":1,"output_tokens":1,"batch":true,"batch":false}"#,
    ])
    func refusesWhatIsNotAValidEvent(line: String) {
        #expect(throws: SandboxError.self) { try AgentEvent.parse(line) }
    }

    @Test func refusesInvalidUTF8() {
        let bytes: [UInt8] = Array(#"{"type":"revenue","amount":5,"source":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        #expect(throws: SandboxError.self) { try bytes.withUnsafeBufferPointer { try EventParser.parse($0) } }
    }

    @Test func refusesALineOverTheLimit() {
        let line = #"{"type":"revenue","amount":5,"description":""# + String(repeating: "x", count: EventParser.maximumLineBytes) + #""}"#
        #expect(throws: SandboxError.self) { try AgentEvent.parse(line) }
    }
}
