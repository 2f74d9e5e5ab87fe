import Foundation

/// A checkout session as the shop keeps it: the answer last given, the input it was computed from, its times, and
/// (while a completion runs asynchronously) the order waiting to be placed.
public struct CheckoutSession: Codable, Sendable, Equatable {
    public var checkout: Checkout
    public var input: CheckoutInput
    public var createdAt: Date
    public var expiresAt: Date
    /// `complete_in_progress`: the instrument paid with, shown once the order is placed.
    public var pendingPayment: Checkout.Payment?
    /// The profile URL of the platform that created it: its order goes to that platform's webhook subscription.
    public var platform: String?
    /// The customer it belongs to (identity linking: the buyer token it was created or updated with): it is priced at
    /// member prices, offers the customer's saved addresses, and answers only that customer's tokens.
    public var customer: String?
}

/// The checkout rules as a value: given the shop file, the stock and a session, each operation computes the next
/// session (and, for a completion, the order to place). No I/O; the API stores, reserves and places.
public struct CheckoutEngine: Sendable {
    public let shop: ShopFile
    /// The shop's base URL (`continue_url`).
    public let baseURL: String
    /// How long a session lives (the spec's default: 6 hours).
    public var lifetime: TimeInterval = 6 * 3600

    public init(shop: ShopFile, baseURL: String) {
        self.shop = shop
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
    }

    /// Units of each variant still for sale.
    public typealias Stock = @Sendable (String) -> Int

    /// What a completion leads to.
    public enum Completion: Sendable, Equatable {
        /// The order to place: the session turns `completed` once it is (`completed(_:order:)`).
        case place(CheckoutSession, OrderSpec)
        /// Accepted, to finish later (`complete_in_progress`): the stock is reserved now, the order placed when
        /// the session is next read.
        case accepted(CheckoutSession)
        /// Not completed: the session to store and answer (payment failed, escalation, something missing).
        case refused(CheckoutSession)
        /// Refused without any change: the session as it is, and the message to answer with it.
        case unchanged(CheckoutSession, Checkout.Note)
    }

    // MARK: Operations

    /// A new session `id` from `input`.
    public func create(id: String, input: CheckoutInput, customer: String? = nil, stock: Stock, now: Date)
        -> CheckoutSession
    {
        var session = CheckoutSession(
            checkout: Checkout(
                id: id,
                status: .incomplete,
                currency: shop.currency,
                lineItems: [],
                totals: [],
                links: shop.links.map { Checkout.Link(type: $0.type, url: $0.url, title: $0.title) }
            ),
            input: input,
            createdAt: now,
            expiresAt: now.addingTimeInterval(lifetime)
        )
        session.checkout.cartID = input.cartID
        session.customer = customer
        session.checkout = evaluate(session, stock: stock, now: now)
        return session
    }

    /// The session with `input` in place of its last one (a full replacement), belonging to `customer` (nil: as
    /// it was); a terminal or in-progress session is refused unchanged.
    public func update(
        _ session: CheckoutSession,
        input: CheckoutInput,
        customer: String? = nil,
        stock: Stock,
        now: Date
    ) -> (CheckoutSession, Checkout.Note?) {
        if let refusal = refusal(session, "update") { return (session, refusal) }
        var next = session
        next.input = input
        next.customer = customer ?? session.customer
        next.checkout = evaluate(next, stock: stock, now: now)
        return (next, nil)
    }

    /// Cancels the session (any status but `completed` and `canceled`).
    public func cancel(_ session: CheckoutSession) -> (CheckoutSession, Checkout.Note?) {
        if session.checkout.status.isTerminal, let refusal = refusal(session, "cancel") { return (session, refusal) }
        var next = session
        next.checkout.status = .canceled
        next.checkout.continueURL = nil
        next.checkout.messages = nil
        next.pendingPayment = nil
        return (next, nil)
    }

