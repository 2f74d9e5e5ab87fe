import Foundation
import GRDB
import Testing
@testable import UCPSimKit

/// `dev.ucp.shopping.order:manage`: ucpsim's `POST /orders/{id}/cancel`. The handler on a real shop with a buyer in
/// the call (the order book's cancel transition, published through the one publish path to a real receiver), the
/// route over real HTTP, and the scopes the gateway's guard gates each operation by.
@Suite struct OrderManageTests {
    typealias Handlers = BuyerCheckoutTests.Handlers

    static let mug =
        #"{"line_items":[{"item":{"id":"var_mug_white"},"quantity":2}],"fulfillment":{"methods":[{"type":"shipping","#
        + #""selected_destination_id":"addr_cus_alice_1","groups":[{"selected_option_id":"standard"}]}]}}"#

    /// Places an order through a checkout completed as `customer` (nil: a guest giving `email`); its id.
    static func place(_ api: Handlers, as customer: String?, email: String? = nil) async throws -> String {
        let body =
            customer != nil
            ? mug
            : CheckoutAPITests.body(
                lines: #"[{"item":{"id":"var_mug_white"},"quantity":1}]"#,
                email: email,
                fulfillment: CheckoutAPITests.shipping()
            )
        let created = try BuyerCheckoutTests.object(
            try await api.checkout.create(api.call(.checkoutCreate, body, as: customer))
        )
        let id = try #require(created["id"] as? String)
        let completed = try BuyerCheckoutTests.object(
            try await api.checkout.complete(
                id,
                api.call(.checkoutComplete, CheckoutAPITests.pay("tok_success"), as: customer)
            )
        )
        return try #require((completed["order"] as? [String: Any])?["id"] as? String, "\(completed)")
    }

    static func codes(_ reply: ShoppingReply) throws -> [String] {
        CheckoutAPITests.codes(try BuyerCheckoutTests.object(reply))
    }

    @Test func theOwnerCancelsAnUnshippedOrderAndTheCancellationIsPublishedAndServed() async throws {
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let client = try await CheckoutAPITests.startShop(
            control: ControlOptions(target: try RequestTarget("\(receiverServer.baseURL)/hooks"), secret: "s3cret")
        )
        let api = Handlers(client)
        let orderID = try await Self.place(api, as: "cus_alice")

        let reply = try await api.orders.cancel(orderID, api.call(.orderCancel, as: "cus_alice"))
        #expect(reply.status == .ok)
        let canceled = try JSONDecoder().decode(Order.self, from: Data(reply.body))
        #expect(canceled.id == orderID)
        #expect(canceled.lineItems.map(\.quantity.total) == [0])
        #expect(canceled.adjustments.map(\.type) == ["cancellation"])
        #expect(canceled.adjustments.first?.totals?.first?.amount == -2400)
        // `GET /orders/{id}` serves the same snapshot, and the book holds it.
        #expect(await client.shop.orders.get(orderID) == reply.body)
        #expect(await client.shop.book.order(orderID)?.lineItems.map(\.quantity.total) == [0])

        // Once canceled, it cannot be canceled again.
        let again = try await api.orders.cancel(orderID, api.call(.orderCancel, as: "cus_alice"))
        #expect(try Self.codes(again) == ["order_not_cancelable"])

        // order.created, then the cancellation, arrive at the shop's webhook target (bounded wait).
        for _ in 0..<400 where receiver.received.count < 2 { try await Task.sleep(for: .milliseconds(50)) }
        await client.shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        #expect(receiver.received.count == 2, "\(receiver.received.map(\.logLine))")
        let last = try #require(receiver.received.last)
        guard case .success = last.verdict else {
            Issue.record("the receiver did not verify the cancellation: \(last.verdict)")
            return
        }
        let published = try JSONDecoder().decode(Order.self, from: Data(last.body))
        #expect(published.adjustments.map(\.type) == ["cancellation"])
        try await InteropTests().validate(kind: "order", bytes: last.body)
    }

