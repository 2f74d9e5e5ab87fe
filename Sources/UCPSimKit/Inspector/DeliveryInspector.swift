import Foundation
import Synchronization

/// The live index of `serve`'s deliveries behind `GET /v1/deliveries` and the event stream: what the engine knows,
/// queryable without reading the journal on each request.
///
/// Seeded with the outbox's restored states, then kept current by the engine (`DeliveryEngine.Options.observer`):
/// deliveries queued, each attempt, each outcome. Bounded: every pending delivery and dead letter, and the newest
/// `keepDelivered` delivered ones (those delivered last), as the outbox keeps them; per delivery its metadata, its attempts without their headers, and the
/// headers of its last attempt. Bodies stay in the journal (where the outbox wrote them, remembered at submit or
/// restore time); without an outbox the bounded index keeps them in memory.
///
/// Every change is also an event for the stream: published to `events` (an `EventStream`, which keeps the last
/// `replayLimit` for replay and queues each to every open stream) while the index's lock is held, so the stream's
/// order is the index's.
public final class DeliveryInspector: Sendable {
    public struct Options: Sendable {
        /// Delivered deliveries kept (`serve --keep-delivered`); pending ones and dead letters are always kept (a
        /// dead letter can be redelivered through the API).
        public var keepDelivered = Outbox.defaultKeepDelivered
        /// Stream events kept for `Last-Event-ID` replay.
        public var replayLimit = 1_000
        /// Events queued to one stream before it is reset (a client that does not read).
        public var streamQueueLimit = 1_024
        /// Streams open at once.
        public var maxStreams = 32
        /// Seconds between keep-alive comments on an idle stream.
        public var keepAlive: TimeInterval = 15

        public init() {}

        /// The stream's bounds: these, and `EventStream.Limits`' defaults for the rest.
        var streamLimits: EventStream.Limits {
            var limits = EventStream.Limits()
            limits.replay = replayLimit
            limits.queue = streamQueueLimit
            limits.streams = maxStreams
            limits.keepAlive = .seconds(max(0.01, keepAlive))
            return limits
        }
    }

    /// Where a delivery's body is.
    enum Body: Sendable {
        /// In the journal (the outbox had it when the delivery was submitted or restored).
        case journal(Outbox.BodyLocation)
        /// In memory (no outbox).
        case memory([UInt8])
        /// Gone (the outbox could not say where).
        case unavailable
    }

    /// One delivery as the index keeps it.
    struct Entry: Sendable {
        /// Its place in the listing: the order the shop queued deliveries in.
        let sequence: UInt64
        /// Its state without body, attempts without headers.
        var state: DeliveryState
        /// The headers of the last attempt, as sent.
        var headers: HTTPFieldList?
        /// The URL the last attempt went to (a resend to another URL changes `state.target` before it is sent).
        var sentTo: String?
        var body: Body
        /// When it was last delivered (for `keepDelivered`), nil while pending or dead.
        var finalStamp: UInt64?
    }

    struct State: Sendable {
        var entries: [DeliveryID: Entry] = [:]
        /// Sequence numbers in listing order (oldest first); those of forgotten entries stay until compaction.
        var order: [UInt64] = []
        var ids: [UInt64: DeliveryID] = [:]
        var nextSequence: UInt64 = 1
        var finalOrder = InsertionOrder<FinalMark>()
        var finalCount = 0
        var finalStamp: UInt64 = 0
    }

    struct FinalMark: Hashable, Sendable {
        let id: DeliveryID
        let stamp: UInt64
    }

    public let options: Options
    /// The live stream of the index's changes (`GET /v1/events/stream`): `queued`, `attempt`, `outcome`.
    public let events: EventStream
    let outbox: Outbox?
    let state = Mutex(State())

