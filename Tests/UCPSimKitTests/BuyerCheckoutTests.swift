import Foundation
import Testing
@testable import UCPSimKit

/// What a buyer token unlocks in checkout (identity linking): member prices, the customer's saved addresses as
/// shipping destinations, the buyer prefilled, the session kept for its customer, and the placed order recorded as
/// the customer's. The rules as values first, then the checkout handlers on a real shop with a buyer in the call
/// (the gateway fills `ShoppingCall.buyer` from a token once the guard lands; `IdentityHTTPTests` goes through it).
@Suite struct BuyerCheckoutTests {
    let engine = CheckoutEngine(shop: .embedded, baseURL: "https://shop.example.com")
    let now = Date(timeIntervalSince1970: 1_795_924_800)
    let plenty: CheckoutEngine.Stock = { _ in 1_000 }

    func input(
        _ lines: [(String, Int)] = [("var_mug_white", 2), ("var_beans_500g", 1)],
        email: String? = nil,
        method: CheckoutInput.Method? = .init(type: "shipping", selectedOptionID: "standard"),
        codes: [String]? = nil
    ) -> CheckoutInput {
        CheckoutInput(
            lines: lines.map { .init(itemID: $0.0, quantity: $0.1) },
            buyer: email.map { Checkout.Buyer(email: $0) },
            method: method,
            codes: codes
        )
    }

    func totals(_ checkout: Checkout) -> [String] { checkout.totals.map { "\($0.type)=\($0.amount)" } }

    // MARK: The rules

    static let home = Checkout.Destination(
        type: "shipping_address",
        id: "home",
        shippingAddress: .init(streetAddress: "9 Elm St", addressLocality: "Portland", addressCountry: "US")
    )

