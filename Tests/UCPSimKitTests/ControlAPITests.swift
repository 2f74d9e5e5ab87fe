import Foundation
import Testing
@testable import UCPSimKit

/// The control API over real HTTP: each accepted call answers with the snapshot and its webhook arrives verified.
@Suite struct ControlAPITests {
    func post(_ shop: Shop, _ path: String, _ body: String = "", secret: String? = "s3cret") async throws
        -> ReceivedResponse
    {
        try await send(shop, "POST", path, Array(body.utf8), secret: secret)
    }

    func send(_ shop: Shop, _ method: String, _ path: String, _ body: [UInt8] = [], secret: String? = "s3cret")
        async throws -> ReceivedResponse
    {
        var headers = HTTPFieldList([("Content-Type", "application/json")])
        if let secret { headers.append("Simulation-Secret", secret) }
        return try await shop.client.send(
            OutgoingRequest(method: method, url: "\(shop.server.baseURL)\(path)", headers: headers, body: body)
        )
    }

    /// A shop with the control API and no webhook URL (snapshots only).
    func startShop() async throws -> Shop {
        try await Shop.start(
            keys: try KeyRing.ephemeral(),
            control: ControlOptions(target: nil, secret: "s3cret"),
            logger: TestSupport.quietLogger
        )
    }

    /// The error body: exactly `code` and `content`, and `path` when a field is at fault.
    struct ErrorBody: Decodable, Equatable {
        let code: String
        let content: String
        let path: String?

        init(code: String, content: String, path: String? = nil) {
            self.code = code
            self.content = content
            self.path = path
        }

        init(_ response: ReceivedResponse) throws {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
            #expect(Set(object.keys).isSubset(of: ["code", "content", "path"]), "\(object)")
            #expect(response.headers["content-type"] == "application/json")
            self = try JSONDecoder().decode(ErrorBody.self, from: Data(response.body))
        }
    }