    /// An index of the deliveries in `restored` (the outbox's states at start, in journal order), reading bodies
    /// back from `outbox`.
    public init(restored: [DeliveryState], outbox: Outbox?, options: Options = Options()) {
        self.options = options
        self.events = EventStream(limits: options.streamLimits)
        self.outbox = outbox
        state.withLock { state in
            for delivery in restored {
                let body: Body
                if let location = outbox?.bodyLocation(of: delivery.id) {
                    body = .journal(location)
                } else if outbox == nil && !delivery.event.body.isEmpty {
                    body = .memory(delivery.event.body)
                } else {
                    body = .unavailable
                }
                insert(delivery, body: body, into: &state)
            }
        }
    }

    /// The engine's observer: keeps the index current and streams each change.
    public func observe(_ change: DeliveryChange) {
        state.withLock { state in
            switch change {
            case .queued(let deliveries):
                for delivery in deliveries {
                    if state.entries[delivery.id] != nil {
                        update(delivery, in: &state)
                    } else {
                        let body: Body
                        if let location = outbox?.bodyLocation(of: delivery.id) {
                            body = .journal(location)
                        } else if !delivery.event.body.isEmpty {
                            body = outbox == nil ? .memory(delivery.event.body) : .unavailable
                        } else {
                            body = .unavailable
                        }
                        insert(delivery, body: body, into: &state)
                    }
                    if let entry = state.entries[delivery.id] {
                        broadcast("queued", DeliveryJSON.summary(entry), into: &state)
                    }
                }
            case .attempted(let delivery, let record):
                update(delivery, in: &state)
                // The last attempt's headers, null when it never got as far as a request (unsendable).
                state.entries[delivery.id]?.headers = record.sentHeaders
                state.entries[delivery.id]?.sentTo = delivery.target
                if let entry = state.entries[delivery.id] {
                    var data = DeliveryJSON.summary(entry)
                    data["attempt"] = DeliveryJSON.attempt(record)
                    broadcast("attempt", data, into: &state)
                }
            case .finished(let delivery):
                update(delivery, in: &state)
                if let entry = state.entries[delivery.id] {
                    broadcast("outcome", DeliveryJSON.summary(entry), into: &state)
                }
            }
        }
    }

    // MARK: Queries

    /// How many deliveries the index holds.
    public var count: Int { state.withLock { $0.entries.count } }

    /// How many stream events are kept for replay.
    public var keptEvents: Int { events.keptCount }

    /// Streams open now.
    public var openStreams: Int { events.subscriberCount }

    /// The entry of delivery `id`.
    func entry(_ id: DeliveryID) -> Entry? { state.withLock { $0.entries[id] } }

    /// A page of deliveries matching `filter`, newest first, after the one at `cursor` (a sequence number): at most
    /// `limit`, and the cursor of the next page when there is one.
    func page(_ filter: DeliveryFilter, after cursor: UInt64?, limit: Int) -> (entries: [Entry], next: UInt64?) {
        state.withLock { state in
            var found: [Entry] = []
            // The first position at or past the cursor (binary search: `order` is sorted).
            var end = state.order.count
            if let cursor {
                var low = 0
                var high = state.order.count
                while low < high {
                    let middle = (low + high) / 2
                    if state.order[middle] < cursor { low = middle + 1 } else { high = middle }
                }
                end = low
            }
            var index = end - 1
            while index >= 0 {
                let sequence = state.order[index]
                index -= 1
                guard let id = state.ids[sequence], let entry = state.entries[id], filter.matches(entry.state)
                else { continue }
                if found.count == limit { return (found, found.last?.sequence) }
                found.append(entry)
            }
            return (found, nil)
        }
    }

    /// A delivery's body: from memory, or read back from the journal; or why not.
    func body(of entry: Entry) -> Result<[UInt8], BodyUnavailable> {
        switch entry.body {
        case .memory(let bytes): return .success(bytes)
        case .unavailable: return .failure(BodyUnavailable("the outbox no longer holds this delivery's body"))
        case .journal(let location):
            guard let outbox else { return .failure(BodyUnavailable("no outbox")) }
            switch outbox.readBody(at: location) {
            case .success(let bytes): return .success(bytes)
            case .failure(let error): return .failure(BodyUnavailable(error.description))
            }
        }
    }