    @Test func aCustomersCheckoutIsPricedAtMemberPricesAndTotalsDiscountsAndTaxFollow() {
        let saved = CheckoutInput.Method(
            type: "shipping",
            selectedDestinationID: "addr_cus_alice_1",
            selectedOptionID: "standard"
        )
        let given = CheckoutInput.Method(type: "shipping", destinations: [Self.home], selectedOptionID: "standard")
        let member = engine.create(
            id: "chk_00001",
            input: input(method: saved, codes: ["WELCOME10"]),
            customer: "cus_alice",
            stock: plenty,
            now: now
        )
        let guest = engine.create(
            id: "chk_00002",
            input: input(email: "guest@example.com", method: given, codes: ["WELCOME10"]),
            stock: plenty,
            now: now
        )
        #expect(member.checkout.status == .readyForComplete && guest.checkout.status == .readyForComplete)
        // The mug's member price is 12.00 (list 15.00); the beans have none.
        #expect(member.checkout.lineItems.map(\.item.price) == [1200, 1899])
        #expect(member.checkout.lineItems[0].totals.map(\.amount) == [2400, 2400])
        #expect(guest.checkout.lineItems.map(\.item.price) == [1500, 1899])
        // 4299 − 10 % (429.9 → 430) + 599 shipping; tax 8.25 % of 3869 = 319.19 → 319.
        #expect(
            totals(member.checkout) == ["subtotal=4299", "discount=-430", "fulfillment=599", "tax=319", "total=4787"]
        )
        #expect(
            totals(guest.checkout) == ["subtotal=4899", "discount=-490", "fulfillment=599", "tax=364", "total=5372"]
        )
        // The order placed is priced as the checkout was.
        #expect(engine.order(member).lines.map(\.price) == [1200, 1899])
    }

    @Test func theCustomersSavedAddressesAreOfferedAndOneIsSelectedByItsID() {
        let offered = engine.create(id: "chk_00001", input: input(), customer: "cus_alice", stock: plenty, now: now)
        let method = offered.checkout.fulfillment?.methods.first
        #expect(method?.destinations?.map(\.id) == ["addr_cus_alice_1"])
        #expect(method?.destinations?.first?.type == "shipping_address")
        #expect(method?.destinations?.first?.shippingAddress?.streetAddress == "123 Main St")
        #expect(method?.destinations?.first?.shippingAddress?.addressCountry == "US")
        // Offered, not chosen for the buyer.
        #expect(method?.selectedDestinationID == nil)
        #expect(offered.checkout.status == .incomplete)
        #expect(offered.checkout.messages?.map(\.path) == ["$.fulfillment.methods[0].selected_destination_id"])

        let selected = input(
            method: .init(type: "shipping", selectedDestinationID: "addr_cus_alice_1", selectedOptionID: "standard")
        )
        let (ready, refusal) = engine.update(offered, input: selected, stock: plenty, now: now)
        #expect(refusal == nil)
        #expect(ready.customer == "cus_alice")
        #expect(ready.checkout.status == .readyForComplete)
        #expect(ready.checkout.fulfillment?.methods.first?.selectedDestinationID == "addr_cus_alice_1")
        #expect(ready.checkout.fulfillment?.methods.first?.groups?.first?.selectedOptionID == "standard")
        let order = engine.order(ready)
        #expect(order.destination.streetAddress == "123 Main St")
        #expect(order.destination.postalCode == "62701")
    }

    @Test func aPlatformAddressComesFirstAndIsStillChosenWhenItIsTheOnlyOneGiven() {
        let method = CheckoutInput.Method(type: "shipping", destinations: [Self.home], selectedOptionID: "standard")
        let session = engine.create(
            id: "chk_00001",
            input: input(method: method),
            customer: "cus_bob",
            stock: plenty,
            now: now
        )
        let shown = session.checkout.fulfillment?.methods.first
        #expect(shown?.destinations?.map(\.id) == ["home", "addr_cus_bob_1"])
        #expect(shown?.selectedDestinationID == "home")
        #expect(session.checkout.status == .readyForComplete)
    }

    @Test func theCustomerPrefillsTheBuyerOnlyWhereTheRequestLeavesItOut() {
        let blank = engine.create(id: "chk_00001", input: input(), customer: "cus_alice", stock: plenty, now: now)
        #expect(
            blank.checkout.buyer == Checkout.Buyer(firstName: "Alice", lastName: "Jones", email: "alice@example.com")
        )
        #expect(!(blank.checkout.messages ?? []).contains { $0.path == "$.buyer.email" })

        var named = input(email: "ALICE@example.com")
        named.buyer?.firstName = "Ali"
        let kept = engine.create(id: "chk_00001", input: named, customer: "cus_alice", stock: plenty, now: now)
        #expect(kept.checkout.buyer == Checkout.Buyer(firstName: "Ali", lastName: "Jones", email: "ALICE@example.com"))

        // Another email is someone else: nothing of Alice's is added to it.
        let other = engine.create(
            id: "chk_00001",
            input: input(email: "gift@example.com"),
            customer: "cus_alice",
            stock: plenty,
            now: now
        )
        #expect(other.checkout.buyer == Checkout.Buyer(email: "gift@example.com"))
    }

    @Test func withoutACustomerNothingChanges() {
        let guest = engine.create(id: "chk_00001", input: input(), stock: plenty, now: now)
        #expect(guest.customer == nil)
        #expect(guest.checkout.buyer == nil)
        #expect(guest.checkout.fulfillment?.methods.first?.destinations == [])
        #expect(guest.checkout.lineItems.map(\.item.price) == [1500, 1899])
        let paths = guest.checkout.messages?.compactMap(\.path) ?? []
        #expect(paths.contains("$.buyer.email"))
    }

    // MARK: The handlers on a real shop

    /// The checkout and order-manage handlers of a real running shop, called as the gateway calls them.
    struct Handlers {
        let shop: Shop
        let services: ShopServices

        init(_ client: CheckoutAPITests.Client) {
            shop = client.shop
            services = ShopServices(
                shop: shop.shopFile,
                gateway: ShoppingGateway(version: .newest, paymentHandlers: shop.shopFile.paymentHandlers),
                database: shop.database,
                book: shop.book,
                webhooks: shop.webhooks,
                baseURL: shop.profile.baseURL,
                now: { CheckoutAPITests.start }
            )
        }

        var checkout: CheckoutAPI { CheckoutAPI(services: services) }
        var orders: OrderManageAPI { OrderManageAPI(services: services) }

        /// A call of `operation` with every capability, as `customer`'s buyer token (nil: none).
        func call(
            _ operation: ShoppingOperation,
            _ body: String = "",
            as customer: String? = nil,
            scopes: [String] = IdentityScope.offered(requireIdentity: false)
        ) -> ShoppingCall {
            var capabilities: [ShoppingCapability: UCPVersion] = [:]
            for capability in ShoppingCapability.allCases { capabilities[capability] = .newest }
            var call = ShoppingCall(
                operation: operation,
                version: .newest,
                platform: PlatformInfo(profileURL: "https://platform.example/profile"),
                capabilities: capabilities,
                body: Array(body.utf8),
                paymentHandlers: shop.shopFile.paymentHandlers
            )
            call.buyer = customer.map { BuyerIdentity(customerID: $0, clientID: "demo-agent", scopes: scopes) }
            return call
        }
    }

    static func object(_ reply: ShoppingReply) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any])
    }

    static let selectSaved =
        #"{"line_items":[{"item":{"id":"var_mug_white"},"quantity":1}],"fulfillment":{"methods":[{"type":"shipping","#
        + #""selected_destination_id":"addr_cus_alice_1","groups":[{"selected_option_id":"standard"}]}]}}"#

    @Test func aCustomersSessionAnswersOnlyThatCustomerAndItsOrderIsRecordedAsTheirs() async throws {
        let client = try await CheckoutAPITests.startShop()
        let api = Handlers(client)
        let created = try await api.checkout.create(api.call(.checkoutCreate, Self.selectSaved, as: "cus_alice"))
        client.recorder.answers.append(created.body)
        let session = try Self.object(created)
        #expect(session["status"] as? String == "ready_for_complete")
        #expect(CheckoutAPITests.totals(session) == ["subtotal": 1200, "fulfillment": 599, "tax": 99, "total": 1898])
        #expect((session["buyer"] as? [String: Any])?["email"] as? String == "alice@example.com")
        let id = try #require(session["id"] as? String)

        // Bob's token, or none: the session is not found (Alice's addresses and email stay hers).
        for stranger in ["cus_bob", nil] {
            let reply = try Self.object(try await api.checkout.get(id, api.call(.checkoutGet, as: stranger)))
            #expect(CheckoutAPITests.codes(reply) == ["not_found"])
            #expect((reply["ucp"] as? [String: Any])?["status"] as? String == "error")
        }
        let read = try await api.checkout.get(id, api.call(.checkoutGet, as: "cus_alice"))
        #expect(try Self.object(read)["id"] as? String == id)

        let completed = try await api.checkout.complete(
            id,
            api.call(.checkoutComplete, CheckoutAPITests.pay("tok_success"), as: "cus_alice")
        )
        client.recorder.answers.append(completed.body)
        let order = try #require(try Self.object(completed)["order"] as? [String: Any])
        let orderID = try #require(order["id"] as? String)
        #expect(try await api.services.customerOrders.customer(of: orderID) == "cus_alice")
        #expect(await client.shop.book.order(orderID)?.lineItems.map(\.item.price) == [1200])
        await client.shop.stop()
        try await CheckoutAPITests.validate(client.recorder)
    }

    @Test func aGuestSessionUpdatedWithABuyerTokenBecomesTheCustomersAndAGuestOrderIsNotRecorded() async throws {
        let client = try await CheckoutAPITests.startShop()
        let api = Handlers(client)
        let guestBody = CheckoutAPITests.body(
            lines: #"[{"item":{"id":"var_mug_white"},"quantity":1}]"#,
            fulfillment: CheckoutAPITests.shipping()
        )
        let guest = try Self.object(try await api.checkout.create(api.call(.checkoutCreate, guestBody)))
        let id = try #require(guest["id"] as? String)
        #expect(CheckoutAPITests.totals(guest)["subtotal"] == 1500)

        let updated = try await api.checkout.update(id, api.call(.checkoutUpdate, Self.selectSaved, as: "cus_alice"))
        client.recorder.answers.append(updated.body)
        #expect(CheckoutAPITests.totals(try Self.object(updated))["subtotal"] == 1200)
        // Now Alice's: a request without her token no longer finds it.
        let anonymous = try Self.object(try await api.checkout.get(id, api.call(.checkoutGet)))
        #expect(CheckoutAPITests.codes(anonymous) == ["not_found"])

        // A guest checkout completed without a token: nobody's order.
        let other = try Self.object(try await api.checkout.create(api.call(.checkoutCreate, guestBody)))
        let otherID = try #require(other["id"] as? String)
        let done = try Self.object(
            try await api.checkout.complete(otherID, api.call(.checkoutComplete, CheckoutAPITests.pay("tok_success")))
        )
        let orderID = try #require((done["order"] as? [String: Any])?["id"] as? String)
        #expect(try await api.services.customerOrders.customer(of: orderID) == nil)
        await client.shop.stop()
        try await CheckoutAPITests.validate(client.recorder)
    }
}
