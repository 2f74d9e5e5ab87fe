import Foundation

/// The delivery engine's scheduling, as a value: which delivery goes out when, and what becomes of each answer.
///
/// Events come in (`submit`, `completed`, `timerFired`, `journalTimerFired`, `stop`) with the time on the delivery
/// clock and, for answers, a random source for jitter; each returns the actions the I/O layer must perform, in order:
/// hand attempts to the HTTP client, write journal lines, set a timer, report attempts and final deliveries. Nothing
/// here reads a clock, a random generator, a socket or a file, so every scheduling rule is tested without them
/// (`DeliverySchedulerTests`). `DeliveryEngine` feeds it and runs its actions.
///
/// The rules:
/// - **Lanes.** With `ordered` on, a lane — an order's deliveries to one subscription, or to one URL for deliveries
///   without a subscription — has one delivery out at a time; the next waits until it is delivered or dead-lettered.
///   Two subscriptions on one URL are two lanes.
/// - **Window.** At most `window` (twice the HTTP client's connections) attempts are handed to the client at once, so
///   a connection that frees finds the next request queued.
/// - **Per-destination limit.** While deliveries to more than one receiver URL are pending, and for a URL whose last
///   attempt got no answer (a timeout, a refused connection), at most `destinationLimit` attempts go to one URL; a
///   due delivery over it waits (parked) until an attempt to that URL is answered. A lone receiver that answers gets
///   the whole window. A receiver that hangs until the request timeout cannot
///   take every connection: the others keep delivering.
/// - **410 Gone** stops the delivery's destination (its subscription, or its URL without one): every pending delivery
///   of it is dead-lettered, and later ones are at once, until a redelivery or resend to it.
/// - **Journal batching.** Lines gather and are written together when 256 are waiting or after 20 ms; when the disk
///   refuses them they wait, in order, and are tried again each second.
struct DeliveryScheduler {
    struct Configuration: Sendable {
        /// The HTTP client's connections.
        var concurrency: Int
        /// Lanes on (a later delivery of an order waits for the earlier one).
        var ordered: Bool
        /// The retry policy of deliveries submitted without their own.
        var policy: RetryPolicy
        /// Attempts handed to the client at once to one receiver URL; nil: `defaultDestinationLimit(concurrency)`.
        var destinationLimit: Int?
        /// True when there is a journal to write lines to.
        var journaled: Bool

        /// Attempts handed to the HTTP client at once: twice its connections.
        var window: Int { max(1, concurrency) * 2 }

        /// The per-destination limit in force.
        var perDestination: Int { max(1, destinationLimit ?? Self.defaultDestinationLimit(concurrency)) }

        /// Half the connections (at least one): a hanging receiver holds at most half of them.
        static func defaultDestinationLimit(_ concurrency: Int) -> Int { max(1, concurrency / 2) }
    }

    /// A delivery not yet final: its state, when it was queued (for end-to-end latency), its own policy if any, and
    /// whether an attempt of it is with the HTTP client.
    struct Entry {
        var state: DeliveryState
        let submitted: Date
        let policy: RetryPolicy?
        var inFlight = false
    }

    /// A lane: an order's deliveries to one destination go out one at a time, in order.
    struct LaneKey: Hashable {
        let destination: DeliveryDestination
        let order: String
    }

    /// One attempt to hand to the HTTP client: the delivery as it stands (behind an outbox, without its body), the
    /// attempt's number and its time on the delivery clock.
    struct Send {
        let state: DeliveryState
        let number: Int
        let at: Date
    }

    /// An attempt recorded: the state it led to, the record as sent (with its headers, for progress lines) and what
    /// follows.
    struct Attempted {
        let state: DeliveryState
        let record: AttemptRecord
        let decision: DeliveryState.Decision
    }

    /// A delivery that became final: delivered, dead after its attempts, or killed (`killedBy` says why).
    struct Finished {
        let state: DeliveryState
        let submitted: Date
        /// Why it was dead-lettered without an attempt of its own deciding it (410 elsewhere, unsendable).
        let killedBy: String?

        /// True when it was dead-lettered because its destination answered 410 to another delivery.
        var droppedAfterGone: Bool { killedBy == DeliveryScheduler.goneReason }
    }

