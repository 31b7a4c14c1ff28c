import Foundation

/// Removes folder trees that untrusted code may have written into (a project's workspace).
///
/// Everything happens relative to open directory descriptors, never through a path: a
/// symbolic link is removed as a link and never followed, a mount point (a bind mount
/// included) is never entered, and the depth of the tree does not matter.
public enum FileTree {
    /// How many left-over entries a `Removal` lists; `leftCount` counts them all.
    public static let listedLimit = 20

    /// Something `remove(_:in:)` left in place.
    public struct Leftover: Equatable, Sendable {
        /// The path relative to the removed entry (`.` for the entry itself). Built for
        /// messages only: bytes that are not UTF-8 are replaced.
        public var path: String
        /// Why it is still there: "a mount point", or the system's error message.
        public var reason: String
    }

    /// What `remove(_:in:)` did.
    public struct Removal: Equatable, Sendable, CustomStringConvertible {
        /// False when there was nothing by that name to remove.
        public var existed: Bool
        /// Up to `FileTree.listedLimit` of the entries left in place, in the order met.
        public var left: [Leftover]
        /// How many entries were left in place, listed or not.
        public var leftCount: Int

        /// True when the entry is gone (or was never there).
        public var complete: Bool { leftCount == 0 }

        /// What is left, in one line: "a/mnt (a mount point), b (Permission denied) and 3 more".
        public var description: String {
            guard !complete else { return "nothing is left" }
            var parts = left.map { "\(Self.printable($0.path)) (\($0.reason))" }
            if leftCount > left.count { parts.append("\(leftCount - left.count) more") }
            if parts.count == 1 { return parts[0] }
            return parts.dropLast().joined(separator: ", ") + " and " + parts[parts.count - 1]
        }

        /// Names come from untrusted code: escape control characters so the message stays one
        /// line, and shorten paths too long to read (a tree can be thousands of levels deep).
        static func printable(_ path: String) -> String {
            let maximum = 200
            let shown = path.count > maximum ? "…" + path.suffix(maximum) : path
            return shown.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) ? shown.debugDescription : String(shown)
        }
    }

    /// Deletes the entry `name` inside the folder `parent`, whatever it is, and everything
    /// under it that can be deleted.
    ///
    /// - `parent` is trusted (an absolute path novaos owns) and opened without following a
    ///   symbolic link at its last component; everything below it is reached only through
    ///   `openat`/`unlinkat` relative to open directories, with `O_NOFOLLOW`.
    /// - A symbolic link, anywhere, is unlinked as a link: what it points to is untouched.
    /// - A folder on another mount than `parent` (a different mount ID on Linux, which catches
    ///   bind mounts of the same file system; a different device elsewhere) is not entered and
    ///   is left in place, with the folders above it.
    /// - Any depth works, deeper than `PATH_MAX` included, with a handful of descriptors: the
    ///   walk goes back up through `..`, checking it is the folder it came down from, and stops
    ///   (reporting what is left) if someone moved it meanwhile.
    /// - A folder whose write permission was taken away (by its owner, as `go mod download`
    ///   does) is made writable again so its entries can go.
    /// - What cannot be deleted (a mount point, a permission error, an immutable file) does
    ///   not stop the rest: it is listed in the result, and calling `remove` again later
    ///   finishes the job once the cause is gone.
    ///
    /// - Throws: `SupervisionError.fileSystem` only when `name` is not a plain file name or
    ///   `parent` cannot be opened; every other failure is reported in the `Removal`.
    public static func remove(_ name: String, in parent: String) throws -> Removal {
        try Directory.checkName(name, in: parent)
        let folder = try Directory.open(parent)
        var walk = Walk(parent: folder.fd)
        walk.remove(Array(name.utf8CString))
        return Removal(existed: walk.existed, left: walk.left, leftCount: walk.leftCount)
    }
}

/// A file's identity: the device and inode pair that `stat` reports.
private struct FileIdentity: Equatable {
    var device: dev_t
    var inode: ino_t

    init(_ info: stat) {
        device = info.st_dev
        inode = info.st_ino
    }

    init?(descriptor: Int32) {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        self.init(info)
    }
}

/// Which mount a descriptor is on. On Linux the mount ID tells a bind mount of the same file
/// system apart, which `st_dev` cannot; elsewhere only the device is compared.
private struct MountIdentity: Equatable {
    var device: dev_t
    /// Nil when it cannot be read (Linux without /proc, or another system).
    var mountID: Int?

    init?(descriptor: Int32) {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        device = info.st_dev
        #if os(Linux)
        mountID = Self.linuxMountID(descriptor)
        #else
        mountID = nil
        #endif
    }

