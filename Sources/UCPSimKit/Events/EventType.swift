import Foundation

/// What happened, as subscriptions filter on it (`event_types`) and the HMAC dialects name it (`event_type`).
public enum EventType: String, CaseIterable, Sendable, Codable, Comparable {
    /// An order was placed.
    case orderCreated = "order.created"
    /// Any change to an order after it was placed.
    case orderUpdated = "order.updated"
    /// A fulfillment moved to another status.
    case fulfillmentStatusChanged = "fulfillment.status_changed"
    /// The order's payment moved to another status.
    case paymentStatusChanged = "payment.status_changed"
    /// Something an agent did on the buyer's behalf (a scenario's or the control API's `interaction`).
    case agentInteraction = "agent.interaction_event"

    /// Every name, for help texts and errors.
    public static let names = allCases.map(\.rawValue)

    public static func < (lhs: EventType, rhs: EventType) -> Bool {
        (allCases.firstIndex(of: lhs) ?? 0) < (allCases.firstIndex(of: rhs) ?? 0)
    }
}

/// One event as every dialect builds its body from it: the id and time are fixed once, for every subscription and
/// every attempt.
public struct OrderEvent: Sendable {
    /// What the event is about, beyond the order itself.
    public enum Subject: Sendable, Equatable {
        /// The order as a whole (`order.created`, `order.updated`).
        case order(status: String)
        /// A fulfillment (a shipment, or the order's fulfillment when there is none yet) and its new status.
        case fulfillment(id: String, status: String)
        /// The order's payment and its new status.
        case payment(status: String)
        /// An agent's interaction: who, what kind, and free details.
        case interaction(agentID: String, kind: String, details: [String: String])
    }

    /// The event's id: `Webhook-Id` (`ucp`), `event_id` (`ucp-hmac`), `webhook-id` (`standard-webhooks`).
    public let id: String
    public let type: EventType
    /// When it happened, unix seconds (`Webhook-Timestamp` in the `ucp` dialect; the envelope's `timestamp`).
    public let occurredAt: Int64
    /// The order the event is about (an interaction may have none).
    public let orderID: String?
    /// The order's snapshot after the change, exactly as the `ucp` dialect sends it.
    public let document: OrderDocument?
    public let subject: Subject

    public init(
        id: String = UUID().uuidString.lowercased(),
        type: EventType,
        occurredAt: Int64,
        orderID: String?,
        document: OrderDocument?,
        subject: Subject
    ) {
        self.id = id
        self.type = type
        self.occurredAt = occurredAt
        self.orderID = orderID
        self.document = document
        self.subject = subject
    }
}
