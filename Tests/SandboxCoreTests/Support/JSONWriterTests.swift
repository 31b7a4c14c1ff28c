import Foundation
import Testing
@testable import SandboxCore

/// `JSONWriter` must write exactly what `SandboxJSON.encoder()` (Foundation's `JSONEncoder`)
/// writes: scripts read both, and `--json` output must not change with the writer.
@Suite struct JSONWriterTests {
    private func expectSameBytes<Value: Encodable>(_ value: Value, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for pretty in [true, false] {
            let expected = String(decoding: try SandboxJSON.encoder(pretty: pretty).encode(value), as: UTF8.self)
            let written = String(decoding: try JSONWriter(pretty: pretty).encode(value), as: UTF8.self)
            #expect(written == expected, "pretty: \(pretty)", sourceLocation: sourceLocation)
        }
    }

    private struct Awkward: Encodable {
        var a_b = 1, ab = 2, aB = 3, a1 = 4, a10 = 5, a2 = 6
        var empty: [Int] = []
        var emptyObject: [String: Int] = [:]
        var doubles: [Double] = [1.0, 0.1, 1e20, 1.5e-7, 12.345, -0.0, 123_456_789_012_345_680, 1e16, 1e15, -2.5, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        var text = "q\"\\/\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}é\u{2028}🎉 <b>"
        var date = Date(timeIntervalSince1970: 1_763_840_325.999)
        var missing: Int? = nil
        var present: Int? = 7
        var nested = [[1], [2, 3], []]
        var extremes: [Int64] = [.min, .max, 0]
        var unsigned = UInt64.max
        var small: [Int8] = [-128, 127]
        var floats: [Float] = [0.1, 1.0, 3.4e38, -0.0]
        var flags = [true, false]
        var money: [Money] = [Money(micros: 0), Money(micros: 73_500), Money(micros: 12_000_000), Money(micros: -1_500_000),
                              Money(micros: 1), Money(micros: .max), Money(micros: .min + 1), Money(micros: 10_000_001)]
        var optionalMoney: Money? = Money(micros: 5)
        @NullEncoded var nullMoney: Money? = nil
        var decimal = Decimal(string: "0.0735")!
        var dictionary = ["b": 1, "a": 2, "a_": 3, "A": 4]
        var json = JSONValue.object(["z": .number(1.5), "list": .array([.string("x"), .null, .bool(true)]), "n": .object([:])])
    }

    /// Containers opened the unusual ways: twice for one key, super-encoders that encode
    /// nothing or something, a key encoded twice.
    private struct Unusual: Encodable {
        enum Keys: String, CodingKey { case nested, list, again, parent }
        struct Empty: Encodable { func encode(to encoder: any Encoder) throws {} }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            var first = container.nestedContainer(keyedBy: Keys.self, forKey: .nested)
            try first.encode(1, forKey: .list)
            var second = container.nestedContainer(keyedBy: Keys.self, forKey: .nested)
            try second.encode(2, forKey: .again)
            var list = container.nestedUnkeyedContainer(forKey: .list)
            try list.encode("a")
            var more = container.nestedUnkeyedContainer(forKey: .list)
            try more.encode("b")
            try container.encode(1, forKey: .again)
            try container.encode("last", forKey: .again)
            _ = container.superEncoder()
            try Empty().encode(to: container.superEncoder(forKey: .parent))
            var items = container.nestedUnkeyedContainer(forKey: .list)
            try Empty().encode(to: items.superEncoder())
            try items.encode(Empty())
        }
    }

    @Test func writesWhatJSONEncoderWrites() throws {
        try expectSameBytes(Unusual())
        try expectSameBytes(["data": Data([1, 2, 3, 250])])
        try expectSameBytes([Int128.min, 5])
        try expectSameBytes([UInt128.max])
        try expectSameBytes(Awkward())
        try expectSameBytes([Awkward(), Awkward()])
        try expectSameBytes(["plain string", ""])
        try expectSameBytes(Money(micros: 42))
    }

