#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A file without a name, for data too large to keep in memory that is needed again later in
/// the same process: made in a folder of novaos's own (`O_TMPFILE`, so it never appears
/// there and there is nothing to clean up after a crash), gone with its descriptor.
///
/// ```swift
/// let spill = try ScratchFile(in: try Directory.open(home))
/// try spill.append(bytes)
/// try spill.read(chunkSize: 1 << 20) { chunk in … }
/// ```
public final class ScratchFile {
    private let fd: Int32
    /// For messages only.
    private let path: String
    /// The bytes appended so far.
    public private(set) var size = 0

    /// A new, empty scratch file in `directory`.
    public init(in directory: Directory) throws {
        path = directory.path
        // O_TMPFILE is `__O_TMPFILE | O_DIRECTORY`, with `__O_TMPFILE` the same on every Linux
        // architecture; Glibc's macro does not reach Swift.
        var file = openat(directory.fd, ".", Int32(0o2000_0000) | O_DIRECTORY | O_RDWR | O_CLOEXEC, 0o600)
        if file < 0, [EOPNOTSUPP, EISDIR, EINVAL].contains(errno) {
            // A file system without unnamed files: a new name, removed at once.
            for _ in 0..<16 {
                let name = ".novaos-scratch-\(UInt64.random(in: .min ... .max))"
                file = openat(directory.fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                if file >= 0 {
                    unlinkat(directory.fd, name, 0)
                    break
                }
                if errno != EEXIST { break }
            }
        }
        guard file >= 0 else {
            throw SupervisionError.fileSystem(path: directory.path, message: "cannot create a scratch file: \(systemMessage())")
        }
        fd = file
    }

    deinit { close(fd) }

    /// Adds `bytes` at the end.
    ///
    /// - Throws: `SupervisionError.fileSystem` when they cannot be written (a full disk).
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        // Reads use `pread`, so the file's offset stays at its end.
        guard writeAll(bytes, to: fd) else {
            throw SupervisionError.fileSystem(path: path, message: "cannot write a scratch file: \(systemMessage())")
        }
        size += bytes.count
    }

    /// Hands everything appended so far to `body`, from the start, in chunks of at most
    /// `chunkSize` bytes (split anywhere).
    public func read(chunkSize: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var offset = 0
        while offset < size {
            let count = pread(fd, buffer.baseAddress, min(chunkSize, size - offset), off_t(offset))
            if count < 0 {
                if errno == EINTR { continue }
                throw SupervisionError.fileSystem(path: path, message: "cannot read a scratch file: \(systemMessage())")
            }
            if count == 0 { throw SupervisionError.fileSystem(path: path, message: "a scratch file was cut short") }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            offset += count
        }
    }
}
