import Foundation
import Hummingbird

/// The checkout capability's REST binding: `POST /checkout-sessions`, `GET/PUT /checkout-sessions/{id}`,
/// `POST /checkout-sessions/{id}/complete`, `POST /checkout-sessions/{id}/cancel`.
///
/// `CheckoutEngine` decides; this type reads the request, keeps the session in the database, reserves stock, places
/// the order in the order book and publishes `order.created` through the one publish path. Every change runs one at
/// a time (stock is shared by all sessions).
public struct CheckoutAPI: Sendable {
    public let services: ShopServices
    private let serializer = KeyedSerializer<String>()

    public init(services: ShopServices) {
        self.services = services
    }

    var engine: CheckoutEngine { CheckoutEngine(shop: services.shop, baseURL: services.baseURL) }
    var store: CheckoutStore { CheckoutStore(database: services.database) }

    /// Registers the routes.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/checkout-sessions") { request, _ in
            try await services.gateway.handle(request, .checkoutCreate) { call in
                try await serializer.run("checkout") { try await create(call) }
            }
        }
        router.get("/checkout-sessions/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await services.gateway.handle(request, .checkoutGet) { call in
                try await serializer.run("checkout") { try await get(id, call) }
            }
        }
        router.put("/checkout-sessions/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await services.gateway.handle(request, .checkoutUpdate) { call in
                try await serializer.run("checkout") { try await update(id, call) }
            }
        }
        router.post("/checkout-sessions/:id/complete") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await services.gateway.handle(request, .checkoutComplete) { call in
                try await serializer.run("checkout") { try await complete(id, call) }
            }
        }
        router.post("/checkout-sessions/:id/cancel") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await services.gateway.handle(request, .checkoutCancel) { call in
                try await serializer.run("checkout") { try await cancel(id, call) }
            }
        }
    }

    // MARK: Operations

    func create(_ call: ShoppingCall) async throws -> ShoppingReply {
        var input: CheckoutInput
        do throws(FieldError) {
            input = try CheckoutInput.decode(json: call.body, update: false)
        } catch {
            throw APIError.invalid(error)
        }
        // A cart's checkout uses the cart's line items and buyer; the request's own are ignored (the spec's rule).
        if let cartID = input.cartID {
            // One active checkout per cart (the spec's rule): an open session made from it is answered as it is.
            if let open = try store.newestSession(cartID: cartID), !open.checkout.status.isTerminal,
                !engine.expired(open, now: services.now())
            {
                guard Self.may(call, use: open) else {
                    return .error(call, code: "not_found", "Cart \(cartID) not found or has expired.")
                }
                return answer(try await finishPending(open).checkout, call)
            }
            guard let cart = try await CartStore(database: services.database).contents(of: cartID),
                !cart.lineItems.isEmpty
            else {
                return .error(call, code: "not_found", "Cart \(cartID) not found or has expired.")
            }
            input.lines = cart.lineItems.map { CheckoutInput.Line(itemID: $0.itemID, quantity: $0.quantity) }
            if let buyer = cart.buyer {
                input.buyer = (try? JSONDecoder().decode(BuyerInput.self, from: Data(buyer)))?.buyer ?? input.buyer
            }
        }
        let stock = try stock()
        var session = engine.create(
            id: try store.nextID(),
            input: input,
            customer: call.buyer?.customerID,
            stock: stock,
            now: services.now()
        )
        session.platform = call.platform?.profileURL
        // Nothing the shop sells: no session to make (the spec's error_response).
        if session.checkout.lineItems.isEmpty {
            let unknown = input.lines.map(\.itemID).joined(separator: ", ")
            return .error(call, code: "item_unavailable", "none of the items is sold here (\(unknown))")
        }
        try store.save(session)
        return answer(session.checkout, call, status: .created)
    }

    func get(_ id: String, _ call: ShoppingCall) async throws -> ShoppingReply {
        guard var session = try store.session(id), Self.may(call, use: session) else { return notFound(id, call) }
        // Expired first: a completion still in progress on an expired session is not placed.
        guard !engine.expired(session, now: services.now()) else { return notFound(id, call) }
        session = try await finishPending(session)
        return answer(session.checkout, call)
    }

    func update(_ id: String, _ call: ShoppingCall) async throws -> ShoppingReply {
        let input: CheckoutInput
        do throws(FieldError) {
            input = try CheckoutInput.decode(json: call.body, update: true)
        } catch {
            throw APIError.invalid(error)
        }
        guard var session = try store.session(id), Self.may(call, use: session) else { return notFound(id, call) }
        // Expired first: a completion still in progress on an expired session is not placed.
        guard !engine.expired(session, now: services.now()) else { return notFound(id, call) }
        session = try await finishPending(session)
        // A guest session updated with a buyer token by the platform that made it becomes that customer's (its new
        // totals are answered now); another platform's token does not take the session over.
        let adopting = call.platform?.profileURL == session.platform ? call.buyer?.customerID : nil
        let (next, refusal) = engine.update(
            session,
            input: input,
            customer: session.customer ?? adopting,
            stock: try stock(),
            now: services.now()
        )
        if let refusal { return answer(session.checkout, call, adding: refusal) }
        try store.save(next)
        return answer(next.checkout, call)
    }

    func complete(_ id: String, _ call: ShoppingCall) async throws -> ShoppingReply {
        let payment: CompleteInput
        do throws(FieldError) {
            payment = try CompleteInput.decode(json: call.body)
        } catch {
            throw APIError.invalid(error)
        }
        guard var session = try store.session(id), Self.may(call, use: session) else { return notFound(id, call) }
        // Expired first: a completion still in progress on an expired session is not placed.
        guard !engine.expired(session, now: services.now()) else { return notFound(id, call) }
        session = try await finishPending(session)
        switch engine.complete(session, payment: payment, stock: try stock(), now: services.now()) {
        case .unchanged(let session, let refusal):
            return answer(session.checkout, call, adding: refusal)
        case .refused(let next):
            try store.save(next)
            return answer(next.checkout, call)
        case .accepted(let next):
            try store.save(next, reserve: next.demand)
            return answer(next.checkout, call)
        case .place(let next, let spec):
            let completed = try await place(spec, for: next)
            try store.save(completed, reserve: completed.demand)
            return answer(completed.checkout, call)
        }
    }

    func cancel(_ id: String, _ call: ShoppingCall) async throws -> ShoppingReply {
        guard let session = try store.session(id), Self.may(call, use: session) else { return notFound(id, call) }
        guard !engine.expired(session, now: services.now()) else { return notFound(id, call) }
        let (next, refusal) = engine.cancel(session)
        if let refusal { return answer(session.checkout, call, adding: refusal) }
        // A completion still in progress gives its reserved stock back.
        let release =
            session.checkout.status == .completeInProgress ? session.demand.mapValues { -$0 } : [:]
        try store.save(next, reserve: release)
        return answer(next.checkout, call)
    }

    // MARK: Steps

    /// A `complete_in_progress` session finishes when it is next read: its order is placed (its stock was reserved
    /// when the completion was accepted).
    func finishPending(_ session: CheckoutSession) async throws -> CheckoutSession {
        guard let (next, spec) = engine.finish(session) else { return session }
        let completed = try await place(spec, for: next)
        try store.save(completed)
        return completed
    }

    /// Places the order and publishes its `order.created` exactly as `POST /testing/orders` does; the session
    /// completed with it. When the webhook cannot be made durable the placement is undone and the call answers 503.
    func place(_ spec: OrderSpec, for session: CheckoutSession) async throws -> CheckoutSession {
        let webhooks = services.webhooks
        let book = services.book
        return try await webhooks.serialized(order: spec.id) {
            // The platform that checked out gets the order on its own webhook subscription, and the customer the
            // session belongs to may read and manage it (both recorded first: a placed order is always attributed).
            try await services.platformOrders.record(orderID: spec.id, platform: session.platform)
            if let customer = session.customer {
                try await services.customerOrders.record(orderID: spec.id, customerID: customer)
            }
            let placed: Order
            do throws(TransitionError) {
                placed = try await book.place(spec)
            } catch {
                // Placed and published by an earlier attempt whose session could not be saved: that order
                // completes the session now, and its order.created is not sent twice.
                if error.reason == OrderBook.existsReason, let existing = await book.order(spec.id) {
                    return engine.completed(session, order: existing)
                }
                throw APIError(.internalServerError, code: "order_refused", error.description)
            }
            let events = OrderChange.events(
                before: nil,
                after: placed,
                transition: nil,
                occurredAt: Int64(services.now().timeIntervalSince1970)
            )
            do throws(UCPSimError) {
                try await webhooks.publish([events])
            } catch {
                await book.withdraw(placed, restoring: nil)
                var answer = APIError(
                    .serviceUnavailable,
                    code: "outbox_unavailable",
                    "the order's webhook could not be made durable, so the checkout was not completed: \(error.message)"
                )
                answer.headers[.retryAfter] = "1"
                throw answer
            }
            return engine.completed(session, order: placed)
        }
    }

    /// Units for sale now: the shop file's inventory less what completed checkouts reserved.
    func stock() throws -> CheckoutEngine.Stock {
        let reserved = try store.reservations()
        let shop = services.shop
        return { id in (shop.variant(id)?.variant.inventory ?? 0) - (reserved[id] ?? 0) }
    }

    func answer(
        _ checkout: Checkout,
        _ call: ShoppingCall,
        adding note: Checkout.Note? = nil,
        status: HTTPResponse.Status = .ok
    ) -> ShoppingReply {
        var shown = checkout
        if let note { shown.add(note) }
        let reply = ShoppingReply.json(CheckoutAnswer(shown, call: call), status: status)
        guard call.version == .v2026_04_08 else { return reply }
        return ShoppingReply(status: status, body: Self.release20260408(reply.body))
    }

    /// The 2026-04-08 shape of a checkout answer: a fulfillment destination has no `type` (it was `oneOf` shipping
    /// destination | retail location), and an option's `description` is a string.
    static func release20260408(_ bytes: [UInt8]) -> [UInt8] {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any],
            var fulfillment = object["fulfillment"] as? [String: Any],
            var methods = fulfillment["methods"] as? [[String: Any]]
        else { return bytes }
        for index in methods.indices {
            if let destinations = methods[index]["destinations"] as? [[String: Any]] {
                methods[index]["destinations"] = destinations.map { $0.filter { $0.key != "type" } }
            }
            if var groups = methods[index]["groups"] as? [[String: Any]] {
                for group in groups.indices {
                    guard let options = groups[group]["options"] as? [[String: Any]] else { continue }
                    groups[group]["options"] = options.map { option in
                        var option = option
                        option["description"] = (option["description"] as? [String: Any])?["plain"]
                        return option
                    }
                }
                methods[index]["groups"] = groups
            }
        }
        fulfillment["methods"] = methods
        object["fulfillment"] = fulfillment
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return data.map { [UInt8]($0) } ?? bytes
    }

    /// Whether `call` may see `session`: a customer's session answers only that customer's buyer tokens (its
    /// saved addresses and email are the customer's), a guest session anyone with its id.
    static func may(_ call: ShoppingCall, use session: CheckoutSession) -> Bool {
        guard let owner = session.customer else { return true }
        return call.buyer?.customerID == owner
    }

    func notFound(_ id: String, _ call: ShoppingCall) -> ShoppingReply {
        .error(call, code: "not_found", "no checkout session \(id) (unknown or expired)")
    }
}
