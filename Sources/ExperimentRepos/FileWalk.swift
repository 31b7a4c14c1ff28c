#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The regular files under a folder, found without following a symbolic link (the starting
/// folder included) or entering a skipped folder: what analysis and test-suite detection look
/// at in a checkout, which is untrusted.
enum FileWalk {
    /// Paths relative to `folder` ("src/app.py"), in no particular order. Every folder is
    /// opened relative to its parent's descriptor with `O_NOFOLLOW`, so a link planted in the
    /// checkout (`tests -> /`) is never entered; folders that cannot be read are passed over.
    /// `visit` returns false to stop the walk.
    static func regularFiles(under folder: String, skipping skipped: Set<String> = [], _ visit: (String) -> Bool) {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        let root = open(folder, flags)
        guard root >= 0 else { return }
        var pending: [(descriptor: Int32, relative: String)] = [(root, "")]
        var stopped = false
        while let (descriptor, relative) = pending.popLast() {
            guard !stopped, let directory = fdopendir(descriptor) else {
                close(descriptor)
                continue
            }
            defer { closedir(directory) } // closes `descriptor` too
            while !stopped, let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name == "." || name == ".." { continue }
                let path = relative.isEmpty ? name : relative + "/" + name
                var info = stat()
                guard fstatat(descriptor, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR where !skipped.contains(name):
                    let child = openat(descriptor, name, flags)
                    if child >= 0 { pending.append((child, path)) }
                case S_IFREG:
                    if !visit(path) { stopped = true }
                default:
                    continue
                }
            }
        }
    }

    /// True when `path` is a folder (not a link to one).
    static func isFolder(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}
