import CLibCurl
import Foundation
import Synchronization

/// An HTTP client over libcurl's multi interface: a few dedicated threads, each driving several kept-alive
/// transfers at once with `curl_multi_poll`.
///
/// Nothing here runs on Swift's cooperative pool. `send` suspends its caller until a transport thread has the
/// response; `enqueue` hands over jobs whose request is built (and signed) on the transport thread and whose result is
/// handed back there, so a caller with thousands of exchanges pays no task or thread hop per exchange.
public final class HTTPClient: Sendable {
    /// One exchange. `prepare` runs on a transport thread just before the request goes out (signing belongs there:
    /// a fresh `created` per attempt); `finish` runs on the same thread with the request and its result.
    public struct Job: Sendable {
        public let prepare: @Sendable () throws -> OutgoingRequest
        public let options: HTTPClientOptions?
        public let finish: @Sendable (OutgoingRequest?, Result<ReceivedResponse, any Error>) -> Void

        public init(
            options: HTTPClientOptions? = nil,
            prepare: @escaping @Sendable () throws -> OutgoingRequest,
            finish: @escaping @Sendable (OutgoingRequest?, Result<ReceivedResponse, any Error>) -> Void
        ) {
            self.prepare = prepare
            self.options = options
            self.finish = finish
        }
    }

    private struct Queue {
        var jobs: [Job] = []
        var head = 0
        var shuttingDown = false
        /// Set when `shutdown`'s grace ran out: the threads cut off their transfers and end.
        var aborting = false
        /// Threads about to sleep with free transfers and nothing to take: only they need a wake-up for new jobs.
        var sleepers = 0

        var isEmpty: Bool { head >= jobs.count }