    /// Completes the session with `payment`: re-checks everything against the stock, then lets the mock handler's
    /// token decide.
    public func complete(_ session: CheckoutSession, payment: CompleteInput, stock: Stock, now: Date) -> Completion {
        if let refusal = refusal(session, "complete") { return .unchanged(session, refusal) }
        var next = session
        next.checkout = evaluate(session, stock: stock, now: now)
        guard next.checkout.status == .readyForComplete else { return .refused(next) }
        // The instrument: the selected one, else the first.
        guard
            let index = payment.instruments.firstIndex(where: { $0.selected == true })
                ?? payment.instruments.indices.first
        else {
            next.checkout.add(.error("missing", "a payment instrument is required", path: "$.payment.instruments"))
            return .refused(next)
        }
        let instrument = payment.instruments[index]
        let path = "$.payment.instruments[\(index)]"
        guard let handler = shop.paymentHandler(id: instrument.handlerID) else {
            let known = shop.paymentHandlers.map(\.id).joined(separator: ", ")
            next.checkout.add(
                .error(
                    "payment_handler_unknown",
                    "handler \(instrument.handlerID) is not one this shop advertises (\(known))",
                    path: "\(path).handler_id"
                )
            )
            return .refused(next)
        }
        guard let token = instrument.token else {
            next.checkout.add(
                .error("missing", "the instrument needs a credential with a token", path: "\(path).credential")
            )
            return .refused(next)
        }
        let shown = Checkout.Payment(instruments: [instrument.shown])
        switch handler.tokens[token] ?? .decline {
        case .decline:
            next.checkout.status = .incomplete
            next.checkout.add(.error("payment_failed", "the payment was declined; try another instrument", path: path))
            return .refused(next)
        case .escalate:
            next.checkout.status = .requiresEscalation
            next.checkout.continueURL = continueURL(session.checkout.id)
            next.checkout.add(
                .error(
                    "payment_authentication_required",
                    "the buyer must authenticate the payment at continue_url",
                    path: path,
                    severity: "requires_buyer_input"
                )
            )
            return .refused(next)
        case .pending:
            next.checkout.status = .completeInProgress
            next.pendingPayment = shown
            return .accepted(next)
        case .success:
            next.checkout.payment = shown
            return .place(next, order(next))
        }
    }

    /// A `complete_in_progress` session whose completion now finishes: its order to place.
    public func finish(_ session: CheckoutSession) -> (CheckoutSession, OrderSpec)? {
        guard session.checkout.status == .completeInProgress else { return nil }
        var next = session
        next.checkout.payment = session.pendingPayment
        next.pendingPayment = nil
        return (next, order(next))
    }

    /// The session once its order is placed: `completed`, immutable, with the order's id and permalink.
    public func completed(_ session: CheckoutSession, order: Order) -> CheckoutSession {
        var next = session
        next.checkout.status = .completed
        next.checkout.order = Checkout.OrderConfirmation(id: order.id, permalinkURL: order.permalinkURL)
        next.checkout.continueURL = nil
        next.checkout.messages = nil
        next.pendingPayment = nil
        return next
    }

    /// Whether the session has expired at `now` (it then reads as not found).
    public func expired(_ session: CheckoutSession, now: Date) -> Bool { now >= session.expiresAt }

    // MARK: The computation