    enum Action {
        /// Hand these attempts to the HTTP client.
        case send([Send])
        /// Append these lines to the journal now; report back with `journalWritten` or `journalFailed`.
        case journal([Outbox.Line])
        /// Call `journalTimerFired` after this many seconds of real time.
        case flushJournal(after: TimeInterval)
        /// Call `timerFired(at:now:)` at this date on the delivery clock (replaces any earlier timer).
        case schedule(timerAt: Date)
        /// An attempt was answered (or failed) and recorded.
        case attempted(Attempted)
        /// A delivery is final.
        case finished(Finished)
        /// `destination` answered 410 (to `state`): stop sending to it at once.
        case stopped(DeliveryDestination, by: DeliveryState)
    }

    static let goneReason = "endpoint stopped after HTTP 410 Gone"

    let configuration: Configuration

    private(set) var pending: [DeliveryID: Entry] = [:]
    /// Lanes with a delivery due or in flight, and the later deliveries waiting behind it (only lanes that have
    /// some: 100,000 queued deliveries should not cost 100,000 arrays).
    private var busyLanes: Set<LaneKey> = []
    private var waiting: [LaneKey: [DeliveryID]] = [:]
    private var due = DueHeap()
    /// Attempts with the HTTP client, in all and per receiver URL.
    private(set) var inFlight = 0
    private var inFlightTo: [String: Int] = [:]
    /// Pending deliveries per receiver URL: the per-destination limit binds only while there are several.
    private var pendingTo: [String: Int] = [:]
    /// URLs whose last attempt got no answer: limited even when alone, so their retry rounds leave room.
    private var failing: Set<String> = []
    /// Due deliveries held back by the per-destination limit, per URL, oldest first. They go before anything else
    /// due once their URL has room.
    private var parked: [String: FIFO] = [:]
    /// Destinations that answered 410.
    private var stopped: Set<DeliveryDestination> = []
    /// The wake-up set for the earliest future due date, if any.
    private var timer: Date?
    private(set) var isStopped = false
    /// Journal lines not yet written, in order.
    private var journal: [Outbox.Line] = []
    private var journalStalled = false
    private var journalFlushScheduled = false

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    // MARK: Queries

    /// The state of a pending delivery.
    func state(of id: DeliveryID) -> DeliveryState? { pending[id]?.state }

    var pendingCount: Int { pending.count }

    /// True when the delivery waits behind an earlier one in its lane.
    func isWaitingInLane(_ id: DeliveryID) -> Bool {
        guard configuration.ordered, let state = pending[id]?.state else { return false }
        return waiting[lane(state)]?.contains(id) == true
    }

    /// True when `destination` answered 410 and was not sent to again since.
    func isStopped(_ destination: DeliveryDestination) -> Bool { stopped.contains(destination) }

    // MARK: Events

    /// New deliveries, or pending ones restored from the outbox (due ones go at once).
    mutating func submit(_ states: [DeliveryState], submitted: Date, policy: RetryPolicy?, now: Date) -> [Action] {
        var actions: [Action] = []
        for state in states { queue(state, submitted: submitted, policy: policy, into: &actions) }
        pump(now: now, into: &actions)
        return actions
    }

    /// Final deliveries put back for a new round (redeliver, resend): their destinations are no longer stopped.
    mutating func resend(_ states: [DeliveryState], submitted: Date, now: Date) -> [Action] {
        for state in states { stopped.remove(DeliveryDestination(state)) }
        return submit(states, submitted: submitted, policy: nil, now: now)
    }

