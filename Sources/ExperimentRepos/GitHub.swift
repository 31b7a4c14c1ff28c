import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Creates repositories through GitHub's REST API (`POST /user/repos`), or a GitHub
/// Enterprise API at another base URL.
public struct GitHubClient: Sendable {
    public var baseURL: URL
    public var username: String
    public var token: String
    public var timeout: TimeInterval = 20

    public struct Created: Sendable {
        public var cloneURL: String
    }

    public init(baseURL: URL, username: String, token: String, timeout: TimeInterval = 20) {
        self.baseURL = baseURL
        self.username = username
        self.token = token
        self.timeout = timeout
    }

    public func createRepository(name: String, description: String, isPrivate: Bool) throws -> Created {
        var request = URLRequest(url: baseURL.appendingPathComponent("user/repos"), timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("application/vnd.github+json", forHTTPHeaderField: "Accept")
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("novaos", forHTTPHeaderField: "User-Agent")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let body: [String: Any] = ["name": name, "description": description, "private": isPrivate, "auto_init": false]
        request.httpBody = try JSONSerialization.data(withJSONObject: body)

        final class Box: @unchecked Sendable {
            var data: Data?
            var response: URLResponse?
            var error: (any Error)?
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        let session = URLSession(configuration: configuration)
        session.dataTask(with: request) { data, response, error in
            box.data = data
            box.response = response
            box.error = error
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + timeout + 5) == .success else {
            session.invalidateAndCancel()
            throw RepositoryError.failed("GitHub did not answer within \(Int(timeout))s")
        }
        session.finishTasksAndInvalidate()
        if let error = box.error {
            throw RepositoryError.failed("cannot reach GitHub at \(baseURL.absoluteString): \(error.localizedDescription)")
        }
        let status = (box.response as? HTTPURLResponse)?.statusCode ?? 0
        let object = box.data.flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any]
        guard status == 201 || status == 200, let cloneURL = object?["clone_url"] as? String else {
            let message = (object?["message"] as? String).map { ": \($0)" } ?? ""
            throw RepositoryError.failed("GitHub refused to create repository \(name) (HTTP \(status))\(message)")
        }
        return Created(cloneURL: cloneURL)
    }
}