    /// The checkout `session.input` gives now: lines, fulfillment, discounts, tax, totals, messages, status.
    func evaluate(_ session: CheckoutSession, stock: Stock, now: Date) -> Checkout {
        let input = session.input
        let customer = shop.customer(id: session.customer)
        var checkout = session.checkout
        checkout.order = nil
        checkout.payment = nil
        checkout.buyer = Self.buyer(input.buyer, prefilledFrom: customer)
        checkout.expiresAt = Self.timestamp(session.expiresAt)
        var notes: [Checkout.Note] = []

        // Lines, priced from the shop file; demand of a variant over several lines adds up.
        var lines: [Checkout.LineItem] = []
        var physical: [String] = []
        var demand: [String: Int] = [:]
        for (index, line) in input.lines.enumerated() {
            let lineID = "li_\(index + 1)"
            guard let (product, variant) = shop.variant(line.itemID) else {
                notes.append(
                    .error(
                        "item_unavailable",
                        "\(line.itemID) is not sold here",
                        path: "$.line_items[\(index)].item.id"
                    )
                )
                continue
            }
            let price = ShopFile.unitPrice(variant, member: customer != nil)
            let amount = price * line.quantity
            lines.append(
                Checkout.LineItem(
                    id: lineID,
                    item: .init(
                        id: variant.id,
                        title: variant.title,
                        price: price,
                        imageURL: product.images.first
                    ),
                    quantity: line.quantity,
                    totals: [.init(type: "subtotal", amount: amount), .init(type: "total", amount: amount)]
                )
            )
            if !variant.digital { physical.append(lineID) }
            demand[variant.id, default: 0] += line.quantity
            if line.unitMismatch {
                notes.append(
                    .error(
                        "quantity_unit_mismatch",
                        "\(variant.id) is sold by the unit (C62, scale 0)",
                        path: "$.line_items[\(index)].item.quantity_unit"
                    )
                )
            }
            let available = max(0, stock(variant.id))
            if demand[variant.id, default: 0] > available {
                notes.append(
                    .error(
                        "out_of_stock",
                        available == 0
                            ? "\(variant.title) is out of stock"
                            : "only \(available) of \(variant.title) left",
                        path: "$.line_items[\(index)].quantity"
                    )
                )
            }
        }
        checkout.lineItems = lines
        let subtotal = lines.reduce(0) { $0 + $1.item.price * $1.quantity }

        if checkout.buyer?.email?.isEmpty ?? true {
            notes.append(.error("missing", "the buyer's email is required", path: "$.buyer.email"))
        }

        // Discounts (order-level, on the merchandise subtotal).
        let (discounts, discountNotes) = discounts(input.codes ?? [], subtotal: subtotal, now: now)
        notes += discountNotes
        let discount = discounts.applied.reduce(0) { $0 + $1.amount }
        checkout.discounts = input.codes == nil && discounts.applied.isEmpty ? nil : discounts

        // Fulfillment.
        let fulfillment = fulfillment(input.method, lineIDs: physical, subtotal: subtotal, customer: customer)
        checkout.fulfillment = fulfillment.value
        notes += fulfillment.notes

        // Totals.
        var totals: [Checkout.Total] = [.init(type: "subtotal", amount: subtotal)]
        if discount > 0 { totals.append(.init(type: "discount", amount: -discount)) }
        if let fee = fulfillment.fee { totals.append(.init(type: "fulfillment", amount: fee)) }
        var tax = 0
        if let rule = shop.tax, !lines.isEmpty,
            let country = fulfillment.country ?? (physical.isEmpty ? shop.fulfillment.countries.first : nil),
            rule.countries.isEmpty || rule.countries.contains(country)
        {
            let taxable = subtotal - discount + (rule.shippingTaxable ? fulfillment.fee ?? 0 : 0)
            tax = Self.basisPoints(max(0, taxable), rule.rateBasisPoints)
            totals.append(.init(type: "tax", amount: tax, displayText: rule.title))
        }
        totals.append(.init(type: "total", amount: subtotal - discount + (fulfillment.fee ?? 0) + tax))
        checkout.totals = totals

        if lines.isEmpty {
            notes.append(.error("missing", "the checkout has no item the shop sells", path: "$.line_items"))
        }
        checkout.messages = notes.isEmpty ? nil : notes
        checkout.status = notes.contains { $0.type == "error" } ? .incomplete : .readyForComplete
        checkout.continueURL = continueURL(checkout.id)
        return checkout
    }

