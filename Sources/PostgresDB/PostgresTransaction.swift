#if canImport(Glibc)
import Glibc
#endif

/// How a transaction sees other transactions' changes.
public enum PostgresIsolation: String, Sendable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
}

extension PostgresConnection {
    /// Runs `body` in a transaction and commits it; rolls back when `body` throws.
    ///
    /// A serialization failure (`40001`) or a deadlock (`40P01`), in `body` or at `COMMIT`, runs
    /// the whole transaction again after a short random wait that doubles each time (5 ms,
    /// 10 ms, … up to 640 ms), at most `maximumAttempts` times; then the last error is thrown,
    /// saying how many attempts were made. `body` must therefore be safe to run again: it
    /// sees a fresh transaction each time. Other errors are thrown at once.
    public func inTransaction<T>(
        _ isolation: PostgresIsolation = .readCommitted, maximumAttempts: Int = 8, _ body: () throws -> T
    ) throws -> T {
        var attempt = 1
        while true {
            do {
                try execute("BEGIN ISOLATION LEVEL \(isolation.rawValue)")
                let value: T
                do {
                    value = try body()
                    try execute("COMMIT")
                } catch {
                    // A lost connection has no transaction left to roll back.
                    if isCopying { _ = try? endCopy(abandoning: "the transaction failed") }
                    if isConnected { try? execute("ROLLBACK") }
                    throw error
                }
                return value
            } catch let error as PostgresError where error.isRetryable {
                guard attempt < maximumAttempts else {
                    var final = error
                    final.message += " (gave up after \(attempt) attempts)"
                    throw final
                }
                Self.backOff(after: attempt)
                attempt += 1
            }
        }
    }

    /// Waits before a transaction's attempt `attempt + 1`: a random time between the base and
    /// twice it, the base 5 ms doubling with each attempt up to 640 ms, so transactions that
    /// collided do not collide again in step.
    public static func backOff(after attempt: Int) {
        let base = 5_000 << min(attempt - 1, 7) // microseconds
        usleep(UInt32(base + Int.random(in: 0..<base)))
    }
}
