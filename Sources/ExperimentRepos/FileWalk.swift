#if canImport(Glibc)
import Glibc
#endif

/// The regular files under a folder, found without following a symbolic link or entering a
/// skipped folder: what analysis and test-suite detection look at in a checkout.
enum FileWalk {
    /// Paths relative to `folder` ("src/app.py"), in no particular order. Folders that cannot
    /// be read are passed over; `visit` returns false to stop the walk.
    static func regularFiles(under folder: String, skipping skipped: Set<String> = [], _ visit: (String) -> Bool) {
        var pending = [""]
        while let relative = pending.popLast() {
            guard let directory = opendir(relative.isEmpty ? folder : folder + "/" + relative) else { continue }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name == "." || name == ".." { continue }
                let path = relative.isEmpty ? name : relative + "/" + name
                var info = stat()
                guard lstat(folder + "/" + path, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR where !skipped.contains(name): pending.append(path)
                case S_IFREG: if !visit(path) { return }
                default: continue
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