    /// The codes' outcome: what applies (with its amount), and a warning for each code refused.
    func discounts(_ codes: [String], subtotal: Int, now: Date) -> (Checkout.Discounts, [Checkout.Note]) {
        var applied: [Checkout.AppliedDiscount] = []
        var appliedRules: [ShopFile.Discount] = []
        var notes: [Checkout.Note] = []
        var remaining = subtotal
        for (index, code) in codes.enumerated() {
            let path = "$.discounts.codes[\(index)]"
            guard let rule = shop.discount(code: code) else {
                notes.append(.warning("discount_code_invalid", "\(code) is not a valid code", path: path))
                continue
            }
            if appliedRules.contains(where: { $0.code == rule.code }) {
                notes.append(.warning("discount_code_already_applied", "\(code) is already applied", path: path))
                continue
            }
            if let expiry = rule.expiresAt, now >= expiry {
                notes.append(.warning("discount_code_expired", "\(code) has expired", path: path))
                continue
            }
            if let minimum = rule.minimumSubtotal, subtotal < minimum {
                notes.append(
                    .warning(
                        "discount_code_user_ineligible",
                        "\(code) needs a subtotal of at least \(Self.money(minimum, shop.currency))",
                        path: path
                    )
                )
                continue
            }
            if !appliedRules.isEmpty && (!rule.stackable || appliedRules.contains { !$0.stackable }) {
                notes.append(
                    .warning(
                        "discount_code_combination_disallowed",
                        "\(code) cannot be combined with \(appliedRules.map(\.code).joined(separator: ", "))",
                        path: path
                    )
                )
                continue
            }
            let amount =
                switch rule.kind {
                case .percentage: Self.basisPoints(subtotal, rule.value * 100)
                case .fixedAmount: rule.value
                }
            let taken = min(amount, remaining)
            remaining -= taken
            appliedRules.append(rule)
            if taken > 0 { applied.append(.init(code: rule.code, title: rule.title, amount: taken)) }
        }
        return (Checkout.Discounts(codes: codes, applied: applied), notes)
    }

    struct FulfillmentOutcome {
        var value: Checkout.Fulfillment?
        var notes: [Checkout.Note] = []
        /// The chosen option's cost; nil until one is chosen.
        var fee: Int?
        /// The selected destination's country.
        var country: String?
        /// The chosen option's title and the destination's address (the order's expectation).
        var description: String?
        var address: Checkout.PostalAddress?
    }

