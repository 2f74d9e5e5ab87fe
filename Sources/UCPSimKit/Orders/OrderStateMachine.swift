import Foundation

/// What an order is made from: items, destination, shipping fee.
public struct OrderSpec: Sendable, Equatable {
    public struct Line: Sendable, Equatable {
        public var id: String?
        public var sku: String
        public var title: String
        /// Unit price in minor units.
        public var price: Int
        public var quantity: Int

        public init(id: String? = nil, sku: String, title: String, price: Int, quantity: Int) {
            self.id = id
            self.sku = sku
            self.title = title
            self.price = price
            self.quantity = quantity
        }
    }

    public var id: String
    public var checkoutID: String?
    public var label: String?
    public var currency: String
    public var lines: [Line]
    public var destination: Order.PostalAddress
    /// Shipping fee in minor units.
    public var shipping: Int
    /// An order-level discount in minor units (positive; the `discount` total is its negative); 0: none.
    public var discount: Int
    /// Tax in minor units; 0: no `tax` total.
    public var tax: Int
    /// The fulfillment expectation's `method_type` (`shipping`, `pickup`, …).
    public var methodType: String
    /// The fulfillment expectation's description (a checkout's chosen option's title).
    public var expectationDescription: String

    public init(
        id: String,
        checkoutID: String? = nil,
        label: String? = nil,
        currency: String = "USD",
        lines: [Line],
        destination: Order.PostalAddress = OrderSpec.defaultDestination,
        shipping: Int = 0,
        discount: Int = 0,
        tax: Int = 0,
        methodType: String = "shipping",
        expectationDescription: String = "Arrives in 3-5 business days"
    ) {
        self.discount = discount
        self.tax = tax
        self.methodType = methodType
        self.expectationDescription = expectationDescription
        self.id = id
        self.checkoutID = checkoutID
        self.label = label
        self.currency = currency
        self.lines = lines
        self.destination = destination
        self.shipping = shipping
    }

    public static let defaultDestination = Order.PostalAddress(
        streetAddress: "1600 Amphitheatre Pkwy",
        addressLocality: "Mountain View",
        addressRegion: "CA",
        postalCode: "94043",
        addressCountry: "US"
    )
}

/// The order lifecycle as a value: `apply` takes a transition and its time, checks it, and returns the full new
/// snapshot. No I/O; the caller turns each snapshot into one webhook.
public struct OrderStateMachine: Sendable {
    public private(set) var order: Order
    /// A parcel: what it holds, where it is, and the tracking every carrier event about it repeats.
    private struct Shipment: Sendable {
        let id: String
        let lines: [Order.LineQuantity]
        var state: String
        let trackingNumber: String
        let trackingURL: String
        let carrier: String

        /// A fulfillment event about this parcel, with its tracking and carrier.
        func event(id: String, type: String, at: String) -> Order.FulfillmentEvent {
            .init(
                id: id,
                occurredAt: at,
                type: type,
                lineItems: lines,
                trackingNumber: trackingNumber,
                trackingURL: trackingURL,
                carrier: carrier
            )
        }
    }

    /// Parcels by shipment (fulfillment event) id, in shipping order.
    private var shipments: [Shipment] = []
    /// The shop's base URL, for default tracking pages.
    private let shopBaseURL: String
    private var lastTime: Date
    /// What the buyer paid at placement; refunds cannot exceed it.
    public let paid: Int
    private var counter = 0

    /// Places an order: the first, fully populated snapshot.
    public init(spec: OrderSpec, at time: Date, shopBaseURL: String, version: UCPVersion = .newest)
        throws(TransitionError)
    {
        func fail(_ reason: String) -> TransitionError {
            TransitionError(orderID: spec.id, transition: "place", reason: reason)
        }
        guard !spec.lines.isEmpty else { throw fail("an order needs at least one line item") }
        guard spec.shipping >= 0 else { throw fail("shipping must not be negative") }
        guard spec.discount >= 0, spec.tax >= 0 else { throw fail("discount and tax must not be negative") }
        var lineItems: [Order.LineItem] = []
        for (index, line) in spec.lines.enumerated() {
            guard line.quantity > 0 else {
                throw fail("line \(line.sku) has quantity \(line.quantity); it must be at least 1")
            }
            guard line.price >= 0 else { throw fail("line \(line.sku) has a negative price") }
            lineItems.append(
                Order.LineItem(
                    id: line.id ?? "li_\(index + 1)",
                    item: .init(id: line.sku, title: line.title, price: line.price),
                    quantity: .init(original: line.quantity, total: line.quantity, fulfilled: 0),
                    totals: [],
                    status: "processing"
                )
            )
        }
        guard Set(lineItems.map(\.id)).count == lineItems.count else { throw fail("line item ids must be unique") }
        let base = shopBaseURL.hasSuffix("/") ? String(shopBaseURL.dropLast()) : shopBaseURL
        self.shopBaseURL = base
        order = Order(
            ucp: .init(version: version),
            id: spec.id,
            label: spec.label,
            checkoutID: spec.checkoutID ?? "chk_\(spec.id)",
            permalinkURL: "\(base)/orders/\(Identifier.pathSegment(spec.id))",
            currency: spec.currency,
            lineItems: lineItems,
            fulfillment: .init(
                expectations: [
                    .init(
                        id: "exp_1",
                        lineItems: lineItems.map { .init(id: $0.id, quantity: $0.quantity.total) },
                        methodType: spec.methodType,
                        destination: spec.destination,
                        description: spec.expectationDescription
                    )
                ],
                events: []
            ),
            adjustments: [],
            totals: []
        )
        shippingFee = spec.shipping
        discount = spec.discount
        tax = spec.tax
        lastTime = time
        Self.recompute(&order, shipping: spec.shipping, discount: spec.discount, tax: spec.tax)
        paid = order.totals.first { $0.type == "total" }?.amount ?? 0
    }

