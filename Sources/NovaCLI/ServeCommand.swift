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

/// `novaos serve`: checks its flags, then hands over to `novaos-server` (beside this binary),
/// so SwiftNIO and Hummingbird stay out of every other command's start-up.
struct ServeCommand: ContextCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API (the experiment-repository endpoints) on loopback, or anywhere with a token.",
        discussion: """
            Listening on an address that is not loopback needs --token-file: requests must then carry \
            'Authorization: Bearer <token>'. One line per request goes to stderr. SIGINT or SIGTERM stops it \
            after the requests in flight.
            """
    )

    @Option(help: "The address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "The port (0: any free one, printed on stderr).") var port: Int = 8080
    @Option(name: .customLong("token-file"), help: ArgumentHelp("A file (mode 600) whose first line is the bearer token.", valueName: "file"))
    var tokenFile: String?
    @Flag(name: .customLong("allow-unisolated-runs"), help: "Let run-sandbox-experiment ask for isolation none or network (off: refused).")
    var allowUnisolatedRuns = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        if tokenFile == nil, !NetworkAddress.isLoopback(host) {
            throw ValidationError("listening on \(host) (not loopback) needs a token: pass --token-file FILE")
        }
    }

    func execute(in context: CommandContext) throws {
        let paths = global.paths(in: context)
        if paths.productionRegistryURL != nil {
            throw SandboxError.invalidInput("novaos serve does not serve a team's registry on PostgreSQL yet; serve production.db, and use the production commands for the registry")
        }
        var arguments = ["novaos-server", "--host", host, "--port", String(port), "--home", paths.home.path]
        if let production = global.productionDatabase ?? context.environment["NOVAOS_PRODUCTION_DB"], !production.isEmpty {
            arguments += ["--production-db", paths.productionDatabase.path]
        }
        if let tokenFile { arguments += ["--token-file", context.url(forPath: tokenFile).path] }
        if allowUnisolatedRuns { arguments += ["--allow-unisolated-runs", "true"] }
        let server = siblingExecutable("novaos-server")
        // Replaces this process: signals reach the server directly, and its exit status is ours.
        let argv = arguments.map { strdup($0) } + [nil]
        execv(server, argv)
        throw SandboxError.unavailable("cannot start \(server): \(String(cString: strerror(errno))) (build it with 'swift build --product novaos-server')")
    }
}
