#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SandboxCore

/// What `novaos serve` was asked for, checked before anything listens.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The bearer token requests must carry; nil: none (loopback only).
    public var token: String?
    public var paths: SandboxPaths
    /// The environment repository operations start from (git identity, remotes, GitHub).
    public var environment: [String: String]
    public var currentDirectory: String
    /// The largest request body accepted (413 above).
    public var maximumBodyBytes = 1 << 20
    /// Lets `run-sandbox-experiment` ask for `isolation: none` or `network: true`; off unless
    /// `--allow-unisolated-runs`: a client must never choose to run code outside the sandbox.
    public var allowUnisolatedRuns = false
    /// How long a request waits for another process's write lock before it is a 503
    /// (`NOVAOS_BUSY_TIMEOUT_MS`, as for the CLI; default 10 s).
    public var busyTimeoutMilliseconds: Int32
    /// How long an agent the server runs has between SIGTERM and SIGKILL
    /// (`NOVAOS_KILL_GRACE_MS`, as for the CLI; default 2 s).
    public var killGracePeriod: TimeInterval

    /// - Throws: `SandboxError.invalidInput` for a non-loopback host without a token, a port
    ///   out of range, or a token file that is not a private regular file holding a token of
    ///   at least 16 characters.
    public init(
        host: String, port: Int, tokenFile: String?, paths: SandboxPaths, environment: [String: String], currentDirectory: String
    ) throws {
        guard (0...65_535).contains(port) else { throw SandboxError.invalidInput("--port must be from 0 to 65535, got \(port)") }
        self.host = host
        self.port = port
        self.paths = paths
        self.environment = environment
        self.currentDirectory = currentDirectory
        busyTimeoutMilliseconds = Sandbox.busyTimeoutMilliseconds(in: environment)
        killGracePeriod = RunOptions.gracePeriod(in: environment)
        token = try tokenFile.map(Self.readToken)
        if let tokenFile {
            // Whatever the server runs (agents, test suites) must not read the token: hidden
            // like novaos's own data, where it really is.
            let absolute = tokenFile.hasPrefix("/") ? tokenFile : currentDirectory + "/" + tokenFile
            guard !absolute.contains(":") else {
                throw SandboxError.invalidInput("--token-file \(tokenFile): the path may not contain ':' (it is hidden from what the server runs through NOVAOS_HIDE, a list separated by ':')")
            }
            self.environment["NOVAOS_HIDE"] = [environment["NOVAOS_HIDE"], absolute].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ":")
        }
        if token == nil, !NetworkAddress.isLoopback(host) {
            throw SandboxError.invalidInput("listening on \(host) (not loopback) needs a token: pass --token-file FILE")
        }
    }

    /// The token in a file: its first line, without surrounding spaces. The file must be a
    /// regular file that only its owner can read (as ssh wants of a key), and the token 16
    /// to 4,096 printable ASCII characters.
    static func readToken(_ path: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw SandboxError.invalidInput("--token-file \(path): not a readable regular file")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw SandboxError.invalidInput("--token-file \(path): others can read it (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        guard info.st_size <= 65_536, let data = FileManager.default.contents(atPath: path) else {
            throw SandboxError.invalidInput("--token-file \(path): cannot read it, or it is over 64 KiB")
        }
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let token = String(line.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
        guard (16...4_096).contains(token.utf8.count), token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw SandboxError.invalidInput("--token-file \(path): the token must be 16 to 4096 printable characters without spaces")
        }
        return token
    }
}
