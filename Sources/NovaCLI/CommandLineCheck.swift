import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SandboxCore

/// Checks a command line before ArgumentParser sees it, for the mistakes whose messages must
/// name what was wrong: a mistyped command, an unknown option (ArgumentParser would report a
/// command's own validation first), a negative amount (which it would take for an option).
/// Each is a usage error: one line, exit 64.
enum CommandLineCheck {
    static func problem(_ arguments: [String]) -> String? {
        var command: any ParsableCommand.Type = NovaOS.self
        var path: [String] = []
        var index = 0
        while index < arguments.count, !command.configuration.subcommands.isEmpty {
            let token = arguments[index]
            if token == "help" || token == "--help" || token == "-h" || token == "--version" { return nil } // ArgumentParser's
            if token.hasPrefix("-") {
                let name = String(token.prefix { $0 != "=" })
                let known = options(of: command).names
                guard known.contains(name) else {
                    let hint = suggestion(for: name, among: Array(known)).map { "; did you mean '\($0)'?" } ?? ""
                    return "unknown option '\(TerminalText.escape(name))'\(hint)"
                }
                return nil
            }
            let subcommands = command.configuration.subcommands
            guard let next = subcommands.first(where: { $0._commandName == token }) else {
                let names = subcommands.map { $0._commandName }
                let hint = suggestion(for: token, among: names).map { "; did you mean '\($0)'?" } ?? " (expected one of: \(names.joined(separator: ", ")))"
                return "unknown command '\(TerminalText.escape(token))'\(path.isEmpty ? "" : " for '\(path.joined(separator: " "))'")\(hint)"
            }
            command = next
            path.append(token)
            index += 1
        }
        guard command.configuration.subcommands.isEmpty else { return nil }
        let (known, takingValues) = options(of: command)
        var positionals = 0
        var skipValue = false
        for token in arguments[index...] {
            if token == "--" { break }
            if skipValue { skipValue = false; continue }
            if token.hasPrefix("--") {
                let name = String(token.prefix { $0 != "=" })
                guard known.contains(name) else {
                    let hint = suggestion(for: name, among: Array(known)).map { "; did you mean '\($0)'?" } ?? ""
                    return "unknown option '\(TerminalText.escape(name))'\(hint)"
                }
                skipValue = !token.contains("=") && takingValues.contains(name)
                continue
            }
            if token.hasPrefix("-"), token.count > 1, !token.dropFirst().first!.isNumber { continue }
            positionals += 1
            // `sandbox revenue AGENT -5`: the amount, which ArgumentParser would take for an option.
            if command == SandboxCommand.Revenue.self || command == ProductionCommand.Revenue.self, positionals == 2, token.hasPrefix("-") {
                return "amount must be positive, got \(TerminalText.escape(token))"
            }
        }
        return nil
    }

    /// Every `--name` the command's help lists (its options, flags and the global ones), and
    /// which of them take a value (`--name <value>`).
    static func options(of command: any ParsableCommand.Type) -> (names: Set<String>, takingValues: Set<String>) {
        let help = NovaOS.helpMessage(for: command, includeHidden: true, columns: 10_000)
        var names: Set<String> = ["--help", "--version"]
        var takingValues: Set<String> = []
        let characters = Array(help.utf8)
        var index = 0
        func isNameByte(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
        }
        while index + 2 < characters.count {
            guard characters[index] == UInt8(ascii: "-"), characters[index + 1] == UInt8(ascii: "-"),
                  index == 0 || !isNameByte(characters[index - 1]), isNameByte(characters[index + 2]) else {
                index += 1
                continue
            }
            var end = index + 2
            while end < characters.count, isNameByte(characters[end]) { end += 1 }
            let name = String(decoding: characters[index..<end], as: UTF8.self)
            names.insert(name)
            if end + 1 < characters.count, characters[end] == UInt8(ascii: " "), characters[end + 1] == UInt8(ascii: "<") {
                takingValues.insert(name)
            }
            index = end
        }
        return (names, takingValues)
    }

    /// The closest of `names` to `word`, when it is close enough to be a typo.
    static func suggestion(for word: String, among names: [String]) -> String? {
        let scored = names.map { ($0, distance(word.lowercased(), $0.lowercased())) }.min { $0.1 < $1.1 }
        guard let (name, score) = scored, score <= max(2, word.count / 3) else { return nil }
        return name
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// A value from the command line read by `parse`; what it refuses is a usage error (exit 64).
private func usageValue<T>(_ parse: () throws -> T) throws -> T {
    do {
        return try parse()
    } catch let error as SandboxError {
        throw ValidationError(error.description)
    }
}

/// Money given on the command line.
func moneyArgument(_ text: String) throws -> Money { try usageValue { try Money(parsing: text) } }

/// A day or time given on the command line (`2026-11-22`, `2026-11-22T04:30:00Z`).
func dateArgument(_ text: String) throws -> Date { try usageValue { try parseUserDate(text, field: "the date") } }

/// A duration given on the command line (`30s`, `5m`).
func durationArgument(_ text: String) throws -> TimeInterval { try usageValue { try parseDuration(text) } }

/// A project's lifetime (`--expires-in`, `extend`): a duration of at most 366 days.
func lifetimeArgument(_ text: String) throws -> TimeInterval { try usageValue { try parseDuration(text, maximumDays: 366) } }
