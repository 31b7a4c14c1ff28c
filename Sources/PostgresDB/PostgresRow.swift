/// One row of a result, its values as the server's text (nil for NULL), copied out of libpq.
public struct PostgresRow: Sendable, Equatable {
    public let names: [String]
    public let values: [String?]

    /// The value of the column `name`, nil for NULL.
    ///
    /// - Throws: `PostgresError` for a column the row does not have.
    public func text(_ name: String) throws -> String? {
        guard let index = names.firstIndex(of: name) else {
            throw PostgresError(sqlState: nil, message: "no column \(name) in the result (columns: \(names.joined(separator: ", ")))")
        }
        return values[index]
    }

    /// The value of the column `name`, which must not be NULL.
    public func requiredText(_ name: String) throws -> String {
        guard let value = try text(name) else { throw PostgresError(sqlState: nil, message: "column \(name) is NULL") }
        return value
    }

    /// An integer column (`bigint`, `integer`).
    public func int64(_ name: String) throws -> Int64 {
        let text = try requiredText(name)
        guard let value = Int64(text) else { throw PostgresError(sqlState: nil, message: "column \(name) is not an integer: \(text)") }
        return value
    }

    /// A nullable integer column.
    public func optionalInt64(_ name: String) throws -> Int64? {
        guard let text = try text(name) else { return nil }
        guard let value = Int64(text) else { throw PostgresError(sqlState: nil, message: "column \(name) is not an integer: \(text)") }
        return value
    }

    /// A `boolean` column (`t` or `f`).
    public func bool(_ name: String) throws -> Bool {
        switch try requiredText(name) {
        case "t": true
        case "f": false
        case let other: throw PostgresError(sqlState: nil, message: "column \(name) is not a boolean: \(other)")
        }
    }
}

/// A value bound as a parameter, sent in PostgreSQL's text format.
public protocol PostgresBindable {
    var postgresText: String { get }
}

extension String: PostgresBindable { public var postgresText: String { self } }
extension Int: PostgresBindable { public var postgresText: String { String(self) } }
extension Int64: PostgresBindable { public var postgresText: String { String(self) } }
extension Int32: PostgresBindable { public var postgresText: String { String(self) } }
extension Bool: PostgresBindable { public var postgresText: String { self ? "t" : "f" } }

extension PostgresRow {
    /// The value of column `index` (0-based), nil for NULL: for code shared with SQLite's
    /// positional rows.
    public func text(at index: Int) -> String? { values[index] }

    /// An integer column by position.
    public func int64(at index: Int) throws -> Int64 {
        guard let text = values[index], let value = Int64(text) else {
            throw PostgresError(sqlState: nil, message: "column \(names[index]) is not an integer: \(values[index] ?? "NULL")")
        }
        return value
    }
}
