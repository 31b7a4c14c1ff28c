#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

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

        /// Names come from untrusted code: control, format and line-separator characters are
        /// written as `\u{…}`, so the message stays one line and cannot drive a terminal, and
        /// paths too long to read (a tree can be thousands of levels deep) keep their end.
        static func printable(_ path: String) -> String {
            let maximum = 200
            let shown = path.count > maximum ? "…" + path.suffix(maximum) : path
            var text = ""
            for scalar in shown.unicodeScalars {
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator:
                    text += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                default:
                    text.unicodeScalars.append(scalar)
                }
            }
            return text
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
        // The walk uses the descriptor, not the object: keep it open until the walk is over.
        return withExtendedLifetime(folder) {
            var walk = Walk(parent: folder.fd)
            walk.remove(Array(name.utf8CString))
            return Removal(existed: walk.existed, left: walk.left, leftCount: walk.leftCount)
        }
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
struct MountIdentity: Equatable {
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
            return Int(line.dropFirst("mnt_id:".count).filter { $0 != " " && $0 != "\t" })
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
            if errno != ENOENT { record(.top, reason: systemMessage()) }
            return
        }
        existed = true
        guard isDirectory(info) else {
            if unlinkat(parent, name, 0) != 0, errno != ENOENT { record(.top, reason: systemMessage()) }
            return
        }
        guard let mount = MountIdentity(descriptor: parent) else {
            record(.top, reason: "cannot read the parent folder: \(systemMessage())")
            return
        }
        top = mount
        var current: Int32
        switch openFolder(name, in: parent, expected: info) {
        case .success(let descriptor): current = descriptor
        case .failure(let refusal): return record(.top, reason: refusal.reason)
        }
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
            record(.currentFolder, reason: "cannot list the folder: \(systemMessage())")
            return nil
        }
        defer { closedir(stream) }
        let skipped = levels[levels.count - 1].skipped
        var names: [[CChar]] = []
        while names.count < Self.batch {
            errno = 0
            guard let entry = readdir(stream) else {
                guard errno == 0 else {
                    record(.currentFolder, reason: "cannot list the folder: \(systemMessage())")
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
                if errno == ENOENT { ignore(name) } else { leave(name, reason: systemMessage()) }
                continue
            }
            if isDirectory(info) {
                guard next == nil else { continue }
                switch openFolder(name, in: folder, expected: info) {
                case .success(let descriptor): next = (Level(name: name, identity: FileIdentity(info)), descriptor)
                case .failure(let refusal): leave(name, reason: refusal.reason)
                }
            } else if !unlink(name, in: folder, flags: 0) {
                leave(name, reason: systemMessage())
            }
        }
        return next
    }

    /// Opens the folder `name` in `folder` to go down into it, if it is still the one `lstat`
    /// saw and it is on the top's mount; otherwise says why it stays.
    private func openFolder(_ name: [CChar], in folder: Int32, expected: stat) -> Result<Int32, Refusal> {
        let descriptor = openat(folder, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            let replaced = errno == ELOOP || errno == ENOTDIR
            return .failure(Refusal(replaced ? "replaced during the removal" : systemMessage()))
        }
        guard FileIdentity(descriptor: descriptor) == FileIdentity(expected) else {
            close(descriptor)
            return .failure(Refusal("replaced during the removal"))
        }
        guard let top, let mount = MountIdentity(descriptor: descriptor), top.contains(mount) else {
            close(descriptor)
            return .failure(Refusal("a mount point"))
        }
        return .success(descriptor)
    }

    /// Why a folder is not entered.
    struct Refusal: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    // MARK: - Going up

    /// Closes the current folder, goes up to the folder above it and deletes the current one
    /// there (which fails, quietly, when it keeps leftovers). Returns the folder above, or nil when the walk is
    /// over: back at the top, or stopped because `..` is not the folder it came down from.
    private mutating func goUp(from current: Int32) -> Int32? {
        let done = levels.removeLast()
        guard let above = levels.last else {
            close(current)
            removeFolder(done, in: parent)
            return nil
        }
        let descriptor = openat(current, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        close(current)
        guard descriptor >= 0, FileIdentity(descriptor: descriptor) == above.identity else {
            if descriptor >= 0 { close(descriptor) }
            levels.append(done)
            record(.currentFolder, reason: "moved during the removal; stopped there")
            levels.removeAll()
            return nil
        }
        removeFolder(done, in: descriptor)
        return descriptor
    }

    /// Deletes the emptied folder `level` from `folder` (the current one, or the trusted
    /// parent once `levels` is empty), after checking the name still names it.
    private mutating func removeFolder(_ level: Level, in folder: Int32) {
        let keeps = level.keepsLeftovers
        var info = stat()
        guard fstatat(folder, level.name, &info, AT_SYMLINK_NOFOLLOW) == 0, FileIdentity(info) == level.identity else {
            if !keeps { recordFolder(level, reason: "replaced during the removal") }
            skip(level.name)
            return
        }
        if unlink(level.name, in: folder, flags: AT_REMOVEDIR) { return }
        let code = errno
        // A folder that keeps leftovers is already accounted for by them.
        if !(keeps && (code == ENOTEMPTY || code == EEXIST)) { recordFolder(level, reason: systemMessage(code)) }
        skip(level.name)
    }

    /// Records that the folder `level`, just left, stays.
    private mutating func recordFolder(_ level: Level, reason: String) {
        record(levels.isEmpty ? .top : .entry(level.name), reason: reason)
    }

    // MARK: - Helpers

    /// `unlinkat`, retried once after giving the folder back its owner's write and search
    /// permissions when it lacked them. Returns true when the entry is gone.
    private mutating func unlink(_ name: [CChar], in folder: Int32, flags: Int32) -> Bool {
        if unlinkat(folder, name, flags) == 0 { return true }
        let code = errno
        if code == ENOENT {
            // Gone already; never listed again, whatever the file system says.
            ignore(name, in: folder)
            return true
        }
        // Never the trusted parent's permissions: only folders inside the tree.
        guard code == EACCES || code == EPERM, folder != parent, let index = levels.indices.last, !levels[index].madeWritable else {
            return false
        }
        levels[index].madeWritable = true
        var info = stat()
        let ownerBits = S_IWUSR | S_IXUSR
        guard fstat(folder, &info) == 0, info.st_mode & ownerBits != ownerBits, fchmod(folder, (info.st_mode & 0o7777) | ownerBits) == 0 else {
            errno = code
            return false
        }
        return unlinkat(folder, name, flags) == 0 || errno == ENOENT
    }

    /// Never looks at `name` in the current folder again, without counting it as left.
    private mutating func ignore(_ name: [CChar], in folder: Int32? = nil) {
        guard !levels.isEmpty, folder != parent else { return }
        levels[levels.count - 1].skipped.insert(name)
    }

    /// Records that `name` in the current folder stays, and why.
    private mutating func leave(_ name: [CChar], reason: String) {
        record(.entry(name), reason: reason)
        skip(name)
    }

    /// Marks `name` in the current folder (if any: not the trusted parent) as staying, and
    /// with it the current folder.
    private mutating func skip(_ name: [CChar]) {
        guard !levels.isEmpty else { return }
        levels[levels.count - 1].skipped.insert(name)
        levels[levels.count - 1].keepsLeftovers = true
    }

    /// Where an entry left in place is; made a path only when it is listed, since building
    /// one per level would make a deep walk quadratic.
    enum Place {
        /// The removed entry itself.
        case top
        /// The current folder.
        case currentFolder
        /// An entry of the current folder.
        case entry([CChar])
    }

    /// Counts one entry left, and lists it while the list is short.
    private mutating func record(_ place: Place, reason: String) {
        leftCount += 1
        guard left.count < FileTree.listedLimit else { return }
        var names = levels.dropFirst().map { Self.text($0.name) }
        switch place {
        case .top: names = []
        case .currentFolder: break
        case .entry(let name): names.append(Self.text(name))
        }
        left.append(FileTree.Leftover(path: names.isEmpty ? "." : names.joined(separator: "/"), reason: reason))
    }

    private static func text(_ name: [CChar]) -> String {
        String(decoding: name.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

private func isDirectory(_ info: stat) -> Bool {
    (info.st_mode & S_IFMT) == S_IFDIR
}
