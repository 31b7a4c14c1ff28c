import CSQLite

/// An error reported by SQLite.
///
/// It carries the extended result code, SQLite's message and the SQL that failed,
/// but never the values bound to it: those may be user data or secrets.
public struct SQLiteError: Error, Equatable, Sendable {
    /// The extended result code (`SQLITE_BUSY_SNAPSHOT`, `SQLITE_CONSTRAINT_UNIQUE`, …).
    public let extendedCode: Int32
    /// SQLite's own message, as returned by `sqlite3_errmsg`.
    public let message: String
    /// The statement that failed, when there was one.
    public let sql: String?

    /// An error with SQLite's extended result code, its message and the failing SQL.
    public init(extendedCode: Int32, message: String, sql: String? = nil) {
        self.extendedCode = extendedCode
        self.message = message
        self.sql = sql
    }

    /// The primary result code: the low byte of the extended code.
    public var primaryCode: Int32 { extendedCode & 0xFF }

    /// Another connection holds a lock (SQLITE_BUSY or SQLITE_LOCKED).
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }
    /// A constraint (CHECK, NOT NULL, UNIQUE, FOREIGN KEY…) refused the change.
    public var isConstraintViolation: Bool { primaryCode == SQLITE_CONSTRAINT }
    /// A UNIQUE or PRIMARY KEY constraint refused the change.
    public var isUniqueViolation: Bool {
        // Extended codes are function-like macros in sqlite3.h, which Swift does not import.
        extendedCode == SQLITE_CONSTRAINT | (8 << 8) || extendedCode == SQLITE_CONSTRAINT | (6 << 8)
    }
    /// A STRICT table refused a value of the wrong type (SQLITE_CONSTRAINT_DATATYPE), as when an
    /// integer sum past 2^63 has turned into a REAL.
    public var isDatatypeMismatch: Bool { extendedCode == SQLITE_CONSTRAINT | (12 << 8) }
    /// The file is not a database, or is damaged.
    public var isNotADatabase: Bool { primaryCode == SQLITE_NOTADB || primaryCode == SQLITE_CORRUPT }
    /// The database cannot be written.
    public var isReadOnly: Bool { primaryCode == SQLITE_READONLY }
    /// The database or the disk is full.
    public var isFull: Bool { primaryCode == SQLITE_FULL }
    /// The file could not be opened.
    public var isCannotOpen: Bool { primaryCode == SQLITE_CANTOPEN }

    /// A short name for the extended code, as SQLite spells it in `sqlite3_errstr`.
    public var codeDescription: String { String(cString: sqlite3_errstr(extendedCode)) }
}

extension SQLiteError: CustomStringConvertible {
    public var description: String {
        var text = "SQLite error \(extendedCode): \(message)"
        if let sql { text += " (in: \(sql.split(whereSeparator: \.isNewline).joined(separator: " ")))" }
        return text
    }
}
