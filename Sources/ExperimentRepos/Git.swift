#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Supervision

/// Runs git for novaos itself (never for code from a repository) without ever waiting for a
/// person and without running anything a repository or a user's configuration supplies: no
/// terminal prompts or password dialogs, SSH in batch mode, a timeout on every call, an
/// explicit commit identity; no system or global configuration, no hooks, no fsmonitor, no
/// credential helpers, no `ext::` transport, no signing. Its environment is built from a
/// short list of harmless variables: a token reaches git only for one push, in a header.
public struct Git: Sendable {
    public let executable: String
    public var environment: [String: String]
    public var timeout: TimeInterval

    /// Variables git may keep from the caller's environment: none of them holds a secret.
    static let passedThrough: Set<String> = [
        "PATH", "HOME", "TMPDIR", "TZ", "SSH_AUTH_SOCK", "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH",
        "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
    ]

    /// Settings given on every command line; they override any repository's own `.git/config`.
    static let overrides = [
        "core.hooksPath=/dev/null", "core.fsmonitor=false", "core.untrackedCache=false", "core.pager=cat", "core.editor=true",
        "credential.helper=", "protocol.ext.allow=never", "commit.gpgsign=false", "tag.gpgsign=false", "gc.auto=0",
        "maintenance.auto=false", "advice.detachedHead=false", "init.templateDir=", "log.showSignature=false",
        "core.attributesFile=/dev/null",
    ]

    /// - Parameter identity: the author and committer of novaos's commits.
    public init(environment base: [String: String], identity: (name: String, email: String), timeout: TimeInterval = 120) throws {
        guard let executable = ProcessRunner.which("git", environment: base) else {
            throw RepositoryError.failed("git is not installed (not found in PATH)")
        }
        self.executable = executable
        self.timeout = timeout
        var environment = base.filter { Self.passedThrough.contains($0.key) }
        environment["GIT_CONFIG_NOSYSTEM"] = "1"
        environment["GIT_CONFIG_GLOBAL"] = "/dev/null"
        environment["GIT_TERMINAL_PROMPT"] = "0"
        environment["GIT_ASKPASS"] = "/bin/false"
        environment["SSH_ASKPASS"] = "/bin/false"
        environment["GCM_INTERACTIVE"] = "never"
        environment["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes -o ConnectTimeout=15"
        environment["GIT_AUTHOR_NAME"] = identity.name
        environment["GIT_AUTHOR_EMAIL"] = identity.email
        environment["GIT_COMMITTER_NAME"] = identity.name
        environment["GIT_COMMITTER_EMAIL"] = identity.email
        environment["LC_ALL"] = "C"
        self.environment = environment
    }

    /// Runs `git ARGUMENTS` in `directory` and returns its output; throws with git's last
    /// line when it fails or times out.
    ///
    /// - Parameter extraEnvironment: variables for this call only (an authorization header
    ///   travels this way, never on the command line).
    @discardableResult
    public func run(_ arguments: [String], in directory: String, extraEnvironment: [String: String] = [:]) throws -> String {
        var environment = self.environment
        environment.merge(extraEnvironment) { $1 }
        let outcome = try ProcessRunner(timeout: timeout, outputLimit: 4 << 20).run(
            executable, Self.overrides.flatMap { ["-c", $0] } + arguments, environment: environment, directory: directory
        )
        guard outcome.succeeded else {
            let reason = outcome.timedOut
                ? "timed out after \(Int(timeout))s"
                : outcome.output.split(whereSeparator: \.isNewline).last.map(String.init) ?? "exit status \(outcome.exitCode ?? -1)"
            throw RepositoryError.failed("git \(arguments.first ?? "") failed: \(reason)")
        }
        return outcome.output
    }

    /// `run`'s output without the white space around it: for commands that print one value
    /// (a SHA, a count, a path).
    public func line(_ arguments: [String], in directory: String) throws -> String {
        let output = try run(arguments, in: directory)
        let start = output.firstIndex { !$0.isWhitespace } ?? output.endIndex
        let end = output.lastIndex { !$0.isWhitespace }.map(output.index(after:)) ?? start
        return String(output[start..<max(start, end)])
    }

    /// Copies the repository at `source` (a path) into `destination` as a mirror, object by
    /// object (`--no-local`: no hard links, no alternates). The copy's configuration is
    /// novaos's own, so nothing in the source's `.git/config` (smudge filters, textconv,
    /// gpg programs) is ever run by a later git call on the copy.
    public func mirror(_ source: String, to destination: String, in scratch: String) throws {
        try run(["clone", "--quiet", "--mirror", "--no-local", "--no-hardlinks", "--", source, destination], in: scratch)
    }

    /// Writes the tree of `commit` of the repository at `source` into `folder` (which must
    /// exist and be empty): plain files, no `.git`, no alternates, nothing that leads back to
    /// `source`. The source's own index is untouched; a private one in `scratch` is used.
    /// `source` must be a repository whose configuration novaos wrote (see `mirror`): its
    /// filters would run here.
    public func export(commit: String, from source: String, into folder: String, scratch: String) throws {
        let index = scratch + "/index-\(UUID().uuidString)"
        defer { unlink(index) }
        let gitDirectory = try line(["rev-parse", "--absolute-git-dir"], in: source)
        let variables = ["GIT_DIR": gitDirectory, "GIT_WORK_TREE": folder, "GIT_INDEX_FILE": index]
        try run(["read-tree", commit], in: folder, extraEnvironment: variables)
        try run(["checkout-index", "--all", "--force"], in: folder, extraEnvironment: variables)
    }

    /// The variables that make one git call send `Authorization` to the server, through git's
    /// environment configuration (`GIT_CONFIG_COUNT`), so the token is in no URL, argument or file.
    public static func authorization(username: String, token: String) -> [String: String] {
        let credentials = Data("\(username):\(token)".utf8).base64EncodedString()
        return ["GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": "Authorization: Basic \(credentials)"]
    }
}