    @Test func everyErrorHasOneJSONShapeHummingbirdsOwnIncluded() async throws {
        let shop = try await startShop()
        let placed = try await post(shop, "/testing/orders", #"{"id":"ord_e","items":[{"sku":"mug","price":1500}]}"#)
        let answers: [(ReceivedResponse, Int, ErrorBody)] = [
            (
                try await post(shop, "/nowhere"), 404,
                ErrorBody(code: "not_found", content: "no route POST /nowhere")
            ),
            (
                try await send(shop, "PUT", "/testing/orders"), 405,
                ErrorBody(code: "method_not_allowed", content: "PUT is not allowed on /testing/orders; use POST")
            ),
            (
                try await send(shop, "GET", "/testing/orders/ord_e/ship"), 405,
                ErrorBody(
                    code: "method_not_allowed",
                    content: "GET is not allowed on /testing/orders/ord_e/ship; use POST"
                )
            ),
            (
                try await send(shop, "POST", "/testing/orders", [UInt8](repeating: 0x20, count: 1024 * 1024 + 1)),
                413, ErrorBody(code: "body_too_large", content: "the body is larger than 1048576 bytes")
            ),
            (
                try await post(shop, "/testing/orders/ord_e/ship", "[1,2]"), 400,
                ErrorBody(
                    code: "invalid_request",
                    content: "the body must be an object with the fields lines, carrier, shipment, adjustment, amount, "
                        + "completed, tracking_number, tracking_url"
                )
            ),
            (
                try await post(shop, "/testing/orders/ord_e/ship", "{"), 400,
                ErrorBody(code: "invalid_request", content: "the body is not JSON")
            ),
            (
                try await post(shop, "/testing/orders/ord_e/ship", secret: "nope"), 403,
                ErrorBody(code: "forbidden", content: "missing or wrong Simulation-Secret")
            ),
            (
                try await post(shop, "/testing/orders/ord_x/deliver"), 404,
                ErrorBody(code: "not_found", content: "no order ord_x")
            ),
            (
                try await post(shop, "/testing/orders/ord_e/deliver"), 409,
                ErrorBody(code: "transition_refused", content: "order ord_e: cannot deliver: nothing has shipped yet")
            ),
            (
                try await post(shop, "/testing/orders", #"{"id":"ord_e","items":[{"sku":"mug","price":1}]}"#), 409,
                ErrorBody(
                    code: "order_exists",
                    content: "order ord_e: cannot place: the order already exists",
                    path: "$.id"
                )
            ),
            (
                try await post(shop, "/testing/orders", #"{"currency":"DOLLARS","items":[{"sku":"m","price":1}]}"#),
                400,
                ErrorBody(
                    code: "invalid_request",
                    content: #"currency must be an active ISO 4217 code such as USD or EUR, got "DOLLARS""#,
                    path: "$.currency"
                )
            ),
        ]
        let unknownTransition = try await post(shop, "/testing/orders/ord_e/teleport")
        let allowed = try await send(shop, "DELETE", "/testing/simulate-shipping/ord_e")
        await shop.stop()

        #expect(placed.status == 201)
        for (response, status, expected) in answers {
            #expect(response.status == status, "\(expected)")
            let body = try ErrorBody(response)
            #expect(body == expected, "\(body)")
        }
        #expect(unknownTransition.status == 404)
        #expect(try ErrorBody(unknownTransition).content.hasPrefix("no transition teleport (one of: process, ship,"))
        #expect(allowed.headers["allow"] == "POST")
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
        let fetched = try await send(shop, "GET", "/testing/orders/ord_c")
        await shop.stop()  // drains queued deliveries
        await receiverServer.stop()
        await receiverClient.shutdown()

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

    struct BadBody: Sendable, CustomTestStringConvertible {
        let path: String
        let body: String
        let content: String
        let field: String?
        var testDescription: String { content }
    }

    static let item = #"{"sku":"mug","price":1500}"#

    /// The order and transition fields are read strictly by the types scenarios use too: every wrong field is a 400
    /// that names it, nothing is quietly replaced by a default.
    @Test(arguments: [
        // Totals that would overflow (and trap, ending serve) are refused at the boundary.
        BadBody(
            path: "/testing/orders",
            body: #"{"items":[{"sku":"a","price":9223372036854775807,"quantity":2}]}"#,
            content: "items[0].price must be an integer from 0 to 1000000000000 (minor units), got 9223372036854775807",
            field: "$.items[0].price"
        ),
        BadBody(
            path: "/testing/orders",
            body: #"{"items":[{"sku":"a","price":1000000000000,"quantity":1000000}]}"#,
            content: "items[0].quantity times price must be at most 1000000000000000 minor units per line",
            field: "$.items[0].quantity"
        ),
        BadBody(
            path: "/testing/orders/ord_s/credit",
            body: #"{"amount":-9223372036854775808}"#,
            content:
                "amount must be an integer (minor units) from -1000000000000000 to 1000000000000000, got -9223372036854775808",
            field: "$.amount"
        ),
        BadBody(
            path: "/testing/orders",
            body: #"{"items":[{"sku":"mug","price":1500,"quantity":"2"}]}"#,
            content: "items[0].quantity must be an integer from 1 to 1000000",
            field: "$.items[0].quantity"
        ),
        BadBody(
            path: "/testing/orders",
            body: #"{"items":[{"sku":"mug","price":1500,"quantity":0}]}"#,
            content: "items[0].quantity must be an integer from 1 to 1000000, got 0",
            field: "$.items[0].quantity"
        ),
        BadBody(
            path: "/testing/orders",
            body: #"{"items":[{"sku":"mug","price":1500,"quantity":1.5}]}"#,
            content: "items[0].quantity must be an integer from 1 to 1000000",
            field: "$.items[0].quantity"
        ),
        BadBody(
            path: "/testing/orders",
            body: #"{"items":[{"sku":"mug","price":true}]}"#,
            content: "items[0].price must be an integer from 0 to 1000000000000 (minor units)",
            field: "$.items[0].price"
        ),
        BadBody(
            path: "/testing/orders",
            body: #"{"items":[{"sku":"mug","price":1500,"colour":"red"}]}"#,
            content: "items[0].colour is not a known field (known: id, sku, title, price, quantity)",
            field: "$.items[0].colour"
        ),
        BadBody(
            path: "/testing/orders",
            body: #"{"item":[{"sku":"mug","price":1500}]}"#,
            content: "item is not a known field (known: id, label, currency, shipping, count, items, destination)",
            field: "$.item"
        ),
        BadBody(
            path: "/testing/orders",
            body: #"{"items":[]}"#,
            content: "items must be a non-empty list of {sku, price, quantity, title, id}",
            field: "$.items"
        ),
        BadBody(
            path: "/testing/orders",
            body: #"{"currency":"usd","items":[\#(ControlAPITests.item)]}"#,
            content: #"currency must be an active ISO 4217 code such as USD or EUR, got "usd""#,
            field: "$.currency"
        ),
        BadBody(
            path: "/testing/orders",
            body: #"{"currency":"XAU","items":[\#(ControlAPITests.item)]}"#,
            content: "currency XAU has no minor unit in ISO 4217, and amounts are minor units",
            field: "$.currency"
        ),
        BadBody(
            path: "/testing/orders",
            body: #"{"shipping":-1,"items":[\#(ControlAPITests.item)]}"#,
            content: "shipping must be an integer from 0 to 1000000000000 (minor units), got -1",
            field: "$.shipping"
        ),
        BadBody(
            path: "/testing/orders",
            body: #"{"count":2,"items":[\#(ControlAPITests.item)]}"#,
            content: "count is only for scenario files",
            field: "$.count"
        ),
        BadBody(
            path: "/testing/orders",
            body: #"{"destination":{"country":"US"},"items":[\#(ControlAPITests.item)]}"#,
            content:
                "destination.country is not a known field (known: street_address, address_locality, address_region, postal_code, address_country)",
            field: "$.destination.country"
        ),
        BadBody(
            path: "/testing/orders",
            body: "",
            content: "the body is empty; an order needs at least `items`",
            field: nil
        ),
        BadBody(
            path: "/testing/orders/ord_s/ship",
            body: #"{"lines":[{"id":"li_1","quantity":0}]}"#,
            content: "lines[0].quantity must be an integer from 1 to 1000000, got 0",
            field: "$.lines[0].quantity"
        ),
        BadBody(
            path: "/testing/orders/ord_s/deliver",
            body: #"{"carrier":"DHL"}"#,
            content: "carrier is not a parameter of deliver (deliver takes shipment)",
            field: "$.carrier"
        ),
        BadBody(
            path: "/testing/orders/ord_s/refund",
            body: #"{"amount":"5"}"#,
            content: "amount must be an integer (minor units) from -1000000000000000 to 1000000000000000",
            field: "$.amount"
        ),
        BadBody(
            path: "/testing/orders/ord_s/credit",
            body: "{}",
            content: "amount is required for credit and must be an integer",
            field: "$.amount"
        ),
    ])
    func badFieldsAreRefusedByName(_ bad: BadBody) async throws {
        let shop = try await startShop()
        let placed = try await post(shop, "/testing/orders", #"{"id":"ord_s","items":[\#(Self.item)]}"#)
        let response = try await post(shop, bad.path, bad.body)
        await shop.stop()

        #expect(placed.status == 201)
        #expect(response.status == 400)
        #expect(try ErrorBody(response) == ErrorBody(code: "invalid_request", content: bad.content, path: bad.field))
    }

    /// JSON 1 and 0 are integers (Foundation's JSONSerialization reads them as booleans on Linux); 0 is then a
    /// refusal of the state machine, not a type error.
    @Test func amountsOfOneAndZeroAreIntegers() async throws {
        let shop = try await startShop()
        let placed = try await post(
            shop,
            "/testing/orders",
            #"{"id":"ord_a","currency":"JPY","items":[{"sku":"tea","price":1200,"quantity":2}]}"#
        )
        let credit = try await post(shop, "/testing/orders/ord_a/credit", #"{"amount":1}"#)
        let refund = try await post(shop, "/testing/orders/ord_a/refund", #"{"amount":1,"completed":false}"#)
        let adjustment = try await post(shop, "/testing/orders/ord_a/price_adjustment", #"{"amount":1}"#)
        let zero = try await post(shop, "/testing/orders/ord_a/credit", #"{"amount":0}"#)
        await shop.stop()

        #expect(placed.status == 201)
        #expect(credit.status == 200, "\(credit.bodyExcerpt())")
        #expect(refund.status == 200, "\(refund.bodyExcerpt())")
        #expect(adjustment.status == 200, "\(adjustment.bodyExcerpt())")
        let order = try JSONDecoder().decode(Order.self, from: Data(adjustment.body))
        #expect(order.currency == "JPY")
        #expect(order.adjustments.map(\.type) == ["credit", "refund", "price_adjustment"])
        #expect(zero.status == 409)
        #expect(
            try ErrorBody(zero)
                == ErrorBody(
                    code: "transition_refused",
                    content: "order ord_a: cannot credit: the amount must be positive"
                )
        )
    }
}
