import Foundation
import Testing
@testable import Supervision

@Suite struct FileTreeTests {
    @Test func removesANestedTree() throws {
        let root = try makeTemporaryFolder(prefix: "filetree")
        defer { removeTemporaryFolder(root) }
        try write("x", to: root + "/ws/a/b/c/file")
        try write("y", to: root + "/ws/a/top")
        try FileManager.default.createDirectory(atPath: root + "/ws/a/empty", withIntermediateDirectories: true)
        #expect(mkfifo(root + "/ws/a/b/fifo", 0o600) == 0)
        try write("stays", to: root + "/sibling")

        let removal = try FileTree.remove("ws", in: root)

        #expect(removal == FileTree.Removal(existed: true, left: [], leftCount: 0))
        #expect(removal.complete)
        #expect(!exists(root + "/ws"))
        #expect(try String(contentsOfFile: root + "/sibling", encoding: .utf8) == "stays")
    }

    @Test func nothingToRemoveIsComplete() throws {
        let root = try makeTemporaryFolder(prefix: "filetree")
        defer { removeTemporaryFolder(root) }
        let removal = try FileTree.remove("missing", in: root)
        #expect(!removal.existed)
        #expect(removal.complete)
    }

    @Test(arguments: ["", ".", "..", "a/b", "a\u{0}b"])
    func refusesAnythingButAPlainName(_ name: String) throws {
        let root = try makeTemporaryFolder(prefix: "filetree")
        defer { removeTemporaryFolder(root) }
        #expect(throws: SupervisionError.self) { try FileTree.remove(name, in: root) }
    }

    @Test func unlinksSymbolicLinksWithoutFollowingThem() throws {
        let root = try makeTemporaryFolder(prefix: "filetree")
        defer { removeTemporaryFolder(root) }
        try write("precious", to: root + "/outside/keep")
        try write("x", to: root + "/ws/a/file")
        try FileManager.default.createSymbolicLink(atPath: root + "/ws/a/to-folder", withDestinationPath: root + "/outside")
        try FileManager.default.createSymbolicLink(atPath: root + "/ws/to-file", withDestinationPath: "../outside/keep")
        try FileManager.default.createSymbolicLink(atPath: root + "/ws/dangling", withDestinationPath: "/nonexistent/x")
        // A link in the entry's own place is removed as a link too.
        try FileManager.default.createSymbolicLink(atPath: root + "/link-ws", withDestinationPath: root + "/outside")

        #expect(try FileTree.remove("ws", in: root).complete)
        #expect(try FileTree.remove("link-ws", in: root).complete)

        #expect(!exists(root + "/ws") && !exists(root + "/link-ws"))
        #expect(try String(contentsOfFile: root + "/outside/keep", encoding: .utf8) == "precious")
    }

    @Test func removesATreeDeeperThanPathMax() throws {
        let root = try makeTemporaryFolder(prefix: "filetree")
        defer { removeTemporaryFolder(root) }
        let length = try makeDeepTree(in: root, name: "ws", depth: 300)
        #expect(length > Int(PATH_MAX))

        let removal = try FileTree.remove("ws", in: root)

        #expect(removal.complete, "\(removal)")
        #expect(!exists(root + "/ws"))
    }

