import ArgumentParser
import SandboxCore
import Supervision
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The command line of `novaos` and `novaos-team`: one set of commands, two executables, so
/// that only team mode (a production registry on PostgreSQL) loads libpq at start-up.
public enum CommandLineTool {
    /// Runs the command line and exits.
    ///
    /// - Parameter teamRegistry: opens a team's registry from its URL (`novaos-team`); nil in
    ///   `novaos`, which hands a command that needs one over to `novaos-team`.
    public static func main(teamRegistry: (@Sendable (String) throws -> ProductionRegistry)? = nil) -> Never {
        TeamRegistryHook.open = teamRegistry
        NovaOS.main()
        terminate(0)
    }
}

struct NovaOS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "novaos",
        abstract: "Isolated sandboxes for AI agent experiments, and a safe path to production.",
        discussion: """
            Data lives under the home folder (--home, else NOVAOS_HOME, else the nearest of the current folder \
            and its parents holding sandbox/sandbox.db, else the current folder): sandbox/sandbox.db, \
            sandbox/projects/<project-id>/, production.db, production/ and prices.json (optional).
            Every command takes --json; commands that print a table take --csv and --md. Exit codes: 0 success, \
            1 refused or failed, 64 usage error; 3 and others for run, compare and production check (see README).
            """,
        version: "0.1.0",
        subcommands: [SandboxCommand.self, ProductionCommand.self, RepoCommand.self, PricesCommand.self, ServeCommand.self]
    )

    static func main() {
        // `CommandLine.arguments` would have replaced invalid UTF-8 with U+FFFD: look at the bytes.
        for index in 1..<Int(CommandLine.argc) {
            guard let raw = CommandLine.unsafeArgv[index], String(validatingCString: raw) != nil else {
                writeAll(Data("Error: argument \(index) is not valid UTF-8; give names, paths and values in UTF-8\n".utf8), to: STDERR_FILENO)
                terminate(ExitCode.validationFailure.rawValue)
            }
        }
        // The variables novaos reads as paths and names, likewise.
        for name in ["NOVAOS_HOME", "NOVAOS_PRODUCTION_DB", "NOVAOS_PRICES"] {
            if let raw = getenv(name), String(validatingCString: raw) == nil {
                writeAll(Data("Error: \(name) is not valid UTF-8\n".utf8), to: STDERR_FILENO)
                terminate(ExitCode.validationFailure.rawValue)
            }
        }
        let arguments = hoistingGlobalOptions(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let exit as ExitCode {
            terminate(exit.rawValue) // a command's own exit status, already reported
        } catch {
            let code = exitCode(for: error)
            guard code != .success else { exit(withError: error) } // --help, --version
            // A usage error: name the mistake when it is one we can (looked for only now, so a
            // command line that parses costs nothing more).
            if code == .validationFailure, let problem = CommandLineCheck.problem(arguments) {
                writeAll(Data("Error: \(problem)\n".utf8), to: STDERR_FILENO)
                terminate(ExitCode.validationFailure.rawValue)
            }
            // One line on stderr for every failure, usage errors included.
            var message = message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
            if code == .validationFailure { message += " (see --help)" }
            writeAll(Data("Error: \(TerminalText.escape(message))\n".utf8), to: STDERR_FILENO)
            terminate(code.rawValue)
        }
    }

    /// The global options (`--home`, `--production-db`, `--prices`, `--json`) may come before the
    /// subcommand (`novaos --home DIR sandbox list`). Every leaf command declares them, so they
    /// are moved to where a leaf's options go: before a `--`, else at the end.
    static func hoistingGlobalOptions(_ arguments: [String]) -> [String] {
        var rest = arguments[...]
        var hoisted: [String] = []
        while let first = rest.first {
            if first == "--json" {
                hoisted.append(first)
                rest.removeFirst()
            } else if first == "--home" || first == "--production-db" || first == "--prices", rest.count >= 2 {
                hoisted += rest.prefix(2)
                rest.removeFirst(2)
            } else if first.hasPrefix("--home=") || first.hasPrefix("--production-db=") || first.hasPrefix("--prices=") {
                hoisted.append(first)
                rest.removeFirst()
            } else {
                break
            }
        }
        guard !hoisted.isEmpty else { return arguments }
        var result = Array(rest)
        let insertAt = result.firstIndex(of: "--") ?? result.endIndex
        result.insert(contentsOf: hoisted, at: insertAt)
        return result
    }
}

/// Ends the process with `status` (C's `exit`, named apart from `ParsableCommand.exit`).
func terminate(_ status: Int32) -> Never {
    #if canImport(Glibc)
    Glibc.exit(status)
    #else
    Darwin.exit(status)
    #endif
}
