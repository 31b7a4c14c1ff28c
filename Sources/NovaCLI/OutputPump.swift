#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Writes an agent's output to novaos's stdout and stderr from a thread of its own, so a
/// slow or stopped reader never blocks the supervisor. At most `limit` bytes wait; past that,
/// output for the terminal is dropped (the run's log keeps everything) and counted.
final class OutputPump: @unchecked Sendable {
    // Everything below is guarded by `mutex`; `changed` is signalled when the queue or the
    // state moves. pthreads directly: FoundationEssentials has no Thread or NSCondition.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
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
        pthread_mutex_init(mutex, nil)
        // Deadlines on the monotonic clock where a condition can use it (Linux): a change of
        // the wall clock does not move them.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if os(Linux)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(changed, &attributes)
        pthread_condattr_destroy(&attributes)
        // The thread holds the pump until the queue is drained and closed.
        let retained = Unmanaged.passRetained(self).toOpaque()
        #if os(Linux)
        var thread = pthread_t()
        #else
        var thread: pthread_t?
        #endif
        let started = pthread_create(&thread, nil, { raw in
            Unmanaged<OutputPump>.fromOpaque(unwrapped(raw)).takeRetainedValue().drain()
            return nil
        }, retained)
        if started == 0 {
            #if os(Linux)
            pthread_detach(thread)
            #else
            if let thread { pthread_detach(thread) }
            #endif
        } else {
            // No thread: write in the caller's thread instead (see `send`).
            Unmanaged<OutputPump>.fromOpaque(retained).release()
            finished = true
        }
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// Queues `data`; false once a write has failed (nobody reads any more).
    func send(_ data: Data, toError: Bool) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if broken { return false }
        if finished && !closed {
            // The pump has no thread of its own.
            if !write(data, toError) { broken = true }
            return !broken
        }
        if queued + data.count > limit {
            dropped += data.count
            return true
        }
        queue.append((data, toError))
        queued += data.count
        pthread_cond_signal(changed)
        return true
    }

    /// Waits up to `timeout` seconds for what is queued to be written; a reader that has
    /// stopped reading gets only that long, since the run is already closed.
    func finish(timeout: Double = 0.5) {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(changed)
        var deadline = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        #else
        clock_gettime(CLOCK_REALTIME, &deadline)
        #endif
        let nanoseconds = Int(deadline.tv_nsec) + Int(timeout * 1_000_000_000)
        deadline.tv_sec += nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        while !finished, pthread_cond_timedwait(changed, mutex, &deadline) != ETIMEDOUT {}
        pthread_mutex_unlock(mutex)
    }

    private func drain() {
        while true {
            pthread_mutex_lock(mutex)
            while queue.isEmpty && !closed { pthread_cond_wait(changed, mutex) }
            if queue.isEmpty {
                finished = true
                pthread_cond_broadcast(changed)
                pthread_mutex_unlock(mutex)
                return
            }
            let (data, toError) = queue.removeFirst()
            queued -= data.count
            pthread_mutex_unlock(mutex)
            if !broken, !write(data, toError) {
                pthread_mutex_lock(mutex)
                broken = true
                pthread_mutex_unlock(mutex)
            }
        }
    }
}

/// The thread's argument: optional on Linux, not on Darwin; passing either here unwraps it.
private func unwrapped(_ pointer: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer {
    pointer!
}
