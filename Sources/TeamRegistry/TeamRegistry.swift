import PostgresDB
import SandboxCore

/// Team mode: the production registry on PostgreSQL, for every production command and for
/// promotion, opened from a `postgres://` or `postgresql://` URL.
///
/// ```swift
/// let registry = try TeamRegistry.registry(url: "postgresql://nova@db.internal/production")
/// let ledger = try ProductionLedger(paths: paths, registry: registry)
/// ```
public enum TeamRegistry {
    /// The registry at `url`. Nothing is connected yet; each command connects when it opens
    /// the registry, and brings its schema up to date first (`RegistrySchema.migrate`).
    ///
    /// - Throws: `SandboxError.invalidInput` for a URL that is not PostgreSQL's, that libpq
    ///   cannot parse, or that names a password or an SSL key's password (it belongs in
    ///   `PGPASSWORD`, `~/.pgpass` or `PGPASSFILE`, where libpq finds it, never on a command
    ///   line). No message repeats the URL's text when it may hold one.
    public static func registry(url given: String) throws -> ProductionRegistry {
        guard ProductionRegistry.isPostgresURL(given) else {
            throw SandboxError.invalidInput("the production registry is not a PostgreSQL URL (postgres://USER@HOST/DATABASE)")
        }
        // libpq reads the scheme in lower case only.
        let colon = given.firstIndex(of: ":")!
        let url = given[..<colon].lowercased() + given[colon...]
        let secrets: [String]
        do {
            secrets = try PostgresConnection.namedSecrets(url)
        } catch {
            // libpq's message quotes the text it could not read, which may hold a password.
            throw SandboxError.invalidInput("the production registry URL cannot be parsed (libpq reads postgres://USER@HOST:PORT/DATABASE?PARAMETER=VALUE)")
        }
        guard secrets.isEmpty else {
            throw SandboxError.invalidInput(
                "the production registry URL names \(secrets.map { $0 == "password" ? "a password" : "the client key's password (sslpassword)" }.joined(separator: " and ")); remove it and give it in PGPASSWORD, ~/.pgpass or PGPASSFILE instead"
            )
        }
        @Sendable func connect() throws -> PostgresConnection {
            do {
                return try PostgresConnection(url)
            } catch let error as PostgresError {
                throw SandboxError.unavailable("the production registry \(url) cannot be reached (\(error.message))")
            }
        }
        /// A connection to a registry at this novaos's schema, brought up to date when older.
        @Sendable func open() throws -> PostgresConnection {
            let connection = try connect()
            do {
                try RegistrySchema.migrate(connection, name: url)
            } catch let error as PostgresError {
                throw SandboxError(error, registry: url)
            }
            return connection
        }
        return ProductionRegistry(
            location: url,
            openForWriting: { _ in PostgresLedgerDatabase(try open(), location: url, reconnect: connect) },
            openForReading: {
                // Read as it is: a registry no one has promoted into has no tables yet, and
                // reads as empty; nothing is created or changed for a read.
                let connection = try connect()
                let version: Int
                do {
                    version = try RegistrySchema.currentVersion(connection)
                } catch let error as PostgresError {
                    throw SandboxError(error, registry: url)
                }
                guard version > 0 else { return nil }
                guard version <= RegistrySchema.version else {
                    throw SandboxError.newerSchema(path: url, found: version, supported: RegistrySchema.version)
                }
                guard version == RegistrySchema.version else {
                    throw SandboxError.invalidState("the production registry \(url) needs a schema upgrade (version \(version) to \(RegistrySchema.version)); any command that writes to it makes it")
                }
                return PostgresLedgerDatabase(connection, location: url, reconnect: connect)
            },
            promotionTarget: { _ in PostgresPromotionTarget(try open(), name: url) }
        )
    }
}
