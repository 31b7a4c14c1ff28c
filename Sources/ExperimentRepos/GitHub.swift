#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Supervision

/// Creates repositories through GitHub's REST API (`POST /user/repos`), or a GitHub
/// Enterprise API at another base URL.
///
/// The request is made by `python3` (a dependency already, for test suites and analysis) with
/// its standard `urllib`, not by Foundation's `URLSession`: linking FoundationNetworking (and
/// through it curl, Kerberos, LDAP and GnuTLS) cost every novaos command about half of its
/// start-up, for one call that only `repo create` makes. The token reaches python3 in its
/// environment, never in its arguments (which other users can read in `/proc`).
public struct GitHubClient: Sendable {
    public var baseURL: URL
    public var username: String
    public var token: String
    public var timeout: TimeInterval = 20
    /// Where python3 is looked up, and the proxy and certificate settings passed on.
    public var environment: [String: String]

    public struct Created: Sendable {
        public var cloneURL: String
    }

    public init(baseURL: URL, username: String, token: String, timeout: TimeInterval = 20, environment: [String: String]) {
        self.baseURL = baseURL
        self.username = username
        self.token = token
        self.timeout = timeout
        self.environment = environment
    }

    /// The body of `POST /user/repos`.
    private struct Request: Encodable {
        var name: String
        var description: String
        var `private`: Bool
        var auto_init: Bool
    }

    /// What the script prints: GitHub's status and body, or why there was none.
    private struct Answer: Decodable {
        var status: Int?
        var body: String?
        var error: String?
    }

    /// The fields of GitHub's answer that matter here (a JSON body of another shape has neither).
    private struct Reply: Decodable {
        var clone_url: String?
        var message: String?
    }

    /// The request, in Python: one JSON object on stdout, whatever happens.
    static let script = #"""
        import json, os, sys, urllib.request, urllib.error
        try:
            request = urllib.request.Request(
                os.environ["NOVAOS_GITHUB_URL"], data=os.environ["NOVAOS_GITHUB_BODY"].encode(), method="POST",
                headers={"Accept": "application/vnd.github+json", "Authorization": "Bearer " + os.environ["NOVAOS_GITHUB_TOKEN"],
                         "User-Agent": "novaos", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=float(os.environ["NOVAOS_GITHUB_TIMEOUT"])) as response:
                    answer = {"status": response.status, "body": response.read().decode("utf-8", "replace")}
            except urllib.error.HTTPError as error:
                answer = {"status": error.code, "body": error.read().decode("utf-8", "replace")}
        except Exception as error:
            answer = {"status": 0, "error": str(error)}
        sys.stdout.write(json.dumps(answer) + "\n")
        """#

    public func createRepository(name: String, description: String, isPrivate: Bool) throws -> Created {
        guard let python = ProcessRunner.which("python3", environment: environment) else {
            throw RepositoryError.failed("python3 is needed to call the GitHub API and was not found in PATH")
        }
        let body = try JSONEncoder().encode(Request(name: name, description: description, private: isPrivate, auto_init: false))
        var variables = [
            "NOVAOS_GITHUB_URL": baseURL.appendingPathComponent("user/repos").absoluteString,
            "NOVAOS_GITHUB_BODY": String(decoding: body, as: UTF8.self),
            "NOVAOS_GITHUB_TOKEN": token,
            "NOVAOS_GITHUB_TIMEOUT": String(Int(timeout)),
            "PYTHONIOENCODING": "utf-8",
        ]
        for key in ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"] {
            variables[key] = environment[key]
        }
        let outcome = try ProcessRunner(timeout: timeout + 5).run(python, ["-I", "-c", Self.script], environment: variables, directory: "/")
        let line = outcome.output.split(separator: "\n").last.map(String.init) ?? ""
        guard outcome.succeeded, let answer = try? JSONDecoder().decode(Answer.self, from: Data(line.utf8)) else {
            throw RepositoryError.failed(outcome.timedOut ? "GitHub did not answer within \(Int(timeout))s" : "the GitHub request failed")
        }
        let status = answer.status ?? 0
        if status == 0 {
            throw RepositoryError.failed("cannot reach GitHub at \(baseURL.absoluteString): \(answer.error ?? "no answer")")
        }
        let object = answer.body.flatMap { try? JSONDecoder().decode(Reply.self, from: Data($0.utf8)) }
        guard status == 201 || status == 200, let cloneURL = object?.clone_url else {
            let message = object?.message.map { ": \($0)" } ?? ""
            throw RepositoryError.failed("GitHub refused to create repository \(name) (HTTP \(status))\(message)")
        }
        return Created(cloneURL: cloneURL)
    }
}
