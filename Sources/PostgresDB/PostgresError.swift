import CPostgreSQL

/// A failure of libpq or of the server, with the server's `SQLSTATE` when it sent one.
///
/// The message is libpq's or the server's primary message; the SQL is kept for context, never
/// the bound values (which may be secrets or customer data).
public struct PostgresError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The five-character `SQLSTATE` (`23505`, `40001`, …); nil for a failure on the client
    /// side (a connection that could not be made or was lost).
    public var sqlState: String?
    public var message: String
    /// The server's `DETAIL`, when it sent one.
    public var detail: String?
    /// The statement that failed, when there was one.
    public var sql: String?

    public init(sqlState: String?, message: String, detail: String? = nil, sql: String? = nil) {
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.sql = sql
    }

    /// `40001`: the transaction could not be serialized; running it again may succeed.
    public var isSerializationFailure: Bool { sqlState == "40001" }
    /// `40P01`: the server broke a deadlock by failing this transaction; running it again may succeed.
    public var isDeadlock: Bool { sqlState == "40P01" }
    /// `23505`: a unique constraint refused the row.
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// Class `08` (connection exception) or `57P01` to `57P03` (the server shutting down or
    /// starting), or no `SQLSTATE` at all: the connection is gone or was never made.
    public var isConnectionFailure: Bool {
        guard let sqlState else { return true }
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }
    /// Whether running the whole transaction again may succeed.
    public var isRetryable: Bool { isSerializationFailure || isDeadlock }

    public var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail, !detail.isEmpty { text += ": \(detail)" }
        return text
    }

    /// The error a failed result carries.
    init(result: OpaquePointer?, connection: OpaquePointer?, sql: String?) {
        func field(_ code: UInt8) -> String? {
            guard let result, let text = PQresultErrorField(result, Int32(code)) else { return nil }
            return String(cString: text)
        }
        let primary = field(UInt8(ascii: "M"))
            ?? connection.flatMap { PQerrorMessage($0) }.map { String(cString: $0) }
            ?? "unknown libpq failure"
        self.init(
            sqlState: field(UInt8(ascii: "C")), message: Self.firstLine(primary), detail: field(UInt8(ascii: "D")).map(Self.firstLine), sql: sql
        )
    }

    static func firstLine(_ text: String) -> String {
        String(text.split(whereSeparator: \.isNewline).first ?? "").trimmingSpaces
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
