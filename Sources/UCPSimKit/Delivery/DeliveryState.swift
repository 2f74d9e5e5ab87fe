import Foundation

/// One attempt, as recorded in the outbox and shown by `ucpsim deliveries show`.
public struct AttemptRecord: Sendable, Codable, Equatable {
    public var number: Int
    /// When it was made (on the delivery clock).
    public var at: Date
    /// The status, nil when no response came back.
    public var status: Int?
    public var milliseconds: Double
    /// The response body excerpt, or the transport error.
    public var detail: String
    /// The request's header fields as sent; nil when the attempt never got as far as a request. The outbox journals
    /// them (`hdr`), and a journal read back keeps them on each delivery's last attempt that has them.
    public var sentHeaders: HTTPFieldList? = nil

    /// The request's header lines as sent, `Name: value`.
    public var requestHeaders: [String]? { sentHeaders?.fields.map { "\($0.name): \($0.value)" } }

    enum CodingKeys: String, CodingKey {
        case number, at, status, milliseconds, detail
    }
}

/// The life of one delivery (one event to one subscription), as a value: attempts in, decisions out. No I/O, no
/// clock reads.
public struct DeliveryState: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        /// Waiting for its next attempt at this time.
        case pending(next: Date)
        case delivered
        case dead(reason: String)

        public var isFinal: Bool {
            if case .pending = self { return false }
            return true
        }

        public var name: String {
            switch self {
            case .pending: "pending"
            case .delivered: "delivered"
            case .dead: "dead"
            }
        }
    }

    /// This delivery's own id: its outbox entry, retries and dead letter. The event's id (`event.webhookID`) is
    /// shared by every subscription the event goes to.
    public let id: DeliveryID
    /// The event as this delivery sends it: the event's id and time, this dialect's body.
    public let event: WebhookEvent
    /// The subscription it goes to; nil for a delivery to a bare URL (`--webhook-url`).
    public let subscription: SubscriptionID?
    /// How its body was made and how each attempt is signed.
    public let dialect: DialectName
    public let eventType: EventType
    /// The receiver URL (a resend may name another).
    public private(set) var target: String
    public private(set) var attempts: [AttemptRecord] = []
    public private(set) var phase: Phase
    /// Attempts made before the current round of retries: a redelivered or resent event gets the whole retry
    /// schedule again, however many attempts it had.
    public private(set) var roundStart = 0

    /// The event type a delivery has when nothing says otherwise (events made before types existed): any change to
    /// an order.
    public static let defaultEventType = EventType.orderUpdated

    /// A new delivery, due at `firstAttempt`. Without an `id` it is the event's id (one `ucp` delivery per event, as
    /// before subscriptions).
    public init(
        id: DeliveryID? = nil,
        event: WebhookEvent,
        eventType: EventType = DeliveryState.defaultEventType,
        subscription: SubscriptionID? = nil,
        dialect: DialectName = .ucp,
        target: String,
        firstAttempt: Date
    ) {
        self.id = id ?? DeliveryID(event.webhookID)
        self.event = event
        self.eventType = eventType
        self.subscription = subscription
        self.dialect = dialect
        self.target = target
        self.phase = .pending(next: firstAttempt)
    }

    /// What the engine must do after an attempt.
    public enum Decision: Sendable, Equatable {
        case delivered
        case retry(at: Date)
        case dead(reason: String)
        /// 410: dead, and stop the endpoint.
        case endpointGone
    }

    /// Records an attempt and decides what follows. `random` in [0, 1) drives jitter.
    @discardableResult
    public mutating func record(
        _ attempt: AttemptRecord,
        retryAfter: String?,
        policy: RetryPolicy,
        random: Double
    ) -> Decision {
        attempts.append(attempt)
        switch policy.classify(status: attempt.status, retryAfter: retryAfter, error: attempt.detail, now: attempt.at) {
        case .delivered:
            phase = .delivered
            return .delivered
        case .endpointGone:
            phase = .dead(reason: "HTTP 410 Gone: endpoint stopped")
            return .endpointGone
        case .fail(let reason):
            phase = .dead(reason: reason)
            return .dead(reason: reason)
        case .retry(let reason, let after):
            let inRound = attempts.count - roundStart
            guard let delay = policy.delay(afterAttempt: inRound, retryAfter: after, random: random) else {
                let final = "\(reason) after \(attempts.count) attempt\(attempts.count == 1 ? "" : "s")"
                phase = .dead(reason: final)
                return .dead(reason: final)
            }
            let next = attempt.at.addingTimeInterval(delay)
            phase = .pending(next: next)
            return .retry(at: next)
        }
    }

    /// Dead-letters a pending event (its endpoint returned 410 for another event).
    public mutating func kill(reason: String) {
        if !phase.isFinal { phase = .dead(reason: reason) }
    }

    /// Puts a dead letter back in the queue (`deliveries redeliver`): same id, same bytes, more attempts.
    public mutating func redeliver(at time: Date) {
        if case .dead = phase { resend(at: time) }
    }

    /// Puts a final event (delivered or dead) back in the queue for a new round of attempts, optionally to another
    /// receiver (`deliveries resend`, `replay --keep-ids`): same id, same bytes, signed afresh.
    public mutating func resend(at time: Date, to newTarget: String? = nil) {
        guard phase.isFinal else { return }
        if let newTarget { target = newTarget }
        roundStart = attempts.count
        phase = .pending(next: time)
    }

    /// The same state with another body: empty while queued behind an outbox (the bytes stay on disk).
    public func withBody(_ body: [UInt8]) -> DeliveryState {
        var copy = DeliveryState(
            id: id,
            event: event.with(body: body),
            eventType: eventType,
            subscription: subscription,
            dialect: dialect,
            target: target,
            firstAttempt: .distantPast
        )
        copy.attempts = attempts
        copy.phase = phase
        copy.roundStart = roundStart
        return copy
    }

    /// The same state without the request headers its attempts recorded (only the inspector shows them).
    public func withoutSentHeaders() -> DeliveryState {
        guard attempts.contains(where: { $0.sentHeaders != nil }) else { return self }
        var copy = self
        copy.attempts = attempts.map { attempt in
            var bare = attempt
            bare.sentHeaders = nil
            return bare
        }
        return copy
    }

    /// Restores state read back from the outbox.
    mutating func restore(attempts: [AttemptRecord], phase: Phase, roundStart: Int = 0) {
        self.attempts = attempts
        self.phase = phase
        self.roundStart = min(roundStart, attempts.count)
    }
}

extension DeliveryState {
    /// The deliveries `id` names among `states`, in their order: the delivery with that id, and every delivery of
    /// the event with that id (an event goes to each of its subscriptions; a `ucp` delivery to a bare URL has its
    /// event's id). Empty when it names none.
    public static func named(_ id: String, in states: [DeliveryState]) -> [DeliveryState] {
        states.filter { $0.id.rawValue == id || $0.event.webhookID == id }
    }
}
