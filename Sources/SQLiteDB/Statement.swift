import CSQLite

/// SQLite copies bound text and blobs when given SQLITE_TRANSIENT (a destructor of -1), and
/// uses them in place with SQLITE_STATIC (no destructor).
private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
private let SQLITE_STATIC: sqlite3_destructor_type? = nil

/// A compiled SQL statement.
///
/// Bind values, then `step()` through rows or `run()` it to completion; `reset()` readies it
/// for the next use. Finalized when released.
public final class Statement {
    let handle: OpaquePointer
    /// The statement's SQL, for error messages.
    public let sql: String
    unowned let connection: Connection

    init(connection: Connection, sql: String) throws {
        var pointer: OpaquePointer?
        let code = sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &pointer, nil)
        guard code == SQLITE_OK, let pointer else {
            throw connection.error(code: code, sql: sql)
        }
        self.handle = pointer
        self.sql = sql
        self.connection = connection
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Resets the statement and clears its bindings.
    public func reset() throws {
        // sqlite3_reset repeats the error of the last step; that error was already reported
        // to whoever stepped, so it is not raised again here.
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Binds `values` to parameters 1…n, after resetting the statement.
    public func bind(_ values: [any SQLiteBindable]) throws {
        try reset()
        for (offset, value) in values.enumerated() {
            try bind(value.sqliteValue, at: Int32(offset + 1))
        }
    }

    /// Binds one value to the parameter at `index` (1-based).
    public func bind(_ value: SQLiteValue, at index: Int32) throws {
        let code: Int32
        switch value {
        case .null:
            code = sqlite3_bind_null(handle, index)
        case .integer(let number):
            code = sqlite3_bind_int64(handle, index, number)
        case .real(let number):
            code = sqlite3_bind_double(handle, index, number)
        case .text(let string):
            // Bound by byte count, not as a C string, so text with NUL bytes is kept whole.
            var text = string
            code = text.withUTF8 { buffer in
                guard let base = buffer.baseAddress, buffer.count > 0 else {
                    return sqlite3_bind_text(handle, index, "", 0, SQLITE_TRANSIENT)
                }
                return base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                    sqlite3_bind_text64(handle, index, $0, UInt64(buffer.count), SQLITE_TRANSIENT, UInt8(SQLITE_UTF8))
                }
            }
        case .blob(let bytes):
            code = bytes.withUnsafeBytes { buffer in
                sqlite3_bind_blob64(handle, index, buffer.baseAddress, UInt64(buffer.count), SQLITE_TRANSIENT)
            }
        }
        guard code == SQLITE_OK else { throw connection.error(code: code, sql: sql) }
    }

    /// Advances to the next row. Returns true when a row is available, false when done.
    @discardableResult
    public func step() throws -> Bool {
        let code = sqlite3_step(handle)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = connection.error(code: code, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Binds `values` to parameters 1…n without copying their text, runs the statement to
    /// completion, and resets it. For hot loops: each text is bound in place from its string's
    /// own UTF-8 storage and SQLite is told it is static (`SQLITE_STATIC`), which holds because
    /// the step runs inside every string's `withUTF8`, and the bindings are cleared before
    /// those scopes end.
    public func runBorrowing(_ values: [SQLiteValue]) throws {
        sqlite3_reset(handle)
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        try bindBorrowing(values, from: 0)
    }

    /// Binds `values[index...]`, each text inside the scope of its bytes, then steps.
    private func bindBorrowing(_ values: [SQLiteValue], from index: Int) throws {
        guard index < values.count else {
            while try step() {}
            return
        }
        let position = Int32(index + 1)
        switch values[index] {
        case .text(var text):
            try text.withUTF8 { buffer in
                let code = buffer.isEmpty
                    ? sqlite3_bind_text(handle, position, "", 0, SQLITE_TRANSIENT)
                    : buffer.withMemoryRebound(to: CChar.self) {
                        sqlite3_bind_text64(handle, position, $0.baseAddress, UInt64($0.count), SQLITE_STATIC, UInt8(SQLITE_UTF8))
                    }
                guard code == SQLITE_OK else { throw connection.error(code: code, sql: sql) }
                try bindBorrowing(values, from: index + 1)
            }
            return
        case .integer(let integer):
            // Directly: the general `bind(_:at:)` costs more than the call itself here.
            let code = sqlite3_bind_int64(handle, position, integer)
            guard code == SQLITE_OK else { throw connection.error(code: code, sql: sql) }
        case .null:
            let code = sqlite3_bind_null(handle, position)
            guard code == SQLITE_OK else { throw connection.error(code: code, sql: sql) }
        case let other:
            try bind(other, at: position)
        }
        try bindBorrowing(values, from: index + 1)
    }

    /// Steps the statement to completion, discarding any rows, then resets it.
    public func run() throws {
        defer { sqlite3_reset(handle) }
        while try step() {}
    }

    /// Binds `values` and runs the statement to completion.
    public func run(_ values: [any SQLiteBindable]) throws {
        try bind(values)
        try run()
    }

    /// The row `step()` just reached; valid until the next step.
    public var currentRow: Row { Row(statement: self) }

    /// Steps through every row, decoding each, then resets the statement.
    public func map<T>(_ decode: (Row) throws -> T) throws -> [T] {
        var rows: [T] = []
        try forEach { rows.append(try decode($0)) }
        return rows
    }

    /// Steps through every row, handing each to `body` while it is current (a `Row` is
    /// valid only during its call), then resets the statement: rows without an array.
    public func forEach(_ body: (Row) throws -> Void) throws {
        defer { sqlite3_reset(handle) }
        while try step() {
            try body(Row(statement: self))
        }
    }
}
