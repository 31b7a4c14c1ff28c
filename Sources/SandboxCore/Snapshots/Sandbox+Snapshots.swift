#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB
import Supervision

extension SandboxPaths {
    /// `HOME/sandbox/snapshots`: one SQLite file per snapshot.
    public var snapshotsFolder: URL { sandboxFolder.appendingPathComponent("snapshots", isDirectory: true) }
    /// `HOME/sandbox/restoring`: workspaces being restored, beside the projects (same file system).
    var restoringFolder: URL { sandboxFolder.appendingPathComponent("restoring", isDirectory: true) }
}

/// The layout of a snapshot file: the sandbox's own schema (every migration, so its tables are
/// the sandbox's), holding one project's rows, and two tables of its own.
enum SnapshotFile {
    static let format = "novaos-snapshot/1"

    static let tables = """
        CREATE TABLE snapshot_info (
            id              TEXT PRIMARY KEY,
            name            TEXT,
            project_id      TEXT NOT NULL,
            project_name    TEXT NOT NULL,
            taken_at        TEXT NOT NULL,
            format          TEXT NOT NULL,
            skipped_entries INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE TABLE workspace_entries (
            seq      INTEGER PRIMARY KEY,
            path     BLOB NOT NULL UNIQUE,
            kind     TEXT NOT NULL CHECK (kind IN ('file', 'folder', 'link')),
            mode     INTEGER NOT NULL,
            contents BLOB NOT NULL
        ) STRICT;
        """

    /// The project's rows, table by table, parents first: what a snapshot holds and an
    /// in-place restore replaces. `?1` is the project's ID.
    static let projectRows: [(table: String, filter: String)] = [
        ("projects", "id = ?1"),
        ("agents", "project_id = ?1"),
        ("api_costs", "agent_id IN (SELECT id FROM main.agents WHERE project_id = ?1)"),
        ("revenue", "agent_id IN (SELECT id FROM main.agents WHERE project_id = ?1)"),
        ("runs", "agent_id IN (SELECT id FROM main.agents WHERE project_id = ?1)"),
        ("experiments", "project_id = ?1"),
        ("evaluations", "project_id = ?1"),
        ("budget_changes", "target_id = ?1 OR target_id IN (SELECT id FROM main.agents WHERE project_id = ?1)"),
    ]