    @Test func removesNamesThatAreNotUTF8AndFoldersWithoutWritePermission() throws {
        let root = try makeTemporaryFolder(prefix: "filetree")
        defer { removeTemporaryFolder(root) }
        try write("x", to: root + "/ws/locked/inner/file")
        let folder = open(root + "/ws", O_RDONLY | O_DIRECTORY)
        let name: [CChar] = [0x78, CChar(bitPattern: 0xFF), 0x79, 0]
        let file = openat(folder, name, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        #expect(file >= 0)
        close(file)
        close(folder)
        // As `go mod download` leaves its cache: folders without write permission.
        chmod(root + "/ws/locked/inner", 0o555)
        chmod(root + "/ws/locked", 0o555)

        let removal = try FileTree.remove("ws", in: root)

        #expect(removal.complete, "\(removal)")
        #expect(!exists(root + "/ws"))
    }

    @Test(.enabled(if: getuid() == 0, "bind mounts need root"))
    func leavesAMountPointAndWhatIsMountedThere() throws {
        let root = try makeTemporaryFolder(prefix: "filetree")
        defer { removeTemporaryFolder(root) }
        try write("precious", to: root + "/source/data")
        try write("precious too", to: root + "/source/deeper/more")
        try write("x", to: root + "/ws/a/file")
        try write("x", to: root + "/ws/b/file")
        try FileManager.default.createDirectory(atPath: root + "/ws/a/mnt", withIntermediateDirectories: true)
        // Same file system, so the same st_dev: only the mount ID tells it apart.
        try #require(command(["mount", "--bind", root + "/source", root + "/ws/a/mnt"]) == 0, "mount --bind failed")
        var mounted = true
        defer { if mounted { command(["umount", root + "/ws/a/mnt"]) } }

        let removal = try FileTree.remove("ws", in: root)

        #expect(!removal.complete)
        #expect(removal.leftCount == 1)
        #expect(removal.left == [FileTree.Leftover(path: "a/mnt", reason: "a mount point")])
        #expect(removal.description == "a/mnt (a mount point)")
        #expect(try String(contentsOfFile: root + "/source/data", encoding: .utf8) == "precious")
        #expect(try String(contentsOfFile: root + "/source/deeper/more", encoding: .utf8) == "precious too")
        #expect(!exists(root + "/ws/a/file") && !exists(root + "/ws/b"))

        #expect(command(["umount", root + "/ws/a/mnt"]) == 0)
        mounted = false
        #expect(try FileTree.remove("ws", in: root).complete)
        #expect(!exists(root + "/ws"))
        #expect(exists(root + "/source/data"))
    }

    @Test(.enabled(if: getuid() == 0, "the immutable attribute needs root"))
    func keepsGoingPastAFileItCannotDelete() throws {
        let root = try makeTemporaryFolder(prefix: "filetree")
        defer { removeTemporaryFolder(root) }
        try write("x", to: root + "/ws/a/stuck")
        try write("x", to: root + "/ws/a/other")
        try write("x", to: root + "/ws/z/file")
        try #require(command(["chattr", "+i", root + "/ws/a/stuck"]) == 0, "chattr +i failed: needs a file system with the immutable attribute")
        var immutable = true
        defer { if immutable { command(["chattr", "-i", root + "/ws/a/stuck"]) } }

        let removal = try FileTree.remove("ws", in: root)

        #expect(!removal.complete)
        #expect(removal.left.map(\.path) == ["a/stuck"])
        #expect(!exists(root + "/ws/a/other") && !exists(root + "/ws/z"))

        command(["chattr", "-i", root + "/ws/a/stuck"])
        immutable = false
        #expect(try FileTree.remove("ws", in: root).complete)
    }

    @Test func describesWhatIsLeftOnOneLine() {
        let left = (0..<FileTree.listedLimit).map { FileTree.Leftover(path: "f\($0)", reason: "Permission denied") }
        let many = FileTree.Removal(existed: true, left: left, leftCount: 25)
        #expect(many.description.hasPrefix("f0 (Permission denied), f1 (Permission denied), "))
        #expect(many.description.hasSuffix("f19 (Permission denied) and 5 more"))

        let hostile = FileTree.Removal(existed: true, left: [FileTree.Leftover(path: "a\nb\u{1B}[2J\u{2028}\u{85}\u{202E}c", reason: "a mount point")], leftCount: 1)
        #expect(hostile.description == #"a\u{A}b\u{1B}[2J\u{2028}\u{85}\u{202E}c (a mount point)"#)

        let deep = FileTree.Removal(existed: true, left: [FileTree.Leftover(path: String(repeating: "d/", count: 1_000) + "end", reason: "x")], leftCount: 1)
        #expect(deep.description.count < 300 && deep.description.hasSuffix("d/end (x)"))
    }
}

/// Removes a test's folder with `FileTree` itself, which never crosses into a mount a failed
/// test left behind.
private func removeTemporaryFolder(_ path: String) {
    let url = URL(fileURLWithPath: path)
    _ = try? FileTree.remove(url.lastPathComponent, in: url.deletingLastPathComponent().path)
}

private func exists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

/// Writes `text` to `path`, creating the folders on the way.
private func write(_ text: String, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try text.write(to: url, atomically: false, encoding: .utf8)
}

/// Makes `depth` nested folders with 20-character names, a file in each, under `root/name`,
/// through descriptors since the paths are too long for the system to take. Returns the
/// length of the deepest path.
private func makeDeepTree(in root: String, name: String, depth: Int) throws -> Int {
    var folder = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    try #require(folder >= 0)
    var length = root.utf8.count
    for level in -1..<depth {
        let child = level < 0 ? name : "folder-" + String(repeating: "0", count: 8 - String(level).count) + String(level) + "-deep"
        try #require(mkdirat(folder, child, 0o755) == 0)
        let next = openat(folder, child, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        close(folder)
        try #require(next >= 0)
        folder = next
        length += 1 + child.utf8.count
        let file = openat(folder, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        try #require(file >= 0)
        close(file)
    }
    close(folder)
    return length
}

/// Runs a system command quietly and returns its exit status.
@discardableResult
private func command(_ arguments: [String]) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
}
