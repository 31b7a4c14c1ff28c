#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB

/// The sandbox: projects, their agents and experiments, evaluation and promotion.
///
/// One `Sandbox` holds one connection to `sandbox.db`; use it from one thread at a time. It may
/// be handed from one thread to another (a server's pool of connections), hence `Sendable`, but
/// never used by two at once.
/// Every write is one short `BEGIN IMMEDIATE` transaction, so several processes can share
/// the same sandbox safely.
///
/// ```swift
/// let sandbox = try Sandbox(paths: SandboxPaths(home: URL(fileURLWithPath: "/tmp/nova")))
/// let project = try sandbox.createProject(name: "pricing-bot")
/// ```
public final class Sandbox: @unchecked Sendable {
    /// Where the data lives.
    public let paths: SandboxPaths
    let db: Connection
    /// True when no sandbox database exists yet and this one is an empty stand-in in memory.
    let isEphemeral: Bool
    let clock: () -> Date
    let busyTimeoutMilliseconds: Int32
    /// The test-only size cap, kept so a run's own recording connection gets it too.
    let maximumPageCount: Int?
    /// `db` as the ledger code shared with production sees it.
    private(set) lazy var ledgerDatabase: any LedgerDatabase = SQLiteLedgerDatabase(db, path: paths.sandboxDatabase.path)
    /// The override price file given at open; nil: `HOME/prices.json` when it exists.
    let priceFile: URL?
    /// The price table, read on first use: commands that price nothing never read the file.
    private var loadedPrices: PriceCatalog?
    /// The projects whose expiry this opening applied (see `sweep()`): a command can say so.
    public internal(set) var expiredOnOpening: [ExpiredProject] = []
    /// When expiries were last applied without error; nil: not yet.
    var expiriesAppliedAt: Date?
    /// True while `applyExpiry` writes, so its own transactions do not start it again.
    var applyingExpiry = false

    /// True when no sandbox database existed at opening and this is an empty stand-in in memory.
    public var isStandIn: Bool { isEphemeral }

    /// Opens (and, when `create` is true, creates) the sandbox under `paths.home`.
    ///
    /// - Parameters:
    ///   - create: create `sandbox.db` and the `sandbox/` folder when they do not exist.
    ///     When false and there is no database yet, the sandbox reads as empty and nothing is
    ///     written to disk: read-only commands on a fresh home leave no trace.
    ///   - clock: the source of timestamps (tests pass a fixed one).
    ///   - busyTimeoutMilliseconds: how long to wait for another process's write lock.
    ///   - maximumPageCount: caps the database's size in pages (`PRAGMA max_page_count`), so
    ///     tests can see how operations fail on a full disk.
    ///   - priceFile: a price file over the built-in table (`--prices`); nil: `HOME/prices.json`
    ///     when there is one.
    /// How long to wait for another process's write lock: `NOVAOS_BUSY_TIMEOUT_MS` in
    /// `environment` (a negative value is 0), else 10 s. The CLI and `novaos serve` read it alike.
    public static func busyTimeoutMilliseconds(in environment: [String: String]) -> Int32 {
        environment["NOVAOS_BUSY_TIMEOUT_MS"].flatMap { Int32($0) }.map { max(0, $0) } ?? DatabaseFile.defaultBusyTimeoutMilliseconds
    }