    private var shippingFee = 0
    /// The checkout's order-level discount and tax (kept as placed; none once every line is canceled).
    private var discount = 0
    private var tax = 0

    /// Parcel states from which a carrier event can still happen.
    private static let onTheWay: Set<String> = ["shipped", "in_transit", "failed_attempt"]

    /// Applies `transition` at `time` and returns the new full snapshot, or throws without changing anything.
    @discardableResult
    public mutating func apply(_ transition: OrderTransition, at time: Date) throws(TransitionError) -> Order {
        var next = self
        try next.mutate(transition, at: time)
        self = next
        return order
    }

    private func fail(_ transition: OrderTransition, _ reason: String) -> TransitionError {
        TransitionError(orderID: order.id, transition: transition.name, reason: reason)
    }

    private var fullyCanceled: Bool { order.lineItems.allSatisfy { $0.quantity.total == 0 } }

    private mutating func nextID(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)_\(counter)"
    }

    private mutating func mutate(_ transition: OrderTransition, at time: Date) throws(TransitionError) {
        guard time >= lastTime else {
            throw fail(
                transition,
                "time goes backwards (\(Self.timestamp(time)) is before \(Self.timestamp(lastTime)))"
            )
        }
        switch transition {
        case .refund, .completeRefund, .failRefund, .credit: break
        default:
            if fullyCanceled { throw fail(transition, "the order is fully canceled; only refund and credit remain") }
        }
        let at = Self.timestamp(time)
        switch transition {
        case .process:
            let open = order.lineItems.filter { $0.quantity.total > $0.quantity.fulfilled }
            guard !open.isEmpty else { throw fail(transition, "nothing is left to process") }
            order.fulfillment.events.append(
                .init(
                    id: nextID("evt"),
                    occurredAt: at,
                    type: "processing",
                    lineItems: open.map { .init(id: $0.id, quantity: $0.quantity.total - $0.quantity.fulfilled) }
                )
            )

        case .ship(let requested, let carrier, let tracking, let trackingURL):
            let lines = try unshipped(requested, transition, verb: "ship")
            for line in lines {
                for index in order.lineItems.indices where order.lineItems[index].id == line.id {
                    order.lineItems[index].quantity.fulfilled += line.quantity
                }
            }
            let id = nextID("shp")
            let number = tracking ?? Self.defaultTrackingNumber(shipment: id, order: order.id)
            let shipment = Shipment(
                id: id,
                lines: lines,
                state: "shipped",
                trackingNumber: number,
                trackingURL: trackingURL ?? Self.defaultTrackingURL(base: shopBaseURL, trackingNumber: number),
                carrier: carrier ?? "UPS"
            )
            order.fulfillment.events.append(shipment.event(id: id, type: "shipped", at: at))
            shipments.append(shipment)

        case .inTransit(let shipment):
            try move(shipment, to: "in_transit", from: Self.onTheWay, transition, at: at)
        case .deliver(let shipment):
            try move(shipment, to: "delivered", from: Self.onTheWay, transition, at: at)
        case .failedAttempt(let shipment):
            try move(shipment, to: "failed_attempt", from: Self.onTheWay, transition, at: at)
        case .undeliverable(let shipment):
            try move(shipment, to: "undeliverable", from: Self.onTheWay, transition, at: at)
        case .returnedToSender(let shipment):
            try move(shipment, to: "returned_to_sender", from: ["undeliverable"], transition, at: at)

        case .cancel(let requested):
            let lines = try unshipped(requested, transition, verb: "cancel")
            var amount = 0
            for line in lines {
                for index in order.lineItems.indices where order.lineItems[index].id == line.id {
                    order.lineItems[index].quantity.total -= line.quantity
                    amount += line.quantity * order.lineItems[index].item.price
                }
            }
            addAdjustment(
                "cancellation",
                status: "completed",
                at: at,
                returning: lines,
                amount: -amount,
                description: "Canceled before shipment"
            )

        case .requestReturn(let requested):
            let delivered = deliveredQuantities()
            let returned = adjustedQuantities(type: "return")
            let lines = try resolveLines(
                requested,
                transition: transition,
                verb: "return",
                available: { (delivered[$0.id] ?? 0) - (returned[$0.id] ?? 0) },
                what: "delivered and not yet returned"
            )
            let amount = lines.reduce(0) { sum, line in
                sum + line.quantity * (order.lineItems.first { $0.id == line.id }?.item.price ?? 0)
            }
            addAdjustment(
                "return",
                status: "pending",
                at: at,
                returning: lines,
                amount: -amount,
                description: "Return requested"
            )

        case .completeReturn(let id):
            try settle(id, type: "return", to: "completed", transition, description: "Return received")

        case .refund(let amount, let completed):
            let refunded = order.adjustments.filter { $0.type == "refund" && $0.status != "failed" }
                .reduce(0) { $0 - ($1.totals?.first?.amount ?? 0) }
            let remaining = paid - refunded
            let value = amount ?? remaining
            guard value > 0 else { throw fail(transition, "the amount must be positive (nothing left to refund?)") }
            guard value <= remaining else {
                throw fail(transition, "refunding \(value) exceeds what remains of the \(paid) paid (\(remaining))")
            }
            addAdjustment(
                "refund",
                status: completed ? "completed" : "pending",
                at: at,
                amount: -value,
                description: "Refund"
            )

        case .completeRefund(let id):
            try settle(id, type: "refund", to: "completed", transition, description: nil)
        case .failRefund(let id):
            try settle(id, type: "refund", to: "failed", transition, description: nil)

        case .credit(let amount):
            guard amount > 0 else { throw fail(transition, "the amount must be positive") }
            addAdjustment(
                "credit",
                status: "completed",
                at: at,
                amount: -amount,
                description: "Store credit"
            )

        case .priceAdjustment(let amount):
            guard amount != 0 else { throw fail(transition, "the amount must not be zero") }
            addAdjustment(
                "price_adjustment",
                status: "completed",
                at: at,
                amount: amount,
                description: "Price adjustment"
            )
        }
        lastTime = time
        Self.recompute(&order, shipping: shippingFee, discount: discount, tax: tax)
    }

    /// Appends an adjustment; `returning` lines are recorded as negative quantities (units taken back).
    private mutating func addAdjustment(
        _ type: String,
        status: String,
        at: String,
        returning lines: [Order.LineQuantity]? = nil,
        amount: Int,
        description: String
    ) {
        order.adjustments.append(
            .init(
                id: nextID("adj"),
                type: type,
                occurredAt: at,
                status: status,
                lineItems: lines?.map { .init(id: $0.id, quantity: -$0.quantity) },
                totals: [.init(type: "total", amount: amount)],
                description: description
            )
        )
    }

    /// The requested (or all) units not yet shipped: what `ship` and `cancel` may take.
    private func unshipped(
        _ requested: [Order.LineQuantity]?,
        _ transition: OrderTransition,
        verb: String
    ) throws(TransitionError) -> [Order.LineQuantity] {
        try resolveLines(
            requested,
            transition: transition,
            verb: verb,
            available: { $0.quantity.total - $0.quantity.fulfilled },
            what: "unshipped"
        )
    }

    /// Checks requested line quantities against what is available, or takes everything available when nil.
    private func resolveLines(
        _ requested: [Order.LineQuantity]?,
        transition: OrderTransition,
        verb: String,
        available: (Order.LineItem) -> Int,
        what: String
    ) throws(TransitionError) -> [Order.LineQuantity] {
        guard let requested else {
            let all = order.lineItems.compactMap { line -> Order.LineQuantity? in
                let count = available(line)
                return count > 0 ? .init(id: line.id, quantity: count) : nil
            }
            guard !all.isEmpty else { throw fail(transition, "no units are \(what)") }
            return all
        }
        guard !requested.isEmpty else { throw fail(transition, "no line items given") }
        var merged: [String: Int] = [:]
        for line in requested {
            guard line.quantity >= 1 else { throw fail(transition, "quantity for \(line.id) must be at least 1") }
            merged[line.id, default: 0] += line.quantity
        }
        for (id, quantity) in merged {
            guard let item = order.lineItems.first(where: { $0.id == id }) else {
                throw fail(transition, "no line item \(id) (have \(order.lineItems.map(\.id).joined(separator: ", ")))")
            }
            let count = available(item)
            guard quantity <= count else {
                throw fail(transition, "cannot \(verb) \(quantity) of \(id): only \(count) \(what)")
            }
        }
        return order.lineItems.compactMap { item in merged[item.id].map { .init(id: item.id, quantity: $0) } }
    }

    private mutating func move(
        _ shipment: String?,
        to state: String,
        from allowed: Set<String>,
        _ transition: OrderTransition,
        at: String
    ) throws(TransitionError) {
        guard !shipments.isEmpty else { throw fail(transition, "nothing has shipped yet") }
        let index: Int
        if let shipment {
            guard let found = shipments.firstIndex(where: { $0.id == shipment }) else {
                throw fail(transition, "no shipment \(shipment) (have \(shipments.map(\.id).joined(separator: ", ")))")
            }
            index = found
        } else {
            index = shipments.count - 1
        }
        let current = shipments[index].state
        guard allowed.contains(current) else {
            throw fail(transition, "shipment \(shipments[index].id) is \(current)")
        }
        shipments[index].state = state
        // Every event but `processing` carries tracking (types/fulfillment_event.json): the parcel's own.
        order.fulfillment.events.append(shipments[index].event(id: nextID("evt"), type: state, at: at))
    }

    private mutating func settle(
        _ id: String?,
        type: String,
        to status: String,
        _ transition: OrderTransition,
        description: String?
    ) throws(TransitionError) {
        let candidates = order.adjustments.indices.filter { order.adjustments[$0].type == type }
        guard let index = id.map({ id in candidates.first { order.adjustments[$0].id == id } }) ?? candidates.last
        else {
            throw fail(transition, id.map { "no \(type) adjustment \($0)" } ?? "there is no \(type) adjustment")
        }
        guard order.adjustments[index].status == "pending" else {
            throw fail(
                transition,
                "\(type) \(order.adjustments[index].id) is already \(order.adjustments[index].status)"
            )
        }
        order.adjustments[index].status = status
        if let description { order.adjustments[index].description = description }
    }

    private func deliveredQuantities() -> [String: Int] {
        var delivered: [String: Int] = [:]
        for shipment in shipments where shipment.state == "delivered" {
            for line in shipment.lines { delivered[line.id, default: 0] += line.quantity }
        }
        return delivered
    }

    private func adjustedQuantities(type: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for adjustment in order.adjustments where adjustment.type == type && adjustment.status != "failed" {
            for line in adjustment.lineItems ?? [] { counts[line.id, default: 0] -= line.quantity }
        }
        return counts
    }

    /// Derives line statuses and totals and the order totals (exactly one subtotal and one total).
    static func recompute(_ order: inout Order, shipping: Int, discount: Int = 0, tax: Int = 0) {
        for index in order.lineItems.indices {
            let quantity = order.lineItems[index].quantity
            let amount = quantity.total * order.lineItems[index].item.price
            order.lineItems[index].totals = [
                .init(type: "subtotal", amount: amount), .init(type: "total", amount: amount),
            ]
            order.lineItems[index].status = LineItemStatus.derive(quantity)
        }
        let subtotal = order.lineItems.reduce(0) { $0 + $1.quantity.total * $1.item.price }
        let open = !order.lineItems.allSatisfy { $0.quantity.total == 0 }
        let fee = open ? shipping : 0
        let off = open ? min(discount, subtotal) : 0
        let taxed = open ? tax : 0
        order.totals = [.init(type: "subtotal", amount: subtotal)]
        if off > 0 { order.totals.append(.init(type: "discount", amount: -off)) }
        if fee > 0 { order.totals.append(.init(type: "fulfillment", amount: fee)) }
        if taxed > 0 { order.totals.append(.init(type: "tax", amount: taxed)) }
        order.totals.append(.init(type: "total", amount: subtotal - off + fee + taxed))
    }

    /// The tracking number of a parcel shipped without one: deterministic, from the order and shipment ids.
    static func defaultTrackingNumber(shipment: String, order: String) -> String {
        let digest = DigestAlgorithm.sha256.hash(Array("\(order)/\(shipment)".utf8))
        let digits = digest.prefix(8).map { String(format: "%02X", $0) }.joined()
        return "1Z\(digits)"
    }

    /// The tracking page of a parcel shipped without one: on the shop, next to the order's permalink.
    static func defaultTrackingURL(base: String, trackingNumber: String) -> String {
        let path = trackingNumber.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? trackingNumber
        return "\(base)/tracking/\(path)"
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}

/// A line item's status, derived from its quantities.
public enum LineItemStatus {
    /// `total == 0` → removed; `fulfilled == total` → fulfilled; `fulfilled > 0` → partial; else processing.
    public static func derive(_ quantity: Order.Quantity) -> String {
        if quantity.total == 0 { return "removed" }
        if quantity.fulfilled == quantity.total { return "fulfilled" }
        if quantity.fulfilled > 0 { return "partial" }
        return "processing"
    }
}
