import Foundation
import Testing
@testable import UCPSimKit

/// The control API over real HTTP: each accepted call answers with the snapshot and its webhook arrives verified.
@Suite struct ControlAPITests {
    func post(_ shop: Shop, _ path: String, _ body: String = "", secret: String? = "s3cret") async throws
        -> ReceivedResponse
    {
        var headers = HTTPFieldList([("Content-Type", "application/json")])
        if let secret { headers.append("Simulation-Secret", secret) }
        return try await shop.client.send(
            OutgoingRequest(
                method: "POST",
                url: "\(shop.server.baseURL)\(path)",
                headers: headers,
                body: Array(body.utf8)
            )
        )
    }

    @Test func createTransitionAndSimulateShippingSendVerifiedWebhooksInOrder() async throws {
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            control: ControlOptions(target: try RequestTarget("\(receiverServer.baseURL)/hooks"), secret: "s3cret"),
            logger: TestSupport.quietLogger
        )
        let created = try await post(
            shop,
            "/testing/orders",
            #"{"id":"ord_c","items":[{"sku":"mug","title":"Mug","price":1500,"quantity":3}]}"#
        )
        let shipped = try await post(
            shop,
            "/testing/orders/ord_c/ship",
            #"{"lines":[{"id":"li_1","quantity":1}],"carrier":"DHL"}"#
        )
        let rejected = try await post(shop, "/testing/orders/ord_c/return", #"{"lines":[{"id":"li_1","quantity":1}]}"#)
        let unknownOrder = try await post(shop, "/testing/orders/ord_x/deliver")
        let unknownTransition = try await post(shop, "/testing/orders/ord_c/teleport")
        let badBody = try await post(shop, "/testing/orders/ord_c/ship", "[1,2]")
        let wrongSecret = try await post(shop, "/testing/simulate-shipping/ord_c", secret: "nope")
        let missingSecret = try await post(shop, "/testing/simulate-shipping/ord_c", secret: nil)
        let simulated = try await post(shop, "/testing/simulate-shipping/ord_c")
        let fetched = try await shop.client.send(
            OutgoingRequest(method: "GET", url: "\(shop.server.baseURL)/orders/ord_c")
        )
        await shop.stop()  // drains queued deliveries
        await receiverServer.stop()
        receiverClient.shutdown()

        #expect(created.status == 201)
        #expect(shipped.status == 200)
        #expect(rejected.status == 409)
        #expect(rejected.bodyExcerpt().contains("order ord_c: cannot return"))
        #expect(unknownOrder.status == 404)
        #expect(unknownTransition.status == 404)
        #expect(badBody.status == 400)
        #expect(wrongSecret.status == 403 && missingSecret.status == 403)
        #expect(simulated.status == 200)
        let final = try JSONDecoder().decode(Order.self, from: Data(simulated.body))
        #expect(final.lineItems[0].quantity.fulfilled == 3 && final.lineItems[0].status == "fulfilled")
        #expect(fetched.body == simulated.body)

        let ids = [created, shipped, simulated].compactMap { $0.headers["ucpsim-webhook-id"] }
        #expect(ids.count == 3)
        #expect(receiver.received.map(\.webhookID) == ids, "three webhooks, in call order")
        #expect(receiver.received.allSatisfy { $0.status == 200 })
        #expect(receiver.received.last?.body == simulated.body, "the webhook carries the snapshot the call answered")
    }
}
