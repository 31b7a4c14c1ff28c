#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import NovaServer
import SandboxCore

/// One line to stderr, written whole.
func printError(_ text: String) {
    var bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

// Started by `novaos serve`, which checked the command line and resolved the home:
// novaos-server --host H --port P --home DIR [--production-db PATH] [--token-file FILE]
var values: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard flag.hasPrefix("--"), let value = arguments.popFirst() else {
        printError("novaos-server: expected --flag value pairs; run it through 'novaos serve'")
        exit(64)
    }
    values[String(flag.dropFirst(2))] = value
}
let environment = ProcessInfo.processInfo.environment
let paths = SandboxPaths(
    home: URL(fileURLWithPath: values["home"] ?? FileManager.default.currentDirectoryPath),
    productionDatabase: values["production-db"].map { URL(fileURLWithPath: $0) }
)
var parsed: ServerConfiguration
do {
    parsed = try ServerConfiguration(
        host: values["host"] ?? "127.0.0.1", port: Int(values["port"] ?? "8080") ?? -1, tokenFile: values["token-file"], paths: paths,
        environment: environment, currentDirectory: FileManager.default.currentDirectoryPath
    )
} catch {
    printError("Error: \(error)")
    exit(64)
}
parsed.allowUnisolatedRuns = values["allow-unisolated-runs"] == "true"
let configuration = parsed
let log: @Sendable (String) -> Void = { line in
    printError(Timestamp.text(Date()) + " " + line)
}
do {
    try await NovaServer.run(configuration, log: log) { port in
        log("listening on http://\(configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host):\(port) (home \(paths.home.path)\(configuration.token == nil ? "" : ", token required"))")
    }
} catch {
    printError("Error: \(error)")
    exit(1)
}
