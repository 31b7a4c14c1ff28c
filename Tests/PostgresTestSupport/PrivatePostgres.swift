import Foundation

/// A PostgreSQL server of one test's own, for a test that restarts its server (so that no
/// other test loses its connections): `initdb` into a new folder, `pg_ctl start` on a free
/// loopback port, as `scripts/with-postgres` does (as the user `novaos-pg` when run as root),
/// stopped and removed by `stop()`.
public final class PrivatePostgres {
    public let url: String
    private let folder: URL
    private let bin: String
    private let asOwner: [String]

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public init() throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = versions.sorted(by: { $0.compare($1, options: .numeric) == .orderedAscending }).last else {
            throw Failure(description: "no PostgreSQL server is installed")
        }
        bin = "/usr/lib/postgresql/\(version)/bin"
        folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("novaos-pg-private-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        asOwner = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "novaos-pg", "--"] : []
        if getuid() == 0 { try Self.run(["/bin/chown", "novaos-pg", folder.path]) }
        let port = try Self.freePort()
        try Self.run(asOwner + ["\(bin)/initdb", "-D", folder.path + "/db", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
        try Self.run(asOwner + [
            "\(bin)/pg_ctl", "-D", folder.path + "/db", "-l", folder.path + "/server.log", "-w", "-t", "60",
            "-o", "-p \(port) -k \(folder.path) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", "start",
        ])
        url = "postgresql://postgres@127.0.0.1:\(port)/postgres"
    }

    /// Restarts the server (`pg_ctl restart -m fast`): every connection is cut, as when a
    /// database server is restarted under its clients.
    public func restart() throws {
        try Self.run(asOwner + ["\(bin)/pg_ctl", "-D", folder.path + "/db", "-l", folder.path + "/server.log", "-m", "fast", "-w", "-t", "60", "restart"])
    }

    public func stop() {
        _ = try? Self.run(asOwner + ["\(bin)/pg_ctl", "-D", folder.path + "/db", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs a program to its end (`posix_spawn` and `waitpid`: the server that `pg_ctl start`
    /// leaves running would hold a pipe open, and Foundation's `Process` can miss the exit of
    /// a child whose own child lives on). Its output goes to a file, shown on failure.
    private static func run(_ arguments: [String]) throws {
        let log = NSTemporaryDirectory() + "/novaos-pg-run-\(UUID().uuidString.prefix(8)).log"
        defer { unlink(log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
        guard spawned == 0 else { throw Failure(description: "cannot start \(arguments[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        guard status == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw Failure(description: "\(arguments.joined(separator: " ")) failed (status \(status)): \(text.suffix(500))")
        }
    }

    private static func freePort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw Failure(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
