import Foundation
import Logging
import Synchronization

/// Delivers events with retries: persists each before its first attempt, hands due attempts to the HTTP client
/// (whose `concurrency` kept-alive transfers on dedicated threads sign and send them), keeps an order's snapshots in
/// order unless `ordered` is off, and dead-letters what runs out of attempts. Responses come back in batches.
public actor DeliveryEngine {
    public struct Options: Sendable {
        public var policy = RetryPolicy.standard
        /// Attempts in flight at once: the shop's HTTP client gets this many transfers.
        public var concurrency = 8
        /// What `--concurrency` and a scenario's `concurrency` accept.
        public static let concurrencyRange = 1...256
        /// A later snapshot of an order waits until the earlier one is delivered or dead-lettered.
        public var ordered = true
        public var clock: any DeliveryClock = ScaledClock()
        /// How long `stop()` waits for the answers of attempts on the wire (never longer than the client's request
        /// timeout), so that a 2xx that arrives meanwhile is journaled and not sent again on the next start.
        public var stopGrace: TimeInterval = 5
        /// The final outcomes kept in memory for `outcome(of:)`, oldest forgotten first; nil keeps all (commands
        /// that wait for each of their own events). The outbox on disk keeps what `deliveries` shows either way.
        public var outcomeLimit: Int?
        /// What a long-running shop (`serve`) keeps: its callers never wait for outcomes.
        public static let serveOutcomeLimit = 10_000
        /// Where the engine says what the caller would not otherwise see: an endpoint that answered 410, and each
        /// event dropped because of it. Nil: silent.
        public var logger: Logger?

        public init() {}
    }

    /// A delivery's final state, as a caller sees it (the body is not kept once final).
    public struct Outcome: Sendable {
        public let id: DeliveryID
        /// The event's id (`Webhook-Id`), shared by every delivery of the event.
        public let eventID: String
        public let subscription: SubscriptionID?
        public let dialect: DialectName
        public let orderID: String
        public let phase: DeliveryState.Phase
        public let attempts: [AttemptRecord]

        /// The last attempt's status, nil when there was none or no response.
        public var lastStatus: Int? { attempts.last?.status }

        /// True when delivered (a 2xx).
        public var accepted: Bool { phase == .delivered }

        /// The event's id (`Webhook-Id`).
        public var webhookID: String { eventID }
    }

    /// The retry policy for events submitted without their own.
    public nonisolated var policy: RetryPolicy { options.policy }

    private let sender: WebhookSender
    private let outbox: Outbox?
    private let onSubscriptionGone: @Sendable (SubscriptionID, String) -> Void
    public nonisolated let metrics: DeliveryMetrics
    private let options: Options
    private let onAttempt: @Sendable (DeliveryState, AttemptRecord) -> Void

    /// A delivery not yet final: its state, when it was queued (for end-to-end latency), and its own policy if any.
    private struct Entry {
        var state: DeliveryState
        let submitted: Date
        let policy: RetryPolicy?
    }

    /// A lane: an order's deliveries to one subscription (or, without one, to one URL) go out one at a time, in
    /// order.
    private struct OrderKey: Hashable {
        let destination: DeliveryDestination
        let order: String
    }

    private var pending: [DeliveryID: Entry] = [:]
    private var finished: [DeliveryID: Outcome] = [:]
    /// `finished`'s ids, oldest first, for `outcomeLimit`.
    private var finishedOrder = InsertionOrder<DeliveryID>()
    private var waiters: [DeliveryID: [(token: Int, continuation: CheckedContinuation<Outcome?, Never>)]] = [:]
    private var waiterToken = 0
    /// The stop in progress (or done), shared by every caller of `stop`.
    private var stopping: Task<Void, Never>?
    /// Callers waiting for an event's first attempt of its round (`firstAttempt(of:)`).
    private var startWaiters: [DeliveryID: [CheckedContinuation<Void, Never>]] = [:]
    /// Orders with a snapshot due or in flight, and the later snapshots waiting behind it (only orders that have
    /// some: most orders have one event out at a time, and 100,000 queued events should not cost 100,000 arrays).
    private var busyOrders: Set<OrderKey> = []
    private var waitingSnapshots: [OrderKey: [DeliveryID]] = [:]
    private var due = DueHeap()
    private var targets: [String: RequestTarget] = [:]
    private var inFlight = 0
    private var random = SystemRandomNumberGenerator()
    private var stopped = false
    /// The pending wake-up for the earliest future due date, and that date.
    private var timer: (date: Date, task: Task<Void, Never>)?
    /// Journal lines not yet written, in order: written together when 256 gather or 20 ms pass (a lost line only
    /// means the same bytes under the same `Webhook-Id` go out again after a crash, or a kill after 410 is redone).
    private var journal: [Outbox.Line] = []
    private var journalFlush: Task<Void, Never>?
    /// True while the outbox refuses writes (a full disk): the lines wait, in order, and are tried again each second
    /// instead of at every new line.
    private var journalStalled = false
    /// What the engine shares with every attempt's transport-thread work: the response inbox, the endpoints that
    /// answered 410, the signing plans.
    private let shared: Attempt.Shared

    /// An engine sending through `sender`'s HTTP client.
    ///
    /// - Parameters:
    ///   - dialects: how each delivery's attempts are signed, by its dialect (default: `Dialects.standard`).
    ///   - credentials: a subscription's secrets, asked on the transport thread at each attempt of a dialect that
    ///     signs with them (never journaled). A delivery whose subscription has none is dead-lettered, not sent
    ///     unsigned.
    ///   - onSubscriptionGone: called (on the engine) when a subscription's endpoint answered 410, with the
    ///     subscription and the URL; the engine has already stopped it and dead-lettered its pending deliveries.
    public init(
        sender: WebhookSender,
        dialects: Dialects? = nil,
        credentials: @escaping @Sendable (SubscriptionID) -> DeliveryCredentials? = { _ in nil },
        onSubscriptionGone: @escaping @Sendable (SubscriptionID, String) -> Void = { _, _ in },
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
        self.onSubscriptionGone = onSubscriptionGone
        self.shared = Attempt.Shared(
            sender: sender,
            outbox: outbox,
            dialects: dialects ?? .standard(sender: sender),
            credentials: credentials
        )
    }

    /// Persists and queues deliveries; returns once they are durable. `policy` overrides the engine's for these.
    ///
    /// The journal write and its fsync happen before entering the actor, so responses keep being taken meanwhile.
    public nonisolated func submit(_ deliveries: [Delivery], policy: RetryPolicy? = nil) async throws(UCPSimError) {
        let now = options.clock.now()
        let states = deliveries.map { delivery in
            DeliveryState(
                id: delivery.id,
                event: delivery.event,
                eventType: delivery.eventType,
                subscription: delivery.subscription,
                dialect: delivery.dialect,
                target: delivery.target.url,
                firstAttempt: now
            )
        }
        try outbox?.appendEvents(states)
        await queue(states, to: deliveries.map(\.target), policy: policy)
    }

    /// Today's path: one `ucp` delivery per event to a bare URL, whose delivery id is the event's id
    /// (`Delivery.ucp`). The `String` overloads of `outcome(of:)` and friends name these by that id.
    public nonisolated func submit(_ events: [WebhookEvent], to target: RequestTarget, policy: RetryPolicy? = nil)
        async throws(UCPSimError)
    {
        try await submit(events.map { Delivery.ucp($0, to: target) }, policy: policy)
    }

    private func queue(_ states: [DeliveryState], to targets: [RequestTarget], policy: RetryPolicy?) {
        for target in targets where self.targets[target.url] == nil { self.targets[target.url] = target }
        for state in states {
            queue(state, submitted: Date(), policy: policy)
        }
        pump()
    }

    /// Queues events restored from the outbox: pending ones resume (due ones at once), final ones are remembered.
    public func resume(_ restored: [DeliveryState]) throws(UCPSimError) {
        for state in restored {
            if state.phase.isFinal {
                remember(Self.outcome(state))
                continue
            }
            if targets[state.target] == nil { targets[state.target] = try RequestTarget(state.target) }
            queue(state, submitted: Date(), policy: nil)
        }
        pump()
    }

    /// Puts dead letters back in the queue: same `Webhook-Id`, same bytes. Returns how many.
    @discardableResult
    public func redeliver(_ restored: [DeliveryState]) throws(UCPSimError) -> Int {
        try resend(restored.filter { if case .dead = $0.phase { true } else { false } })
    }

    /// Sends final events (delivered or dead) again, each with a new round of retries: same `Webhook-Id`, same
    /// bytes, signed afresh; to `target` when given, else to each event's own receiver. Events not final are left
    /// alone (they are on their way). Returns how many were queued.
    @discardableResult
    public func resend(_ restored: [DeliveryState], to target: RequestTarget? = nil) throws(UCPSimError) -> Int {
        let now = options.clock.now()
        let resent = restored.filter { $0.phase.isFinal && pending[$0.id] == nil }.map { state in
            var state = state
            state.resend(at: now, to: target?.url)
            return state
        }
        if let target { targets[target.url] = target }
        for state in resent where targets[state.target] == nil {
            targets[state.target] = try RequestTarget(state.target)
        }
        // Durable before anything is sent: the attempt lines so far, then every new round, with one fsync (in that
        // order: a round's line before an older attempt's would put that attempt in the new round).
        if let error = flushJournal() { throw error }
        try outbox?.appendRounds(resent)
        for state in resent {
            finished[state.id] = nil
            shared.stopped.remove(DeliveryDestination(state))
            // The body stays in memory only when the journal can no longer give it back.
            let keepBody = !state.event.body.isEmpty && outbox?.hasBody(of: state.id) == false
            queue(state, submitted: Date(), policy: nil, keepBody: keepBody)
        }
        pump()
        return resent.count
    }

    /// Waits until the delivery is delivered or dead-lettered (or, once the engine stops, its state then: pending).
    public func outcome(of id: DeliveryID) async -> Outcome {
        // Without a timeout the waiter is resumed with the outcome, or with nil only when the engine stops.
        if let outcome = await outcome(of: id, timeout: nil) { return outcome }
        if let state = pending[id]?.state { return Self.outcome(state) }
        return Outcome(
            id: id,
            eventID: id.rawValue,
            subscription: nil,
            dialect: .ucp,
            orderID: "",
            phase: .pending(next: .distantFuture),
            attempts: []
        )
    }

    /// Waits until the delivery is final or `deadline` passes (then nil: still pending) — but a delivery not yet
    /// attempted gets its first attempt first, whatever the deadline: a command never stops before trying.
    public func outcome(of id: DeliveryID, until deadline: Date) async -> Outcome? {
        await firstAttempt(of: id)
        return await outcome(of: id, timeout: deadline.timeIntervalSinceNow)
    }

    /// Returns once the delivery has had the first attempt of its round, or is final, unknown, waiting behind an
    /// earlier one in its lane, or the engine stopped.
    public func firstAttempt(of webhookID: DeliveryID) async {
        guard !stopped, let state = pending[webhookID]?.state, state.attempts.count == state.roundStart else { return }
        if options.ordered, waitingSnapshots[orderKey(state)]?.contains(webhookID) == true { return }
        await withCheckedContinuation { continuation in
            startWaiters[webhookID, default: []].append(continuation)
        }
    }

    private func attempted(_ webhookID: DeliveryID) {
        for waiter in startWaiters.removeValue(forKey: webhookID) ?? [] { waiter.resume() }
    }

    /// Waits until the delivery is final, or `timeout` seconds of real time pass (then nil: still pending).
    public func outcome(of webhookID: DeliveryID, timeout: TimeInterval?) async -> Outcome? {
        if let done = finished[webhookID] { return done }
        if stopped { return nil }
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

    private func expire(_ webhookID: DeliveryID, token: Int) {
        guard var list = waiters[webhookID], let index = list.firstIndex(where: { $0.token == token }) else { return }
        let waiter = list.remove(at: index)
        waiters[webhookID] = list
        waiter.continuation.resume(returning: nil)
    }

    /// The state of a pending delivery (its attempts so far and when it is due next), nil when final or unknown.
    public func pendingState(of id: DeliveryID) -> DeliveryState? { pending[id]?.state }

    /// Deliveries not yet final.
    public var pendingCount: Int { pending.count }

    /// True when the engine has the delivery, pending or final.
    public func knows(_ id: DeliveryID) -> Bool { pending[id] != nil || finished[id] != nil }

    // MARK: By event id, for deliveries made by `submit(_:to:policy:)` (their delivery id is the event's id)

    /// `outcome(of:)` for the delivery made by `submit(_:to:policy:)` of the event `eventID`.
    public func outcome(of eventID: String) async -> Outcome { await outcome(of: DeliveryID(eventID)) }

    /// `outcome(of:until:)` for the delivery made by `submit(_:to:policy:)` of the event `eventID`.
    public func outcome(of eventID: String, until deadline: Date) async -> Outcome? {
        await outcome(of: DeliveryID(eventID), until: deadline)
    }

    /// `outcome(of:timeout:)` for the delivery made by `submit(_:to:policy:)` of the event `eventID`.
    public func outcome(of eventID: String, timeout: TimeInterval?) async -> Outcome? {
        await outcome(of: DeliveryID(eventID), timeout: timeout)
    }

    /// `firstAttempt(of:)` for the delivery made by `submit(_:to:policy:)` of the event `eventID`.
    public func firstAttempt(of eventID: String) async { await firstAttempt(of: DeliveryID(eventID)) }

    /// `pendingState(of:)` for the delivery made by `submit(_:to:policy:)` of the event `eventID`.
    public func pendingState(of eventID: String) -> DeliveryState? { pendingState(of: DeliveryID(eventID)) }

    /// `knows(_:)` for the delivery made by `submit(_:to:policy:)` of the event `eventID`.
    public func knows(_ eventID: String) -> Bool { knows(DeliveryID(eventID)) }

    /// True once `stop()` ran: nothing more is sent.
    public var isStopped: Bool { stopped }

    /// Waits until nothing is pending or `seconds` of real time pass. True when everything is final.
    public func drain(timeout seconds: TimeInterval) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !pending.isEmpty {
            if Date() >= deadline { return false }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return true
    }

    /// Final outcomes held in memory (at most `outcomeLimit`).
    public var retainedOutcomeCount: Int { finished.count }

    /// Stops scheduling; what is pending stays in the outbox for the next run.
    ///
    /// Attempts already on the wire get up to `stopGrace` seconds (at most the client's request timeout) to be
    /// answered, and their answers are journaled before this returns: a 2xx received just before stopping is
    /// delivered, not sent again next time. Attempts queued but not yet sent are not sent. Then everyone waiting
    /// for an outcome hears nil (still pending).
    /// A second `stop` (a signal's, then the command's own) waits for the first to finish instead of returning at
    /// once and letting its caller shut the client down under the requests the first is still waiting for.
    public func stop() async {
        if let stopping {
            await stopping.value
            return
        }
        let task = Task { await self.stopOnce() }
        stopping = task
        await task.value
    }

    private func stopOnce() async {
        stopped = true
        shared.halted.set()
        timer?.task.cancel()
        timer = nil
        let timeout = Double(sender.client.options.totalTimeoutMilliseconds) / 1000
        let grace = timeout > 0 ? min(options.stopGrace, timeout) : options.stopGrace
        let deadline = Date().addingTimeInterval(grace)
        // Responses are taken by `takeCompletions`, which runs while this waits (actor reentrancy).
        while inFlight > 0 && Date() < deadline {
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        for (_, list) in startWaiters { list.forEach { $0.resume() } }
        startWaiters = [:]
        for (_, list) in waiters { list.forEach { $0.continuation.resume(returning: nil) } }
        waiters = [:]
        flushJournal()
        outbox?.sync()
    }

    private func journalLine(_ line: Outbox.Line) {
        guard outbox != nil else { return }
        journal.append(line)
        if journal.count >= 256 && !journalStalled {
            flushJournal()
        } else if journalFlush == nil {
            scheduleJournalFlush()
        }
    }

    private func scheduleJournalFlush() {
        let delay: UInt64 = journalStalled ? 1_000_000_000 : 20_000_000
        journalFlush = Task {
            try? await Task.sleep(nanoseconds: delay)
            if !Task.isCancelled { self.flushJournal() }
        }
    }

    /// Writes the gathered lines. When the outbox refuses them (it keeps whole lines or none), they stay, in order,
    /// for the next try; returns the error. Losing one would only mean a repeat after a crash, but they are kept so
    /// a full disk that frees up loses nothing.
    @discardableResult
    private func flushJournal() -> UCPSimError? {
        journalFlush?.cancel()
        journalFlush = nil
        guard !journal.isEmpty, let outbox else { return nil }
        do {
            try outbox.append(journal)
        } catch {
            journalStalled = true
            if !stopped { scheduleJournalFlush() }
            return error
        }
        journalStalled = false
        journal.removeAll(keepingCapacity: true)
        return nil
    }

    // MARK: Scheduling

    private func queue(_ state: DeliveryState, submitted: Date, policy: RetryPolicy?, keepBody: Bool = false) {
        let id = state.id
        // Behind an outbox the body stays on disk until its attempt: 100,000 queued events cost ids, not bodies.
        let stored = outbox == nil || keepBody ? state : state.withBody([])
        pending[id] = Entry(state: stored, submitted: submitted, policy: policy)
        guard case .pending(let next) = state.phase else { return }
        if shared.stopped.contains(DeliveryDestination(state)) {
            finish(id, killing: Self.goneReason, inOrder: false)
            return
        }
        if options.ordered {
            let key = orderKey(state)
            if busyOrders.insert(key).inserted {
                due.push(next, id)
            } else {
                waitingSnapshots[key, default: []].append(id)
            }
        } else {
            due.push(next, id)
        }
    }

    private func orderKey(_ state: DeliveryState) -> OrderKey {
        OrderKey(destination: DeliveryDestination(state), order: state.event.orderID)
    }

    /// Attempts handed to the HTTP client at once: twice its connections, so a connection that frees finds the
    /// next request already queued instead of waiting for the engine. Connections still bound what is on the wire.
    private var window: Int { max(1, options.concurrency) * 2 }

    /// Hands every due event (up to the window) to the HTTP client, then sets a wake-up for the next due date.
    private func pump() {
        guard !stopped else { return }
        let now = options.clock.now()
        var jobs: [HTTPClient.Job] = []
        while inFlight < window, let top = due.peek, top.date <= now {
            due.pop()
            if let job = job(for: top.id, at: now) {
                jobs.append(job)
                inFlight += 1
            }
        }
        sender.client.enqueue(jobs)
        guard inFlight < window, let next = due.peek?.date, next > now else { return }
        if let timer, timer.date <= next { return }
        timer?.task.cancel()
        let clock = options.clock
        timer = (
            next,
            Task {
                try? await clock.sleep(next.timeIntervalSince(now))
                if !Task.isCancelled { self.timerFired(next) }
            }
        )
    }

    private func timerFired(_ date: Date) {
        if timer?.date == date { timer = nil }
        pump()
    }

    /// One attempt as an HTTP client job: the body is read back and the request signed (fresh `created`) on the
    /// transport thread; the response goes to the inbox, and the engine takes the inbox in batches.
    private func job(for id: DeliveryID, at now: Date) -> HTTPClient.Job? {
        guard let state = pending[id]?.state, let target = targets[state.target] else { return nil }
        let attempt = Attempt(
            id: id,
            event: state.event,
            subscription: state.subscription,
            dialect: state.dialect,
            destination: DeliveryDestination(state),
            target: target,
            number: state.attempts.count + 1,
            at: now,
            shared: shared,
            engine: self
        )
        return HTTPClient.Job(prepare: attempt.prepare, finish: attempt.finish)
    }

    /// Records a batch of responses (one journal write for all of them), then sends what is due.
    fileprivate func takeCompletions() {
        for completion in shared.inbox.take() {
            inFlight -= 1
            let id = completion.id
            guard let entry = pending[id] else { continue }
            // Stopping: not sent, or cut off with no answer. It stays pending, as it was, for the next start.
            if completion.abandoned && stopped { continue }
            var state = entry.state
            if completion.endpointStopped {
                // Not sent: its endpoint answered 410 to another event meanwhile.
                finish(id, killing: Self.goneReason)
                continue
            }
            if let reason = completion.unsendable {
                finish(id, killing: reason)
                continue
            }
            let policy = entry.policy ?? options.policy
            // The signed headers are for the progress callback only; the state keeps the attempt without them.
            var stored = completion.record
            stored.sentHeaders = nil
            let decision = state.record(
                stored,
                retryAfter: completion.retryAfter,
                policy: policy,
                // Jitter only matters for a retry (and the system generator costs a syscall).
                random: completion.record.status.map { (200..<300).contains($0) } == true
                    ? 0 : Double.random(in: 0..<1, using: &random)
            )
            pending[id]?.state = state
            journalLine((id, stored, state.phase))
            attempted(id)
            metrics.attempt(seconds: stored.milliseconds / 1000, ok: decision == .delivered)
            onAttempt(state, completion.record)
            switch decision {
            case .retry(let next):
                metrics.retry()
                due.push(next, id)
            case .delivered:
                metrics.deliveredEvent(endToEnd: Date().timeIntervalSince(entry.submitted))
                finish(id)
            case .dead:
                finish(id)
            case .endpointGone:
                let destination = DeliveryDestination(state)
                options.logger?.warning(
                    "webhook endpoint \(state.target) answered HTTP 410 Gone (\(Self.describe(state))): every later webhook \(destination.scope) is dropped (dead-lettered) until `ucpsim deliveries redeliver`"
                )
                finish(id)
                shared.stopped.insert(destination)
                for (other, queued) in pending where DeliveryDestination(queued.state) == destination {
                    finish(other, killing: Self.goneReason)
                }
                if let subscription = state.subscription { onSubscriptionGone(subscription, state.target) }
            }
        }
        pump()
    }

    /// Marks an event final, frees its order's next snapshot, and wakes its waiters. `inOrder` is false for an event
    /// killed before it took its place in its order's line.
    private func finish(_ id: DeliveryID, killing reason: String? = nil, inOrder: Bool = true) {
        guard var state = pending.removeValue(forKey: id)?.state else { return }
        if pending.capacity > 8192 && pending.count * 8 < pending.capacity {
            // Dictionaries keep their capacity: give back what a drained queue of 100,000 no longer needs.
            var smaller = [DeliveryID: Entry](minimumCapacity: pending.count * 2)
            for (key, value) in pending { smaller[key] = value }
            pending = smaller
        }
        if let reason {
            state.kill(reason: reason)
            journalLine((id, nil, state.phase))
            if reason == Self.goneReason {
                metrics.droppedEndpointGone()
                options.logger?.warning(
                    "dropped \(Self.describe(state)): \(state.target) answered HTTP 410 Gone earlier (dead-lettered; `ucpsim deliveries redeliver` sends it)"
                )
            }
        }
        switch state.phase {
        case .dead: metrics.deadLetter()
        case .delivered: outbox?.forgetBody(of: id)  // only a dead letter can be sent again
        case .pending: break
        }
        if options.ordered && inOrder {
            let key = orderKey(state)
            if var waiting = waitingSnapshots[key], let index = waiting.firstIndex(of: id) {
                // A waiting snapshot was killed: the one out stays out.
                waiting.remove(at: index)
                waitingSnapshots[key] = waiting.isEmpty ? nil : waiting
            } else if var waiting = waitingSnapshots[key], !waiting.isEmpty {
                // The snapshot out is final: the next one goes (unless this is a kill, which takes it too).
                let next = waiting.removeFirst()
                waitingSnapshots[key] = waiting.isEmpty ? nil : waiting
                if reason == nil, case .pending(let date) = pending[next]?.state.phase { due.push(date, next) }
            } else {
                busyOrders.remove(key)
            }
        }
        let outcome = Self.outcome(state)
        remember(outcome)
        attempted(id)
        for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.continuation.resume(returning: outcome) }
    }

    /// Keeps a final outcome for `outcome(of:)`, forgetting the oldest past `outcomeLimit`.
    private func remember(_ outcome: Outcome) {
        if finished.updateValue(outcome, forKey: outcome.id) == nil { finishedOrder.append(outcome.id) }
        guard let limit = options.outcomeLimit else { return }
        // An id sent again (resend) may be listed twice: popping a stale one forgets nothing, so keep going.
        while finished.count > max(0, limit), let oldest = finishedOrder.popFirst() {
            finished[oldest] = nil
        }
    }

    static let goneReason = "endpoint stopped after HTTP 410 Gone"

    /// How a log line names a delivery: its event id, order, and (when they are not the event's) its own id and
    /// subscription.
    static func describe(_ state: DeliveryState) -> String {
        var text = "webhook-id=\(state.event.webhookID) order=\(state.event.orderID)"
        if state.id.rawValue != state.event.webhookID { text += " delivery=\(state.id)" }
        if let subscription = state.subscription { text += " subscription=\(subscription)" }
        return text
    }

    private static func outcome(_ state: DeliveryState) -> Outcome {
        Outcome(
            id: state.id,
            eventID: state.event.webhookID,
            subscription: state.subscription,
            dialect: state.dialect,
            orderID: state.event.orderID,
            phase: state.phase,
            attempts: state.attempts
        )
    }
}

/// A binary min-heap of (due date, delivery id), FIFO among equal dates.
struct DueHeap {
    private var items: [(date: Date, sequence: Int, id: DeliveryID)] = []
    private var sequence = 0

    var peek: (date: Date, id: DeliveryID)? { items.first.map { ($0.date, $0.id) } }
    var count: Int { items.count }

    mutating func push(_ date: Date, _ id: DeliveryID) {
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
    mutating func pop() -> DeliveryID? {
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

/// One attempt's work on a transport thread: read the body back, sign it in its dialect, and report the response to
/// the engine.
private final class Attempt: Sendable {
    final class Shared: Sendable {
        let sender: WebhookSender
        let outbox: Outbox?
        let dialects: Dialects
        let credentials: @Sendable (SubscriptionID) -> DeliveryCredentials?
        /// Responses reported by the transport threads, taken by the engine in batches.
        let inbox = CompletionInbox()
        /// Subscriptions and URLs that answered 410: a transport thread stops sending to one at once.
        let stopped = StoppedEndpoints()
        /// Set by `stop()`: attempts not yet sent are not sent.
        let halted = Flag()

        init(
            sender: WebhookSender,
            outbox: Outbox?,
            dialects: Dialects,
            credentials: @escaping @Sendable (SubscriptionID) -> DeliveryCredentials?
        ) {
            self.sender = sender
            self.outbox = outbox
            self.dialects = dialects
            self.credentials = credentials
        }
    }

    let id: DeliveryID
    let event: WebhookEvent
    let subscription: SubscriptionID?
    let dialect: DialectName
    let destination: DeliveryDestination
    let target: RequestTarget
    let number: Int
    let at: Date
    let shared: Shared
    let engine: DeliveryEngine

    init(
        id: DeliveryID,
        event: WebhookEvent,
        subscription: SubscriptionID?,
        dialect: DialectName,
        destination: DeliveryDestination,
        target: RequestTarget,
        number: Int,
        at: Date,
        shared: Shared,
        engine: DeliveryEngine
    ) {
        self.id = id
        self.event = event
        self.subscription = subscription
        self.dialect = dialect
        self.destination = destination
        self.target = target
        self.number = number
        self.at = at
        self.shared = shared
        self.engine = engine
    }

    @Sendable func prepare() throws -> OutgoingRequest {
        if shared.halted.isSet { throw TransportError.shutDown(sent: false) }
        if shared.stopped.contains(destination) { throw EndpointStopped() }
        guard let signer = shared.dialects[dialect] else {
            throw Unsendable(reason: "the \(dialect.rawValue) dialect is not available in this ucpsim; not sent")
        }
        var credentials = DeliveryCredentials.none
        if signer.needsCredentials {
            // Never sent unsigned: a subscription without a secret (or a delivery without a subscription) in a
            // dialect that signs with one is dead-lettered.
            guard let subscription, let found = shared.credentials(subscription), !found.secrets.isEmpty else {
                throw Unsendable(
                    reason: "no signing secret for "
                        + (subscription.map { "subscription \($0)" } ?? "a delivery without a subscription")
                        + " in the \(dialect.rawValue) dialect; not sent unsigned"
                )
            }
            credentials = found
        }
        var event = event
        if let outbox = shared.outbox, event.body.isEmpty {
            // Behind an outbox the body is on disk, checked against the length and SHA-256 recorded with it; an
            // attempt without it, or with other bytes, would send what was never acknowledged: refuse instead.
            event = event.with(body: try outbox.readBody(of: id).get())
        }
        return try signer.request(for: event, to: target, credentials: credentials, now: shared.sender.now())
    }

    @Sendable func finish(_ request: OutgoingRequest?, _ result: Result<ReceivedResponse, any Error>) {
        var record = AttemptRecord(number: number, at: at, status: nil, milliseconds: 0, detail: "")
        var retryAfter: String?
        var endpointStopped = false
        var abandoned = false
        var unsendable: String?
        switch result {
        case .success(let response):
            record.status = response.status
            record.detail = response.bodyExcerpt()
            record.milliseconds = response.elapsed * 1000
            // Retry-After only matters for a retry; a 2xx leaves the header section unparsed.
            if !(200..<300).contains(response.status) { retryAfter = response.headers["retry-after"] }
            // Stop this subscription (or URL) now, before this thread sends it the next queued delivery.
            if response.status == 410 { shared.stopped.insert(destination) }
        case .failure(is EndpointStopped):
            endpointStopped = true
        case .failure(let error as TransportError):
            abandoned = error.abandoned
            record.detail = error.message
            record.milliseconds = error.elapsed * 1000
        case .failure(let error as BodyUnreadable):
            // Nothing was sent, and retrying cannot make the journal's bytes right: the engine dead-letters it.
            unsendable = error.description
        case .failure(let error as Unsendable):
            unsendable = error.reason
        case .failure(let error):
            record.detail = "signing failed: \(error)"
        }
        record.sentHeaders = request?.headers
        let completion = Completion(
            id: id,
            record: record,
            retryAfter: retryAfter,
            endpointStopped: endpointStopped,
            abandoned: abandoned,
            unsendable: unsendable
        )
        if shared.inbox.post(completion) {
            let engine = engine
            Task { await engine.takeCompletions() }
        }
    }
}

/// Thrown by a job's `prepare` for a delivery that cannot be sent as it is (no dialect, no secret): dead-lettered.
struct Unsendable: Error {
    let reason: String
}

/// Where a delivery goes, as lanes and 410 stops see it: its subscription, or its URL when it has none. Two
/// subscriptions on one URL are two destinations.
enum DeliveryDestination: Hashable, Sendable {
    case subscription(SubscriptionID)
    case url(String)

    init(_ state: DeliveryState) {
        self = state.subscription.map(Self.subscription) ?? .url(state.target)
    }

    /// What a 410 stops, for log lines.
    var scope: String {
        switch self {
        case .subscription(let id): "for subscription \(id)"
        case .url(let url): "to \(url)"
        }
    }
}

/// What a transport thread reports about one attempt.
struct Completion: Sendable {
    let id: DeliveryID
    let record: AttemptRecord
    let retryAfter: String?
    /// Not sent: the endpoint had answered 410.
    var endpointStopped = false
    /// The engine or client was stopping: not sent, or cut off without an answer.
    var abandoned = false
    /// Not sent: the body the outbox gave back is missing or not the one written (why).
    var unsendable: String?
}

/// A flag set once, read by the transport threads.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)

    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// Thrown by a job's `prepare` for an endpoint that answered 410.
struct EndpointStopped: Error {}

/// Subscriptions and URLs that answered 410, read by the transport threads before each request.
final class StoppedEndpoints: Sendable {
    private let stopped = Mutex<Set<DeliveryDestination>>([])

    func contains(_ destination: DeliveryDestination) -> Bool { stopped.withLock { $0.contains(destination) } }
    func insert(_ destination: DeliveryDestination) { _ = stopped.withLock { $0.insert(destination) } }
    func remove(_ destination: DeliveryDestination) { _ = stopped.withLock { $0.remove(destination) } }
}

/// Responses waiting for the engine. Transport threads post; the first post after a take asks the caller to schedule
/// one `take`, so a busy engine takes many responses per actor hop instead of one task per response.
final class CompletionInbox: Sendable {
    private let state = Mutex<(items: [Completion], scheduled: Bool)>(([], false))

    /// Adds a completion; true when the caller must schedule a take.
    func post(_ completion: Completion) -> Bool {
        state.withLock {
            $0.items.append(completion)
            if $0.scheduled { return false }
            $0.scheduled = true
            return true
        }
    }

    func take() -> [Completion] {
        state.withLock {
            let items = $0.items
            $0.items = []
            $0.scheduled = false
            return items
        }
    }
}

/// Signing plans per target, shared by the transport threads.
final class SigningPlans: Sendable {
    private let plans = Mutex<[String: WebhookSigningPlan]>([:])

    /// The plan for `target`, made on first use; nil when one cannot be made (the general path signs then).
    func plan(for target: RequestTarget, sender: WebhookSender) -> WebhookSigningPlan? {
        // One engine has one sender, so a target's plan never goes stale (and `fits` checks it anyway).
        if let plan = plans.withLock({ $0[target.url] }) { return plan }
        guard let plan = try? sender.plan(for: target) else { return nil }
        plans.withLock { $0[target.url] = plan }
        return plan
    }
}
