import Foundation
import Logging
import Synchronization

/// Delivers deliveries (one event to one subscription, in its dialect) with retries: persists each before its first
/// attempt, hands due attempts to the HTTP client (whose `concurrency` kept-alive transfers on dedicated threads sign
/// and send them), keeps each lane's deliveries in order unless `ordered` is off, and dead-letters what runs out of
/// attempts. Responses come back in batches.
///
/// The scheduling rules live in `DeliveryScheduler`, a value fed with events and returning actions; this actor only
/// performs them (HTTP client jobs, journal writes, timers) and wakes whoever waits for an outcome.
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
        /// Attempts handed to the HTTP client at once to one receiver URL while deliveries to another URL are
        /// pending, or when that URL's last attempt got no answer; nil: half of `concurrency`, at least one. A
        /// receiver that hangs until the request timeout then holds at most that many connections, and the others
        /// keep delivering; a lone receiver that answers gets them all.
        public var destinationLimit: Int?
        /// Told, on the engine, of each change a live view of the deliveries needs (`DeliveryInspector`): deliveries
        /// queued (submitted, resent, redelivered), each attempt, each delivery that became final (dead-lettered
        /// without an attempt too). Nil: nobody watches.
        public var observer: (@Sendable (DeliveryChange) -> Void)?

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

    /// The retry policy for deliveries submitted without their own.
    public nonisolated var policy: RetryPolicy { options.policy }

    private let sender: WebhookSender
    private let outbox: Outbox?
    private let onSubscriptionGone: @Sendable (SubscriptionID, String) -> Void
    public nonisolated let metrics: DeliveryMetrics
    private let options: Options
    private let onAttempt: @Sendable (DeliveryState, AttemptRecord) -> Void

    /// Which delivery goes out when (pending, lanes, due dates, the window, 410 stops, journal batching).
    private var scheduler: DeliveryScheduler
    private var finished: [DeliveryID: Outcome] = [:]
    /// `finished`'s ids, oldest first, for `outcomeLimit`.
    private var finishedOrder = InsertionOrder<DeliveryID>()
    private var waiters: [DeliveryID: [(token: Int, continuation: CheckedContinuation<Outcome?, Never>)]] = [:]
    private var waiterToken = 0
    /// The stop in progress (or done), shared by every caller of `stop`.
    private var stopping: Task<Void, Never>?
    /// Callers waiting for a delivery's first attempt of its round (`firstAttempt(of:)`).
    private var startWaiters: [DeliveryID: [CheckedContinuation<Void, Never>]] = [:]
    private var targets: [String: RequestTarget] = [:]
    private var random = SystemRandomNumberGenerator()
    /// The pending wake-up for the earliest future due date, and that date.
    private var timer: (date: Date, task: Task<Void, Never>)?
    /// What the engine shares with every attempt's transport-thread work: the response inbox, the destinations
    /// that answered 410, the dialects and credentials.
    private let shared: Attempt.Shared

    /// An engine sending through `sender`'s HTTP client.
    ///
    /// - Parameters:
    ///   - dialects: how each delivery's attempts are signed, by its dialect (default: `Dialects.standard`).
    ///   - credentials: a subscription's secrets, asked on the transport thread at each attempt of a dialect that
    ///     signs with them (never journaled). A delivery whose subscription has none is dead-lettered, not sent
    ///     unsigned.
    ///   - onSubscriptionGone: called (on the engine) when a subscription's endpoint answered 410, with the
    ///     subscription and the URL; the engine stops the subscription and dead-letters its pending deliveries.
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
        self.scheduler = DeliveryScheduler(
            configuration: .init(
                concurrency: options.concurrency,
                ordered: options.ordered,
                policy: options.policy,
                destinationLimit: options.destinationLimit,
                journaled: outbox != nil
            )
        )
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
        var targets: [String: RequestTarget] = [:]
        let states = deliveries.map { delivery in
            if targets[delivery.target.url] == nil { targets[delivery.target.url] = delivery.target }
            return DeliveryState(
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
        await queue(states, to: Array(targets.values), policy: policy)
    }

    /// Today's path: one `ucp` delivery per event to a bare URL, whose delivery id is the event's id
    /// (`Delivery.ucp`). The `String` overloads of `outcome(of:)` and friends name these by that id.
    public nonisolated func submit(_ events: [WebhookEvent], to target: RequestTarget, policy: RetryPolicy? = nil)
        async throws(UCPSimError)
    {
        // The states straight from the events: no `Delivery` per event on the way (100,000 queued at once).
        let now = options.clock.now()
        let states = events.map { DeliveryState(event: $0, target: target.url, firstAttempt: now) }
        try outbox?.appendEvents(states)
        await queue(states, to: [target], policy: policy)
    }

    private func queue(_ states: [DeliveryState], to targets: [RequestTarget], policy: RetryPolicy?) {
        for target in targets where self.targets[target.url] == nil { self.targets[target.url] = target }
        options.observer?(.queued(states))
        run(scheduler.submit(states.map(stored), submitted: Date(), policy: policy, now: options.clock.now()))
    }

    /// What the scheduler keeps of a delivery: behind an outbox the body stays on disk until its attempt, so
    /// 100,000 queued deliveries cost ids, not bodies.
    private func stored(_ state: DeliveryState) -> DeliveryState {
        outbox == nil || state.event.body.isEmpty ? state : state.withBody([])
    }

    /// Queues deliveries restored from the outbox: pending ones resume (due ones at once), final ones are
    /// remembered.
    public func resume(_ restored: [DeliveryState]) throws(UCPSimError) {
        var resumed: [DeliveryState] = []
        for state in restored {
            if state.phase.isFinal {
                remember(Self.outcome(state))
                continue
            }
            if targets[state.target] == nil { targets[state.target] = try RequestTarget(state.target) }
            resumed.append(stored(state))
        }
        run(scheduler.submit(resumed, submitted: Date(), policy: nil, now: options.clock.now()))
    }

    /// Puts dead letters back in the queue: same `Webhook-Id`, same bytes. Returns how many.
    @discardableResult
    public func redeliver(_ restored: [DeliveryState]) throws(UCPSimError) -> Int {
        try resend(restored.filter { if case .dead = $0.phase { true } else { false } })
    }

    /// Sends final deliveries (delivered or dead) again, each with a new round of retries: same `Webhook-Id`, same
    /// bytes, signed afresh; to `target` when given, else to each one's own receiver. Deliveries not final are left
    /// alone (they are on their way). Returns how many were queued.
    @discardableResult
    public func resend(_ restored: [DeliveryState], to target: RequestTarget? = nil) throws(UCPSimError) -> Int {
        let now = options.clock.now()
        let resent = restored.filter { $0.phase.isFinal && scheduler.state(of: $0.id) == nil }.map { state in
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
        var queued: [DeliveryState] = []
        for state in resent {
            finished[state.id] = nil
            shared.stopped.remove(DeliveryDestination(state))
            // The body stays in memory only when the journal can no longer give it back.
            let keepBody = !state.event.body.isEmpty && outbox?.hasBody(of: state.id) == false
            queued.append(keepBody ? state : stored(state))
        }
        if !resent.isEmpty { options.observer?(.queued(resent)) }
        run(scheduler.resend(queued, submitted: Date(), now: now))
        return resent.count
    }
    /// Waits until the delivery is delivered or dead-lettered (or, once the engine stops, its state then: pending).
    public func outcome(of id: DeliveryID) async -> Outcome {
        // Without a timeout the waiter is resumed with the outcome, or with nil only when the engine stops.
        if let outcome = await outcome(of: id, timeout: nil) { return outcome }
        if let state = scheduler.state(of: id) { return Self.outcome(state) }
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
        guard !scheduler.isStopped, let state = scheduler.state(of: webhookID), state.attempts.count == state.roundStart
        else { return }
        if scheduler.isWaitingInLane(webhookID) { return }
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
        if scheduler.isStopped { return nil }
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
    public func pendingState(of id: DeliveryID) -> DeliveryState? { scheduler.state(of: id) }

    /// Deliveries not yet final.
    public var pendingCount: Int { scheduler.pendingCount }

    /// True when the engine has the delivery, pending or final.
    public func knows(_ id: DeliveryID) -> Bool { scheduler.state(of: id) != nil || finished[id] != nil }

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
    public var isStopped: Bool { scheduler.isStopped }

    /// Waits until nothing is pending or `seconds` of real time pass. True when everything is final.
    public func drain(timeout seconds: TimeInterval) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while scheduler.pendingCount > 0 {
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
        scheduler.stop()
        shared.halted.set()
        timer?.task.cancel()
        timer = nil
        let timeout = Double(sender.client.options.totalTimeoutMilliseconds) / 1000
        let grace = timeout > 0 ? min(options.stopGrace, timeout) : options.stopGrace
        let deadline = Date().addingTimeInterval(grace)
        // Responses are taken by `takeCompletions`, which runs while this waits (actor reentrancy).
        while scheduler.inFlight > 0 && Date() < deadline {
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        for (_, list) in startWaiters { list.forEach { $0.resume() } }
        startWaiters = [:]
        for (_, list) in waiters { list.forEach { $0.continuation.resume(returning: nil) } }
        waiters = [:]
        flushJournal()
        outbox?.sync()
    }

    // MARK: Performing the scheduler's actions

    /// Performs actions in order (writing the journal may bring more: a refused write is tried again later).
    private func run(_ actions: [DeliveryScheduler.Action]) {
        for action in actions {
            switch action {
            case .send(let sends):
                sender.client.enqueue(sends.map(job))
            case .journal(let lines):
                write(lines)
            case .flushJournal(let delay):
                Task {
                    try? await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
                    self.journalTimerFired()
                }
            case .schedule(let date):
                setTimer(date)
            case .attempted(let attempted):
                metrics.attempt(seconds: attempted.record.milliseconds / 1000, ok: attempted.decision == .delivered)
                if case .retry = attempted.decision { metrics.retry() }
                onAttempt(attempted.state, attempted.record)
                options.observer?(.attempted(attempted.state, attempted.record))
                wakeStartWaiters(attempted.state.id)
            case .finished(let final):
                conclude(final)
            case .stopped(let destination, let state):
                shared.stopped.insert(destination)
                options.logger?.warning(
                    "webhook endpoint \(state.target) answered HTTP 410 Gone (\(Self.describe(state))): every later webhook \(destination.scope) is dropped (dead-lettered) until `ucpsim deliveries redeliver`"
                )
                if let subscription = state.subscription { onSubscriptionGone(subscription, state.target) }
            }
        }
    }

    /// A delivery became final: metrics, the outcome kept, and its waiters woken.
    private func conclude(_ final: DeliveryScheduler.Finished) {
        let state = final.state
        switch state.phase {
        case .dead: metrics.deadLetter()
        case .delivered:
            metrics.deliveredEvent(endToEnd: Date().timeIntervalSince(final.submitted))
            outbox?.forgetBody(of: state.id)  // only a dead letter can be sent again
        case .pending: break
        }
        if final.droppedAfterGone {
            metrics.droppedEndpointGone()
            options.logger?.warning(
                "dropped \(Self.describe(state)): \(state.target) answered HTTP 410 Gone earlier (dead-lettered; `ucpsim deliveries redeliver` sends it)"
            )
        }
        options.observer?(.finished(state))
        let outcome = Self.outcome(state)
        remember(outcome)
        wakeStartWaiters(state.id)
        for waiter in waiters.removeValue(forKey: state.id) ?? [] { waiter.continuation.resume(returning: outcome) }
    }

    private func wakeStartWaiters(_ id: DeliveryID) {
        for waiter in startWaiters.removeValue(forKey: id) ?? [] { waiter.resume() }
    }

    /// Writes journal lines; when the outbox refuses them (it keeps whole lines or none) the scheduler keeps them,
    /// in order, for a later try, and the error is returned. Losing one would only mean a repeat after a crash, but
    /// they are kept so a full disk that frees up loses nothing.
    @discardableResult
    private func write(_ lines: [Outbox.Line]) -> UCPSimError? {
        guard let outbox, !lines.isEmpty else { return nil }
        do {
            try outbox.append(lines)
        } catch {
            run(scheduler.journalFailed(lines))
            return error
        }
        scheduler.journalWritten()
        return nil
    }

    /// Writes every gathered journal line now.
    @discardableResult
    private func flushJournal() -> UCPSimError? { write(scheduler.takeJournal()) }

    private func journalTimerFired() { run(scheduler.journalTimerFired()) }

    private func setTimer(_ date: Date) {
        timer?.task.cancel()
        let clock = options.clock
        let now = clock.now()
        timer = (
            date,
            Task {
                try? await clock.sleep(date.timeIntervalSince(now))
                if !Task.isCancelled { self.timerFired(date) }
            }
        )
    }

    private func timerFired(_ date: Date) {
        if timer?.date == date { timer = nil }
        run(scheduler.timerFired(at: date, now: options.clock.now()))
    }

    /// One attempt as an HTTP client job: the body is read back and the request signed in the delivery's dialect
    /// (fresh time) on the transport thread; the response goes to the inbox, and the engine takes the inbox in
    /// batches.
    private func job(_ send: DeliveryScheduler.Send) -> HTTPClient.Job {
        let state = send.state
        let attempt = Attempt(
            id: state.id,
            event: state.event,
            subscription: state.subscription,
            dialect: state.dialect,
            destination: DeliveryDestination(state),
            url: state.target,
            target: targets[state.target],
            number: send.number,
            at: send.at,
            shared: shared,
            engine: self
        )
        return HTTPClient.Job(prepare: attempt.prepare, finish: attempt.finish)
    }

    /// Records a batch of responses (one journal write for all of them), then sends what is due.
    fileprivate func takeCompletions() {
        run(scheduler.completed(shared.inbox.take(), now: options.clock.now(), random: &random))
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

/// What changed in the engine, for `DeliveryEngine.Options.observer`.
public enum DeliveryChange: Sendable {
    /// Deliveries were queued: new ones (with their bodies), or final ones sent again (a resend or redelivery).
    case queued([DeliveryState])
    /// An attempt ended: the delivery's state after it (its body not kept), and the attempt.
    case attempted(DeliveryState, AttemptRecord)
    /// The delivery became final: delivered, or dead-lettered (after attempts, or without one: 410, unsendable).
    case finished(DeliveryState)
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
    /// The receiver URL, and its parsed form (nil only if it cannot be parsed: then nothing is sent).
    let url: String
    let target: RequestTarget?
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
        url: String,
        target: RequestTarget?,
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
        self.url = url
        self.target = target
        self.number = number
        self.at = at
        self.shared = shared
        self.engine = engine
    }

    @Sendable func prepare() throws -> OutgoingRequest {
        if shared.halted.isSet { throw TransportError.shutDown(sent: false) }
        if shared.stopped.contains(destination) { throw EndpointStopped() }
        guard let target else { throw Unsendable(reason: "the receiver URL \(url) cannot be used; not sent") }
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
            target: url,
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
    /// The receiver URL it went to (for the per-destination limit).
    let target: String
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
