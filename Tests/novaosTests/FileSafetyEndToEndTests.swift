import Foundation
import SandboxCore
import Testing

/// The built binary against a hostile file system: planted links beside a backup, a bind
/// mount inside a workspace, a workspace deeper than PATH_MAX.
@Suite(.serialized) struct FileSafetyEndToEndTests {
    @Test func backupNeverWritesThroughAPlantedPartialFile() throws {
        let home = try makeHome()
        #expect(try runBinary(["sandbox", "create", "p"], home: home).exitCode == 0)
        let victim = home.appendingPathComponent("victim.db").path
        _ = try runSQLite(victim, "CREATE TABLE secrets (value TEXT); INSERT INTO secrets VALUES ('keep me')")
        let victimBytes = try Data(contentsOf: URL(fileURLWithPath: victim))
        let destination = home.appendingPathComponent("backup.db")
        // The old scheme was `<destination>.partial-<pid>`: a link at every name an attacker
        // could guess, pointing at a database the backup must not touch.
        let guesses = ["", "0", "1", "x"] + (1...300).map { String(Int(getpid()) + $0) }
        var planted: [String] = []
        for guess in guesses {
            let link = destination.path + ".partial-" + guess
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
            planted.append(link)
        }

        let output = try runBinary(["sandbox", "backup", destination.path, "--json"], home: home)

        #expect(output.exitCode == 0, "\(output.stderr)")
        #expect(try output.decode(BackupResult.self).path == destination.path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: victim)) == victimBytes)
        for link in planted {
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == victim, "\(link) was removed or replaced")
        }
        #expect(try runSQLite(destination.path, "PRAGMA integrity_check") == "ok")
        #expect(try runSQLite(destination.path, "SELECT count(*) FROM projects") == "1")
        // Nothing else is left beside the backup.
        let names = try FileManager.default.contentsOfDirectory(atPath: home.path).filter { $0.hasPrefix("backup.db") }
        #expect(names.count == 1 + planted.count, "\(names.filter { !planted.contains(home.appendingPathComponent($0).path) })")
    }

    @Test func backupRefusesALinkAtTheDestination() throws {
        let home = try makeHome()
        #expect(try runBinary(["sandbox", "create", "p"], home: home).exitCode == 0)
        let victim = home.appendingPathComponent("victim.db").path
        let destination = home.appendingPathComponent("backup.db").path
        try FileManager.default.createSymbolicLink(atPath: destination, withDestinationPath: victim)

        let output = try runBinary(["sandbox", "backup", destination], home: home)

        #expect(output.exitCode == 1)
        #expect(output.stderr.hasPrefix("Error: ") && output.stderr.contains("already exists"), "\(output.stderr)")
        #expect(!FileManager.default.fileExists(atPath: victim))
    }

    @Test(.enabled(if: getuid() == 0, "bind mounts need root"))
    func killDeleteLeavesABindMountAndARerunFinishes() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "p", "--json"], home: home).decode(Project.self)
        let workspace = project.workspace
        let source = home.appendingPathComponent("outside").path
        try FileManager.default.createDirectory(atPath: source + "/deeper", withIntermediateDirectories: true)
        try "precious".write(toFile: source + "/data", atomically: false, encoding: .utf8)
        try "precious too".write(toFile: source + "/deeper/more", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: workspace + "/sub/mnt", withIntermediateDirectories: true)
        try "scratch".write(toFile: workspace + "/sub/notes.txt", atomically: false, encoding: .utf8)
        try #require(shell(["mount", "--bind", source, workspace + "/sub/mnt"]) == 0, "mount --bind failed")
        var mounted = true
        defer { if mounted { shell(["umount", workspace + "/sub/mnt"]) } }

        let first = try runBinary(["sandbox", "kill", project.id.rawValue, "--delete", "--yes"], home: home)

        #expect(first.exitCode == 1)
        let lines = first.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("Error: "), "\(first.stderr)")
        #expect(first.stderr.contains("sub/mnt (a mount point)"), "\(first.stderr)")
        #expect(first.stderr.contains("run 'novaos sandbox kill \(project.id) --delete' again to finish"), "\(first.stderr)")
        #expect(try String(contentsOfFile: source + "/data", encoding: .utf8) == "precious")
        #expect(try String(contentsOfFile: source + "/deeper/more", encoding: .utf8) == "precious too")
        #expect(!FileManager.default.fileExists(atPath: workspace + "/sub/notes.txt"))
        #expect(try runBinary(["sandbox", "project", project.id.rawValue, "--json"], home: home).decode(ProjectDetail.self).status == .killed)

        #expect(shell(["umount", workspace + "/sub/mnt"]) == 0)
        mounted = false
        let second = try runBinary(["sandbox", "kill", project.id.rawValue, "--delete", "--yes", "--json"], home: home)

        #expect(second.exitCode == 0, "\(second.stderr)")
        #expect(try second.decode(KillResult.self).workspaceDeleted)
        #expect(!FileManager.default.fileExists(atPath: workspace))
        #expect(try String(contentsOfFile: source + "/data", encoding: .utf8) == "precious")
    }

    @Test func killDeleteRemovesAWorkspaceDeeperThanPathMax() throws {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "p", "--json"], home: home).decode(Project.self)
        let depth = try makeDeepFolders(in: project.workspace, depth: 300)
        #expect(depth > Int(PATH_MAX))

        let output = try runBinary(["sandbox", "kill", project.id.rawValue, "--delete", "--yes", "--json"], home: home)

        #expect(output.exitCode == 0, "\(output.stderr)")
        #expect(try output.decode(KillResult.self).workspaceDeleted)
        var info = stat()
        #expect(lstat(project.workspace, &info) != 0)
    }
}

/// Makes `depth` nested folders with 20-character names, a file in each, inside `root`,
/// through descriptors since the paths are too long for the system to take. Returns the
/// length of the deepest path.
private func makeDeepFolders(in root: String, depth: Int) throws -> Int {
    var folder = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    try #require(folder >= 0)
    var length = root.utf8.count
    for level in 0..<depth {
        let name = "folder-" + String(repeating: "0", count: 8 - String(level).count) + String(level) + "-deep"
        try #require(mkdirat(folder, name, 0o755) == 0)
        let next = openat(folder, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        close(folder)
        try #require(next >= 0)
        folder = next
        length += 1 + name.utf8.count
        let file = openat(folder, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        try #require(file >= 0)
        close(file)
    }
    close(folder)
    return length
}