    /// The fulfillment of the physical lines `lineIDs` by the platform's `method` (shipping by default); shipping
    /// offers `customer`'s saved addresses too, after the platform's own.
    func fulfillment(
        _ method: CheckoutInput.Method?,
        lineIDs: [String],
        subtotal: Int,
        customer: ShopFile.Customer? = nil
    ) -> FulfillmentOutcome {
        guard !lineIDs.isEmpty else { return FulfillmentOutcome() }
        var available = [Checkout.AvailableMethod(type: "shipping", lineItemIDs: lineIDs)]
        if !shop.fulfillment.pickup.isEmpty {
            available.append(.init(type: "pickup", lineItemIDs: lineIDs))
        }
        let chosen = method ?? CheckoutInput.Method(type: "shipping")
        var outcome = FulfillmentOutcome()
        let path = "$.fulfillment.methods[0]"
        var result = Checkout.Method(id: "method_1", type: chosen.type, lineItemIDs: lineIDs)
        let destinations: [Checkout.Destination]
        let options: [Checkout.Option]
        if chosen.type == "pickup" {
            destinations = shop.fulfillment.pickup.map { location in
                Checkout.Destination(
                    type: "business_location",
                    id: location.id,
                    name: location.name,
                    address: Self.address(location.address)
                )
            }
            options = [
                Checkout.Option(
                    id: "pickup",
                    title: "In-store pickup",
                    description: nil,
                    carrier: nil,
                    totals: [.init(type: "total", amount: 0)]
                )
            ]
            if destinations.isEmpty {
                outcome.notes.append(
                    .error("fulfillment_unavailable", "this shop offers no pickup", path: "\(path).type")
                )
            }
        } else {
            // The platform's addresses, then the customer's saved ones (a platform address with the same id wins).
            let given = chosen.destinations ?? []
            let saved = Self.savedDestinations(customer).filter { saved in !given.contains { $0.id == saved.id } }
            destinations = given + saved
            let free = shop.fulfillment.freeShippingThreshold.map { subtotal >= $0 } ?? false
            options = shop.fulfillment.shipping.map { option in
                Checkout.Option(
                    id: option.id,
                    title: option.title,
                    description: option.description.map { Checkout.Description(plain: $0) },
                    carrier: option.carrier,
                    totals: [.init(type: "total", amount: free ? 0 : option.rate)]
                )
            }
        }
        result.destinations = destinations
        // One destination given by the platform and none selected: it is the one. Saved addresses are offered,
        // never chosen by the shop: the platform selects one by its id.
        let given = chosen.destinations ?? []
        let selected =
            chosen.selectedDestinationID
            ?? (chosen.type == "shipping" && given.count == 1 ? given[0].id : nil)
        result.selectedDestinationID = selected
        var group = Checkout.Group(id: "group_1", lineItemIDs: lineIDs)
        if let selected {
            if let destination = destinations.first(where: { $0.id == selected }) {
                let country = destination.country ?? ""
                if chosen.type == "shipping" && !shop.fulfillment.countries.contains(country) {
                    outcome.notes.append(
                        .error(
                            "address_undeliverable",
                            "the shop does not ship to \(country.isEmpty ? "an address without a country" : country)"
                                + " (it ships to \(shop.fulfillment.countries.joined(separator: ", ")))",
                            path: "\(path).selected_destination_id"
                        )
                    )
                } else {
                    outcome.country = country
                    outcome.address = destination.shippingAddress ?? destination.address
                    group.options = options
                }
            } else {
                outcome.notes.append(
                    .error(
                        "invalid_destination",
                        "no destination \(selected) in this method",
                        path: "\(path).selected_destination_id"
                    )
                )
            }
        } else {
            outcome.notes.append(
                .error(
                    "missing",
                    chosen.type == "pickup" ? "choose a pickup location" : "a shipping address is required",
                    path: "\(path).selected_destination_id"
                )
            )
        }
        if let options = group.options {
            let optionID = chosen.selectedOptionID ?? (options.count == 1 ? options[0].id : nil)
            if let optionID, let option = options.first(where: { $0.id == optionID }) {
                group.selectedOptionID = optionID
                outcome.fee = option.totals.first?.amount ?? 0
                outcome.description = option.title
            } else if let optionID {
                outcome.notes.append(
                    .error(
                        "invalid_option",
                        "no option \(optionID) (one of: \(options.map(\.id).joined(separator: ", ")))",
                        path: "\(path).groups[0].selected_option_id"
                    )
                )
            } else {
                outcome.notes.append(
                    .error("missing", "choose a fulfillment option", path: "\(path).groups[0].selected_option_id")
                )
            }
        }
        result.groups = [group]
        outcome.value = Checkout.Fulfillment(methods: [result], availableMethods: available)
        return outcome
    }

    /// The order a ready session places.
    func order(_ session: CheckoutSession) -> OrderSpec {
        let checkout = session.checkout
        let physical = Set(checkout.fulfillment?.methods.first?.lineItemIDs ?? [])
        let method = checkout.fulfillment?.methods.first
        let outcome = fulfillment(
            session.input.method,
            lineIDs: Array(physical).sorted(),
            subtotal: checkout.total("subtotal") ?? 0,
            customer: shop.customer(id: session.customer)
        )
        let address = outcome.address
        return OrderSpec(
            id: "ord_\(checkout.id)",
            checkoutID: checkout.id,
            currency: checkout.currency,
            lines: checkout.lineItems.map { line in
                OrderSpec.Line(
                    id: line.id,
                    sku: line.item.id,
                    title: line.item.title,
                    price: line.item.price,
                    quantity: line.quantity
                )
            },
            destination: Order.PostalAddress(
                streetAddress: address?.streetAddress,
                addressLocality: address?.addressLocality,
                addressRegion: address?.addressRegion,
                postalCode: address?.postalCode,
                addressCountry: address?.addressCountry
            ),
            shipping: checkout.total("fulfillment") ?? 0,
            discount: -(checkout.total("discount") ?? 0),
            tax: checkout.total("tax") ?? 0,
            methodType: method?.type ?? "digital",
            expectationDescription: outcome.description ?? "Delivered electronically"
        )
    }

