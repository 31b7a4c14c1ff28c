import Foundation
import Testing
@testable import SandboxCore

@Suite struct MoneyTests {
    @Test(arguments: [
        ("12", 12_000_000), ("12.5", 12_500_000), ("0.000001", 1), ("1e-3", 1_000), ("-4.5", -4_500_000),
        ("49.99", 49_990_000), ("1000000000", 1_000_000_000_000_000), ("1.5e1", 15_000_000), ("0.0000001e1", 1),
        ("1.000000e2", 100_000_000), ("0e400", 0), ("+3", 3_000_000), ("00012.50", 12_500_000), ("1E-6", 1),
    ] as [(String, Int64)])
    func parsesExactDecimals(text: String, micros: Int64) throws {
        #expect(try Money(parsing: text).micros == micros)
    }

    @Test(arguments: [
        "0.0000001", "1.2345678", "NaN", "inf", "-infinity", "abc", "", "1,5", "0x10", "1000000000.000001", "1e30", "$5", " 7 ",
        // The inputs: more than six places is refused whatever the digits, never rounded.
        "12.5000000000000000000000000000000000000000001", "0.00000100000000000000000000000000000000000000000000000000009",
        "1.0000000", "1e-7", "1e400", "9223372036854775808", "1.", ".5", "1e", "--1", "1e+", "1.5.1", "0.1e-6",
    ])
    func refusesWhatItCannotKeepExactly(text: String) {
        #expect(throws: SandboxError.self) { try Money(parsing: text) }
    }

    @Test func convertsDoublesThroughTheirShortestSpelling() throws {
        #expect(try Money(dollars: 49.99).micros == 49_990_000)
        #expect(try Money(dollars: 0.1).micros == 100_000)
        #expect(try Money(dollars: 1e-6).micros == 1)
        #expect(throws: SandboxError.self) { try Money(dollars: .nan) }
        #expect(throws: SandboxError.self) { try Money(dollars: .infinity) }
    }

    @Test func describesWithAtLeastTwoAndAtMostSixDecimals() {
        #expect(Money(micros: 5_000_000).description == "$5.00")
        #expect(Money(micros: 1).description == "$0.000001")
        #expect(Money(micros: -1_230_000).description == "-$1.23")
        #expect(Money(micros: 1_234_500).description == "$1.2345")
    }

    @Test func encodesAsAnExactJSONNumberOfDollars() throws {
        let data = try SandboxJSON.encoder(pretty: false).encode([Money(micros: 1), Money(micros: 123_456_789_012), Money(micros: -100_000)])
        #expect(String(decoding: data, as: UTF8.self) == "[0.000001,123456.789012,-0.1]")
        let decoded = try SandboxJSON.decoder().decode([Money].self, from: data)
        #expect(decoded.map(\.micros) == [1, 123_456_789_012, -100_000])
    }

    @Test func additionReportsOverflow() {
        #expect(throws: SandboxError.self) { try Money(micros: .max).adding(Money(micros: 1)) }
    }
}

/// `fixedDigits` formats in integers when it can; it must print what `printf("%.*f")` prints.
@Suite struct FixedDigitsTests {
    @Test func printsWhatPrintfPrints() {
        var generator = SystemRandomNumberGenerator()
        var values: [Double] = [0, -0.0, 0.5, 1.5, 2.5, 0.125, 0.375, 1.005, 2.675, -1.005, 99.995, 1e-9, -1e-9, 123456.789, 0x1p40, 0x1p52, 1e300, -100, 0.05, 0.15, 0.25, 0.35]
        for _ in 0..<20_000 {
            let magnitude = [1e-3, 1, 100, 1e6, 1e12][Int.random(in: 0..<5, using: &generator)]
            values.append(Double.random(in: -magnitude...magnitude, using: &generator))
            values.append((Double(Int.random(in: -100_000...100_000, using: &generator)) / 1_000).nextUp)
        }
        for value in values {
            for places in 0...6 {
                #expect(fixedDigits(value, places) == String(format: "%.\(places)f", value), "\(value) to \(places) places")
            }
        }
    }
}
