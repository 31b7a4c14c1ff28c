import Foundation
import SandboxCore

/// The fuzz target of the event-line parser and the money parser (README, "Testing").
///
/// Built with libFuzzer (`scripts/fuzz`, which passes `-sanitize=fuzzer -DFUZZING`), libFuzzer
/// calls `LLVMFuzzerTestOneInput` with generated inputs. Built plainly, `novaos-fuzz FILE...`
/// replays inputs (a crash libFuzzer saved, or the seeds) through the same checks.
///
/// Beyond "does not crash", each input is held to properties:
/// - a line the parser accepts is also valid JSON to Foundation's `JSONSerialization`;
/// - an amount `Money` accepts prints back to the same amount, and no amount with more than
///   six decimals is ever accepted.
enum FuzzTarget {
    static func check(_ bytes: UnsafeBufferPointer<UInt8>) {
        if (try? AgentEvent.parse(line: bytes)) != nil {
            guard (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) is [String: Any] else {
                fatalError("the event parser accepted a line that is not JSON: \(Array(bytes))")
            }
        }
        guard bytes.count <= 128, let text = String(validating: bytes, as: UTF8.self) else { return }
        if let amount = try? Money(parsing: text) {
            let printed = String(amount.description.replacingOccurrences(of: "$", with: ""))
            guard let again = try? Money(parsing: printed), again == amount else {
                fatalError("Money \(text.debugDescription) printed as \(amount) does not read back")
            }
            if let dot = text.firstIndex(of: "."), !text.contains(where: { "eE".contains($0) }) {
                let places = text[text.index(after: dot)...].count
                guard places <= 6 else { fatalError("Money accepted \(text.debugDescription), with \(places) decimal places") }
            }
        }
    }
}

#if FUZZING
/// libFuzzer's driver, called from our own `main` (SwiftPM links every executable's entry point
/// as `main`, so libFuzzer's `main` cannot be used).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

@main
struct Fuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            FuzzTarget.check(UnsafeBufferPointer(start: data, count: size))
            return 0
        })
    }
}
#else
@main
struct Replay {
    static func main() throws {
        let files = CommandLine.arguments.dropFirst()
        guard !files.isEmpty else {
            FileHandle.standardError.write(Data("usage: novaos-fuzz FILE...  (replays inputs through the fuzz checks; scripts/fuzz fuzzes)\n".utf8))
            exit(64)
        }
        for file in files {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            data.withUnsafeBytes { FuzzTarget.check($0.bindMemory(to: UInt8.self)) }
        }
        print("replayed \(files.count) input(s): no property broken")
    }
}
#endif
