import Foundation

/// Delivers events with retries: persists each before its first attempt, keeps at most `concurrency` attempts in
/// flight (the HTTP client's dedicated threads, connections kept alive), keeps an order's snapshots in order unless
/// `ordered` is off, and dead-letters what runs out of attempts.
public actor DeliveryEngine {
    public struct Options: Sendable {
        public var policy = RetryPolicy.standard
        /// Attempts in flight at once.
        public var concurrency = 8
        /// A later snapshot of an order waits until the earlier one is delivered or dead-lettered.
        public var ordered = true
        public var clock: any DeliveryClock = ScaledClock()

        public init() {}
    }

    /// An event's final state, as a caller sees it (the body is not kept once final).
    public struct Outcome: Sendable {
        public let webhookID: String
        public let orderID: String
        public let phase: DeliveryState.Phase
        public let attempts: [AttemptRecord]

        /// The last attempt's status, nil when there was none or no response.
        public var lastStatus: Int? { attempts.last?.status }

        /// True when delivered (a 2xx).
        public var accepted: Bool { phase == .delivered }
    }

    private let sender: WebhookSender
    private let outbox: Outbox?
    public nonisolated let metrics: DeliveryMetrics
    private let options: Options
    private let onAttempt: @Sendable (DeliveryState, AttemptRecord) -> Void

    private var pending: [String: DeliveryState] = [:]
    private var policies: [String: RetryPolicy] = [:]
    private var submittedAt: [String: Date] = [:]
    private var finished: [String: Outcome] = [:]
    private var waiters: [String: [(token: Int, continuation: CheckedContinuation<Outcome?, Never>)]] = [:]
    private var waiterToken = 0
    private var orderQueues: [String: [String]] = [:]
    private var due = DueHeap()
    private var targets: [String: RequestTarget] = [:]
    private var stoppedEndpoints: Set<String> = []
    private var inFlight = 0
    private var random = SystemRandomNumberGenerator()
    private var loop: Task<Void, Never>?
    private var wakeContinuation: CheckedContinuation<Void, Never>?
    private var wakePending = false

    public init(
        sender: WebhookSender,
        outbox: Outbox?,
        options: Options = Options(),
        metrics: DeliveryMetrics = DeliveryMetrics(),
        onAttempt: @escaping @Sendable (DeliveryState, AttemptRecord) -> Void = { _, _ in }
    ) {
        self.sender = sender
        self.outbox = outbox
        self.options = options
        self.metrics = metrics
        self.onAttempt = onAttempt
    }

    /// Persists and queues events; returns once they are durable. `policy` overrides the engine's for these events.
    public func submit(_ events: [WebhookEvent], to target: RequestTarget, policy: RetryPolicy? = nil)
        throws(UCPSimError)
    {
        let now = options.clock.now()
        let states = events.map { DeliveryState(event: $0, target: target.url, firstAttempt: now) }
        try outbox?.appendEvents(states)
        targets[target.url] = target
        for state in states {
            if let policy { policies[state.event.webhookID] = policy }
            queue(state, submitted: Date())
        }
        startIfNeeded()
        wake()
    }

    /// Queues events restored from the outbox: pending ones resume (due ones at once), final ones are remembered.
    public func resume(_ restored: [DeliveryState]) throws(UCPSimError) {
        for state in restored {
            if state.phase.isFinal {
                finished[state.event.webhookID] = Self.outcome(state)
                continue
            }
            if targets[state.target] == nil { targets[state.target] = try RequestTarget(state.target) }
            queue(state, submitted: Date())
        }
        startIfNeeded()
        wake()
    }

    /// Puts dead letters back in the queue: same `Webhook-Id`, same bytes. Returns how many.
    @discardableResult
    public func redeliver(_ restored: [DeliveryState]) throws(UCPSimError) -> Int {
        var count = 0
        for var state in restored {
            guard case .dead = state.phase else { continue }
            state.redeliver(at: options.clock.now())
            try outbox?.appendPhase(id: state.event.webhookID, phase: state.phase)
            finished[state.event.webhookID] = nil
            if targets[state.target] == nil { targets[state.target] = try RequestTarget(state.target) }
            stoppedEndpoints.remove(state.target)
            queue(state, submitted: Date())
            count += 1
        }
        startIfNeeded()
        wake()
        return count
    }

    /// Waits until the event is delivered or dead-lettered.
    public func outcome(of webhookID: String) async -> Outcome {
        // Without a timeout the waiter is only ever resumed with the outcome.
        await outcome(of: webhookID, timeout: nil)!
    }

    /// Waits until the event is final, or `timeout` seconds of real time pass (then nil: still pending).
    public func outcome(of webhookID: String, timeout: TimeInterval?) async -> Outcome? {
        if let done = finished[webhookID] { return done }
        waiterToken += 1
        let token = waiterToken
        if let timeout {
            Task {
                try? await Task.sleep(nanoseconds: UInt64(max(0, timeout) * 1_000_000_000))
                self.expire(webhookID, token: token)
            }
        }
        return await withCheckedContinuation { continuation in
            waiters[webhookID, default: []].append((token, continuation))
        }
    }

    private func expire(_ webhookID: String, token: Int) {
        guard let index = waiters[webhookID]?.firstIndex(where: { $0.token == token }) else { return }
        let waiter = waiters[webhookID]!.remove(at: index)
        waiter.continuation.resume(returning: nil)
    }

    /// The state of a pending event (its attempts so far and when it is due next), nil when final or unknown.
    public func pendingState(of webhookID: String) -> DeliveryState? { pending[webhookID] }

    /// Events not yet final.
    public var pendingCount: Int { pending.count }

    /// Waits until nothing is pending or `seconds` of real time pass. True when everything is final.
    public func drain(timeout seconds: TimeInterval) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !pending.isEmpty {
            if Date() >= deadline { return false }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return true
    }

    /// Stops scheduling; what is pending stays in the outbox for the next run.
    public func stop() {
        loop?.cancel()
        loop = nil
        wake()
        outbox?.sync()
    }

    // MARK: Scheduling

    private func queue(_ state: DeliveryState, submitted: Date) {
        let id = state.event.webhookID
        // Behind an outbox the body stays on disk until its attempt: 100,000 queued events cost ids, not bodies.
        pending[id] = outbox == nil ? state : state.withBody([])
        submittedAt[id] = submitted
        guard case .pending(let next) = state.phase else { return }
        if stoppedEndpoints.contains(state.target) {
            finish(id, killing: "endpoint stopped after HTTP 410 Gone")
            return
        }
        if options.ordered {
            let key = orderKey(state)
            orderQueues[key, default: []].append(id)
            if orderQueues[key]!.count == 1 { due.push(next, id) }
        } else {
            due.push(next, id)
        }
    }

    private func orderKey(_ state: DeliveryState) -> String { state.target + "\u{0}" + state.event.orderID }

    private func startIfNeeded() {
        guard loop == nil else { return }
        loop = Task { await self.run() }
    }

    private func run() async {
        while !Task.isCancelled {
            let now = options.clock.now()
            while inFlight < options.concurrency, let top = due.peek, top.date <= now {
                due.pop()
                dispatch(top.id)
            }
            let wait: TimeInterval? =
                inFlight >= options.concurrency ? nil : due.peek.map { max(0, $0.date.timeIntervalSince(now)) }
            await sleep(wait)
        }
    }

    /// Sleeps until woken, or until `seconds` pass on the delivery clock.
    private func sleep(_ seconds: TimeInterval?) async {
        if wakePending {
            wakePending = false
            return
        }
        if seconds == 0 { return }
        let timer = seconds.map { seconds in
            let clock = options.clock
            return Task {
                try? await clock.sleep(seconds)
                if !Task.isCancelled { await self.wake() }
            }
        }
        await withCheckedContinuation { continuation in wakeContinuation = continuation }
        timer?.cancel()
    }

    private func wake() {
        if let continuation = wakeContinuation {
            wakeContinuation = nil
            continuation.resume()
        } else {
            wakePending = true
        }
    }

    private func dispatch(_ id: String) {
        guard var state = pending[id], let target = targets[state.target] else { return }
        if let outbox, state.event.body.isEmpty, let body = outbox.body(of: id) { state = state.withBody(body) }
        inFlight += 1
        let sender = self.sender
        let clock = options.clock
        let number = state.attempts.count + 1
        Task {
            let at = clock.now()
            var status: Int?
            var detail = ""
            var retryAfter: String?
            var seconds = 0.0
            var sent: [String]?
            do {
                let attempt = try await sender.deliver(state.event, to: target)
                seconds = attempt.elapsed
                sent = attempt.request.headers.fields.map { "\($0.name): \($0.value)" }
                switch attempt.outcome {
                case .success(let response):
                    status = response.status
                    detail = response.bodyExcerpt()
                    retryAfter = response.headers["retry-after"]
                case .failure(let error):
                    detail = error.message
                }
            } catch {
                detail = "signing failed: \(error)"
            }
            let record = AttemptRecord(
                number: number,
                at: at,
                status: status,
                milliseconds: seconds * 1000,
                detail: detail,
                requestHeaders: sent
            )
            await self.complete(id, record, retryAfter: retryAfter)
        }
    }

    private func complete(_ id: String, _ attempt: AttemptRecord, retryAfter: String?) {
        inFlight -= 1
        defer { wake() }
        guard var state = pending[id] else { return }
        let policy = policies[id] ?? options.policy
        // The signed headers are for the progress callback only; the state keeps the attempt without them.
        var stored = attempt
        stored.requestHeaders = nil
        let decision = state.record(
            stored,
            retryAfter: retryAfter,
            policy: policy,
            random: Double.random(in: 0..<1, using: &random)
        )
        pending[id] = state
        try? outbox?.appendAttempt(id: id, attempt: stored, phase: state.phase)
        metrics.attempt(seconds: attempt.milliseconds / 1000, ok: decision == .delivered)
        onAttempt(state, attempt)
        switch decision {
        case .retry(let next):
            metrics.retry()
            due.push(next, id)
        case .delivered:
            metrics.deliveredEvent(endToEnd: Date().timeIntervalSince(submittedAt[id] ?? Date()))
            finish(id)
        case .dead:
            finish(id)
        case .endpointGone:
            finish(id)
            stoppedEndpoints.insert(state.target)
            for (other, queued) in pending where queued.target == state.target {
                finish(other, killing: "endpoint stopped after HTTP 410 Gone")
            }
        }
    }

    /// Marks an event final, frees its order's next snapshot, and wakes its waiters.
    private func finish(_ id: String, killing reason: String? = nil) {
        guard var state = pending.removeValue(forKey: id) else { return }
        if let reason {
            state.kill(reason: reason)
            try? outbox?.appendPhase(id: id, phase: state.phase)
        }
        if case .dead = state.phase { metrics.deadLetter() }
        submittedAt[id] = nil
        policies[id] = nil
        if options.ordered {
            let key = orderKey(state)
            if var queue = orderQueues[key] {
                queue.removeAll { $0 == id }
                if let head = queue.first, case .pending(let next) = pending[head]?.phase {
                    if reason == nil { due.push(next, head) }
                }
                orderQueues[key] = queue.isEmpty ? nil : queue
            }
        }
        let outcome = Self.outcome(state)
        finished[id] = outcome
        for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.continuation.resume(returning: outcome) }
    }

    private static func outcome(_ state: DeliveryState) -> Outcome {
        Outcome(
            webhookID: state.event.webhookID,
            orderID: state.event.orderID,
            phase: state.phase,
            attempts: state.attempts
        )
    }
}

/// A binary min-heap of (due date, event id), FIFO among equal dates.
struct DueHeap {
    private var items: [(date: Date, sequence: Int, id: String)] = []
    private var sequence = 0

    var peek: (date: Date, id: String)? { items.first.map { ($0.date, $0.id) } }
    var count: Int { items.count }

    mutating func push(_ date: Date, _ id: String) {
        sequence += 1
        items.append((date, sequence, id))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func pop() -> String? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, less(left, smallest) { smallest = left }
            if right < items.count, less(right, smallest) { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top.id
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        items[a].date < items[b].date || (items[a].date == items[b].date && items[a].sequence < items[b].sequence)
    }
}
