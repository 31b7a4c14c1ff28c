import Foundation
import PostgresDB
import PostgresTestSupport
import Testing

@Suite(.enabled(if: TestPostgres.url != nil, Comment(rawValue: TestPostgres.skipReason)))
struct PostgresConnectionTests {
    @Test func parametersAreBoundNeverInterpolated() throws {
        let db = try PostgresConnection(try TestPostgres.freshDatabase())
        try db.execute("CREATE TABLE notes (id bigint PRIMARY KEY, body text, flag boolean)")
        let hostile = "x'); DROP TABLE notes; --\u{0}".replacingOccurrences(of: "\u{0}", with: "") + " ünï \"q\" \\"
        #expect(try db.run("INSERT INTO notes VALUES ($1, $2, $3)", [Int64(1), hostile, true]) == 1)
        #expect(try db.run("INSERT INTO notes VALUES ($1, $2, $3)", [Int64(2), nil, false]) == 1)
        let rows = try db.query("SELECT id, body, flag FROM notes ORDER BY id")
        #expect(rows.count == 2)
        #expect(try rows[0].requiredText("body") == hostile && rows[0].bool("flag") == true && rows[0].int64("id") == 1)
        #expect(try rows[1].text("body") == nil && rows[1].bool("flag") == false)
        #expect(throws: PostgresError.self) { try rows[0].text("missing") }
    }

    @Test func errorsKeepTheirSQLState() throws {
        let db = try PostgresConnection(try TestPostgres.freshDatabase())
        try db.execute("CREATE TABLE slots (name text PRIMARY KEY)")
        try db.run("INSERT INTO slots VALUES ($1)", ["a"])
        do {
            try db.run("INSERT INTO slots VALUES ($1)", ["a"])
            Issue.record("a duplicate was accepted")
        } catch let error as PostgresError {
            #expect(error.isUniqueViolation && error.sqlState == "23505" && !error.isRetryable)
            #expect(error.description.contains("23505") && error.sql == "INSERT INTO slots VALUES ($1)")
        }
        #expect { try db.execute("SELEC 1") } throws: { ($0 as? PostgresError)?.sqlState == "42601" }
        // The connection is still usable after an error.
        #expect(try db.query("SELECT count(*) AS n FROM slots")[0].int64("n") == 1)
    }

    @Test func aConnectionThatCannotBeMadeSaysWhyWithoutSQLState() throws {
        do {
            _ = try PostgresConnection("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
            Issue.record("connected to port 1")
        } catch let error as PostgresError {
            #expect(error.sqlState == nil && error.isConnectionFailure && !error.message.isEmpty && !error.message.contains("\n"))
        }
    }

    @Test func aPasswordInTheURLIsFound() throws {
        #expect(try PostgresConnection.namesPassword("postgresql://u:secret@db.example.com/registry"))
        #expect(try PostgresConnection.namesPassword("host=db user=u password=secret"))
        #expect(try PostgresConnection.namesPassword("postgresql://u@db.example.com/registry?password=secret"))
        #expect(try !PostgresConnection.namesPassword("postgresql://u@db.example.com/registry?sslmode=require"))
        #expect(try !PostgresConnection.namesPassword("postgres://db.example.com"))
        #expect(throws: PostgresError.self) { try PostgresConnection.namesPassword("postgresql://[broken") }
    }

    @Test func aTransactionRollsBackWhenItsBodyThrows() throws {
        let db = try PostgresConnection(try TestPostgres.freshDatabase())
        try db.execute("CREATE TABLE t (n bigint)")
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try db.inTransaction { try db.run("INSERT INTO t VALUES (1)"); throw Stop() }
        }
        #expect(try db.query("SELECT count(*) AS n FROM t")[0].int64("n") == 0)
        try db.inTransaction { _ = try db.run("INSERT INTO t VALUES (2)") }
        #expect(try db.query("SELECT count(*) AS n FROM t")[0].int64("n") == 1)
    }

