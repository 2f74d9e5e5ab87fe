/// One delivery to submit: one event to one subscription (or to a bare URL), in that subscription's dialect.
///
/// `event.webhookID` is the event's id, the same for every subscription the event goes to; `event.body` is this
/// dialect's bytes, fixed now for every attempt. `id` is the delivery's own: its outbox entry, retries and dead
/// letter.
public struct Delivery: Sendable {
    public let id: DeliveryID
    public let event: WebhookEvent
    public let eventType: EventType
    /// Nil for a delivery to a bare URL (`--webhook-url`, the control API's target): its lane and 410 stop are the
    /// URL's.
    public let subscription: SubscriptionID?
    public let dialect: DialectName
    public let target: RequestTarget

    public init(
        id: DeliveryID = .make(),
        event: WebhookEvent,
        eventType: EventType,
        subscription: SubscriptionID?,
        dialect: DialectName,
        target: RequestTarget
    ) {
        self.id = id
        self.event = event
        self.eventType = eventType
        self.subscription = subscription
        self.dialect = dialect
        self.target = target
    }

    /// Today's delivery of `event` to a bare URL: the `ucp` dialect, no subscription, and the event's id as the
    /// delivery's (so the ids people see stay the same).
    public static func ucp(_ event: WebhookEvent, to target: RequestTarget) -> Delivery {
        Delivery(
            id: DeliveryID(event.webhookID),
            event: event,
            eventType: DeliveryState.defaultEventType,
            subscription: nil,
            dialect: .ucp,
            target: target
        )
    }
}
