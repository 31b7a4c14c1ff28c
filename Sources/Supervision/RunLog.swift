#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A run's log file, capped: past `limit` bytes it keeps the first half and the last half of
/// what was written, with a marked gap between them.
///
/// The file is created by `Directory.createFile` (`O_CREAT | O_EXCL | O_NOFOLLOW` relative
/// to a folder novaos opened itself), so a planted link or file is never written through.
/// Until the limit is reached the file is written straight through. After that, the second
/// half of the file is a ring that always holds the newest bytes; `close()` puts the ring in
/// order behind a marker line. A run whose supervisor dies keeps a log with everything up to
/// the limit in order, and the ring unordered after it.
public final class RunLog {
    public let path: String
    public let limit: Int
    private var fd: Int32
    private var written: Int64 = 0
    /// Where the ring continues (an offset in [half, limit)); set once the ring has wrapped.
    private var ringOffset: Int?
    private var dropped: Int64 = 0

    /// - Parameter limit: the most the file keeps, in bytes (at least 2).
    public init(fd: Int32, path: String, limit: Int) {
        self.fd = fd
        self.path = path
        self.limit = max(2, limit)
    }

    deinit { if fd >= 0 { closeDescriptor(fd) } }

    private var half: Int { limit / 2 }

    /// Appends `data`; throws `diskFull` on ENOSPC/EDQUOT and `fileSystem` on any other failure.
    public func write(_ data: Data) throws {
        guard fd >= 0, !data.isEmpty else { return }
        var remaining = data[...]
        if written < Int64(limit) {
            let room = Int(Int64(limit) - written)
            let now = remaining.prefix(room)
            try writeAll(now, at: written)
            written += Int64(now.count)
            remaining = remaining.dropFirst(now.count)
        }
        while !remaining.isEmpty {
            // The ring: [half, limit). Its next write position starts at `half` when first reached.
            var offset = ringOffset ?? half
            let room = limit - offset
            let now = remaining.prefix(room)
            try writeAll(now, at: Int64(offset))
            dropped += Int64(now.count)
            offset += now.count
            ringOffset = offset == limit ? half : offset
            remaining = remaining.dropFirst(now.count)
        }
    }

    /// Bytes that were written but are no longer kept.
    public var bytesCut: Int64 { dropped }

    /// Puts the ring in order behind a marker and closes the file.
    public func close() throws {
        guard fd >= 0 else { return }
        defer { closeDescriptor(fd); fd = -1 }
        guard let ringOffset else { return }
        // Newest bytes end at ringOffset: the oldest kept byte is at ringOffset.
        let ringSize = limit - half
        var ring = [UInt8](repeating: 0, count: ringSize)
        let count = ring.withUnsafeMutableBytes { pread(fd, $0.baseAddress, ringSize, off_t(half)) }
        guard count == ringSize else { throw fileError() }
        let start = ringOffset - half
        let ordered = Data(ring[start...] + ring[..<start])
        let marker = Data("\n… [novaos: \(dropped) bytes cut here; the log keeps its first and last \(half) bytes] …\n".utf8)
        try writeAll(marker[...], at: Int64(half))
        try writeAll(ordered[...], at: Int64(half + marker.count))
    }

    private func writeAll(_ data: Data.SubSequence, at offset: Int64) throws {
        var done = 0
        while done < data.count {
            let count = data.withUnsafeBytes { raw in
                pwrite(fd, raw.baseAddress! + done, data.count - done, off_t(offset + Int64(done)))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw fileError()
            }
            done += count
        }
    }

    private func fileError() -> SupervisionError {
        errno == ENOSPC || errno == EDQUOT ? .diskFull(path: path) : .fileSystem(path: path, message: "cannot write the log: \(systemMessage())")
    }
}
