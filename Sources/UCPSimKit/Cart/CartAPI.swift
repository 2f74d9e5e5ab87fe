import Hummingbird

/// The cart capability's REST binding: `POST /carts`, `GET/PUT /carts/{id}`, `POST /carts/{id}/cancel`.
///
/// Create answers HTTP 201; a missing or canceled cart is HTTP 200 with the spec's `error_response` (`not_found`);
/// a create where no requested item can be bought is an `error_response` too (`out_of_stock`, or
/// `item_unavailable` when the shop sells none of them), and makes no cart.
public struct CartAPI: Sendable {
    public let services: ShopServices

    public init(services: ShopServices) {
        self.services = services
    }

    /// The spec's words for a missing cart (cart/rest.md, Get Cart "Not Found").
    static let notFound = "Cart not found or has expired"

    /// Registers the routes.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        let services = self.services
        let store = CartStore(database: services.database)
        // Priced against what is for sale now: the inventory less what completed checkouts reserved.
        let checkouts = CheckoutStore(database: services.database)
        let prices: @Sendable () throws -> CartPricing = {
            CartPricing(shop: services.shop, reserved: try checkouts.reservations())
        }
        router.post("/carts") { request, _ in
            try await services.gateway.handle(request, .cartCreate) { call in
                let body = try Self.read(call.body)
                guard !body.lineItems.isEmpty else {
                    throw APIError.invalid(FieldError(path: [.key("line_items")], "must hold at least one line"))
                }
                let (lines, messages) = try prices().accept(body)
                if try prices().nothingAvailable(lines) {
                    return lines.isEmpty
                        ? .error(call, code: "item_unavailable", "None of the requested items is sold by this shop")
                        : .error(call, code: "out_of_stock", "All requested items are currently out of stock")
                }
                let cart = try await Self.storing {
                    try await store.create(lines: lines, buyer: body.buyer, context: body.context)
                }
                return .json(try prices().render(cart, envelope: call.envelope(), messages: messages), status: .created)
            }
        }
        router.get("/carts/{id}") { request, context in
            let id = try context.parameters.require("id")
            return try await services.gateway.handle(request, .cartGet) { call in
                guard let cart = try await Self.storing({ try await store.get(id) }) else {
                    return .error(call, code: "not_found", Self.notFound)
                }
                return .json(try prices().render(cart, envelope: call.envelope()))
            }
        }
        router.put("/carts/{id}") { request, context in
            let id = try context.parameters.require("id")
            return try await services.gateway.handle(request, .cartUpdate) { call in
                let body = try Self.read(call.body)
                let (lines, messages) = try prices().accept(body)
                let replaced = try await Self.storing {
                    try await store.replace(id, lines: lines, buyer: body.buyer, context: body.context)
                }
                guard let cart = replaced else { return .error(call, code: "not_found", Self.notFound) }
                return .json(try prices().render(cart, envelope: call.envelope(), messages: messages))
            }
        }
        router.post("/carts/{id}/cancel") { request, context in
            let id = try context.parameters.require("id")
            return try await services.gateway.handle(request, .cartCancel) { call in
                guard let cart = try await Self.storing({ try await store.cancel(id) }) else {
                    return .error(call, code: "not_found", Self.notFound)
                }
                return .json(try prices().render(cart, envelope: call.envelope()))
            }
        }
    }

    static func read(_ bytes: [UInt8]) throws -> CartRequest {
        let body = try ShoppingBody.decode(CartRequest.self, from: bytes)
        do {
            try body.validate()
        } catch {
            throw APIError.invalid(error)
        }
        return body
    }

    /// Runs a store call; a storage failure is HTTP 503 (the cart cannot be kept, so none is promised).
    static func storing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as UCPSimError {
            throw APIError(.serviceUnavailable, code: "storage_unavailable", error.message)
        }
    }
}
