import Testing

/// Where production lives in a test that runs on both backends: `production.db`, or a
/// registry on PostgreSQL of its own (a new database, `TestPostgres.freshDatabase()`). Without
/// a server the PostgreSQL cases are not generated; the suites gated on `TestPostgres.url`
/// (`PostgresBackendTests`, `TeamModeEndToEndTests`) show as skipped, saying why.
public enum ProductionBackend: String, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    /// The backends this run can test.
    public static var available: [ProductionBackend] { TestPostgres.url == nil ? [.sqlite] : [.sqlite, .postgres] }

    public var testDescription: String { rawValue }
}