        mutating func take(_ limit: Int) -> [Job] {
            let end = min(jobs.count, head + limit)
            guard head < end else { return [] }
            let taken = Array(jobs[head..<end])
            head = end
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: jobs.count < 4096)
                head = 0
            } else if head > 1024, head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            return taken
        }
    }

    /// The multi handles, one per thread: each thread owns its own, others only call `curl_multi_wakeup` on it
    /// (which libcurl allows from any thread).
    private struct MultiHandles: @unchecked Sendable {
        let handles: [UnsafeMutableRawPointer?]
    }

    private let queue = Mutex(Queue())
    private let multis: MultiHandles
    /// Entered once per transport thread, left when it ends: `shutdown` waits on it.
    private let runningThreads = DispatchGroup()
    public let options: HTTPClientOptions
    /// The bound on exchanges in flight.
    public let concurrency: Int

    /// Runs at most `workers` exchanges at once, on up to `threads` threads (default: one per core, never more than
    /// `workers`).
    public init(workers: Int = 4, threads: Int? = nil, options: HTTPClientOptions = HTTPClientOptions()) {
        self.options = options
        self.concurrency = max(1, workers)
        _ = CurlGlobal.initialised
        let threadCount = max(1, min(concurrency, threads ?? ProcessInfo.processInfo.activeProcessorCount))
        multis = MultiHandles(handles: (0..<threadCount).map { _ in curl_multi_init() })
        for index in 0..<threadCount {
            let slots = concurrency / threadCount + (index < concurrency % threadCount ? 1 : 0)
            runningThreads.enter()
            let thread = Thread { [self] in
                self.transportLoop(multi: multis.handles[index], slots: slots)
                self.runningThreads.leave()
            }
            thread.name = "ucpsim-curl-\(index)"
            thread.start()
        }
    }

    /// Stops the client and returns once its threads have ended.
    ///
    /// Queued exchanges not yet started fail at once (`TransportError.abandoned`); those on the wire get `grace`
    /// seconds to finish, then are cut off (also `abandoned`). Returning only after the threads end matters: a
    /// process that exits while a transport thread is still signing or in TLS runs OpenSSL's exit-time cleanup under
    /// it (seen as a segfault). Blocks the caller for at most about `grace` seconds; never call it from a job's
    /// `prepare` or `finish` (they run on the threads it waits for). Later calls return at once.
    /// The same, for async callers: the wait for the threads happens on a thread of its own, never on Swift's
    /// cooperative pool (blocking one of its few threads would stall every task in the process, servers included).
    public func shutdown(grace: TimeInterval = 0) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                self.shutdown(grace: grace)
                continuation.resume()
            }
            thread.name = "ucpsim-curl-shutdown"
            thread.start()
        }
    }

    /// Stops the client and returns once its threads have ended (blocking: from async code, `await` the async
    /// overload instead).
    public func shutdown(grace: TimeInterval = 0) {
        let dropped = queue.withLock { state -> [Job] in
            state.shuttingDown = true
            let jobs = Array(state.jobs[state.head...])
            state.jobs = []
            state.head = 0
            return jobs
        }
        let error = TransportError.shutDown(sent: false)
        for job in dropped { job.finish(nil, .failure(error)) }
        wakeAll()
        if runningThreads.wait(timeout: .now() + max(0, grace)) == .timedOut {
            queue.withLock { $0.aborting = true }
            wakeAll()
            runningThreads.wait()
        }
    }

    deinit {
        // The threads hold `self` until they end: no thread uses a multi handle any more.
        for multi in multis.handles where multi != nil { curl_multi_cleanup(multi) }
    }

    /// Sends `request` and returns the response; throws `TransportError` when no response came back.
    public func send(_ request: OutgoingRequest, options: HTTPClientOptions? = nil) async throws -> ReceivedResponse {
        try await withCheckedThrowingContinuation { continuation in
            enqueue([
                Job(options: options, prepare: { request }) { _, result in continuation.resume(with: result) }
            ])
        }
    }

    /// Queues jobs; each job's `finish` is called exactly once, on a transport thread.
    public func enqueue(_ jobs: [Job]) {
        guard !jobs.isEmpty else { return }
        let (accepted, wake) = queue.withLock { state -> (Bool, Bool) in
            guard !state.shuttingDown else { return (false, false) }
            state.jobs.append(contentsOf: jobs)
            return (true, state.sleepers > 0)
        }
        guard accepted else {
            let error = TransportError.shutDown(sent: false)
            for job in jobs { job.finish(nil, .failure(error)) }
            return
        }
        // A thread that is busy takes queued jobs as its transfers finish; waking it would only cost a syscall.
        if wake { wakeAll() }
    }

    private func wakeAll() {
        for multi in multis.handles where multi != nil { curl_multi_wakeup(multi) }
    }

    /// One transport thread: fills free transfers from the queue, drives them, reports what completed.
    private func transportLoop(multi: UnsafeMutableRawPointer?, slots: Int) {
        var idle: [CurlEasyHandle] = []
        var failure: TransportError?
        do {
            guard multi != nil else {
                throw TransportError(kind: .other, curlCode: -1, message: "libcurl multi handle unavailable")
            }
            for _ in 0..<slots { idle.append(try CurlEasyHandle()) }
        } catch let error as TransportError {
            failure = error
        } catch {
            failure = TransportError(kind: .other, curlCode: -1, message: "\(error)")
        }
        if let failure {
            // Without transfers this thread can only fail what it takes.
            while true {
                let (jobs, done) = queue.withLock { ($0.take(64), $0.shuttingDown && $0.isEmpty) }
                for job in jobs { job.finish(nil, .failure(failure)) }
                if done { return }
                if jobs.isEmpty { Thread.sleep(forTimeInterval: 0.05) }
            }
        }
        var active: [UnsafeMutableRawPointer: (handle: CurlEasyHandle, job: Job, request: OutgoingRequest)] = [:]
        while true {
            let (jobs, stopping, aborting) = queue.withLock { ($0.take(idle.count), $0.shuttingDown, $0.aborting) }
            if aborting {
                // Grace is over: cut off what is on the wire (the caller hears `abandoned`) and end.
                let error = TransportError.shutDown(sent: true)
                for job in jobs { job.finish(nil, .failure(TransportError.shutDown(sent: false))) }
                for (easy, entry) in active {
                    curl_multi_remove_handle(multi, easy)
                    entry.job.finish(entry.request, .failure(error))
                }
                return
            }
            for job in jobs {
                let handle = idle.removeLast()
                do {
                    let request = try job.prepare()
                    try handle.configure(request, options: job.options ?? options)
                    guard curl_multi_add_handle(multi, handle.pointer) == CURLM_OK else {
                        throw TransportError(kind: .other, curlCode: -1, message: "libcurl refused a transfer")
                    }
                    active[handle.pointer] = (handle, job, request)
                } catch {
                    idle.append(handle)
                    job.finish(nil, .failure(error))
                }
            }
            if stopping && active.isEmpty && queue.withLock({ $0.isEmpty }) { return }

            var stillRunning: Int32 = 0
            curl_multi_perform(multi, &stillRunning)
            var remaining: Int32 = 0
            while let message = curl_multi_info_read(multi, &remaining) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let code = message.pointee.data.result
                curl_multi_remove_handle(multi, easy)
                guard let entry = active.removeValue(forKey: easy) else { continue }
                let result: Result<ReceivedResponse, any Error>
                do {
                    result = .success(try entry.handle.finish(code))
                } catch {
                    result = .failure(error)
                }
                idle.append(entry.handle)
                entry.job.finish(entry.request, result)
            }
            // Work waiting and a free transfer: go round at once. Otherwise sleep until a socket, a timeout or
            // `curl_multi_wakeup`; a thread with free transfers registers as a sleeper under the queue lock, so a job
            // queued after this check always wakes it.
            let hasFree = !idle.isEmpty
            let mustGoOn = queue.withLock { state -> Bool in
                if hasFree && !state.isEmpty { return true }
                if hasFree { state.sleepers += 1 }
                return false
            }
            if mustGoOn { continue }
            curl_multi_poll(multi, nil, 0, active.isEmpty ? 1000 : 100, nil)
            if hasFree { queue.withLock { $0.sleepers -= 1 } }
        }
    }
}
