import Foundation
import Testing
@testable import UCPSimKit

/// Checkout sessions over real HTTP on a real in-process shop: create → update → complete places an order whose
/// `order.created` a real receiver verifies, the control API then moves it; the refusals; persistence; determinism.
/// Every answer is validated by the UCP SDK's models (strict) and the official JSON schemas.
@Suite struct CheckoutAPITests {
    static let validator = TestSupport.path("Tests/tools/validate_checkout.py")
    /// A fixed clock: 2026-11-29T04:00:00Z.
    static let start = Date(timeIntervalSince1970: 1_795_924_800)

    /// The shop's answers, kept for the validator.
    final class Recorder: @unchecked Sendable {
        // Appended from the test's own task only.
        var answers: [[UInt8]] = []
    }

    struct Client {
        let shop: Shop
        let recorder: Recorder

        @discardableResult
        func send(_ method: String, _ path: String, _ body: String? = nil) async throws -> (Int, [String: Any]) {
            let response = try await raw(method, path, body)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
            if (200..<300).contains(response.status) { recorder.answers.append(response.body) }
            return (response.status, object)
        }

        func raw(_ method: String, _ path: String, _ body: String? = nil) async throws -> ReceivedResponse {
            try await shop.client.send(
                OutgoingRequest(
                    method: method,
                    url: "\(shop.server.baseURL)\(path)",
                    headers: HTTPFieldList([
                        ("Content-Type", "application/json"),
                        ("UCP-Agent", try await TestPlatform.agent(shop.profile.version)),
                    ]),
                    body: Array((body ?? "").utf8)
                )
            )
        }
    }