    /// Eight connections increment one counter in SERIALIZABLE transactions at once: every
    /// serialization failure is retried, so the counter ends at exactly 8 × 25.
    @Test func serializationFailuresAreRetriedAndNothingIsLost() throws {
        let url = try TestPostgres.freshDatabase()
        let setup = try PostgresConnection(url)
        try setup.execute("CREATE TABLE counter (n bigint NOT NULL); INSERT INTO counter VALUES (0)")
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            do {
                let db = try PostgresConnection(url)
                for _ in 0..<25 {
                    try db.inTransaction(.serializable, maximumAttempts: 50) {
                        let n = try db.query("SELECT n FROM counter")[0].int64("n")
                        try db.run("UPDATE counter SET n = $1", [n + 1])
                    }
                }
            } catch {
                failures.withLock { $0 += 1 }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        #expect(try setup.query("SELECT n FROM counter")[0].int64("n") == 200)
    }

    @Test func copyInLoadsRowsOrNothing() throws {
        let db = try PostgresConnection(try TestPostgres.freshDatabase())
        try db.execute("CREATE TABLE events (id bigint PRIMARY KEY, amount bigint NOT NULL)")
        var next = 0
        let copied = try db.copyIn("COPY events (id, amount) FROM STDIN") {
            guard next < 10 else { return nil }
            defer { next += 1 }
            return Array((0..<1_000).map { "\(next * 1_000 + $0)\t\($0)\n" }.joined().utf8)
        }
        #expect(copied == 10_000)
        #expect(try db.query("SELECT count(*) AS n, sum(amount) AS s FROM events")[0].int64("s") == 10 * 499_500)
        // A bad row fails the whole copy, with its SQLSTATE; nothing of it stays.
        #expect { try db.copyIn("COPY events (id, amount) FROM STDIN") { next < 12 ? { next += 1; return Array("\(20_000 + next)\tnot-a-number\n".utf8) }() : nil } }
            throws: { ($0 as? PostgresError)?.sqlState == "22P02" }
        #expect(try db.query("SELECT count(*) AS n FROM events")[0].int64("n") == 10_000)
        #expect(try db.query("SELECT 1 AS one")[0].int64("one") == 1)
    }

    /// Text is exchanged in UTF-8 whatever PGCLIENTENCODING says (LATIN1 would store "für €"
    /// as "fÃ¼r â¬").
    @Test func textIsUTF8WhateverTheEnvironmentSays() throws {
        let url = try TestPostgres.freshDatabase()
        setenv("PGCLIENTENCODING", "LATIN1", 1)
        defer { unsetenv("PGCLIENTENCODING") }
        let db = try PostgresConnection(url)
        #expect(try db.query("SHOW client_encoding")[0].text(at: 0) == "UTF8")
        #expect(try db.query("SELECT $1::text AS t, length($1::text) AS n", ["für €"])[0].int64("n") == 5)
    }

    /// A copy whose rows are sent as they are made: rows may split across sends; nothing else
    /// runs on the connection meanwhile; a unique violation arrives at the end, with its
    /// SQLSTATE, and a savepoint takes the copy back without losing the transaction.
    @Test func aStreamedCopyTakesRowsInPiecesAndReportsARefusedRowAtTheEnd() throws {
        let db = try PostgresConnection(try TestPostgres.freshDatabase())
        try db.execute("CREATE TABLE events (id text PRIMARY KEY, amount bigint NOT NULL)")
        try db.inTransaction {
            try db.execute("INSERT INTO events VALUES ('kept', 1)")
            try db.beginCopy("COPY events (id, amount) FROM STDIN")
            #expect(db.isCopying)
            #expect { try db.query("SELECT 1") } throws: { ($0 as? PostgresError)?.message.contains("COPY is in progress") == true }
            let text = Array((0..<5_000).map { "e\($0)\t\($0)\n" }.joined().utf8)
            for start in stride(from: 0, to: text.count, by: 777) {
                try text[start..<min(start + 777, text.count)].withUnsafeBytes { try db.sendCopyData($0) }
            }
            #expect(try db.endCopy() == 5_000 && !db.isCopying)

            try db.execute("SAVEPOINT again")
            try db.beginCopy("COPY events (id, amount) FROM STDIN")
            try Array("new\t1\ne42\t2\n".utf8).withUnsafeBytes { try db.sendCopyData($0) }
            #expect { try db.endCopy() } throws: { ($0 as? PostgresError)?.sqlState == "23505" }
            try db.execute("ROLLBACK TO SAVEPOINT again")
        }
        #expect(try db.query("SELECT count(*) AS n, sum(amount) AS s FROM events")[0].int64("n") == 5_001)
        #expect(try db.query("SELECT count(*) AS n FROM events WHERE id = 'new'")[0].int64("n") == 0)
        // A transaction whose body fails mid-copy is rolled back, and the connection is usable.
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try db.inTransaction {
                try db.beginCopy("COPY events (id, amount) FROM STDIN")
                try Array("half\t1\n".utf8).withUnsafeBytes { try db.sendCopyData($0) }
                throw Stop()
            }
        }
        #expect(!db.isCopying && !db.isInTransaction)
        #expect(try db.query("SELECT count(*) AS n FROM events")[0].int64("n") == 5_001)
    }
}

/// A minimal lock for the tests (Synchronization's Mutex needs a newer platform on macOS).
final class Mutex<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}