    /// Why a body cannot be given back.
    struct BodyUnavailable: Error {
        let reason: String

        init(_ reason: String) { self.reason = reason }
    }

    // MARK: Keeping the index

    private func insert(_ delivery: DeliveryState, body: Body, into state: inout State) {
        let sequence = state.nextSequence
        state.nextSequence += 1
        let headers = delivery.attempts.last?.sentHeaders
        state.entries[delivery.id] = Entry(
            sequence: sequence,
            state: Self.stripped(delivery),
            headers: headers,
            sentTo: headers == nil ? nil : delivery.target,
            body: body,
            finalStamp: nil
        )
        state.order.append(sequence)
        state.ids[sequence] = delivery.id
        markFinal(delivery.id, in: &state)
    }

    /// Takes a delivery's new state.
    private func update(_ delivery: DeliveryState, in state: inout State) {
        guard var entry = state.entries[delivery.id] else {
            // Forgotten (or never seen): kept from now on; its body from the outbox if it still has it.
            let body: Body =
                outbox?.bodyLocation(of: delivery.id).map { .journal($0) }
                ?? (delivery.event.body.isEmpty || outbox != nil ? .unavailable : .memory(delivery.event.body))
            insert(delivery, body: body, into: &state)
            return
        }
        entry.state = Self.stripped(delivery)
        if case .unavailable = entry.body, !delivery.event.body.isEmpty, outbox == nil {
            entry.body = .memory(delivery.event.body)
        }
        if delivery.phase != .delivered, entry.finalStamp != nil {
            entry.finalStamp = nil
            state.finalCount -= 1
        }
        state.entries[delivery.id] = entry
        markFinal(delivery.id, in: &state)
    }

    /// Counts a delivery just delivered, and forgets the oldest delivered ones past `keepDelivered`.
    private func markFinal(_ id: DeliveryID, in state: inout State) {
        guard let entry = state.entries[id], entry.state.phase == .delivered, entry.finalStamp == nil else { return }
        state.finalStamp += 1
        state.entries[id]?.finalStamp = state.finalStamp
        state.finalOrder.append(FinalMark(id: id, stamp: state.finalStamp))
        state.finalCount += 1
        while state.finalCount > max(0, options.keepDelivered), let oldest = state.finalOrder.popFirst() {
            // A mark is stale when the delivery was sent again since (its stamp changed): skip it.
            guard let entry = state.entries[oldest.id], entry.finalStamp == oldest.stamp else { continue }
            state.entries[oldest.id] = nil
            state.ids[entry.sequence] = nil
            state.finalCount -= 1
        }
        // Forgotten sequence numbers go once they are most of the listing order.
        if state.order.count > 1024 && state.order.count > 2 * state.entries.count {
            state.order.removeAll { state.ids[$0] == nil }
        }
    }

    /// Publishes a change to the stream. Called with the lock held, so the stream's order is the index's.
    private func broadcast(_ name: String, _ data: [String: Any], into state: inout State) {
        events.publish(name, DeliveryJSON.encode(data))
    }

    /// The state as the index keeps it: no body, no headers in its attempts.
    private static func stripped(_ delivery: DeliveryState) -> DeliveryState {
        var copy = delivery.event.body.isEmpty ? delivery : delivery.withBody([])
        if copy.attempts.contains(where: { $0.sentHeaders != nil }) {
            copy.restore(
                attempts: copy.attempts.map { attempt in
                    var attempt = attempt
                    attempt.sentHeaders = nil
                    return attempt
                },
                phase: copy.phase,
                roundStart: copy.roundStart
            )
        }
        return copy
    }
}
