import Foundation

/// Writes an agent's output to novaos's stdout and stderr from a thread of its own, so a
/// slow or stopped reader never blocks the supervisor. At most `limit` bytes wait; past that,
/// output for the terminal is dropped (the run's log keeps everything) and counted.
final class OutputPump: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [(Data, Bool)] = []
    private var queued = 0
    private var closed = false
    private var broken = false
    private var finished = false
    private(set) var dropped = 0
    let limit: Int
    let write: (Data, Bool) -> Bool

    init(limit: Int = 4 << 20, write: @escaping (Data, Bool) -> Bool) {
        self.limit = limit
        self.write = write
        let thread = Thread { [self] in drain() }
        thread.start()
    }

    /// Queues `data`; false once a write has failed (nobody reads any more).
    func send(_ data: Data, toError: Bool) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if broken { return false }
        if queued + data.count > limit {
            dropped += data.count
            return true
        }
        queue.append((data, toError))
        queued += data.count
        condition.signal()
        return true
    }

    /// Waits up to `timeout` for what is queued to be written; a reader that has stopped
    /// reading gets only that long, since the run is already closed.
    func finish(timeout: TimeInterval = 0.5) {
        condition.lock()
        closed = true
        condition.broadcast()
        let deadline = Date().addingTimeInterval(timeout)
        while !finished, condition.wait(until: deadline) {}
        condition.unlock()
    }

    private func drain() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed { condition.wait() }
            if queue.isEmpty {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let (data, toError) = queue.removeFirst()
            queued -= data.count
            condition.unlock()
            if !broken, !write(data, toError) {
                condition.lock()
                broken = true
                condition.unlock()
            }
        }
    }
}