    static func startShop(
        control: ControlOptions? = nil,
        stateDirectory: String? = nil,
        shop: ShopFile = .embedded,
        version: UCPVersion = .newest,
        publicURL: String? = nil,
        clock: @escaping @Sendable () -> Date = { CheckoutAPITests.start }
    ) async throws -> Client {
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            publicURL: publicURL,
            version: version,
            delivery: DeliverySetup(stateDirectory: stateDirectory),
            control: control,
            shop: shop,
            clock: clock,
            logger: TestSupport.quietLogger
        )
        return Client(shop: shop, recorder: Recorder())
    }

    /// Validates every recorded answer (SDK strict + jsonschema); exit 3 (schemas absent) tolerated locally only.
    static func validate(_ recorder: Recorder, release: UCPVersion = .newest) async throws {
        let documents = try recorder.answers.map { try JSONSerialization.jsonObject(with: Data($0)) }
        let file = try TestSupport.temporaryJSON(documents, name: "checkouts.json")
        let options = release == .newest ? [] : ["--release", release.rawValue]
        let result = try await TestSupport.run(TestSupport.python, [validator] + options + [file])
        if result.status == 3, ProcessInfo.processInfo.environment["UCPSIM_REQUIRE_SCHEMAS"] != "1" {
            print("WARNING: UCP schemas not found; checkout validation SKIPPED")
            return
        }
        #expect(result.status == 0, "checkout answers failed validation:\n\(result.stdout)\(result.stderr)")
    }

    static let address =
        #"{"street_address":"123 Main St","address_locality":"Springfield","#
        + #""address_region":"IL","postal_code":"62701","address_country":"US"}"#

    static func body(
        lines: String = #"[{"item":{"id":"var_tee_m"},"quantity":1}]"#,
        email: String? = "buyer@example.com",
        fulfillment: String? = nil,
        codes: [String]? = nil
    ) -> String {
        var fields = [#""line_items":\#(lines)"#]
        if let email { fields.append(#""buyer":{"email":"\#(email)"}"#) }
        if let fulfillment { fields.append(#""fulfillment":\#(fulfillment)"#) }
        if let codes {
            fields.append(#""discounts":{"codes":[\#(codes.map { "\"\($0)\"" }.joined(separator: ","))]}"#)
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func shipping(option: String? = "standard", country: String = "US") -> String {
        let group = option.map { #","groups":[{"id":"group_1","selected_option_id":"\#($0)"}]"# } ?? ""
        let destination = address.replacingOccurrences(of: "\"US\"", with: "\"\(country)\"")
        return #"{"methods":[{"type":"shipping","line_item_ids":["li_1"],"destinations":[\#(destination)]\#(group)}]}"#
    }

    static func pay(_ token: String, handler: String = "mock_payment") -> String {
        #"{"payment":{"instruments":[{"id":"pi_1","handler_id":"\#(handler)","type":"card","selected":true,"#
            + #""credential":{"type":"PAYMENT_GATEWAY","token":"\#(token)"}}]}}"#
    }

    static func codes(_ object: [String: Any]) -> [String] {
        (object["messages"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
    }

    static func totals(_ object: [String: Any]) -> [String: Int] {
        var result: [String: Int] = [:]
        for total in object["totals"] as? [[String: Any]] ?? [] {
            if let type = total["type"] as? String, let amount = total["amount"] as? Int { result[type] = amount }
        }
        return result
    }

    @Test func happyPathCompletesPlacesTheOrderAndAVerifiedOrderCreatedArrives() async throws {
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let client = try await Self.startShop(
            control: ControlOptions(target: try RequestTarget("\(receiverServer.baseURL)/hooks"), secret: "s3cret")
        )
        // Create: coffee beans, no email, no address yet.
        let (createdStatus, created) = try await client.send(
            "POST",
            "/checkout-sessions",
            Self.body(lines: #"[{"item":{"id":"var_beans_500g"},"quantity":2}]"#, email: nil)
        )
        #expect(createdStatus == 201)
        let id = try #require(created["id"] as? String)
        #expect(id == "chk_00001")
        #expect(created["status"] as? String == "incomplete")
        #expect(Self.codes(created) == ["missing", "missing"])
        let paths = (created["messages"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(paths == ["$.buyer.email", "$.fulfillment.methods[0].selected_destination_id"])
        #expect(created["expires_at"] as? String == "2026-11-29T10:00:00Z")
        #expect(created["continue_url"] as? String == "\(client.shop.server.baseURL)/checkout-sessions/chk_00001")

        // Update (full replacement): email, address, option, a code.
        let (_, updated) = try await client.send(
            "PUT",
            "/checkout-sessions/\(id)",
            Self.body(
                lines: #"[{"id":"li_1","item":{"id":"var_beans_500g"},"quantity":2}]"#,
                fulfillment: Self.shipping(option: "express"),
                codes: ["save5"]
            )
        )
        #expect(updated["status"] as? String == "ready_for_complete", "\(updated)")
        // 3798 − 500 + 1499 shipping (under the 5000 free-shipping threshold) + tax 8.25 % of 3298 = 272.085 → 272.
        #expect(
            Self.totals(updated) == [
                "subtotal": 3798, "discount": -500, "fulfillment": 1499, "tax": 272, "total": 5069,
            ]
        )
        let applied = try #require((updated["discounts"] as? [String: Any])?["applied"] as? [[String: Any]])
        #expect(applied.first?["code"] as? String == "SAVE5" && applied.first?["amount"] as? Int == 500)

        // Complete.
        let (_, completed) = try await client.send(
            "POST",
            "/checkout-sessions/\(id)/complete",
            Self.pay("tok_success")
        )
        #expect(completed["status"] as? String == "completed", "\(completed)")
        let order = try #require(completed["order"] as? [String: Any])
        #expect(order["id"] as? String == "ord_chk_00001")
        #expect(completed["continue_url"] == nil)
        let text = String(decoding: try JSONSerialization.data(withJSONObject: completed), as: UTF8.self)
        #expect(!text.contains("tok_success") && !text.contains("credential"), "the credential is never echoed")

        // The order moves through the control API like any other.
        let control = ControlAPITests()
        let shipped = try await control.post(client.shop, "/testing/orders/ord_chk_00001/ship", #"{"carrier":"UPS"}"#)
        let delivered = try await control.post(client.shop, "/testing/orders/ord_chk_00001/deliver")
        #expect(shipped.status == 200 && delivered.status == 200, "\(delivered.bodyExcerpt())")
        #expect(shipped.headers["ucpsim-deliveries"] == "1" && delivered.headers["ucpsim-deliveries"] == "1")

        // The three webhooks are queued; wait for them to arrive (bounded) before stopping.
        for _ in 0..<400 where receiver.received.count < 3 { try await Task.sleep(for: .milliseconds(50)) }
        await client.shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()

        let first = try #require(receiver.received.first)
        #expect(first.status == 200)
        guard case .success = first.verdict else {
            Issue.record("the receiver did not verify order.created: \(first.verdict)")
            return
        }
        #expect(receiver.received.count == 3, "\(receiver.received.map(\.logLine))")
        let placed = try JSONDecoder().decode(Order.self, from: Data(first.body))
        #expect(placed.id == "ord_chk_00001" && placed.checkoutID == "chk_00001")
        #expect(placed.totals.map(\.type) == ["subtotal", "discount", "fulfillment", "tax", "total"])
        #expect(placed.totals.last?.amount == 5069)
        #expect(placed.lineItems.map(\.item.id) == ["var_beans_500g"] && placed.lineItems[0].quantity.total == 2)
        #expect(placed.fulfillment.expectations.first?.description == "Express Shipping")
        #expect(placed.fulfillment.expectations.first?.destination.addressLocality == "Springfield")
        try await InteropTests().validate(kind: "order", bytes: first.body)
        try await Self.validate(client.recorder)
    }

    @Test func refusalsAnswerTheSessionWithAMessageAndNeverChangeIt() async throws {
        let client = try await Self.startShop()
        let ready = Self.body(fulfillment: Self.shipping())
        func session() async throws -> String {
            let (_, created) = try await client.send("POST", "/checkout-sessions", ready)
            return try #require(created["id"] as? String)
        }
        // Declined token: incomplete + payment_failed.
        let declined = try await session()
        let (_, decline) = try await client.send(
            "POST",
            "/checkout-sessions/\(declined)/complete",
            Self.pay("tok_decline")
        )
        #expect(decline["status"] as? String == "incomplete" && Self.codes(decline) == ["payment_failed"])
        // Handler not advertised.
        let (_, unknownHandler) = try await client.send(
            "POST",
            "/checkout-sessions/\(declined)/complete",
            Self.pay("tok_success", handler: "stripe")
        )
        #expect(Self.codes(unknownHandler) == ["payment_handler_unknown"])
        // Escalation.
        let escalated = try await session()
        let (_, escalation) = try await client.send(
            "POST",
            "/checkout-sessions/\(escalated)/complete",
            Self.pay("tok_3ds")
        )
        #expect(escalation["status"] as? String == "requires_escalation")
        #expect(escalation["continue_url"] is String)
        let severity = (escalation["messages"] as? [[String: Any]])?.first?["severity"] as? String
        #expect(severity == "requires_buyer_input")
        // Second complete.
        let (_, done) = try await client.send(
            "POST",
            "/checkout-sessions/\(declined)/complete",
            Self.pay("tok_success")
        )
        #expect(done["status"] as? String == "completed")
        let (_, again) = try await client.send(
            "POST",
            "/checkout-sessions/\(declined)/complete",
            Self.pay("tok_success")
        )
        #expect(again["status"] as? String == "completed" && Self.codes(again) == ["checkout_completed"])
        let (_, fetched) = try await client.send("GET", "/checkout-sessions/\(declined)")
        #expect(Self.codes(fetched).isEmpty && fetched["order"] != nil)
        // Update after cancel.
        let canceled = try await session()
        let (_, cancel) = try await client.send("POST", "/checkout-sessions/\(canceled)/cancel")
        #expect(cancel["status"] as? String == "canceled")
        let (_, afterCancel) = try await client.send("PUT", "/checkout-sessions/\(canceled)", Self.body())
        #expect(afterCancel["status"] as? String == "canceled" && Self.codes(afterCancel) == ["checkout_canceled"])
        // Unknown discount code, expired code.
        let (_, badCode) = try await client.send(
            "POST",
            "/checkout-sessions",
            Self.body(fulfillment: Self.shipping(), codes: ["NOPE", "expired20"])
        )
        #expect(Self.codes(badCode) == ["discount_code_invalid", "discount_code_expired"])
        #expect(badCode["status"] as? String == "ready_for_complete", "a refused code is a warning")
        // Undeliverable country.
        let (_, abroad) = try await client.send(
            "POST",
            "/checkout-sessions",
            Self.body(fulfillment: Self.shipping(country: "FR"))
        )
        #expect(Self.codes(abroad) == ["address_undeliverable"] && abroad["status"] as? String == "incomplete")
        // Unknown session: error_response not_found.
        let (_, missing) = try await client.send("GET", "/checkout-sessions/chk_99999")
        #expect(
            (missing["ucp"] as? [String: Any])?["status"] as? String == "error" && Self.codes(missing) == ["not_found"]
        )
        // Strict requests: 400 invalid_request with the path.
        let omitted = try await client.raw("POST", "/checkout-sessions", #"{"line_items":[],"status":"completed"}"#)
        #expect(omitted.status == 400)
        let error = try #require(try JSONSerialization.jsonObject(with: Data(omitted.body)) as? [String: Any])
        #expect(error["code"] as? String == "invalid_request" && error["path"] as? String == "$.status")
        let unknownField = try await client.raw(
            "POST",
            "/checkout-sessions/\(escalated)/complete",
            #"{"payment":{},"tip":1}"#
        )
        #expect(unknownField.status == 400)
        await client.shop.stop()
        try await Self.validate(client.recorder)
    }

    @Test func completingReservesStockSoALaterCheckoutRunsOutAndSessionsSurviveARestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-\(UUID().uuidString)")
        // var_tee_l has 3 in stock.
        let lines = #"[{"item":{"id":"var_tee_l"},"quantity":2}]"#
        var client = try await Self.startShop(stateDirectory: directory.path)
        let (_, first) = try await client.send(
            "POST",
            "/checkout-sessions",
            Self.body(lines: lines, fulfillment: Self.shipping())
        )
        let (_, second) = try await client.send(
            "POST",
            "/checkout-sessions",
            Self.body(lines: lines, fulfillment: Self.shipping())
        )
        #expect(
            first["status"] as? String == "ready_for_complete" && second["status"] as? String == "ready_for_complete"
        )
        let (_, done) = try await client.send("POST", "/checkout-sessions/chk_00001/complete", Self.pay("tok_success"))
        #expect(done["status"] as? String == "completed")
        await client.shop.stop()

        client = try await Self.startShop(stateDirectory: directory.path)
        let (_, kept) = try await client.send("GET", "/checkout-sessions/chk_00001")
        #expect(kept["status"] as? String == "completed")
        let (_, out) = try await client.send("POST", "/checkout-sessions/chk_00002/complete", Self.pay("tok_success"))
        #expect(out["status"] as? String == "incomplete" && Self.codes(out) == ["out_of_stock"])
        let (_, third) = try await client.send("POST", "/checkout-sessions", Self.body())
        #expect(third["id"] as? String == "chk_00003", "ids continue from the database's counter")
        await client.shop.stop()
        try await Self.validate(client.recorder)
    }

    @Test func asyncCompletionAnswersInProgressAndTheNextReadPlacesTheOrder() async throws {
        var shop = ShopFile.embedded
        shop.paymentHandlers[0].tokens["tok_pending"] = .pending
        let client = try await Self.startShop(shop: shop)
        let (_, created) = try await client.send("POST", "/checkout-sessions", Self.body(fulfillment: Self.shipping()))
        let id = try #require(created["id"] as? String)
        let (_, accepted) = try await client.send("POST", "/checkout-sessions/\(id)/complete", Self.pay("tok_pending"))
        #expect(accepted["status"] as? String == "complete_in_progress" && accepted["order"] == nil)
        let (_, polled) = try await client.send("GET", "/checkout-sessions/\(id)")
        #expect(polled["status"] as? String == "completed" && polled["order"] != nil)
        await client.shop.stop()
        try await Self.validate(client.recorder)
    }

    @Test func release20260408AnswersInItsOwnShapes() async throws {
        let client = try await Self.startShop(version: .v2026_04_08)
        let (_, created) = try await client.send("POST", "/checkout-sessions", Self.body(fulfillment: Self.shipping()))
        // Shipping only: 2026-04-08's destination is `oneOf [shipping_destination, retail_location]`, and a retail
        // location is always a valid shipping destination too (every postal field is optional), so no pickup answer
        // can pass that schema (README § Checkout).
        let (_, updated) = try await client.send(
            "PUT",
            "/checkout-sessions/chk_00001",
            Self.body(fulfillment: Self.shipping(option: "express"))
        )
        let (_, done) = try await client.send("POST", "/checkout-sessions/chk_00001/complete", Self.pay("tok_success"))
        #expect((created["ucp"] as? [String: Any])?["version"] as? String == "2026-04-08")
        #expect(updated["status"] as? String == "ready_for_complete" && done["status"] as? String == "completed")
        let method = ((updated["fulfillment"] as? [String: Any])?["methods"] as? [[String: Any]])?.first
        #expect((method?["destinations"] as? [[String: Any]])?.first?["type"] == nil)
        _ = try await client.send("GET", "/checkout-sessions/chk_00404")
        await client.shop.stop()
        try await Self.validate(client.recorder, release: .v2026_04_08)
    }

    @Test func expiredSessionsReadAsNotFound() async throws {
        let clock = MutableClock(Self.start)
        let client = try await Self.startShop(clock: { clock.now })
        let (_, created) = try await client.send("POST", "/checkout-sessions", Self.body())
        let id = try #require(created["id"] as? String)
        clock.now = Self.start.addingTimeInterval(6 * 3600)
        let (_, expired) = try await client.send("GET", "/checkout-sessions/\(id)")
        #expect(Self.codes(expired) == ["not_found"])
        await client.shop.stop()
    }

    @Test func theSameRequestsOnAFreshShopGiveTheSameBytes() async throws {
        func run() async throws -> [[UInt8]] {
            // One public URL for both runs (continue_url and permalinks carry it; the ports differ).
            let client = try await Self.startShop(publicURL: "https://shop.example.com")
            var answers: [[UInt8]] = []
            answers.append(try await client.raw("POST", "/checkout-sessions", Self.body(codes: ["WELCOME10"])).body)
            answers.append(
                try await client.raw("PUT", "/checkout-sessions/chk_00001", Self.body(fulfillment: Self.shipping()))
                    .body
            )
            answers.append(
                try await client.raw("POST", "/checkout-sessions/chk_00001/complete", Self.pay("tok_success")).body
            )
            await client.shop.stop()
            return answers
        }
        let first = try await run()
        let second = try await run()
        #expect(first == second)
        #expect(first.count == 3 && first.allSatisfy { !$0.isEmpty })
    }

    /// A cart has one active checkout (the spec's rule), and a cart sees what completed checkouts sold.
    @Test func aCartHasOneActiveCheckoutAndSeesWhatCheckoutsSold() async throws {
        let client = try await Self.startShop()
        // Carts through `raw`: the recorder keeps checkout answers only (the validator's kind).
        let cart = try UCPVersionTests.object(
            try await client.raw("POST", "/carts", #"{"line_items":[{"item":{"id":"var_tee_l"},"quantity":3}]}"#).body
        )
        let cartID = try #require(cart["id"] as? String)
        let (firstStatus, first) = try await client.send(
            "POST",
            "/checkout-sessions",
            #"{"cart_id":"\#(cartID)","buyer":{"email":"buyer@example.com"}}"#
        )
        let (againStatus, again) = try await client.send(
            "POST",
            "/checkout-sessions",
            #"{"cart_id":"\#(cartID)","buyer":{"email":"other@example.com"}}"#
        )
        let id = try #require(first["id"] as? String)
        #expect(firstStatus == 201 && first["cart_id"] as? String == cartID)
        #expect(againStatus == 200 && again["id"] as? String == id, "the open session, not a second one")
        let (_, ready) = try await client.send(
            "PUT",
            "/checkout-sessions/\(id)",
            Self.body(
                lines: #"[{"item":{"id":"var_tee_l"},"quantity":3}]"#,
                fulfillment: Self.shipping()
            )
        )
        #expect(ready["status"] as? String == "ready_for_complete", "\(ready)")
        let (_, done) = try await client.send("POST", "/checkout-sessions/\(id)/complete", Self.pay("tok_success"))
        #expect(done["status"] as? String == "completed", "\(done)")
        // Completed: the cart may check out again, as a new session; and the last three shirts are sold.
        let (_, next) = try await client.send("POST", "/checkout-sessions", #"{"cart_id":"\#(cartID)"}"#)
        #expect(next["id"] as? String != id)
        let later = try UCPVersionTests.object(
            try await client.raw(
                "POST",
                "/carts",
                #"{"line_items":[{"item":{"id":"var_tee_l"},"quantity":1},{"item":{"id":"var_tee_m"},"quantity":1}]}"#
            ).body
        )
        #expect(Self.codes(later) == ["out_of_stock"], "\(later)")
        await client.shop.stop()
        try await Self.validate(client.recorder)
    }

    /// A completion whose order an earlier attempt placed (its session then could not be saved) completes with that
    /// order instead of failing on "the order already exists".
    @Test func aCompletionWhoseOrderIsAlreadyPlacedCompletesWithIt() async throws {
        let client = try await Self.startShop()
        let (_, created) = try await client.send(
            "POST",
            "/checkout-sessions",
            Self.body(fulfillment: Self.shipping())
        )
        let id = try #require(created["id"] as? String)
        _ = try await client.shop.book.place(
            OrderSpec(
                id: "ord_\(id)",
                checkoutID: id,
                lines: [.init(sku: "var_tee_m", title: "Tee", price: 2800, quantity: 1)]
            )
        )
        let (status, done) = try await client.send("POST", "/checkout-sessions/\(id)/complete", Self.pay("tok_success"))
        await client.shop.stop()
        #expect(status == 200)
        #expect(done["status"] as? String == "completed", "\(done)")
        #expect((done["order"] as? [String: Any])?["id"] as? String == "ord_\(id)")
    }
}

/// A clock a test moves.
final class MutableClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Date

    init(_ start: Date) { value = start }

    var now: Date {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }

}
