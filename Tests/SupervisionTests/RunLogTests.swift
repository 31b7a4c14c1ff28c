import Foundation
import Testing
@testable import Supervision

@Suite struct RunLogTests {
    func makeLog(limit: Int) throws -> (RunLog, String) {
        let folder = try makeTemporaryFolder(prefix: "novaos-log-test")
        let directory = try Directory.open(folder)
        let log = RunLog(fd: try directory.createFile("run.log", readable: true), path: folder + "/run.log", limit: limit)
        return (log, folder + "/run.log")
    }

    @Test func aLogUnderItsLimitIsKeptWhole() throws {
        let (log, path) = try makeLog(limit: 100)
        try log.write(Data("hello\n".utf8))
        try log.close()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "hello\n")
        #expect(log.bytesCut == 0)
    }

    @Test(arguments: [1, 7, 50, 333])
    func aLogOverItsLimitKeepsTheFirstAndLastHalf(chunk: Int) throws {
        let (log, path) = try makeLog(limit: 100)
        let text = (0..<1_000).map { String(UnicodeScalar(UInt8(65 + $0 % 26))) }.joined()
        var index = text.startIndex
        while index < text.endIndex {
            let end = text.index(index, offsetBy: chunk, limitedBy: text.endIndex) ?? text.endIndex
            try log.write(Data(text[index..<end].utf8))
            index = end
        }
        try log.close()
        let kept = try String(contentsOfFile: path, encoding: .utf8)
        #expect(kept.hasPrefix(String(text.prefix(50))))
        #expect(kept.hasSuffix(String(text.suffix(50))))
        #expect(kept.contains("[novaos: 900 bytes cut here"))
        #expect(log.bytesCut == 900)
    }

    @Test func aPlantedLinkIsNeverWrittenThrough() throws {
        let folder = try makeTemporaryFolder(prefix: "novaos-log-test")
        let victim = folder + "/victim"
        try "precious".write(toFile: victim, atomically: true, encoding: .utf8)
        symlink(victim, folder + "/run.log")
        #expect(throws: SupervisionError.self) { try Directory.open(folder).createFile("run.log") }
        symlink(victim, folder + "/linked-folder")
        #expect(throws: SupervisionError.self) { try Directory.open(folder).subdirectory("linked-folder") }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious")
    }
}
