import CSQLite

/// How a transaction takes its locks (SQLite docs, lang_transaction).
public enum TransactionKind: String, Sendable {
    /// Locks are taken as statements need them. Fine for reads.
    case deferred = "DEFERRED"
    /// Takes the write lock at BEGIN. Use it for every write: a deferred transaction that
    /// reads and then writes can fail with SQLITE_BUSY without the busy handler being
    /// consulted, when another writer got there first (SQLite docs, isolation and wal).
    case immediate = "IMMEDIATE"
    case exclusive = "EXCLUSIVE"
}

extension Connection {
    /// Runs `body` inside a transaction: commits when it returns, rolls back when it throws.
    ///
    /// The first error is the one rethrown; a rollback is attempted only while a transaction
    /// is still open, since SQLite may already have rolled it back itself (for example after
    /// SQLITE_FULL or an interrupted statement).
    public func inTransaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        try execute("BEGIN \(kind.rawValue) TRANSACTION")
        let result: T
        do {
            result = try body()
            try execute("COMMIT TRANSACTION")
        } catch {
            if isInTransaction {
                try? execute("ROLLBACK TRANSACTION")
            }
            throw error
        }
        return result
    }

    /// Runs `body` inside a savepoint, which nests inside a transaction. On error the savepoint
    /// is rolled back and then released, so the enclosing transaction goes on as before it.
    public func inSavepoint<T>(_ name: String = "novaos_savepoint", _ body: () throws -> T) throws -> T {
        let quoted = "\"" + name.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
        try execute("SAVEPOINT \(quoted)")
        do {
            let result = try body()
            try execute("RELEASE SAVEPOINT \(quoted)")
            return result
        } catch {
            if isInTransaction {
                try? execute("ROLLBACK TO SAVEPOINT \(quoted)")
                try? execute("RELEASE SAVEPOINT \(quoted)")
            }
            throw error
        }
    }

    /// Copies the whole database into a new file at `path` with SQLite's online backup API,
    /// a consistent snapshot even while other connections write.
    public func backup(to path: String) throws {
        try backup(into: Connection(path: path, mode: .readWriteCreate))
    }
}
