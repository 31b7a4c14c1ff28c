import Foundation
import PostgresDB

/// A PostgreSQL server for the tests: `NOVAOS_TEST_POSTGRES_URL`, which `scripts/with-postgres`
/// sets (CI runs the tests through it). Without it the PostgreSQL suites skip, saying why.
public enum TestPostgres {
    public static let url = ProcessInfo.processInfo.environment["NOVAOS_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

    /// Why the suites skip without a server.
    public static let skipReason = "no PostgreSQL server: run the tests through scripts/with-postgres, which starts one (NOVAOS_TEST_POSTGRES_URL)"

    struct NoServer: Error {}

    /// A new, empty database of its own for one test, and its URL.
    public static func freshDatabase() throws -> String {
        guard let url, var components = URLComponents(string: url) else { throw NoServer() }
        let admin = try PostgresConnection(url)
        let name = "novaos_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try admin.execute("CREATE DATABASE \(name)")
        components.path = "/" + name
        return components.string!
    }
}