    /// Answers from the transport threads, in a batch. `random` gives the jitter of retries.
    mutating func completed(
        _ completions: [Completion],
        now: Date,
        random: inout some RandomNumberGenerator
    ) -> [Action] {
        var actions: [Action] = []
        for completion in completions {
            inFlight -= 1
            release(completion.target)
            let id = completion.id
            guard var entry = pending[id] else { continue }
            entry.inFlight = false
            pending[id] = entry
            // Stopping: not sent, or cut off with no answer. It stays pending, as it was, for the next start.
            if completion.abandoned && isStopped { continue }
            if completion.endpointStopped {
                // Not sent: its destination answered 410 to another delivery meanwhile.
                finish(id, killing: Self.goneReason, into: &actions)
                continue
            }
            if let reason = completion.unsendable {
                finish(id, killing: reason, into: &actions)
                continue
            }
            if completion.record.status == nil {
                failing.insert(completion.target)
            } else if !failing.isEmpty {
                failing.remove(completion.target)
            }
            var state = entry.state
            // The signed headers are for the progress callback only; the state keeps the attempt without them.
            var stored = completion.record
            stored.sentHeaders = nil
            let delivered = completion.record.status.map { (200..<300).contains($0) } == true
            let decision = state.record(
                stored,
                retryAfter: completion.retryAfter,
                policy: entry.policy ?? configuration.policy,
                // Jitter only matters for a retry (and the system generator costs a syscall).
                random: delivered ? 0 : Double.random(in: 0..<1, using: &random)
            )
            pending[id]?.state = state
            // The journal keeps the headers as sent (for `deliveries show` and the inspector after a restart).
            journalLine((id, completion.record, state.phase), into: &actions)
            actions.append(.attempted(Attempted(state: state, record: completion.record, decision: decision)))
            switch decision {
            case .retry(let next):
                due.push(next, id)
            case .delivered, .dead:
                finish(id, into: &actions)
            case .endpointGone:
                let destination = DeliveryDestination(state)
                stopped.insert(destination)
                actions.append(.stopped(destination, by: state))
                finish(id, into: &actions)
                for (other, queued) in pending where DeliveryDestination(queued.state) == destination {
                    finish(other, killing: Self.goneReason, into: &actions)
                }
            }
        }
        pump(now: now, into: &actions)
        return actions
    }

    /// The timer set for `date` fired.
    mutating func timerFired(at date: Date, now: Date) -> [Action] {
        if timer == date { timer = nil }
        var actions: [Action] = []
        pump(now: now, into: &actions)
        return actions
    }

    /// The journal flush asked for by `flushJournal(after:)` is due.
    mutating func journalTimerFired() -> [Action] {
        journalFlushScheduled = false
        guard !journal.isEmpty else { return [] }
        return [.journal(takeJournal())]
    }

    /// Every journal line not yet written (for a write that must happen now: before a resend's rounds, at stop).
    mutating func takeJournal() -> [Outbox.Line] {
        let lines = journal
        journal.removeAll(keepingCapacity: true)
        return lines
    }

    /// The journal took the lines.
    mutating func journalWritten() { journalStalled = false }

    /// The journal refused `lines` (it keeps whole lines or none): they go back in front, in order, and are tried
    /// again in a second, not at every new line.
    mutating func journalFailed(_ lines: [Outbox.Line]) -> [Action] {
        journal.insert(contentsOf: lines, at: 0)
        journalStalled = true
        guard !isStopped, !journalFlushScheduled else { return [] }
        journalFlushScheduled = true
        return [.flushJournal(after: 1)]
    }

    /// Stops scheduling: nothing more is sent; answers still coming are recorded.
    mutating func stop() {
        isStopped = true
        timer = nil
    }

    // MARK: Scheduling

    private mutating func queue(
        _ state: DeliveryState,
        submitted: Date,
        policy: RetryPolicy?,
        into actions: inout [Action]
    ) {
        let id = state.id
        if let replaced = pending.updateValue(Entry(state: state, submitted: submitted, policy: policy), forKey: id) {
            forget(replaced.state.target)
        }
        pendingTo[state.target, default: 0] += 1
        guard case .pending(let next) = state.phase else { return }
        if stopped.contains(DeliveryDestination(state)) {
            finish(id, killing: Self.goneReason, inLane: false, into: &actions)
            return
        }
        if configuration.ordered {
            let key = lane(state)
            if busyLanes.insert(key).inserted {
                due.push(next, id)
            } else {
                waiting[key, default: []].append(id)
            }
        } else {
            due.push(next, id)
        }
    }

    private func lane(_ state: DeliveryState) -> LaneKey {
        LaneKey(destination: DeliveryDestination(state), order: state.event.orderID)
    }

    /// Hands every due delivery (up to the window and the per-destination limit) to the HTTP client, then sets a
    /// wake-up for the next due date.
    private mutating func pump(now: Date, into actions: inout [Action]) {
        guard !isStopped else { return }
        var sends: [Send] = []
        let shared = pendingTo.count > 1
        if !parked.isEmpty {
            for url in Array(parked.keys) {
                let limit = limit(url, shared: shared)
                // Stale ones (killed while parked) are skipped: the room goes to the URL's next one.
                while inFlight < configuration.window, inFlightTo[url, default: 0] < limit,
                    let id = parked[url, default: FIFO()].pop()
                {
                    launch(id, now: now, shared: shared, into: &sends)
                }
                if parked[url]?.isEmpty == true { parked[url] = nil }
            }
        }
        while inFlight < configuration.window, let top = due.peek, top.date <= now {
            due.pop()
            launch(top.id, now: now, shared: shared, into: &sends)
        }
        if !sends.isEmpty { actions.append(.send(sends)) }
        guard inFlight < configuration.window, let next = due.peek?.date, next > now else { return }
        if let timer, timer <= next { return }
        timer = next
        actions.append(.schedule(timerAt: next))
    }

