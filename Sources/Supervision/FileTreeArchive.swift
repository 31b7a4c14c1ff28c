#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Reads a folder tree that untrusted code may have written (a project's workspace) into a
/// list of entries, and writes such a list out as a new tree: how snapshots keep workspaces.
///
/// As `FileTree.remove` does, everything happens relative to open directory descriptors with
/// `O_NOFOLLOW`: a symbolic link is kept as a link (its target as text, never followed), a
/// folder on another mount is not entered, and anything that is not a file, folder or link
/// (a FIFO, socket or device) is skipped. Names are bytes, as the kernel keeps them.
public enum FileTreeArchive {
    /// How deep a tree may go; deeper folders are skipped and counted.
    public static let maximumDepth = 256
    /// The largest file kept (SQLite holds a value of at most 1 GB); larger ones are skipped.
    public static let maximumFileBytes = 512 << 20

    public enum Kind: String, Sendable {
        case file, folder, link
    }

    /// One entry of a tree.
    public struct Entry: Sendable, Equatable {
        /// The path below the tree's top, components joined by `/`.
        public var path: [UInt8]
        public var kind: Kind
        /// The permission bits (`0o7777` of `st_mode`).
        public var mode: UInt32
        /// A file's bytes, or a link's target; empty for a folder.
        public var contents: [UInt8]

        public init(path: [UInt8], kind: Kind, mode: UInt32, contents: [UInt8] = []) {
            self.path = path
            self.kind = kind
            self.mode = mode
            self.contents = contents
        }
    }

    /// What `read` left out, and why.
    public struct Skipped: Sendable, Equatable {
        /// FIFOs, sockets, devices.
        public var special = 0
        /// Folders on another mount.
        public var mounts = 0
        /// Folders deeper than `maximumDepth`.
        public var tooDeep = 0
        /// Entries that could not be read (gone meanwhile, no permission).
        public var unreadable = 0
        /// Files larger than `maximumFileBytes`.
        public var tooLarge = 0

        public var total: Int { special + mounts + tooDeep + unreadable + tooLarge }
    }

