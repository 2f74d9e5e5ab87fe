import Foundation

/// Which events an order change produces, with the statuses platforms expect. Pure: the caller gives the order
/// before and after the change, the time and (for tests) the ids; nothing is read from the clock or sent.
///
/// The events come in a stable order, all with one `occurredAt` and one `document` (the order after the change):
/// first `order.created` (a placement) or `order.updated` (any later change), then one `fulfillment.status_changed`
/// per fulfillment that moved, then `payment.status_changed` when the payment moved.
public enum OrderChange {
    /// A new event id: a lowercase UUID, like `Webhook-Id`.
    public static func newID() -> String {
        UUID().uuidString.lowercased()
    }

    /// The events of one change. `before` is nil for a placement; `transition` (nil for a placement) only says which
    /// parcel a carrier event is about when it named one; everything else is derived by comparing the two orders:
    /// - the order's status is `OrderStatus.derive(after)`;
    /// - every fulfillment event `after` adds gives its parcel (the `shipped` event's id) that event's type in
    ///   UPPERCASE; a `processing` event and every new `cancellation` adjustment give the fulfillment expectation
    ///   holding its lines PROCESSING or CANCELED;
    /// - the payment's status (`PaymentStatus.derive`) is sent when it differs from before (AUTHORIZED at placement,
    ///   CAPTURED at the first shipment, VOIDED when everything was canceled before anything shipped), or when a
    ///   refund completed (REFUNDED or PARTIALLY_REFUNDED, even when it was already partially refunded); a refund
    ///   that failed gives FAILED.
    /// A change that moves neither (a credit, a price adjustment, a pending refund or return, a completed return)
    /// gives `order.updated` alone.
    public static func events(
        before: Order?,
        after: Order,
        transition: OrderTransition?,
        occurredAt: Int64,
        newID: () -> String = OrderChange.newID
    ) -> [OrderEvent] {
        let document = OrderDocument(after)
        func event(_ type: EventType, _ subject: OrderEvent.Subject) -> OrderEvent {
            OrderEvent(
                id: newID(),
                type: type,
                occurredAt: occurredAt,
                orderID: after.id,
                document: document,
                subject: subject
            )
        }
        var events = [
            event(
                before == nil ? .orderCreated : .orderUpdated,
                .order(status: OrderStatus.derive(after).rawValue)
            )
        ]
        for (id, status) in fulfillmentChanges(before: before, after: after, transition: transition) {
            events.append(event(.fulfillmentStatusChanged, .fulfillment(id: id, status: status.rawValue)))
        }
        for status in paymentChanges(before: before, after: after) {
            events.append(event(.paymentStatusChanged, .payment(status: status.rawValue)))
        }
        return events
    }

    /// The event of an order document that is not a state machine's (a fixture, a replayed or recorded snapshot):
    /// `order.created` when the caller says it is the first document of its order it has seen (`first`), else
    /// `order.updated`; the status is derived from the JSON as far as it can be (`OrderStatus.derive(json:)`). With no
    /// earlier order to compare with, no fulfillment or payment event is made.
    public static func event(
        document: OrderDocument,
        first: Bool,
        occurredAt: Int64,
        id: String = OrderChange.newID()
    ) -> OrderEvent {
        OrderEvent(
            id: id,
            type: first ? .orderCreated : .orderUpdated,
            occurredAt: occurredAt,
            orderID: document.id,
            document: document,
            subject: .order(status: OrderStatus.derive(json: document.bytes).rawValue)
        )
    }

    /// The fulfillments that moved, in the order their events were added, cancellations last.
    static func fulfillmentChanges(before: Order?, after: Order, transition: OrderTransition?)
        -> [(id: String, status: FulfillmentStatus)]
    {
        var changes: [(id: String, status: FulfillmentStatus)] = []
        let known = Set(before?.fulfillment.events.map(\.id) ?? [])
        var parcels: [OrderFacts.Parcel] = []
        for event in after.fulfillment.events {
            if event.type == "shipped" {
                parcels.append(.init(id: event.id, tracking: event.trackingNumber, state: event.type))
            }
            guard !known.contains(event.id), let status = FulfillmentStatus(eventType: event.type) else { continue }
            switch event.type {
            case "shipped":
                changes.append((event.id, status))
            case "processing", "canceled":
                changes += expectations(holding: event.lineItems, in: after, otherwise: event.id).map { ($0, status) }
            default:
                let named = transition?.shipment
                let parcel = OrderFacts.parcel(tracking: event.trackingNumber, in: parcels).map { parcels[$0].id }
                changes.append((named ?? parcel ?? event.id, status))
            }
        }
        let settled = Set(before?.adjustments.map(\.id) ?? [])
        for adjustment in after.adjustments where adjustment.type == "cancellation" && !settled.contains(adjustment.id)
        {
            let lines = (adjustment.lineItems ?? []).map { Order.LineQuantity(id: $0.id, quantity: abs($0.quantity)) }
            changes += expectations(holding: lines, in: after, otherwise: adjustment.id).map { ($0, .canceled) }
        }
        return changes
    }

    /// The fulfillment expectations that hold any of `lines` (the order's fulfillment before anything ships), or
    /// `fallback` when none does.
    private static func expectations(holding lines: [Order.LineQuantity], in order: Order, otherwise fallback: String)
        -> [String]
    {
        let ids = Set(lines.map(\.id))
        let found = order.fulfillment.expectations.filter { $0.lineItems.contains { ids.contains($0.id) } }.map(\.id)
        return found.isEmpty ? [fallback] : found
    }

    /// The payment statuses to send: FAILED for a refund that failed in this change, then the new status when it
    /// moved or a refund completed.
    static func paymentChanges(before: Order?, after: Order) -> [PaymentStatus] {
        let status = PaymentStatus.derive(after)
        guard let before else { return [status] }
        func refunds(_ order: Order, _ state: String) -> Set<String> {
            Set(order.adjustments.filter { $0.type == "refund" && $0.status == state }.map(\.id))
        }
        var changes: [PaymentStatus] = []
        if !refunds(after, "failed").subtracting(refunds(before, "failed")).isEmpty { changes.append(.failed) }
        let completed = !refunds(after, "completed").subtracting(refunds(before, "completed")).isEmpty
        if completed || status != PaymentStatus.derive(before) { changes.append(status) }
        return changes
    }
}

extension OrderTransition {
    /// The parcel a carrier transition names, nil for any other transition or when it names none (the latest).
    var shipment: String? {
        switch self {
        case .inTransit(let id), .deliver(let id), .failedAttempt(let id), .undeliverable(let id),
            .returnedToSender(let id):
            id
        default: nil
        }
    }
}
