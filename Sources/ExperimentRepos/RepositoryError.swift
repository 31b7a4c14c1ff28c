#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Everything the experiment-repository layer can refuse or fail with, as one line each.
public enum RepositoryError: Error, Equatable, Sendable {
    /// A value the caller supplied that cannot be accepted (a remote URL with a token in it).
    case invalidInput(String)
    /// git, GitHub or a tool failed.
    case failed(String)
}

extension RepositoryError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case .invalidInput(let message), .failed(let message): message
        }
    }

    public var errorDescription: String? { description }
}

/// Remote URLs as novaos accepts them: never with a credential in them.
public enum RemoteURL {
    /// The prefixes of the tokens of GitHub, GitLab and others, refused anywhere in a URL.
    static let tokenPrefixes = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-", "x-access-token", "x-token-auth", "oauth2:"]

    /// An SSH login: a short lower-case name such as `git` or `ec2-user`, not something shaped
    /// like a token (long, or with more than a few digits).
    static func checkLogin(_ user: String, refusal: RepositoryError) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_.-")
        guard !user.isEmpty, user.count <= 32, user.allSatisfy({ allowed.contains($0) }), user.first?.isLetter == true,
              user.filter(\.isNumber).count <= 4 else { throw refusal }
    }

    /// True for a URL (`scheme://…`) or scp-like address (`user@host:path`), false for a path.
    public static func looksLikeURL(_ value: String) -> Bool {
        value.contains("://") || (value.contains("@") && value.contains(":") && !value.hasPrefix("/"))
    }

    /// Refuses a remote that could carry a secret into the database or `.git/config`: a
    /// password, a user name on HTTP(S) (`https://TOKEN@host/…`), a query or fragment
    /// (`?access_token=…`), git's `ext::` transport, or anything that looks like an option.
    /// An SSH user (`git@host:org/repo.git`, `ssh://git@host/…`) is a login name, not a secret.
    public static func validate(_ value: String) throws {
        guard !value.isEmpty, !value.hasPrefix("-"), !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw RepositoryError.invalidInput("invalid remote: it is empty, starts with - or holds control characters")
        }
        let refusal = RepositoryError.invalidInput(
            "the remote URL must not contain a token, password, user name or query; give GitHub's token in GITHUB_TOKEN instead"
        )
        let lower = value.lowercased()
        if lower.hasPrefix("ext::") || lower.contains("::") && !lower.contains("://") {
            throw RepositoryError.invalidInput("remote helpers such as ext:: are not allowed in remote URLs")
        }
        if value.contains("?") || value.contains("#") || value.contains("\\") { throw refusal }
        if (lower.hasPrefix("http:") || lower.hasPrefix("https:") || lower.hasPrefix("ssh:")) && !lower.contains("://") {
            throw RepositoryError.invalidInput("invalid remote URL: git would not understand it")
        }
        if tokenPrefixes.contains(where: { lower.contains($0) }) { throw refusal }
        guard value.contains("://") else {
            // A path, or scp-like user@host:path, whose user must look like a login name.
            if let at = value.firstIndex(of: "@"), let colon = value.firstIndex(of: ":"), at < colon {
                try checkLogin(String(value[..<at]), refusal: refusal)
            }
            return
        }
        guard let components = URLComponents(string: value) else {
            throw RepositoryError.invalidInput("invalid remote URL: git would not understand it")
        }
        if components.password != nil || components.percentEncodedPassword != nil { throw refusal }
        let scheme = components.scheme?.lowercased() ?? ""
        if let user = components.user {
            guard scheme == "ssh" || scheme == "git+ssh" || scheme == "ssh+git" else { throw refusal }
            try checkLogin(user, refusal: refusal)
        }
        if components.query != nil || components.fragment != nil { throw refusal }
    }
}