    /// Hands every entry under the folder `name` in `parent` to `visit`, each folder before
    /// what it holds. A missing folder has no entries.
    ///
    /// - Throws: `SupervisionError.fileSystem` when `parent` cannot be opened, `name` is a
    ///   link or not a folder; whatever `visit` throws.
    @discardableResult
    public static func read(_ name: String, in parent: String, visit: (Entry) throws -> Void) throws -> Skipped {
        try Directory.checkName(name, in: parent)
        let top = try Directory.open(parent)
        let folder = openat(top.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard folder >= 0 else {
            if errno == ENOENT { return Skipped() }
            throw SupervisionError.fileSystem(path: parent + "/" + name, message: "cannot open the folder: \(systemMessage())")
        }
        defer { close(folder) }
        guard let mount = MountIdentity(descriptor: folder) else {
            throw SupervisionError.fileSystem(path: parent + "/" + name, message: "cannot read the folder: \(systemMessage())")
        }
        var skipped = Skipped()
        try walk(folder, prefix: [], depth: 1, mount: mount, skipped: &skipped, visit: visit)
        return skipped
    }

    private static func walk(_ folder: Int32, prefix: [UInt8], depth: Int, mount: MountIdentity, skipped: inout Skipped, visit: (Entry) throws -> Void) throws {
        for name in listNames(folder) {
            let path = prefix.isEmpty ? name : prefix + [UInt8(ascii: "/")] + name
            let cName = name.map { CChar(bitPattern: $0) } + [0]
            var info = stat()
            guard fstatat(folder, cName, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                skipped.unreadable += 1
                continue
            }
            let mode = UInt32(info.st_mode & 0o7777)
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                guard depth < maximumDepth else {
                    skipped.tooDeep += 1
                    continue
                }
                let child = openat(folder, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else {
                    skipped.unreadable += 1
                    continue
                }
                defer { close(child) }
                guard let identity = MountIdentity(descriptor: child), mount.contains(identity) else {
                    skipped.mounts += 1
                    continue
                }
                try visit(Entry(path: path, kind: .folder, mode: mode))
                try walk(child, prefix: path, depth: depth + 1, mount: mount, skipped: &skipped, visit: visit)
            case S_IFREG:
                guard info.st_size <= maximumFileBytes else {
                    skipped.tooLarge += 1
                    continue
                }
                guard let bytes = readFile(cName, in: folder) else {
                    skipped.unreadable += 1
                    continue
                }
                try visit(Entry(path: path, kind: .file, mode: mode, contents: bytes))
            case S_IFLNK:
                var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let count = readlinkat(folder, cName, &target, target.count - 1)
                guard count >= 0 else {
                    skipped.unreadable += 1
                    continue
                }
                try visit(Entry(path: path, kind: .link, mode: mode, contents: target[0..<count].map { UInt8(bitPattern: $0) }))
            default:
                skipped.special += 1
            }
        }
    }

    /// The names in a folder, sorted (so two reads of one tree agree), without `.` and `..`.
    private static func listNames(_ folder: Int32) -> [[UInt8]] {
        let descriptor = openat(folder, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0, let stream = fdopendir(descriptor) else {
            if descriptor >= 0 { close(descriptor) }
            return []
        }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [46] || name == [46, 46] { continue }
            names.append(name)
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// A regular file's bytes, opened without following a link and without blocking on a FIFO
    /// swapped in after `fstatat`; nil when it cannot be read or is no longer a regular file.
    private static func readFile(_ name: [CChar], in folder: Int32) -> [UInt8]? {
        let file = openat(folder, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard file >= 0 else { return nil }
        defer { close(file) }
        var info = stat()
        guard fstat(file, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        guard info.st_size <= maximumFileBytes else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(info.st_size))
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = Glibc.read(file, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return bytes }
            bytes += buffer[0..<count]
            // Grown since it was looked at: not kept whole, so not kept.
            if bytes.count > maximumFileBytes { return nil }
        }
    }

    /// Creates the folder `name` in `parent`, which must not exist yet, and the entries in it,
    /// in the order given (each folder before what it holds). Paths are checked: no empty
    /// component, `.`, `..` or NUL, so nothing lands outside the new folder; links are made as
    /// links. Set-user-ID and set-group-ID bits are dropped, and the owner can always write.
    ///
    /// - Throws: `SupervisionError.fileSystem`; the partly written folder is left for the
    ///   caller to remove (`FileTree.remove`).
    public static func write(_ name: String, in parent: String, entries: some Sequence<Entry>) throws {
        try Directory.checkName(name, in: parent)
        let top = try Directory.open(parent)
        guard mkdirat(top.fd, name, 0o755) == 0 else {
            throw SupervisionError.fileSystem(path: parent + "/" + name, message: "cannot create the folder: \(systemMessage())")
        }
        let root = try top.subdirectory(name, create: false)
        // The folders down to the last entry, kept open: entries come parent first, so most
        // of them land in a folder opened already.
        var openNames: [[UInt8]] = []
        var openFolders: [Directory] = []
        for entry in entries {
            let components = entry.path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Array.init)
            guard !components.isEmpty, components.allSatisfy({ !$0.isEmpty && $0 != [46] && $0 != [46, 46] && !$0.contains(0) }),
                  components.count <= maximumDepth else {
                throw SupervisionError.fileSystem(
                    path: root.path, message: "refusing the entry \(String(decoding: entry.path, as: UTF8.self).debugDescription): not a plain relative path"
                )
            }
            let parents = components.dropLast()
            var shared = 0
            while shared < min(openNames.count, parents.count), openNames[shared] == parents[parents.startIndex + shared] { shared += 1 }
            openNames.removeLast(openNames.count - shared)
            openFolders.removeLast(openFolders.count - shared)
            for component in parents.dropFirst(shared) {
                openFolders.append(try openFolder(component, in: openFolders.last ?? root))
                openNames.append(component)
            }
            let folder = openFolders.last ?? root
            let cName = components[components.count - 1].map { CChar(bitPattern: $0) } + [0]
            let mode = mode_t(entry.mode & 0o1777)
            switch entry.kind {
            case .folder:
                guard mkdirat(folder.fd, cName, mode | 0o700) == 0 else { throw failure("cannot create the folder", entry, in: root) }
            case .link:
                let target = entry.contents.map { CChar(bitPattern: $0) } + [0]
                guard symlinkat(target, folder.fd, cName) == 0 else { throw failure("cannot create the link", entry, in: root) }
            case .file:
                let file = openat(folder.fd, cName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode | 0o600)
                guard file >= 0 else { throw failure("cannot create the file", entry, in: root) }
                defer { close(file) }
                guard writeAll(entry.contents, to: file) else { throw failure("cannot write the file", entry, in: root) }
                // The mode asked for, whatever the umask took away.
                _ = fchmod(file, mode | 0o600)
            }
        }
    }

    private static func openFolder(_ name: [UInt8], in folder: Directory) throws -> Directory {
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        let descriptor = openat(folder.fd, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw SupervisionError.fileSystem(path: folder.path + "/" + String(decoding: name, as: UTF8.self), message: "cannot open the folder: \(systemMessage())")
        }
        return Directory(fd: descriptor, path: folder.path + "/" + String(decoding: name, as: UTF8.self))
    }

    private static func failure(_ what: String, _ entry: Entry, in root: Directory) -> SupervisionError {
        .fileSystem(path: root.path + "/" + String(decoding: entry.path, as: UTF8.self), message: "\(what): \(systemMessage())")
    }
}
