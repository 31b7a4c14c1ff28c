import CSQLite

/// The current row of a statement. Valid only until the statement steps again: read the
/// columns you need inside the closure that receives it, never keep the row.
public struct Row {
    let statement: Statement

    private var handle: OpaquePointer { statement.handle }

    /// The number of columns in the row.
    public var count: Int { Int(sqlite3_column_count(handle)) }

    /// True when the column holds NULL.
    public func isNull(_ index: Int32) -> Bool {
        sqlite3_column_type(handle, index) == SQLITE_NULL
    }

    /// The column as a 64-bit integer (0 for NULL, SQLite's conversion for other types).
    public func int64(_ index: Int32) -> Int64 {
        sqlite3_column_int64(handle, index)
    }

    /// The column as an `Int`.
    public func int(_ index: Int32) -> Int {
        Int(sqlite3_column_int64(handle, index))
    }

    /// The column as an integer, or nil for NULL.
    public func optionalInt64(_ index: Int32) -> Int64? {
        isNull(index) ? nil : int64(index)
    }

    /// The column as a `Double`.
    public func double(_ index: Int32) -> Double {
        sqlite3_column_double(handle, index)
    }

    /// The column as a `Bool`: any non-zero integer is true.
    public func bool(_ index: Int32) -> Bool {
        int64(index) != 0
    }

    /// The column as a `Bool`, or nil for NULL.
    public func optionalBool(_ index: Int32) -> Bool? {
        isNull(index) ? nil : bool(index)
    }

    /// The column as text; empty for NULL.
    public func text(_ index: Int32) -> String {
        guard let bytes = sqlite3_column_text(handle, index) else { return "" }
        // Read by byte count, so text containing NUL bytes comes back whole.
        let count = Int(sqlite3_column_bytes(handle, index))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// The column as text, or nil for NULL.
    public func optionalText(_ index: Int32) -> String? {
        isNull(index) ? nil : text(index)
    }

    /// The column as whatever storage class SQLite holds it in.
    public func value(_ index: Int32) -> SQLiteValue {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER: return .integer(int64(index))
        case SQLITE_FLOAT: return .real(double(index))
        case SQLITE_TEXT: return .text(text(index))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, index))
            guard count > 0, let pointer = sqlite3_column_blob(handle, index) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: pointer, count: count)))
        default: return .null
        }
    }
}
