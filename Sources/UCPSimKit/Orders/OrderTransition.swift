/// A change to an order, as scenarios, the control API and tests name it.
public enum OrderTransition: Sendable, Equatable {
    /// The shop starts preparing the order (a `processing` fulfillment event).
    case process
    /// Ship the given line quantities (nil: everything still unshipped) as one parcel.
    case ship(lines: [Order.LineQuantity]?, carrier: String?, trackingNumber: String?, trackingURL: String?)
    /// A parcel (nil: the latest) is in transit.
    case inTransit(shipment: String?)
    /// A parcel (nil: the latest) was delivered.
    case deliver(shipment: String?)
    /// A delivery attempt failed; the parcel can be attempted again.
    case failedAttempt(shipment: String?)
    /// The carrier gives up on a parcel.
    case undeliverable(shipment: String?)
    /// An undeliverable parcel went back to the shop.
    case returnedToSender(shipment: String?)
    /// Cancel unshipped units (nil: all of them).
    case cancel(lines: [Order.LineQuantity]?)
    /// The buyer asks to return delivered units (a pending `return` adjustment).
    case requestReturn(lines: [Order.LineQuantity])
    /// A pending return (nil: the latest) is received.
    case completeReturn(adjustment: String?)
    /// Refund money (nil amount: everything paid and not yet refunded); `completed` false leaves it pending.
    case refund(amount: Int?, completed: Bool)
    /// A pending refund (nil: the latest) completes.
    case completeRefund(adjustment: String?)
    /// A pending refund (nil: the latest) fails.
    case failRefund(adjustment: String?)
    /// Store credit to the buyer.
    case credit(amount: Int)
    /// A change of price after the order (negative: cheaper).
    case priceAdjustment(amount: Int)

    /// The transition's name in scenarios and the control API.
    public var name: String {
        switch self {
        case .process: "process"
        case .ship: "ship"
        case .inTransit: "in_transit"
        case .deliver: "deliver"
        case .failedAttempt: "failed_attempt"
        case .undeliverable: "undeliverable"
        case .returnedToSender: "returned_to_sender"
        case .cancel: "cancel"
        case .requestReturn: "return"
        case .completeReturn: "complete_return"
        case .refund: "refund"
        case .completeRefund: "complete_refund"
        case .failRefund: "fail_refund"
        case .credit: "credit"
        case .priceAdjustment: "price_adjustment"
        }
    }

    /// Every transition name, for help texts and errors.
    public static let names = [
        "process", "ship", "in_transit", "deliver", "failed_attempt", "undeliverable", "returned_to_sender", "cancel",
        "return", "complete_return", "refund", "complete_refund", "fail_refund", "credit", "price_adjustment",
    ]
}

/// A transition the state machine refused: names the order, the transition and the reason.
public struct TransitionError: Error, Sendable, Equatable, CustomStringConvertible {
    public let orderID: String
    public let transition: String
    public let reason: String

    public var description: String { "order \(orderID): cannot \(transition): \(reason)" }
}