    @Test func moneyIsWrittenFromMicroUnitsExactly() throws {
        var values: [Int64] = [0, 1, 10, 999_999, 1_000_000, 1_000_001, 123_456_789, -1, -999_999, .max, .min + 1, 120_000, -120_000]
        for _ in 0..<10_000 {
            values.append(Int64.random(in: -10_000_000_000...10_000_000_000))
            values.append(Int64.random(in: -100...100) * [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000].randomElement()!)
        }
        for micros in values {
            let money = Money(micros: micros)
            #expect(money.jsonNumber == money.decimalDollars.description, "\(micros)")
            // `$12.50`, `-$0.000123`: at least two places, at most six, never rounded.
            let whole = micros.magnitude / 1_000_000
            var places = String(micros.magnitude % 1_000_000)
            places = String(repeating: "0", count: 6 - places.count) + places
            while places.count > 2, places.hasSuffix("0") { places.removeLast() }
            #expect(money.description == (micros < 0 ? "-" : "") + "$\(whole).\(places)", "\(micros)")
        }
    }

    @Test func everyResultOfASeededSandboxIsWrittenTheSame() throws {
        let sandbox = try makeSandbox()
        let seeded = try seededProject(sandbox)
        let capped = try sandbox.createProject(name: "capped \u{1b}[31mred", description: "with a cap", budget: dollars("0.5"))
        let agent = try sandbox.deployAgent(project: capped.id, type: "assistant", name: "a/b \"quoted\"", configJSON: #"{"model":"claude-haiku-3.5","nested":{"k":[1,2.5,null]}}"#)
        _ = try sandbox.recordUsage(agent: agent.id, model: "claude-haiku-3.5", inputTokens: 1_234, outputTokens: 56)
        let experiment = try sandbox.startExperiment(project: seeded.project, name: "tone", hypothesis: "warm sells", configJSON: #"{"tone":"warm"}"#)
        _ = try sandbox.completeExperiment(experiment.id, success: true, resultsJSON: #"{"lift":0.12}"#)

        try expectSameBytes(try sandbox.listProjects())
        try expectSameBytes(try sandbox.listProjects(status: .killed))
        try expectSameBytes(try sandbox.projectDetail(seeded.project))
        try expectSameBytes(try sandbox.projectDetail(capped.id))
        try expectSameBytes(try sandbox.status())
        try expectSameBytes(try sandbox.evaluate(seeded.project))
        try expectSameBytes(try sandbox.experiments(project: seeded.project))
        try expectSameBytes(try sandbox.agent(agent.id))
        try expectSameBytes(try sandbox.promotionPreview(seeded.project))
        try expectSameBytes(try sandbox.promote(seeded.project))
        try expectSameBytes(try sandbox.kill(capped.id))
    }

    @Test func aListIsWrittenElementByElementAsTheWholeDocument() throws {
        let sandbox = try makeSandbox()
        for index in 0..<7 {
            _ = try seededProject(sandbox)
            let capped = try sandbox.createProject(name: "p\(index) \"q\" \u{1}é/", description: "d\n", budget: dollars("0.25"))
            let agent = try sandbox.deployAgent(project: capped.id, type: "assistant")
            _ = try sandbox.recordUsage(agent: agent.id, model: "claude-haiku-3.5", inputTokens: Int64(1_000 * index), outputTokens: 7)
            if index % 3 == 0 { _ = try sandbox.kill(capped.id) }
        }
        for pretty in [true, false] {
            for status: ProjectStatus? in [nil, .killed] {
                let expected = try SandboxJSON.encoder(pretty: pretty).encode(try sandbox.listProjects(status: status)) + Data("\n".utf8)
                var written: [UInt8] = []
                var flushes = 0
                // A tiny buffer: the document arrives in many pieces and must still be whole.
                var list = JSONWriter.ListWriter(key: "projects", pretty: pretty, bufferSize: 100) { written += $0; flushes += 1 }
                try sandbox.eachProject(status: status) { try list.element($0) }
                try list.finish()
                #expect(String(decoding: written, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
                #expect(status == .killed || flushes > 1)
            }
        }
    }

    @Test func aTopLevelValueThatEncodesNothingIsRefusedLikeJSONEncoderRefusesIt() {
        #expect(throws: EncodingError.self) { try JSONWriter().encode(Unusual.Empty()) }
        #expect(throws: EncodingError.self) { try SandboxJSON.encoder().encode(Unusual.Empty()) }
    }

    @Test func aNonFiniteNumberIsRefusedLikeJSONEncoderRefusesIt() {
        #expect(throws: EncodingError.self) { try JSONWriter().encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try JSONWriter().encode(["x": Double.infinity]) }
    }
}
