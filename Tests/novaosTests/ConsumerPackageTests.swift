import Foundation
import Testing

/// `SandboxCore` is a library other packages depend on (README, "Swift API"): a package that
/// names this one by URL and version, as a consumer would, builds against it and runs. The
/// release-only linker flags of the `novaos` executable must not stop that (SwiftPM refuses
/// unsafe flags only in the products a consumer uses).
@Suite struct ConsumerPackageTests {
    private func run(_ arguments: [String], in folder: URL) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = folder
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test(.timeLimit(.minutes(10))) func aPackageBuildsAgainstSandboxCoreByVersion() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("novaos-consumer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }

        // This package as a tagged git repository (what a URL dependency resolves), without build products.
        let library = scratch.appendingPathComponent("novaos")
        try FileManager.default.createDirectory(at: library, withIntermediateDirectories: true)
        for item in ["Package.swift", "Sources", "Modules"] {
            try FileManager.default.copyItem(at: root.appendingPathComponent(item), to: library.appendingPathComponent(item))
        }
        for command in [["git", "init", "-q"], ["git", "add", "-A"],
                        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", "release"], ["git", "tag", "1.0.0"]] {
            let result = try run(command, in: library)
            try #require(result.status == 0, "\(command): \(result.output)")
        }

        let consumer = scratch.appendingPathComponent("consumer")
        try FileManager.default.createDirectory(at: consumer.appendingPathComponent("Sources/consumer"), withIntermediateDirectories: true)
        try """
            // swift-tools-version:6.0
            import PackageDescription

            let package = Package(
                name: "consumer",
                dependencies: [.package(url: "\(library.absoluteString)", exact: "1.0.0")],
                targets: [.executableTarget(name: "consumer", dependencies: [.product(name: "SandboxCore", package: "novaos")])]
            )
            """.write(to: consumer.appendingPathComponent("Package.swift"), atomically: true, encoding: .utf8)
        try """
            import Foundation
            import SandboxCore

            let sandbox = try Sandbox(paths: SandboxPaths(home: URL(fileURLWithPath: CommandLine.arguments[1])))
            let project = try sandbox.createProject(name: "from a consumer")
            let agent = try sandbox.deployAgent(project: project.id, type: "assistant")
            _ = try sandbox.recordUsage(agent: agent.id, model: "claude-haiku-3.5", inputTokens: 1_000, outputTokens: 100)
            print(String(decoding: try JSONWriter(pretty: false).encode(try sandbox.listProjects()), as: UTF8.self))
            """.write(to: consumer.appendingPathComponent("Sources/consumer/main.swift"), atomically: true, encoding: .utf8)

        let build = try run(["swift", "build", "--scratch-path", consumer.appendingPathComponent(".build").path], in: consumer)
        try #require(build.status == 0, "\(build.output.suffix(3000))")
        let home = scratch.appendingPathComponent("home")
        let ran = try run([consumer.appendingPathComponent(".build/debug/consumer").path, home.path], in: consumer)
        #expect(ran.status == 0, "\(ran.output)")
        // Claude Haiku 3.5: 1,000 input tokens at $0.80 and 100 output at $4 per million.
        #expect(ran.output.contains(#""name":"from a consumer""#) && ran.output.contains(#""total_cost":0.0012"#), "\(ran.output)")
    }
}
