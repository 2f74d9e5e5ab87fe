import Foundation
import Synchronization

/// An HTTP client over libcurl: a fixed set of dedicated threads, each with its own kept-alive easy handle.
///
/// `curl_easy_perform` blocks, so it never runs on Swift's cooperative pool: callers `await`, a worker thread
/// performs the exchange, and the continuation resumes the caller.
public final class HTTPClient: Sendable {
    private struct Job {
        let request: OutgoingRequest
        let options: HTTPClientOptions
        let continuation: CheckedContinuation<ReceivedResponse, any Error>
    }

    private struct Queue {
        var jobs: [Job] = []
        var head = 0
        var shuttingDown = false
    }

    private let queue = Mutex(Queue())
    /// Wakes idle workers. NSCondition is Sendable and pairs with the Mutex-held queue.
    private let signal = NSCondition()
    public let options: HTTPClientOptions

    /// Starts `workers` threads (the bound on exchanges in flight).
    public init(workers: Int = 4, options: HTTPClientOptions = HTTPClientOptions()) {
        self.options = options
        _ = CurlGlobal.initialised
        for index in 0..<max(1, workers) {
            let thread = Thread { [self] in self.workerLoop() }
            thread.name = "ucpsim-curl-\(index)"
            thread.start()
        }
    }

    /// Stops the workers after the queued exchanges finish.
    public func shutdown() {
        queue.withLock { $0.shuttingDown = true }
        signal.lock()
        signal.broadcast()
        signal.unlock()
    }

    deinit {
        shutdown()
    }

    /// Sends `request` and returns the response; throws `TransportError` when no response came back.
    public func send(_ request: OutgoingRequest, options: HTTPClientOptions? = nil) async throws -> ReceivedResponse {
        try await withCheckedThrowingContinuation { continuation in
            let job = Job(request: request, options: options ?? self.options, continuation: continuation)
            let accepted = queue.withLock { state -> Bool in
                guard !state.shuttingDown else { return false }
                state.jobs.append(job)
                return true
            }
            guard accepted else {
                continuation.resume(
                    throwing: TransportError(kind: .other, curlCode: -1, message: "the HTTP client is shut down")
                )
                return
            }
            signal.lock()
            signal.signal()
            signal.unlock()
        }
    }

    private func nextJob() -> Job? {
        while true {
            let (job, done) = queue.withLock { state -> (Job?, Bool) in
                guard state.head < state.jobs.count else { return (nil, state.shuttingDown) }
                let job = state.jobs[state.head]
                state.head += 1
                if state.head > 64, state.head * 2 > state.jobs.count {
                    state.jobs.removeFirst(state.head)
                    state.head = 0
                }
                return (job, false)
            }
            if let job { return job }
            if done { return nil }
            signal.lock()
            let empty = queue.withLock { $0.head >= $0.jobs.count && !$0.shuttingDown }
            if empty { _ = signal.wait(until: Date().addingTimeInterval(0.5)) }
            signal.unlock()
        }
    }

    private func workerLoop() {
        let easy: CurlEasyHandle
        do {
            easy = try CurlEasyHandle()
        } catch {
            while let job = nextJob() { job.continuation.resume(throwing: error) }
            return
        }
        while let job = nextJob() {
            do {
                job.continuation.resume(returning: try easy.perform(job.request, options: job.options))
            } catch {
                job.continuation.resume(throwing: error)
            }
        }
    }
}
