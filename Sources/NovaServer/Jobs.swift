#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization
import SandboxCore

/// Long work (an agent run, a repository run) as a job: accepted at once, run on the long-work
/// pool (four at a time, the rest queued), followed with `GET /api/v1/jobs/{id}` and stopped
/// with `POST /api/v1/jobs/{id}/cancel`.
///
/// Jobs live in the server's memory; what they do is recorded in the sandbox as the CLI records
/// it (a run's row and log, a result's row and commit), so nothing of it is lost with a job. The
/// last `keptFinished` finished jobs are kept; a server that stops first stops its jobs (they
/// end `cancelled`, their runs `interrupted`).
final class JobBoard: Sendable {
    /// Queued and running jobs at most; more is a 429.
    let maximumActive: Int
    /// Finished jobs kept for `GET`; the oldest go first.
    let keptFinished: Int
    /// The most the kept results may take (as JSON); the oldest finished jobs go first.
    let keptResultBytes: Int

    private let state = Mutex(State())

    private struct State {
        var jobs: [String: Entry] = [:]
        /// IDs, oldest first.
        var order: [String] = []
        var stopping = false
        /// The sequence number of the next job: the jobs' cursor.
        var nextSequence = 1
        var resultBytes = 0
    }

    private struct Entry {
        var job: Job
        var sequence: Int
        var resultBytes = 0
    }

    init(maximumActive: Int = 64, keptFinished: Int = 1_000, keptResultBytes: Int = 64 << 20) {
        self.maximumActive = maximumActive
        self.keptFinished = keptFinished
        self.keptResultBytes = keptResultBytes
    }

    /// Queues `work` as a new job and returns it (`queued`). `work` gets a closure that says
    /// whether the job should stop (cancelled, or the server stopping), and a place for notes.
    func submit(
        kind: Job.Kind, subject: String,
        _ work: @escaping @Sendable (_ shouldStop: @escaping @Sendable () -> Bool, _ note: @escaping @Sendable (String) -> Void) throws -> any Encodable & Sendable
    ) throws -> Job {
        let id = "job_" + (0..<16).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()
        let job = Job(id: id, kind: kind, subject: subject, createdAt: Date())
        try state.withLock { state in
            guard !state.stopping else { throw APIFailure(status: .serviceUnavailable, code: "unavailable", message: "the server is stopping") }
            let active = state.jobs.values.count { !$0.job.status.isFinished }
            guard active < maximumActive else {
                throw APIFailure(status: .tooManyRequests, code: "too_many_jobs", message: "\(active) jobs are queued or running, the most this server takes; try again later")
            }
            state.jobs[id] = Entry(job: job, sequence: state.nextSequence)
            state.nextSequence += 1
            state.order.append(id)
            forgetOldFinished(&state)
        }
        Task.detached { [self] in
            let outcome: Result<any Encodable & Sendable, any Error>
            do {
                outcome = .success(try await blocking(longWork: true) { () throws -> Outcome in
                    guard self.start(id) else { return Outcome(value: nil) }
                    return Outcome(value: try work({ self.shouldStop(id) }, { self.note($0, to: id) }))
                }.value ?? Skipped())
            } catch {
                outcome = .failure(error)
            }
            self.finish(id, outcome)
        }
        return job
    }

    /// True once the server is stopping.
    var isStopping: Bool { state.withLock { $0.stopping } }

    /// The job, or nil.
    func job(_ id: String) -> Job? { state.withLock { $0.jobs[id]?.job } }

    /// Jobs newest first, `limit` of them older than `cursor` (the sequence number of the
    /// last job of the page before: a job forgotten since does not break the paging). Results
    /// are left out: `GET /api/v1/jobs/{id}` has them.
    func page(after cursor: String?, limit: Int) throws -> JobPage {
        try Page<Job>.check(limit: limit)
        let before = try cursor.map { text -> Int in
            guard let sequence = Int(text), sequence > 0 else { throw APIFailure.badRequest("cursor must be the next_cursor of a page of jobs") }
            return sequence
        }
        return state.withLock { state in
            var page: [Entry] = []
            for id in state.order.reversed() {
                guard let entry = state.jobs[id], before.map({ entry.sequence < $0 }) ?? true else { continue }
                page.append(entry)
                if page.count > limit { break }
            }
            let more = page.count > limit
            if more { page.removeLast() }
            return JobPage(
                jobs: page.map { var job = $0.job; job.includesResult = false; return job },
                nextCursor: more ? page.last.map { String($0.sequence) } : nil
            )
        }
    }

    /// Asks a job to stop: a queued one ends at once (`cancelled`), a running one when its work
    /// next looks (an agent run within 100 ms, then its grace period). A finished job is left
    /// as it is. Nil for an unknown ID.
    func cancel(_ id: String) -> Job? {
        state.withLock { cancelLocked(id, &$0, reason: "cancelled before it started") }
    }

