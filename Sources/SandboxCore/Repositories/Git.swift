import Foundation

/// Runs git without ever waiting for a person: no terminal prompts, no password dialogs,
/// SSH in batch mode, a timeout on every call, and an explicit commit identity.
struct Git {
    let executable: String
    var environment: [String: String]
    var timeout: TimeInterval

    /// - Parameter identity: the author and committer of novaos's commits.
    init(environment base: [String: String], identity: (name: String, email: String), timeout: TimeInterval = 120) throws {
        guard let executable = ProcessRunner.which("git", environment: base) else {
            throw SandboxError.invalidState("git is not installed (not found in PATH)")
        }
        self.executable = executable
        self.timeout = timeout
        var environment = base
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
        for key in environment.keys where key.hasPrefix("GIT_CONFIG_") || key == "GIT_DIR" || key == "GIT_WORK_TREE" {
            environment[key] = nil
        }
        self.environment = environment
    }

    /// Runs `git ARGUMENTS` in `directory` and returns its output; throws with git's last
    /// line when it fails or times out.
    ///
    /// - Parameter extraEnvironment: variables for this call only (an authorization header
    ///   travels this way, never on the command line).
    @discardableResult
    func run(_ arguments: [String], in directory: String, extraEnvironment: [String: String] = [:]) throws -> String {
        var environment = self.environment
        environment.merge(extraEnvironment) { $1 }
        let outcome = try ProcessRunner(timeout: timeout, outputLimit: 4 << 20).run(
            executable, ["-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"] + arguments, environment: environment, directory: directory
        )
        guard outcome.succeeded else {
            let reason = outcome.timedOut
                ? "timed out after \(Int(timeout))s"
                : outcome.output.split(whereSeparator: \.isNewline).last.map(String.init) ?? "exit status \(outcome.exitCode ?? -1)"
            throw SandboxError.invalidState("git \(arguments.first ?? "") failed: \(reason)")
        }
        return outcome.output
    }

    /// The variables that make one git call send `Authorization` to the server, through git's
    /// environment configuration (`GIT_CONFIG_COUNT`), so the token is in no URL, argument or file.
    static func authorization(username: String, token: String) -> [String: String] {
        let credentials = Data("\(username):\(token)".utf8).base64EncodedString()
        return ["GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": "Authorization: Basic \(credentials)"]
    }
}
