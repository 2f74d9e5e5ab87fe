/// The order's status as platforms expect one (UPPERCASE). UCP orders carry no status of their own: it is derived
/// from the line items' quantities, the fulfillment events and the adjustments (see `derive`).
public enum OrderStatus: String, CaseIterable, Sendable, Equatable {
    /// Nothing readable tells how far the order is (a document without line item quantities). ucpsim's own orders
    /// are never pending: their payment is authorized at placement.
    case pending = "PENDING"
    /// Placed and paid (authorized); nothing prepared yet.
    case confirmed = "CONFIRMED"
    /// The shop is preparing it (a `processing` fulfillment event), nothing shipped.
    case processing = "PROCESSING"
    /// Some units shipped, some not yet.
    case partiallyShipped = "PARTIALLY_SHIPPED"
    /// Every unit shipped, no parcel delivered yet.
    case shipped = "SHIPPED"
    /// Every unit shipped, some parcels delivered.
    case partiallyDelivered = "PARTIALLY_DELIVERED"
    /// Every parcel delivered.
    case delivered = "DELIVERED"
    /// Every parcel is undeliverable or returned to the shop; none delivered.
    case undeliverable = "UNDELIVERABLE"
    /// The buyer asked to return units (a pending `return` adjustment).
    case returnRequested = "RETURN_REQUESTED"
    /// Some units came back (a completed `return`), not all.
    case partiallyReturned = "PARTIALLY_RETURNED"
    /// Every unit the order still holds came back.
    case returned = "RETURNED"
    /// Every unit was canceled.
    case canceled = "CANCELED"

    /// The order's status from its facts, the first rule that holds:
    /// no line items → PENDING; no units left → CANCELED; completed returns of every unit → RETURNED, of some →
    /// PARTIALLY_RETURNED; a pending return → RETURN_REQUESTED; nothing shipped → PROCESSING after a `processing`
    /// event, else CONFIRMED; units left unshipped → PARTIALLY_SHIPPED; every parcel delivered → DELIVERED, some →
    /// PARTIALLY_DELIVERED; every parcel undeliverable or returned to sender → UNDELIVERABLE; else SHIPPED.
    static func derive(_ facts: OrderFacts) -> OrderStatus {
        guard !facts.lines.isEmpty else { return .pending }
        let units = facts.lines.reduce(0) { $0 + max(0, $1.total) }
        let shipped = facts.lines.reduce(0) { $0 + min(max(0, $1.fulfilled), max(0, $1.total)) }
        if units == 0 { return .canceled }
        if facts.returnedUnits > 0 { return facts.returnedUnits >= units ? .returned : .partiallyReturned }
        if facts.returnPending { return .returnRequested }
        if shipped == 0 { return facts.processing ? .processing : .confirmed }
        if shipped < units { return .partiallyShipped }
        let parcels = facts.parcels.map(\.state)
        guard !parcels.isEmpty else { return .shipped }
        let delivered = parcels.filter { $0 == "delivered" }.count
        if delivered == parcels.count { return .delivered }
        if delivered > 0 { return .partiallyDelivered }
        if parcels.allSatisfy(OrderFacts.deadEnds.contains) { return .undeliverable }
        return .shipped
    }

    /// The status of `order`.
    public static func derive(_ order: Order) -> OrderStatus {
        derive(OrderFacts(order))
    }

    /// The status of any order document, read as far as it can be: line item quantities (or, without them, the line
    /// items' `status`), fulfillment events and adjustments. A document that is not a JSON object is PENDING.
    public static func derive(json bytes: [UInt8]) -> OrderStatus {
        derive(OrderFacts(json: bytes))
    }
}

/// A fulfillment's (a parcel's, or the order's fulfillment before anything ships) status as platforms expect it: a
/// fulfillment event's `type` in UPPERCASE.
public enum FulfillmentStatus: String, CaseIterable, Sendable, Equatable {
    case processing = "PROCESSING"
    case shipped = "SHIPPED"
    case inTransit = "IN_TRANSIT"
    case delivered = "DELIVERED"
    case failedAttempt = "FAILED_ATTEMPT"
    case undeliverable = "UNDELIVERABLE"
    case returnedToSender = "RETURNED_TO_SENDER"
    /// Units canceled before they shipped (a `cancellation` adjustment, or a `canceled` fulfillment event).
    case canceled = "CANCELED"

    /// The status a fulfillment event of `type` gives (`in_transit` → IN_TRANSIT); nil for a type it does not know.
    public init?(eventType type: String) {
        self.init(rawValue: type.uppercased())
    }
}

/// The order's payment status as platforms expect it (UPPERCASE), derived from the order (see `derive`).
public enum PaymentStatus: String, CaseIterable, Sendable, Equatable {
    /// Placed: the money is authorized, not yet taken.
    case authorized = "AUTHORIZED"
    /// Taken at the first shipment.
    case captured = "CAPTURED"
    /// Every unit canceled before anything shipped: the authorization is released.
    case voided = "VOIDED"
    /// Completed refunds give back part of what was paid.
    case partiallyRefunded = "PARTIALLY_REFUNDED"
    /// Completed refunds give back all that was paid.
    case refunded = "REFUNDED"
    /// A refund failed (reported once, on the change that failed it; the payment keeps its earlier status).
    case failed = "FAILED"

    /// The payment's status from the order, the first rule that holds: completed refunds reaching what was paid →
    /// REFUNDED, below it → PARTIALLY_REFUNDED; a parcel shipped → CAPTURED; every unit canceled → VOIDED; else
    /// AUTHORIZED. What was paid is what the buyer paid at placement: every line's original quantity times its unit
    /// price, plus the shipping fee in the order's totals. (FAILED is never derived: it is an event, see
    /// `OrderChange`.)
    public static func derive(_ order: Order) -> PaymentStatus {
        let paid =
            order.lineItems.reduce(0) { $0 + $1.quantity.original * $1.item.price }
            + (order.totals.first { $0.type == "fulfillment" }?.amount ?? 0)
        let refunded = order.adjustments.filter { $0.type == "refund" && $0.status == "completed" }
            .reduce(0) { $0 - ($1.totals?.first { $0.type == "total" }?.amount ?? 0) }
        if refunded > 0 { return refunded >= paid ? .refunded : .partiallyRefunded }
        if order.fulfillment.events.contains(where: { $0.type == "shipped" }) { return .captured }
        if order.lineItems.allSatisfy({ $0.quantity.total == 0 }) { return .voided }
        return .authorized
    }
}
