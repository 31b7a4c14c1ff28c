import CSQLite
import Foundation
import SQLiteDB
import Testing

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sqlitedb-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite struct ConnectionTests {
    @Test func roundTripsEveryStorageClass() throws {
        let db = try Connection(path: ":memory:")
        try db.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)")
        try db.run("INSERT INTO t VALUES (?, ?, ?, ?, ?)", Int64.max, 1.5, "héllo\u{0}world\u{202E}", SQLiteValue.blob([0, 1, 255]), String?.none)
        let rows = try db.query("SELECT i, r, s, b, n FROM t") { row in
            [row.value(0), row.value(1), row.value(2), row.value(3), row.value(4)]
        }
        #expect(rows == [[.integer(Int64.max), .real(1.5), .text("héllo\u{0}world\u{202E}"), .blob([0, 1, 255]), .null]])
    }

    @Test func emptyTextIsNotNull() throws {
        let db = try Connection(path: ":memory:")
        #expect(try db.queryFirst("SELECT ?", [""]) { $0.optionalText(0) } == "")
    }

    @Test func failedTransactionRollsBackAndRethrowsTheFirstError() throws {
        let db = try Connection(path: ":memory:")
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.inTransaction {
                try db.run("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        #expect(try db.scalarInt("SELECT count(*) FROM t") == 0)
        #expect(!db.isInTransaction)
    }

    @Test func savepointRollsBackOnlyItsOwnWork() throws {
        let db = try Connection(path: ":memory:")
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        try db.inTransaction {
            try db.run("INSERT INTO t VALUES (1)")
            _ = try? db.inSavepoint {
                try db.run("INSERT INTO t VALUES (2)")
                try db.run("INSERT INTO t VALUES (1)") // duplicate key
            }
        }
        #expect(try db.query("SELECT id FROM t") { $0.int64(0) } == [1])
    }

    @Test func constraintErrorsCarryTheExtendedCodeAndSQLButNotValues() throws {
        let db = try Connection(path: ":memory:")
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, secret TEXT UNIQUE)")
        try db.run("INSERT INTO t (secret) VALUES (?)", "hunter2")
        do {
            try db.run("INSERT INTO t (secret) VALUES (?)", "hunter2")
            Issue.record("expected a unique violation")
        } catch let error as SQLiteError {
            #expect(error.isUniqueViolation)
            #expect(error.primaryCode == SQLITE_CONSTRAINT)
            #expect(error.sql?.contains("INSERT INTO t") == true)
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test func refusesAFileThatIsNotADatabase() throws {
        let folder = try temporaryDirectory()
        let path = folder.appendingPathComponent("junk.db").path
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }).write(to: URL(fileURLWithPath: path))
        do {
            _ = try Connection(path: path)
            Issue.record("expected SQLITE_NOTADB")
        } catch let error as SQLiteError {
            #expect(error.isNotADatabase)
        }
    }

    @Test func userVersionAndJournalMode() throws {
        let folder = try temporaryDirectory()
        let db = try Connection(path: folder.appendingPathComponent("v.db").path)
        #expect(try db.userVersion == 0)
        try db.setUserVersion(7)
        #expect(try db.userVersion == 7)
        #expect(try db.setJournalMode("WAL") == "wal")
    }

    @Test func cachedStatementsAreResetBetweenUses() throws {
        let db = try Connection(path: ":memory:")
        for value in 1...3 {
            #expect(try db.scalarInt("SELECT ? * 2", [value]) == Int64(value * 2))
        }
    }

    @Test func secondWriterWaitsForTheBusyTimeoutThenFails() throws {
        let folder = try temporaryDirectory()
        let path = folder.appendingPathComponent("busy.db").path
        let first = try Connection(path: path)
        _ = try first.setJournalMode("WAL")
        try first.execute("CREATE TABLE t (id INTEGER)")
        let second = try Connection(path: path, busyTimeoutMilliseconds: 100)
        try first.execute("BEGIN IMMEDIATE")
        do {
            try second.execute("BEGIN IMMEDIATE")
            Issue.record("expected SQLITE_BUSY")
        } catch let error as SQLiteError {
            #expect(error.isBusy)
        }
        try first.execute("COMMIT")
        try second.inTransaction { try second.run("INSERT INTO t VALUES (1)") }
        #expect(try first.scalarInt("SELECT count(*) FROM t") == 1)
    }

    @Test func backupCopiesEveryRow() throws {
        let folder = try temporaryDirectory()
        let db = try Connection(path: folder.appendingPathComponent("a.db").path)
        try db.execute("CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1), (2), (3);")
        let copy = folder.appendingPathComponent("b.db").path
        try db.backup(to: copy)
        #expect(try Connection(path: copy).scalarInt("SELECT sum(id) FROM t") == 6)
    }
}

@Suite struct BorrowingTests {
    @Test func runBorrowingStoresTextExactlyAndClearsItsBindings() throws {
        let db = try Connection(path: ":memory:")
        try db.execute("CREATE TABLE t (a TEXT, b INTEGER, c TEXT, d TEXT)")
        let insert = try db.prepare("INSERT INTO t VALUES (?, ?, ?, ?)")
        for index in 0..<100 {
            try insert.runBorrowing([.text("row \(index) héllo\u{0}"), .integer(Int64(index)), .null, .text("")])
        }
        #expect(try db.scalarInt("SELECT count(*) FROM t WHERE a = 'row ' || b || ' héllo' || char(0) AND c IS NULL AND d = ''") == 100)
        // The bindings were cleared, so no dangling text is left bound.
        try insert.run()
        #expect(try db.scalarInt("SELECT count(*) FROM t WHERE a IS NULL AND b IS NULL") == 1)
    }
}