    /// Snapshot IDs are `snp_` and 8 lowercase hex digits.
    static func isID(_ text: String) -> Bool {
        text.utf8.count == 12 && text.hasPrefix("snp_") && text.utf8.dropFirst(4).allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

extension Sandbox {
    /// Saves everything of a project (the project, its agents, ledger records, runs,
    /// experiments, evaluations and budget changes, and its workspace's files) into one new
    /// file, `HOME/sandbox/snapshots/<snapshot-id>.db`.
    ///
    /// The rows are copied in one read transaction, so they are one consistent moment even
    /// while other commands write; the workspace is read after them (files have no
    /// transactions), without following links or crossing mounts. The file is written under a
    /// temporary name and renamed into place when complete.
    public func takeSnapshot(project id: ProjectID, name: String? = nil) throws -> SnapshotInfo {
        if let name {
            try validateText(name, field: "snapshot name", maximumLength: Self.maximumNameLength)
            guard !SnapshotFile.isID(name) else {
                throw SandboxError.invalidInput("a snapshot name must not look like a snapshot ID (\(name)): restore would take it for one")
            }
        }
        try requireWritable()
        _ = try project(id)
        let folder = paths.snapshotsFolder
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SandboxError.fileSystem(path: folder.path, message: "cannot create the snapshots folder (\(firstLine(of: error)))")
        }
        // Partial files of snapshots whose process died, once an hour old.
        for leftover in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        where leftover.hasPrefix(".snp_") && (leftover.hasSuffix(".partial") || leftover.hasSuffix(".partial-journal")) {
            var info = stat()
            if lstat(folder.path + "/" + leftover, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG,
               Double(info.st_mtim.tv_sec) < Date().timeIntervalSince1970 - 3600 {
                unlink(folder.path + "/" + leftover)
            }
        }
        var snapshotID = "snp_" + randomHex(digits: 8)
        while Self.entryExists(at: folder.appendingPathComponent(snapshotID + ".db")) { snapshotID = "snp_" + randomHex(digits: 8) }
        let partial = folder.appendingPathComponent("." + snapshotID + ".partial")
        let final = folder.appendingPathComponent(snapshotID + ".db")
        defer { unlink(partial.path); unlink(partial.path + "-journal") }
        let takenAt = now()
        do {
            do {
                let file = try Connection(path: partial.path, mode: .readWriteCreate, followSymbolicLinks: false)
                try file.inTransaction(.immediate) {
                    try file.execute(Schema.sandboxMigrations.joined(separator: "\n"))
                    try file.execute(SnapshotFile.tables)
                    try file.setUserVersion(Schema.sandboxMigrations.count)
                }
            }
            try db.run("ATTACH DATABASE ? AS snap", partial.path)
            defer { try? db.execute("DETACH DATABASE snap") }
            try db.inTransaction(.deferred) {
                _ = try loadProject(id)
                for (table, filter) in SnapshotFile.projectRows {
                    try db.run("INSERT INTO snap.\(table) SELECT * FROM main.\(table) WHERE \(filter)", id.rawValue)
                }
                // The snapshot's own triggers added its agents to its project's totals again.
                try db.run(
                    """
                    UPDATE snap.projects SET (total_agents, active_agents, tokens_used, cost_micros, revenue_micros) =
                        (SELECT total_agents, active_agents, tokens_used, cost_micros, revenue_micros FROM main.projects WHERE id = ?1)
                    WHERE id = ?1
                    """,
                    id.rawValue
                )
                try db.run(
                    """
                    INSERT INTO snap.snapshot_info (id, name, project_id, project_name, taken_at, format)
                    SELECT ?, ?, id, name, ?, ? FROM main.projects WHERE id = ?
                    """,
                    snapshotID, name, Timestamp.string(from: takenAt), SnapshotFile.format, id.rawValue
                )
            }
            try db.execute("DETACH DATABASE snap")
            do {
                let file = try Connection(path: partial.path, mode: .readWrite, followSymbolicLinks: false)
                try file.inTransaction(.immediate) {
                    let insert = try file.prepare("INSERT INTO workspace_entries (path, kind, mode, contents) VALUES (?, ?, ?, ?)")
                    let skipped = try mappingLowerErrors {
                        try FileTreeArchive.read(id.rawValue, in: paths.projectsFolder.path) { entry in
                            try insert.run([SQLiteValue.blob(entry.path), entry.kind.rawValue, Int64(entry.mode), SQLiteValue.blob(entry.contents)])
                        }
                    }
                    try file.run("UPDATE snapshot_info SET skipped_entries = ?", Int64(skipped.total))
                }
            }
        } catch let error as SQLiteError {
            throw DatabaseFile.describe(error, path: final.path)
        }
        guard rename(partial.path, final.path) == 0 else {
            throw SandboxError.fileSystem(path: final.path, message: "cannot move the snapshot into place: \(String(cString: strerror(errno)))")
        }
        syncFolder(folder.path)
        return try readSnapshotInfo(final)
    }

    /// The snapshots in `HOME/sandbox/snapshots`, oldest first; only those of `project` when given.
    public func snapshots(project: ProjectID? = nil) throws -> SnapshotList {
        let folder = paths.snapshotsFolder
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var list: [SnapshotInfo] = []
        for name in names where name.hasSuffix(".db") && SnapshotFile.isID(String(name.dropLast(3))) {
            // Listed whatever version took it (restoring checks that); a file that is not a
            // snapshot at all is left out.
            guard let info = try? readSnapshotInfo(folder.appendingPathComponent(name), restorable: false) else { continue }
            if let project, info.projectID != project { continue }
            list.append(info)
        }
        return SnapshotList(snapshots: list.sorted { ($0.takenAt, $0.id) < ($1.takenAt, $1.id) })
    }

    /// The snapshot a user named (by ID, or by a name only one snapshot has).
    public func snapshotInfo(_ reference: String) throws -> SnapshotInfo {
        try readSnapshotInfo(snapshotFile(reference))
    }

    /// The snapshot a user named: by ID, or by a name only one snapshot has.
    func snapshotFile(_ reference: String) throws -> URL {
        if SnapshotFile.isID(reference) {
            let url = paths.snapshotsFolder.appendingPathComponent(reference + ".db")
            guard Self.entryExists(at: url) else { throw SandboxError.notFound(kind: "snapshot", id: reference) }
            return url
        }
        let matches = try snapshots().snapshots.filter { $0.name == reference }
        guard let match = matches.first else {
            throw SandboxError.invalidInput("no snapshot named \(quoted(reference)) (see 'novaos sandbox snapshots')")
        }
        guard matches.count == 1 else {
            throw SandboxError.invalidInput("\(matches.count) snapshots are named \(quoted(reference)): give an ID (\(matches.map(\.id).joined(separator: ", ")))")
        }
        return URL(fileURLWithPath: match.path)
    }

    /// Reads a snapshot file's description, refusing a file that is not one this novaos wrote
    /// (a link, another format) and, when `restorable`, one of another schema version.
    func readSnapshotInfo(_ url: URL, restorable: Bool = true) throws -> SnapshotInfo {
        var info = stat()
        guard lstat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw SandboxError.fileSystem(path: url.path, message: "not a snapshot file (not a regular file)")
        }
        do {
            let file = try Connection(path: url.path, mode: .readOnly, followSymbolicLinks: false)
            let version = try file.userVersion
            guard !restorable || version == Schema.sandboxMigrations.count else {
                throw SandboxError.invalidState(
                    "snapshot \(url.lastPathComponent) was taken with sandbox schema version \(version); this novaos restores version \(Schema.sandboxMigrations.count)"
                )
            }
            guard let row = try file.queryFirst(
                """
                SELECT id, name, project_id, project_name, taken_at, format, skipped_entries,
                       (SELECT count(*) FROM agents), (SELECT count(*) FROM api_costs), (SELECT count(*) FROM revenue),
                       (SELECT count(*) FROM runs), (SELECT count(*) FROM experiments), (SELECT count(*) FROM evaluations),
                       (SELECT count(*) FROM workspace_entries)
                FROM snapshot_info
                """, [], {
                    ($0.text(0), $0.optionalText(1), $0.text(2), $0.text(3), $0.text(4), $0.text(5), $0.int(6),
                     [$0.int(7), $0.int(8), $0.int(9), $0.int(10), $0.int(11), $0.int(12), $0.int(13)])
                }
            ), row.5 == SnapshotFile.format, url.lastPathComponent == row.0 + ".db" || url.lastPathComponent.hasPrefix(".") else {
                throw SandboxError.invalidState("\(url.path) is not a novaos snapshot (\(SnapshotFile.format))")
            }
            let counts = row.7
            return SnapshotInfo(
                id: row.0, name: row.1, projectID: try ProjectID(row.2), projectName: row.3, takenAt: Timestamp.date(from: row.4),
                path: url.path, bytes: Int64(info.st_size), agents: counts[0], usageEvents: counts[1], revenueEvents: counts[2],
                runs: counts[3], experiments: counts[4], evaluations: counts[5], workspaceEntries: counts[6], skippedEntries: row.6
            )
        } catch let error as SQLiteError {
            throw DatabaseFile.describe(error, path: url.path)
        }
    }
}

private func syncFolder(_ path: String) {
    let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    fsync(descriptor)
    close(descriptor)
}
