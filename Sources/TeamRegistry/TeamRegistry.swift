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
    ///   cannot parse, or that names a password (it belongs in `PGPASSWORD`, `~/.pgpass` or
    ///   `PGPASSFILE`, where libpq finds it, never on a command line).
    public static func registry(url: String) throws -> ProductionRegistry {
        guard ProductionRegistry.isPostgresURL(url) else {
            throw SandboxError.invalidInput("\(url) is not a PostgreSQL URL (postgres://USER@HOST/DATABASE)")
        }
        let namesPassword: Bool
        do {
            namesPassword = try PostgresConnection.namesPassword(url)
        } catch let error as PostgresError {
            throw SandboxError.invalidInput("invalid production registry URL: \(error.message)")
        }
        guard !namesPassword else {
            throw SandboxError.invalidInput(
                "the production registry URL names a password; remove it and give it in PGPASSWORD, ~/.pgpass or PGPASSFILE instead"
            )
        }
        @Sendable func open() throws -> PostgresConnection {
            let connection: PostgresConnection
            do {
                connection = try PostgresConnection(url)
            } catch let error as PostgresError {
                throw SandboxError.unavailable("the production registry \(url) cannot be reached (\(error.message)); nothing was changed")
            }
            do {
                try RegistrySchema.migrate(connection, name: url)
            } catch let error as PostgresError {
                throw SandboxError(error, registry: url)
            }
            return connection
        }
        return ProductionRegistry(
            location: url, isShared: true,
            openForWriting: { _ in PostgresLedgerDatabase(try open(), location: url) },
            openForReading: { PostgresLedgerDatabase(try open(), location: url) },
            promotionTarget: { _ in PostgresPromotionTarget(try open(), name: url) }
        )
    }
}
