#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Writes all of `bytes` to `fd`, again after each short or interrupted write; false (with
/// `errno` set) when it cannot: a closed pipe, a full disk. Never traps, unlike
/// `FileHandle.write(_:)` on EPIPE once SIGPIPE is ignored.
@discardableResult
public func writeAll(_ bytes: some ContiguousBytes, to fd: Int32) -> Bool {
    bytes.withUnsafeBytes { raw in
        var done = 0
        while done < raw.count {
            let count = write(fd, raw.baseAddress! + done, raw.count - done)
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            if count == 0 { errno = EIO; return false }
            done += count
        }
        return true
    }
}

/// Reads what a non-blocking descriptor holds now, at most `limit` bytes, handing each chunk
/// to `take`. Returns false at end of file (or on an error), true while it is still open.
///
/// The limit keeps one busy descriptor from starving a loop that also has deadlines to keep.
@discardableResult
public func readAvailable(_ fd: Int32, limit: Int = 1 << 20, into take: (Data) -> Void) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    var total = 0
    while total < limit {
        let count = read(fd, &buffer, buffer.count)
        if count > 0 {
            take(Data(buffer[0..<count]))
            total += count
            continue
        }
        if count == 0 { return false }
        if errno == EINTR { continue }
        return errno == EAGAIN || errno == EWOULDBLOCK
    }
    return true
}

/// A new private folder (mode 0700) in the temporary directory; the caller removes it.
public func makeTemporaryFolder(prefix: String) throws -> String {
    let base = FileManager.default.temporaryDirectory.path
    var template = Array((base + "/\(prefix)-XXXXXX").utf8CString)
    guard let folder = mkdtemp(&template) else {
        throw SupervisionError.fileSystem(path: base, message: "cannot create a temporary folder: \(systemMessage())")
    }
    return String(cString: folder)
}

/// The path with every symbolic link resolved (`realpath`), or nil when nothing is there.
public func resolvedPath(_ path: String) -> String? {
    guard let pointer = realpath(path, nil) else { return nil }
    defer { free(pointer) }
    return String(cString: pointer)
}

/// Sets `O_NONBLOCK` on a descriptor.
func setNonBlocking(_ fd: Int32) {
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
}

/// A pipe whose two ends are close-on-exec.
public func makePipe() throws -> (read: Int32, write: Int32) {
    var ends: [Int32] = [0, 0]
    // pipe2(O_CLOEXEC) is not visible through Glibc's module; children are spawned with
    // every other descriptor closed anyway (ChildProcess), so the flag is a second line.
    guard pipe(&ends) == 0 else { throw SupervisionError.errno("pipe") }
    for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return (ends[0], ends[1])
}

/// An open directory, reached without following symbolic links; files and folders inside it
/// are opened relative to it (`openat`), so nobody can swap a path component meanwhile.
public final class Directory {
    public let fd: Int32
    /// For messages only: never opened by name again.
    public let path: String

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// Opens an existing directory by absolute path. The path itself is trusted (novaos's own
    /// folders, which a user may well keep behind a link); only what is opened inside it is
    /// guarded.
    public static func open(_ path: String) throws -> Directory {
        let fd = openDescriptor(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SupervisionError.fileSystem(path: path, message: "cannot open the folder: \(systemMessage())") }
        return Directory(fd: fd, path: path)
    }

    /// The folder `name` inside this one, created (mode `mode`) when missing. A symbolic link
    /// or anything else that is not a directory is refused.
    public func subdirectory(_ name: String, create: Bool = true, mode: mode_t = 0o755) throws -> Directory {
        try Self.checkName(name, in: path)
        if create, mkdirat(fd, name, mode) != 0, errno != EEXIST {
            throw SupervisionError.fileSystem(path: path + "/" + name, message: "cannot create the folder: \(systemMessage())")
        }
        let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard child >= 0 else {
            let reason = errno == ELOOP || errno == ENOTDIR ? "it is not a folder (a symbolic link?); refusing to follow it" : systemMessage()
            throw SupervisionError.fileSystem(path: path + "/" + name, message: reason)
        }
        return Directory(fd: child, path: path + "/" + name)
    }

    /// Creates a new file `name` for writing: `O_CREAT | O_EXCL | O_NOFOLLOW`, so an existing
    /// file or a planted symbolic link makes it fail instead of being written through.
    public func createFile(_ name: String, mode: mode_t = 0o600, readable: Bool = false) throws -> Int32 {
        try Self.checkName(name, in: path)
        let file = openat(fd, name, (readable ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard file >= 0 else {
            throw SupervisionError.fileSystem(path: path + "/" + name, message: "cannot create the file: \(systemMessage())")
        }
        return file
    }

    static func checkName(_ name: String, in path: String) throws {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.utf8.contains(0) else {
            throw SupervisionError.fileSystem(path: path, message: "invalid file name \(name.debugDescription)")
        }
    }
}

/// An exclusive advisory lock (`flock`) on a file, held until the value goes away: it
/// serializes a section between threads and processes alike (each holder opens the file
/// afresh, and `flock` locks belong to the open file).
public final class FileLock {
    private let fd: Int32

    /// Waits for the lock on `name` in `directory` (created, mode 600, when missing; a symbolic
    /// link there is refused, never followed).
    public init(_ name: String, in directory: Directory) throws {
        try Directory.checkName(name, in: directory.path)
        let file = openat(directory.fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard file >= 0 else {
            throw SupervisionError.fileSystem(path: directory.path + "/" + name, message: "cannot open the lock file: \(systemMessage())")
        }
        while flock(file, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let message = systemMessage()
                close(file)
                throw SupervisionError.fileSystem(path: directory.path + "/" + name, message: "cannot lock the file: \(message)")
            }
        }
        fd = file
    }

    deinit { close(fd) } // closing the last descriptor releases the lock
}