    /// The attempts `url` may have out at once: the per-destination limit when other URLs have deliveries pending
    /// (`shared`) or its last attempt got no answer; else the whole window.
    private func limit(_ url: String, shared: Bool) -> Int {
        shared || failing.contains(url) ? configuration.perDestination : Int.max
    }

    /// Sends `id` now, or parks it when its URL has its limit of attempts out already. False when it is stale
    /// (killed, or already out) and was skipped.
    @discardableResult
    private mutating func launch(_ id: DeliveryID, now: Date, shared: Bool, into sends: inout [Send]) -> Bool {
        guard var entry = pending[id], !entry.inFlight, case .pending = entry.state.phase else { return false }
        let url = entry.state.target
        let out = inFlightTo[url, default: 0]
        guard out < limit(url, shared: shared) else {
            parked[url, default: FIFO()].push(id)
            return true
        }
        inFlightTo[url] = out + 1
        inFlight += 1
        entry.inFlight = true
        pending[id] = entry
        sends.append(Send(state: entry.state, number: entry.state.attempts.count + 1, at: now))
        return true
    }

    /// An attempt to `url` was answered: the oldest delivery parked for it may go (at the next pump).
    private mutating func release(_ url: String) {
        let out = (inFlightTo[url] ?? 1) - 1
        inFlightTo[url] = out > 0 ? out : nil
    }

    /// A pending delivery to `url` is gone (final, or replaced).
    private mutating func forget(_ url: String) {
        let left = (pendingTo[url] ?? 1) - 1
        pendingTo[url] = left > 0 ? left : nil
    }

    /// Marks a delivery final, frees its lane's next delivery, and reports it. `inLane` is false for a delivery
    /// killed before it took its place in its lane.
    private mutating func finish(
        _ id: DeliveryID,
        killing reason: String? = nil,
        inLane: Bool = true,
        into actions: inout [Action]
    ) {
        guard let entry = pending.removeValue(forKey: id) else { return }
        forget(entry.state.target)
        var state = entry.state
        if pending.capacity > 8192 && pending.count * 8 < pending.capacity {
            // Dictionaries keep their capacity: give back what a drained queue of 100,000 no longer needs.
            var smaller = [DeliveryID: Entry](minimumCapacity: pending.count * 2)
            for (key, value) in pending { smaller[key] = value }
            pending = smaller
        }
        if let reason {
            state.kill(reason: reason)
            journalLine((id, nil, state.phase), into: &actions)
        }
        if configuration.ordered && inLane {
            let key = lane(state)
            if var queue = waiting[key], let index = queue.firstIndex(of: id) {
                // A waiting delivery was killed: the one out stays out.
                queue.remove(at: index)
                waiting[key] = queue.isEmpty ? nil : queue
            } else if var queue = waiting[key], !queue.isEmpty {
                // The delivery out is final: the next one goes (a kill of the whole destination takes it too).
                let next = queue.removeFirst()
                waiting[key] = queue.isEmpty ? nil : queue
                if case .pending(let date) = pending[next]?.state.phase { due.push(date, next) }
            } else {
                busyLanes.remove(key)
            }
        }
        actions.append(.finished(Finished(state: state, submitted: entry.submitted, killedBy: reason)))
    }

    private mutating func journalLine(_ line: Outbox.Line, into actions: inout [Action]) {
        guard configuration.journaled else { return }
        journal.append(line)
        if journal.count >= 256 && !journalStalled {
            actions.append(.journal(takeJournal()))
        } else if !journalFlushScheduled {
            journalFlushScheduled = true
            actions.append(.flushJournal(after: journalStalled ? 1 : 0.02))
        }
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

/// A first-in first-out queue of delivery ids that pops in O(1) (an array and the index of its head).
struct FIFO {
    private var items: [DeliveryID] = []
    private var head = 0

    var isEmpty: Bool { head >= items.count }

    mutating func push(_ id: DeliveryID) { items.append(id) }

    mutating func pop() -> DeliveryID? {
        guard head < items.count else { return nil }
        let id = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: items.count < 4096)
            head = 0
        } else if head > 1024, head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return id
    }
}
