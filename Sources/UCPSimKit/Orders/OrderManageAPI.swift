import Foundation
import Hummingbird

/// `dev.ucp.shopping.order:manage`: ucpsim's `POST /orders/{id}/cancel`, a signed-in buyer cancelling their own
/// order.
///
/// The 2026-08-25 REST binding defines no order mutation (only `GET /orders/{id}`), so this route is ucpsim's
/// extension. The gateway's guard answers 401/403 for a request without a buyer token with the scope
/// (`ShoppingOperation.requiredScopes(for:requireIdentity:)`); this type checks ownership like `GET /orders/{id}`,
/// applies the order book's `cancel` transition and publishes its events through the one publish path, exactly as
/// the control API does, and answers the order's new snapshot.
public struct OrderManageAPI: Sendable {
    public let services: ShopServices

    public init(services: ShopServices) {
        self.services = services
    }

    /// Registers the route.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/orders/:id/cancel") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await services.gateway.handle(request, .orderCancel) { call in try await cancel(id, call) }
        }
    }

    /// Cancels every unit of order `id` for `call`'s buyer: an order nothing of which has shipped (and not canceled
    /// already); otherwise an `order_not_cancelable` error body.
    func cancel(_ id: String, _ call: ShoppingCall) async throws -> ShoppingReply {
        guard let buyer = call.buyer else {
            // The guard answers first when the shop links identities; this is what is left without it.
            if services.gateway.identity != nil {
                throw APIError(
                    .unauthorized,
                    code: "identity_required",
                    "cancelling an order needs a buyer token with \(IdentityScope.orderManage)"
                )
            }
            return .error(
                call,
                code: "unauthorized",
                "cancelling an order needs a signed-in buyer, and this shop offers no identity linking"
            )
        }
        guard buyer.scopes.contains(IdentityScope.orderManage) else {
            throw APIError(
                .forbidden,
                code: "insufficient_scope",
                "cancelling an order needs the scope \(IdentityScope.orderManage)"
            )
        }
        let webhooks = services.webhooks
        let book = services.book
        let notFound = ShoppingReply.error(call, code: "not_found", "Order not found.")
        // The check and the change are one step for the order: a shipment cannot slip in between.
        return try await webhooks.serialized(order: id) {
            // Another customer's order is not found: its existence is not revealed.
            guard let order = await book.order(id), try await owns(buyer, order) else { return notFound }
            if let reason = Self.notCancelable(order) {
                return .error(call, code: "order_not_cancelable", "order \(id) cannot be canceled: \(reason)")
            }
            return try await apply(id, call)
        }
    }

    /// Applies `cancel` and publishes its events (run inside `serialized(order:)`); when the events cannot be made
    /// durable the change is taken back and the call answers 503 `outbox_unavailable`.
    private func apply(_ id: String, _ call: ShoppingCall) async throws -> ShoppingReply {
        let transition = OrderTransition.cancel(lines: nil)
        let changed: (order: Order, previous: OrderStateMachine)?
        do throws(TransitionError) {
            changed = try await services.book.change(id, by: transition)
        } catch {
            return .error(call, code: "order_not_cancelable", error.description)
        }
        guard let changed else { return .error(call, code: "not_found", "Order not found.") }
        let events = OrderChange.events(
            before: changed.previous.order,
            after: changed.order,
            transition: transition,
            occurredAt: Int64(services.now().timeIntervalSince1970)
        )
        do throws(UCPSimError) {
            try await services.webhooks.publish([events])
        } catch {
            await services.book.withdraw(changed.order, restoring: changed.previous)
            throw APIError(
                .serviceUnavailable,
                code: "outbox_unavailable",
                "the cancellation's webhook could not be made durable, so the order was not canceled: \(error.message)"
            )
        }
        // What `GET /orders/{id}` serves from now on.
        let body = await services.webhooks.orders.get(id) ?? OrderDocument(changed.order).bytes
        return ShoppingReply(status: .ok, body: body)
    }

    /// Whether `buyer` owns `order`: the customer recorded when a checkout with their token placed it, or, for an
    /// order placed without a token, the customer whose email its checkout's buyer gave.
    func owns(_ buyer: BuyerIdentity, _ order: Order) async throws -> Bool {
        if let customer = try await services.customerOrders.customer(of: order.id) {
            return customer == buyer.customerID
        }
        guard let email = services.shop.customer(id: buyer.customerID)?.email,
            let session = try CheckoutStore(database: services.database).session(order.checkoutID),
            let given = session.checkout.buyer?.email
        else { return false }
        return given.caseInsensitiveCompare(email) == .orderedSame
    }

    /// Why `order` cannot be canceled by its buyer; nil when it can: a buyer cancels a whole order before anything
    /// of it ships (a partly shipped order's rest is the shop's to cancel, through the control API).
    static func notCancelable(_ order: Order) -> String? {
        if order.lineItems.allSatisfy({ $0.quantity.total == 0 }) { return "it is already canceled" }
        if order.lineItems.contains(where: { $0.quantity.fulfilled > 0 }) {
            return "some of it has already shipped"
        }
        return nil
    }
}
