/// Which deliveries a listing shows: the query of `GET /v1/deliveries` and the options of `ucpsim deliveries list`
/// (one rule for both). Every condition given must hold; nil conditions hold for every delivery.
public struct DeliveryFilter: Sendable, Equatable {
    /// The phase name: `pending`, `delivered` or `dead`.
    public var status: String?
    public var subscription: SubscriptionID?
    /// The order the event is about.
    public var order: String?
    public var eventType: EventType?

    /// The statuses a filter accepts (`DeliveryState.Phase.name`).
    public static let statuses = ["pending", "delivered", "dead"]

    /// A filter that holds for every delivery.
    public init() {}

    /// Parses a filter from text (query parameters, command-line options), strictly: an unknown status or event type
    /// is a `FieldError` whose path is the parameter's name (`status`, `event_type`), and an empty value is one too.
    public init(status: String?, subscription: String?, order: String?, eventType: String?) throws(FieldError) {
        for (name, value) in [
            ("status", status), ("subscription", subscription), ("order", order), ("event_type", eventType),
        ] where value?.isEmpty == true {
            throw FieldError(path: [.key(name)], "must not be empty")
        }
        if let status, !Self.statuses.contains(status) {
            throw FieldError(path: [.key("status")], "must be one of \(Self.statuses.joined(separator: ", "))")
        }
        var type: EventType?
        if let eventType {
            guard let known = EventType(rawValue: eventType) else {
                throw FieldError(
                    path: [.key("event_type")],
                    "must be one of \(EventType.names.joined(separator: ", "))"
                )
            }
            type = known
        }
        self.status = status
        self.subscription = subscription.map(SubscriptionID.init)
        self.order = order
        self.eventType = type
    }

    /// True when `state` meets every condition given.
    public func matches(_ state: DeliveryState) -> Bool {
        if let status, state.phase.name != status { return false }
        if let subscription, state.subscription != subscription { return false }
        if let order, state.event.orderID != order { return false }
        if let eventType, state.eventType != eventType { return false }
        return true
    }

    /// True when no condition is given.
    public var isEmpty: Bool { self == DeliveryFilter() }
}