    public init(
        paths: SandboxPaths,
        create: Bool = true,
        clock: @escaping () -> Date = Date.init,
        busyTimeoutMilliseconds: Int32 = 10_000,
        maximumPageCount: Int? = nil,
        priceFile: URL? = nil
    ) throws {
        self.paths = paths
        self.priceFile = priceFile
        self.clock = clock
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.maximumPageCount = maximumPageCount
        let databasePath = paths.sandboxDatabase.path
        if !create, !FileManager.default.fileExists(atPath: databasePath) {
            // No database yet is an empty sandbox, but a home that cannot hold one (a file, or a
            // path through a file) is an error, as it is for a command that writes.
            for folder in [paths.home, paths.sandboxFolder] {
                var info = stat()
                if stat(folder.path, &info) == 0 ? (info.st_mode & S_IFMT) != S_IFDIR : errno == ENOTDIR {
                    throw SandboxError.fileSystem(path: folder.path, message: "cannot use \(folder.path) as a folder: \(String(cString: strerror(ENOTDIR)))")
                }
            }
            db = try Connection(path: ":memory:")
            try db.execute(Schema.sandboxMigrations.joined(separator: "\n"))
            isEphemeral = true
            return
        }
        if create {
            do {
                try FileManager.default.createDirectory(at: paths.projectsFolder, withIntermediateDirectories: true)
            } catch {
                let path = failingPath(of: error) ?? paths.projectsFolder.path
                throw SandboxError.fileSystem(path: path, message: "cannot create \(path): \(firstLine(of: error))")
            }
        }
        db = try DatabaseFile.open(paths.sandboxDatabase, kind: .sandbox, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        isEphemeral = false
        if let maximumPageCount {
            try db.execute("PRAGMA max_page_count = \(maximumPageCount)")
        }
        closeLostRuns()
        // Best effort, as closing lost runs is: a busy database or a workspace that cannot be
        // deleted leaves the work to the next opening, or to `sweep`, which reports errors.
        expiredOnOpening = (try? applyExpiry(at: now())) ?? []
        try? finishWorkspaceSwaps()
    }

    /// The price table usage is charged by: the built-in table with `priceFile` (or
    /// `HOME/prices.json`) on top. Read once, on first use.
    ///
    /// - Throws: `SandboxError.invalidInput` naming the file, line and field of a malformed file.
    public func prices() throws -> PriceCatalog {
        if let loadedPrices { return loadedPrices }
        let catalog = try PriceCatalog.load(paths: paths, file: priceFile)
        loadedPrices = catalog
        return catalog
    }

    /// The current time, to whole seconds.
    func now() -> Date { wholeSeconds(clock()) }

    /// Runs `body` in one write transaction (`BEGIN IMMEDIATE`), mapping SQLite errors to
    /// messages that name the database.
    /// Inside a write transaction already, it joins it as a savepoint, so an operation made of
    /// several (a project created from a template with its agents) is all or nothing.
    ///
    /// Before an outer transaction, the expiries due this second are applied (once a second:
    /// the opening did it already for a command's first write), so that no write acts on a
    /// project whose time is up even when the opening could not apply it (a busy database).
    func write<T>(_ body: () throws -> T) throws -> T {
        try requireWritable()
        if db.isInTransaction { return try mappingErrors { try db.inSavepoint("novaos_write", body) } }
        if !applyingExpiry, expiriesAppliedAt != now() { expiredOnOpening += try applyExpiry(at: now()) }
        return try mappingErrors { try db.inTransaction(.immediate, body) }
    }

    /// Refuses early when `sandbox.db` cannot be written (a write-protected file opens
    /// read-only), before an operation touches anything else.
    func requireWritable() throws {
        if db.isReadOnly {
            throw SandboxError.database(path: paths.sandboxDatabase.path, message: "the database is read-only; nothing was changed")
        }
    }

    /// Runs `body` in one read transaction, so all its queries see the same snapshot; inside
    /// a transaction already, it joins it.
    func read<T>(_ body: () throws -> T) throws -> T {
        if db.isInTransaction { return try mappingErrors(body) }
        return try mappingErrors { try db.inTransaction(.deferred, body) }
    }

    /// Runs `body` with every read inside it seeing one snapshot of the sandbox: a caller
    /// that reads twice (the two passes of a text table) gets the same rows both times.
    public func readingOneSnapshot<T>(_ body: () throws -> T) throws -> T {
        try read(body)
    }

    func mappingErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            throw DatabaseFile.describe(error, path: paths.sandboxDatabase.path)
        }
    }
}

/// Checks a user-supplied piece of text: no NUL bytes (C tools and terminals cut text there),
/// at most `maximumLength` characters, and not empty unless `allowEmpty`.
func validateText(_ value: String, field: String, maximumLength: Int, allowEmpty: Bool = false) throws {
    // One pass over the bytes, without Foundation's trimming: this runs twice for every
    // imported event.
    var visible = false
    var nul = false
    var bytes = value
    bytes.withUTF8 { buffer in
        for byte in buffer {
            if byte == 0 {
                nul = true
            } else if byte > 0x20, byte < 0x7F {
                visible = true
            }
        }
    }
    if !allowEmpty, !visible, !value.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) {
        throw SandboxError.invalidInput("\(field) must not be empty")
    }
    if nul {
        throw SandboxError.invalidInput("\(field) must not contain NUL bytes")
    }
    // A character is at least one byte, so only long texts need counting.
    if value.utf8.count > maximumLength, value.count > maximumLength {
        throw SandboxError.invalidInput("\(field) is too long: \(value.count) characters, at most \(maximumLength)")
    }
}
