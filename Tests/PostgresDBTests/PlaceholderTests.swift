import PostgresDB
import Testing

/// SQLite's parameters as PostgreSQL's, by SQLite's own numbering rule, and nothing quoted touched.
struct PlaceholderTests {
    @Test(arguments: [
        ("SELECT 1", "SELECT 1"),
        ("SELECT ?, ?, ?", "SELECT $1, $2, $3"),
        ("WHERE a = ?1 OR b = ?1", "WHERE a = $1 OR b = $1"),
        ("WHERE (?1 IS NULL OR s = ?1) AND x > ?2 LIMIT ?3", "WHERE ($1 IS NULL OR s = $1) AND x > $2 LIMIT $3"),
        ("VALUES (?2, ?, ?1, ?)", "VALUES ($2, $3, $1, $4)"),
        ("SELECT '?', \"a?b\", ? -- what?\n, ?", "SELECT '?', \"a?b\", $1 -- what?\n, $2"),
        ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"),
        ("/* ? */ SELECT ?", "/* ? */ SELECT $1"),
        ("SELECT $$ ? $$, $tag$ ?$ $tag$, ?", "SELECT $$ ? $$, $tag$ ?$ $tag$, $1"),
        ("SELECT x FROM t WHERE y = ?12", "SELECT x FROM t WHERE y = $12"),
        ("SELECT $t1$ ? $t1$, ?, $1", "SELECT $t1$ ? $t1$, $1, $1"),
        ("SELECT 'unterminated ?", "SELECT 'unterminated ?"),
        ("SELECT ünï, ?", "SELECT ünï, $1"),
    ])
    func translates(sqlite: String, postgres: String) {
        #expect(postgresPlaceholders(sqlite) == postgres)
    }
}