    /// Takes no new jobs, asks every running one to stop, and waits for them (at most `limit`).
    func stopAll(waitingUpTo limit: Duration) async {
        state.withLock { state in
            state.stopping = true
            for id in state.order { _ = cancelLocked(id, &state, reason: "cancelled before it started: the server is stopping") }
        }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline, state.withLock({ $0.jobs.values.contains { !$0.job.status.isFinished } }) {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    // MARK: - The job's side

    private struct Outcome: Sendable {
        var value: (any Encodable & Sendable)?
    }

    /// What a job cancelled while queued ends with (never stored: it is already cancelled).
    private struct Skipped: Encodable, Sendable {}

    private func cancelLocked(_ id: String, _ state: inout State, reason: String) -> Job? {
        guard var entry = state.jobs[id] else { return nil }
        switch entry.job.status {
        case .queued:
            entry.job.status = .cancelled
            entry.job.cancelRequested = true
            entry.job.finishedAt = Date()
            entry.job.error = JobError(code: "cancelled", message: reason)
        case .running:
            entry.job.cancelRequested = true
        case .finished, .failed, .cancelled:
            return entry.job
        }
        state.jobs[id] = entry
        return entry.job
    }

    /// Marks the job running; false when it was cancelled while queued.
    private func start(_ id: String) -> Bool {
        state.withLock { state in
            guard var entry = state.jobs[id], entry.job.status == .queued else { return false }
            entry.job.status = .running
            entry.job.startedAt = Date()
            state.jobs[id] = entry
            return true
        }
    }

    private func shouldStop(_ id: String) -> Bool {
        state.withLock { $0.stopping || ($0.jobs[id]?.job.cancelRequested ?? true) }
    }

    private func note(_ text: String, to id: String) {
        state.withLock { state in
            guard var entry = state.jobs[id], entry.job.notes.count < Job.maximumNotes else { return }
            entry.job.notes.append(String(text.prefix(1_000)))
            state.jobs[id] = entry
        }
    }

    private func finish(_ id: String, _ outcome: Result<any Encodable & Sendable, any Error>) {
        state.withLock { state in
            guard var entry = state.jobs[id], entry.job.status == .running else { return }
            entry.job.finishedAt = Date()
            switch outcome {
            case .success(let value):
                entry.job.result = value
                entry.resultBytes = (try? JSONWriter(pretty: false).encode(value).count) ?? 0
                state.resultBytes += entry.resultBytes
                entry.job.status = entry.job.cancelRequested ? .cancelled : .finished
            case .failure(let error):
                let failure = APIFailure(error)
                entry.job.error = JobError(code: entry.job.cancelRequested ? "cancelled" : failure.code, message: failure.message)
                entry.job.status = entry.job.cancelRequested ? .cancelled : .failed
            }
            state.jobs[id] = entry
            forgetOldFinished(&state)
        }
    }

    private func forgetOldFinished(_ state: inout State) {
        var finished = state.jobs.values.count { $0.job.status.isFinished }
        guard finished > keptFinished || state.resultBytes > keptResultBytes else { return }
        state.order.removeAll { id in
            guard finished > keptFinished || state.resultBytes > keptResultBytes,
                  let entry = state.jobs[id], entry.job.status.isFinished else { return false }
            state.jobs[id] = nil
            state.resultBytes -= entry.resultBytes
            finished -= 1
            return true
        }
    }
}

/// A job as `GET /api/v1/jobs/{id}` shows it.
struct Job: Encodable, Sendable {
    enum Kind: String, Encodable, Sendable {
        case agentRun = "agent_run"
        case productionRun = "production_run"
        case repositoryRun = "repository_run"
    }

    enum Status: String, Encodable, Sendable {
        /// Waiting for a place on the long-work pool.
        case queued
        case running
        /// The work ran to its end: `result` is its document (an agent run that its budget
        /// stopped is finished too; its `stop_reason` says so).
        case finished
        /// The work could not be done: `error` says why.
        case failed
        /// Stopped by `cancel` (or the server stopping): `result` when the work still produced
        /// one (an agent run, `interrupted`), else `error`.
        case cancelled

        var isFinished: Bool { self == .finished || self == .failed || self == .cancelled }
    }

    static let maximumNotes = 100

    var id: String
    var kind: Kind
    /// The agent or the repository the job works on.
    var subject: String
    var status: Status = .queued
    var cancelRequested = false
    var createdAt: Date
    var startedAt: Date?
    var finishedAt: Date?
    /// The CLI's `--json` document of the work (`sandbox run`, `repo run`) once finished.
    var result: (any Encodable & Sendable)?
    var error: JobError?
    /// One-line notes the work gave (refused event lines, why an agent was stopped), at most 100.
    var notes: [String] = []
    /// False in lists, which leave `result` out.
    var includesResult = true

    enum CodingKeys: String, CodingKey {
        case id, kind, subject, status, result, error, notes
        case cancelRequested = "cancel_requested", createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(kind, forKey: .kind)
        try container.encode(subject, forKey: .subject)
        try container.encode(status, forKey: .status)
        try container.encode(cancelRequested, forKey: .cancelRequested)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(finishedAt, forKey: .finishedAt)
        if includesResult {
            if let result { try container.encode(result, forKey: .result) } else { try container.encodeNil(forKey: .result) }
        }
        try container.encode(error, forKey: .error)
        try container.encode(notes, forKey: .notes)
    }
}

struct JobError: Encodable, Sendable {
    var code: String
    var message: String
}

/// One page of jobs, newest first.
struct JobPage: Encodable, Sendable {
    var jobs: [Job]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case jobs
        case nextCursor = "next_cursor"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(jobs, forKey: .jobs)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}
