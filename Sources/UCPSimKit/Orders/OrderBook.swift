import Foundation

/// The shop's live orders, each with its state machine, for the control API.
///
/// It keeps the `limit` most recently placed orders: a long-running `serve` holds a fixed amount of memory however
/// many orders it is sent. A transition on an order placed `limit` orders ago finds no order.
public actor OrderBook {
    private var machines: [String: OrderStateMachine] = [:]
    private var placed = InsertionOrder<String>()
    private let baseURL: String
    private let version: UCPVersion
    private let now: @Sendable () -> Date
    private var sequence = 0
    /// The most orders kept; nil keeps all.
    public let limit: Int?

    /// The orders `serve` keeps.
    public static let defaultLimit = 10_000

    public init(
        baseURL: String,
        version: UCPVersion = .newest,
        limit: Int? = OrderBook.defaultLimit,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.baseURL = baseURL
        self.version = version
        self.limit = limit
        self.now = now
    }

    /// Orders kept now.
    public var count: Int { machines.count }

    /// The reason `place` gives for an id already in use.
    public static let existsReason = "the order already exists"

    /// Places an order (an id is generated when the spec's is empty) and returns the first snapshot.
    public func place(_ spec: OrderSpec) throws(TransitionError) -> Order {
        var spec = spec
        if spec.id.isEmpty {
            sequence += 1
            spec.id = "ord_\(String(format: "%05d", sequence))"
        }
        guard machines[spec.id] == nil else {
            throw TransitionError(orderID: spec.id, transition: "place", reason: Self.existsReason)
        }
        let machine = try OrderStateMachine(spec: spec, at: now(), shopBaseURL: baseURL, version: version)
        machines[spec.id] = machine
        placed.append(spec.id)
        if let limit {
            while machines.count > max(1, limit), let oldest = placed.popFirst() { machines[oldest] = nil }
        }
        return machine.order
    }

    /// The order `id` as it is now; nil when there is none (or it was forgotten: see `limit`).
    public func order(_ id: String) -> Order? { machines[id]?.order }

    /// Applies a transition now; nil when there is no such order.
    public func apply(_ transition: OrderTransition, to id: String) throws(TransitionError) -> Order? {
        try change(id, by: transition)?.order
    }

    /// Applies a transition now and returns the new order with the machine as it was before (for `withdraw`); nil
    /// when there is no such order.
    public func change(_ id: String, by transition: OrderTransition) throws(TransitionError) -> (
        order: Order, previous: OrderStateMachine
    )? {
        guard let previous = machines[id] else { return nil }
        var machine = previous
        let order = try machine.apply(transition, at: now())
        machines[id] = machine
        return (order, previous)
    }

    /// Takes back the change that made `order` (its webhook could not be made durable) if it is still the order's
    /// latest: the order returns to `previous`, or is removed when nil (a placement). False, and nothing changes,
    /// when a later change came after it.
    @discardableResult
    public func withdraw(_ order: Order, restoring previous: OrderStateMachine?) -> Bool {
        guard machines[order.id]?.order == order else { return false }
        machines[order.id] = previous
        return true
    }
}