    @Test func onlyTheOwnerWithTheManageScopeMayCancelAndAShippedOrderIsNotCancelable() async throws {
        let client = try await CheckoutAPITests.startShop()
        let api = Handlers(client)
        let alices = try await Self.place(api, as: "cus_alice")

        // Another customer: not found (the order's existence is not revealed); an unknown order likewise.
        #expect(
            try Self.codes(try await api.orders.cancel(alices, api.call(.orderCancel, as: "cus_bob"))) == [
                "not_found"
            ]
        )
        #expect(
            try Self.codes(try await api.orders.cancel("ord_nope", api.call(.orderCancel, as: "cus_alice"))) == [
                "not_found"
            ]
        )
        // The owner's token without order:manage: 403 insufficient_scope.
        await #expect(throws: APIError.self) {
            _ = try await api.orders.cancel(
                alices,
                api.call(.orderCancel, as: "cus_alice", scopes: [IdentityScope.orderRead])
            )
        }
        // No buyer on a shop without identity linking: the unauthorized error body.
        #expect(try Self.codes(try await api.orders.cancel(alices, api.call(.orderCancel))) == ["unauthorized"])
        #expect(await client.shop.book.order(alices)?.lineItems.map(\.quantity.total) == [2])

        // Shipped: not cancelable by the buyer.
        _ = try await client.shop.book.apply(
            .ship(lines: nil, carrier: "UPS", trackingNumber: nil, trackingURL: nil),
            to: alices
        )
        let shipped = try await api.orders.cancel(alices, api.call(.orderCancel, as: "cus_alice"))
        #expect(try Self.codes(shipped) == ["order_not_cancelable"])

        // A guest order given the customer's email is the customer's too (like GET /orders/{id}); Bob's is not.
        let guest = try await Self.place(api, as: nil, email: "Alice@Example.com")
        #expect(
            try Self.codes(try await api.orders.cancel(guest, api.call(.orderCancel, as: "cus_bob"))) == [
                "not_found"
            ]
        )
        let byEmail = try await api.orders.cancel(guest, api.call(.orderCancel, as: "cus_alice"))
        #expect(try JSONDecoder().decode(Order.self, from: Data(byEmail.body)).lineItems.map(\.quantity.total) == [0])
        await client.shop.stop()
    }

    @Test func theCancelRouteAnswersAnAnonymousRequestWithTheUnauthorizedErrorBody() async throws {
        let client = try await CheckoutAPITests.startShop()
        let (status, answer) = try await client.send("POST", "/orders/ord_chk_00001/cancel")
        await client.shop.stop()
        #expect(status == 200)
        #expect(CheckoutAPITests.codes(answer) == ["unauthorized"])
        let ucp = try #require(answer["ucp"] as? [String: Any])
        #expect(ucp["status"] as? String == "error")
        #expect((ucp["capabilities"] as? [String: Any])?["dev.ucp.shopping.order"] != nil)
    }

    @Test func eachOperationNeedsItsScopes() {
        #expect(ShoppingOperation.requiredScopes(for: .orderGet, requireIdentity: false) == [IdentityScope.orderRead])
        #expect(
            ShoppingOperation.requiredScopes(for: .orderCancel, requireIdentity: false) == [
                IdentityScope.orderRead, IdentityScope.orderManage,
            ]
        )
        #expect(ShoppingOperation.orderCancel.capability == .order && ShoppingOperation.orderCancel.changesState)
        for operation in [ShoppingOperation.checkoutCreate, .checkoutGet, .checkoutUpdate, .checkoutComplete] {
            #expect(ShoppingOperation.requiredScopes(for: operation, requireIdentity: false) == [])
            #expect(
                ShoppingOperation.requiredScopes(for: operation, requireIdentity: true) == [
                    IdentityScope.checkoutManage
                ]
            )
        }
        for operation in [ShoppingOperation.catalogSearch, .cartCreate, .cartGet] {
            #expect(ShoppingOperation.requiredScopes(for: operation, requireIdentity: true) == [])
        }
    }
}