    // MARK: Helpers

    /// The message for an operation a session's status refuses; nil when it is allowed.
    func refusal(_ session: CheckoutSession, _ operation: String) -> Checkout.Note? {
        switch session.checkout.status {
        case .completed, .canceled:
            return .error(
                "checkout_\(session.checkout.status.rawValue)",
                "the checkout is \(session.checkout.status.rawValue); \(operation) is not allowed",
                path: "$.status",
                severity: "unrecoverable"
            )
        case .completeInProgress:
            return .error(
                "complete_in_progress",
                "the checkout is being completed; \(operation) is not allowed now, read it again later",
                path: "$.status"
            )
        default:
            return nil
        }
    }

    func continueURL(_ id: String) -> String { "\(baseURL)/checkout-sessions/\(Identifier.pathSegment(id))" }

    /// `amount × basisPoints / 10 000`, rounded half up.
    /// Split so that no product overflows: amounts up to 10¹⁸ (the shop file caps prices at 10⁹, a request at 10⁶
    /// units a line and 1,000 lines) and rates up to 10 000.
    static func basisPoints(_ amount: Int, _ basisPoints: Int) -> Int {
        (amount / 10_000) * basisPoints + ((amount % 10_000) * basisPoints + 5_000) / 10_000
    }

    /// `customer`'s saved addresses as shipping destinations, with ids stable for the shop file
    /// (`addr_<customer id>_<n>`, from 1 in the file's order).
    static func savedDestinations(_ customer: ShopFile.Customer?) -> [Checkout.Destination] {
        guard let customer else { return [] }
        return customer.addresses.enumerated().map { index, saved in
            Checkout.Destination(
                type: "shipping_address",
                id: "addr_\(customer.id)_\(index + 1)",
                shippingAddress: address(saved)
            )
        }
    }

    /// The request's buyer with what it leaves out (email, first and last name) taken from `customer`; a buyer
    /// with another email is someone else, left as given.
    static func buyer(_ given: Checkout.Buyer?, prefilledFrom customer: ShopFile.Customer?) -> Checkout.Buyer? {
        guard let customer else { return given }
        if let email = given?.email, !email.isEmpty, email.caseInsensitiveCompare(customer.email) != .orderedSame {
            return given
        }
        var buyer = given ?? Checkout.Buyer()
        if buyer.email?.isEmpty ?? true { buyer.email = customer.email }
        if buyer.firstName?.isEmpty ?? true { buyer.firstName = customer.firstName }
        if buyer.lastName?.isEmpty ?? true { buyer.lastName = customer.lastName }
        return buyer
    }

    static func address(_ address: ShopFile.Address) -> Checkout.PostalAddress {
        Checkout.PostalAddress(
            streetAddress: address.streetAddress,
            addressLocality: address.locality,
            addressRegion: address.region,
            postalCode: address.postalCode,
            addressCountry: address.country,
            firstName: address.firstName,
            lastName: address.lastName
        )
    }

    static func money(_ amount: Int, _ currency: String) -> String {
        "\(amount / 100).\(String(format: "%02d", amount % 100)) \(currency)"
    }

    /// RFC 3339 in UTC, whole seconds.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

extension Checkout {
    /// Appends a message.
    mutating func add(_ note: Note) {
        messages = (messages ?? []) + [note]
    }
}