    /// True when `other` (a folder met in the walk) is on this (the top's) mount. When the
    /// top's mount ID could not be read, only devices are compared; when the top's could be
    /// and the folder's cannot, it counts as another mount.
    func contains(_ other: MountIdentity) -> Bool {
        guard device == other.device else { return false }
        guard let mountID else { return true }
        return other.mountID == mountID
    }

    #if os(Linux)
    /// The `mnt_id:` line of `/proc/self/fdinfo/<fd>` (Linux 3.15 and later; proc(5)).
    private static func linuxMountID(_ descriptor: Int32) -> Int? {
        let file = open("/proc/self/fdinfo/\(descriptor)", O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { return nil }
        defer { close(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            let count = read(file, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("mnt_id:") {
            return Int(line.dropFirst("mnt_id:".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
    #endif
}

/// One removal: the walk down and back up a tree, holding only the trusted parent's and the
/// current folder's descriptors (plus one or two for a moment).
private struct Walk {
    /// A folder on the way down from the removed entry to the current folder.
    struct Level {
        /// Its name in the level above (in the trusted parent for the first level), with the
        /// terminating NUL, as the system calls take it.
        var name: [CChar]
        var identity: FileIdentity
        /// Entries that stay: they are not looked at again when the folder is listed anew.
        var skipped: Set<[CChar]> = []
        /// True once something inside it was left, so that it cannot be deleted either.
        var keepsLeftovers = false
        /// True once its permissions were widened to let its entries go.
        var madeWritable = false
    }

    /// How many names one listing of a folder gathers before acting on them.
    static let batch = 4096

    let parent: Int32
    var existed = false
    var left: [FileTree.Leftover] = []
    var leftCount = 0
    private var top: MountIdentity?
    private var levels: [Level] = []

    init(parent: Int32) {
        self.parent = parent
    }

    mutating func remove(_ name: [CChar]) {
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno != ENOENT { record(".", reason: systemMessage()) }
            return
        }
        existed = true
        guard isDirectory(info) else {
            if unlinkat(parent, name, 0) != 0, errno != ENOENT { record(".", reason: systemMessage()) }
            return
        }
        guard let mount = MountIdentity(descriptor: parent) else {
            record(".", reason: "cannot read the parent folder: \(systemMessage())")
            return
        }
        top = mount
        guard var current = openFolder(name, in: parent, expected: info, path: ".") else { return }
        levels = [Level(name: name, identity: FileIdentity(info))]

        while true {
            guard let names = list(current) else {
                // Unreadable: whatever it holds stays, and so does the folder.
                levels[levels.count - 1].keepsLeftovers = true
                if let above = goUp(from: current) { current = above; continue }
                return
            }
            if names.isEmpty {
                guard let above = goUp(from: current) else { return }
                current = above
                continue
            }
            if let child = removeFiles(names, in: current) {
                levels.append(child.level)
                close(current)
                current = child.descriptor
            }
        }
    }

    // MARK: - One folder

    /// Up to `batch` names in the folder, other than `.`, `..` and the skipped ones; nil
    /// (and recorded) when it cannot be read.
    private mutating func list(_ folder: Int32) -> [[CChar]]? {
        // A descriptor of its own, so each listing starts at the beginning.
        let descriptor = openat(folder, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0, let stream = fdopendir(descriptor) else {
            if descriptor >= 0 { close(descriptor) }
            record(levelPath(), reason: "cannot list the folder: \(systemMessage())")
            return nil
        }
        defer { closedir(stream) }
        let skipped = levels[levels.count - 1].skipped
        var names: [[CChar]] = []
        while names.count < Self.batch {
            errno = 0
            guard let entry = readdir(stream) else {
                guard errno == 0 else {
                    record(levelPath(), reason: "cannot list the folder: \(systemMessage())")
                    return nil
                }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 }.map { CChar(bitPattern: $0) }) + [0]
            }
            if name == [46, 0] || name == [46, 46, 0] || skipped.contains(name) { continue }
            names.append(name)
        }
        return names
    }

    /// Unlinks every non-folder among `names` (a symbolic link as a link) and opens the first
    /// folder that can be entered, to go down into next. The other folders are met again in
    /// the next listing.
    private mutating func removeFiles(_ names: [[CChar]], in folder: Int32) -> (level: Level, descriptor: Int32)? {
        var next: (level: Level, descriptor: Int32)?
        for name in names {
            var info = stat()
            guard fstatat(folder, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                if errno != ENOENT { leave(name, reason: systemMessage()) }
                continue
            }
            if isDirectory(info) {
                guard next == nil else { continue }
                if let descriptor = openFolder(name, in: folder, expected: info, path: entryPath(name)) {
                    next = (Level(name: name, identity: FileIdentity(info)), descriptor)
                } else {
                    skip(name)
                }
            } else if !unlink(name, in: folder, flags: 0) {
                leave(name, reason: systemMessage())
            }
        }
        return next
    }

    /// Opens the folder `name` in `folder` to go down into it, if it is still the one `lstat`
    /// saw and it is on the top's mount; otherwise records why it stays.
    private mutating func openFolder(_ name: [CChar], in folder: Int32, expected: stat, path: String) -> Int32? {
        let descriptor = openat(folder, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            let replaced = errno == ELOOP || errno == ENOTDIR
            record(path, reason: replaced ? "replaced during the removal" : systemMessage())
            return nil
        }
        guard FileIdentity(descriptor: descriptor) == FileIdentity(expected) else {
            close(descriptor)
            record(path, reason: "replaced during the removal")
            return nil
        }
        guard let top, let mount = MountIdentity(descriptor: descriptor), top.contains(mount) else {
            close(descriptor)
            record(path, reason: "a mount point")
            return nil
        }
        return descriptor
    }

    // MARK: - Going up

    /// Closes the current folder, goes up to the folder above it and deletes the current one
    /// there (unless it keeps leftovers). Returns the folder above, or nil when the walk is
    /// over: back at the top, or stopped because `..` is not the folder it came down from.
    private mutating func goUp(from current: Int32) -> Int32? {
        let done = levels.removeLast()
        guard let above = levels.last else {
            close(current)
            removeFolder(done, in: parent, path: ".")
            return nil
        }
        let descriptor = openat(current, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        close(current)
        guard descriptor >= 0, FileIdentity(descriptor: descriptor) == above.identity else {
            if descriptor >= 0 { close(descriptor) }
            levels.append(done)
            record(levelPath(), reason: "moved during the removal; stopped there")
            levels.removeAll()
            return nil
        }
        let path = entryPath(done.name)
        removeFolder(done, in: descriptor, path: path)
        return descriptor
    }

    /// Deletes the emptied folder `level` from `folder`, after checking the name still names it.
    private mutating func removeFolder(_ level: Level, in folder: Int32, path: String) {
        let keeps = level.keepsLeftovers
        var info = stat()
        guard fstatat(folder, level.name, &info, AT_SYMLINK_NOFOLLOW) == 0, FileIdentity(info) == level.identity else {
            if !keeps { record(path, reason: "replaced during the removal") }
            markKept(level.name)
            return
        }
        if unlink(level.name, in: folder, flags: AT_REMOVEDIR) { return }
        let code = errno
        // A folder that keeps leftovers is already accounted for by them.
        if !(keeps && (code == ENOTEMPTY || code == EEXIST)) { record(path, reason: systemMessage(code)) }
        markKept(level.name)
    }

    // MARK: - Helpers

    /// `unlinkat`, retried once after giving the folder back its owner's write permission
    /// when that was what stopped it. Returns true when the entry is gone.
    private mutating func unlink(_ name: [CChar], in folder: Int32, flags: Int32) -> Bool {
        if unlinkat(folder, name, flags) == 0 || errno == ENOENT { return true }
        guard errno == EACCES || errno == EPERM else { return false }
        let index = folder == parent ? nil : levels.indices.last
        guard let index, !levels[index].madeWritable else { return false }
        let code = errno
        levels[index].madeWritable = true
        var info = stat()
        guard fstat(folder, &info) == 0, fchmod(folder, (info.st_mode & 0o7777) | S_IRWXU) == 0 else {
            errno = code
            return false
        }
        return unlinkat(folder, name, flags) == 0 || errno == ENOENT
    }

    /// Records that `name` in the current folder stays, and why.
    private mutating func leave(_ name: [CChar], reason: String) {
        record(entryPath(name), reason: reason)
        skip(name)
    }

    /// Marks `name` in the current folder as staying, and with it the current folder.
    private mutating func skip(_ name: [CChar]) {
        levels[levels.count - 1].skipped.insert(name)
        levels[levels.count - 1].keepsLeftovers = true
    }

    /// Like `skip`, after going up: the level that stays is the current one, if any.
    private mutating func markKept(_ name: [CChar]) {
        guard !levels.isEmpty else { return }
        skip(name)
    }

    private mutating func record(_ path: String, reason: String) {
        leftCount += 1
        if left.count < FileTree.listedLimit { left.append(FileTree.Leftover(path: path, reason: reason)) }
    }

    /// The current folder's path relative to the removed entry, for messages.
    private func levelPath() -> String {
        levels.count <= 1 ? "." : levels.dropFirst().map { Self.text($0.name) }.joined(separator: "/")
    }

    /// The path of `name` in the current folder, relative to the removed entry, for messages.
    private func entryPath(_ name: [CChar]) -> String {
        (levels.dropFirst().map { Self.text($0.name) } + [Self.text(name)]).joined(separator: "/")
    }

    private static func text(_ name: [CChar]) -> String {
        String(decoding: name.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

private func isDirectory(_ info: stat) -> Bool {
    (info.st_mode & S_IFMT) == S_IFDIR
}
