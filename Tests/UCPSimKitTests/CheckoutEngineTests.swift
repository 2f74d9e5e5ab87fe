import Foundation
import Testing
@testable import UCPSimKit

/// The checkout rules as values, no I/O: prices, totals, discounts, fulfillment, tax, statuses, payment outcomes.
@Suite struct CheckoutEngineTests {
    let engine = CheckoutEngine(shop: .embedded, baseURL: "https://shop.example.com/")
    let now = Date(timeIntervalSince1970: 1_795_924_800)
    let plenty: CheckoutEngine.Stock = { _ in 1_000 }

    static let home = Checkout.Destination(
        type: "shipping_address",
        id: "home",
        shippingAddress: .init(streetAddress: "1 Main St", addressLocality: "Springfield", addressCountry: "US")
    )

    func input(
        _ lines: [(String, Int)],
        email: String? = "buyer@example.com",
        method: CheckoutInput.Method? = .init(type: "shipping", destinations: [home], selectedOptionID: "standard"),
        codes: [String]? = nil
    ) -> CheckoutInput {
        CheckoutInput(
            lines: lines.map { .init(itemID: $0.0, quantity: $0.1) },
            buyer: email.map { Checkout.Buyer(email: $0) },
            method: method,
            codes: codes
        )
    }

    func create(_ input: CheckoutInput, stock: CheckoutEngine.Stock? = nil) -> CheckoutSession {
        engine.create(id: "chk_00001", input: input, stock: stock ?? plenty, now: now)
    }

    func totals(_ checkout: Checkout) -> [String] { checkout.totals.map { "\($0.type)=\($0.amount)" } }

    @Test func aReadyCheckoutIsPricedFromTheShopFileWithShippingAndTaxRoundedHalfUp() {
        let session = create(input([("var_beans_500g", 1), ("var_mug_white", 1)]))
        let checkout = session.checkout
        #expect(checkout.status == .readyForComplete)
        #expect(checkout.lineItems.map(\.id) == ["li_1", "li_2"])
        #expect(checkout.lineItems.map(\.item.price) == [1899, 1500])
        // 3399 + 599; tax 8.25 % of 3399 = 280.4175 → 280 (shipping is not taxed).
        #expect(totals(checkout) == ["subtotal=3399", "fulfillment=599", "tax=280", "total=4278"])
        #expect(checkout.expiresAt == "2026-11-29T10:00:00Z")
        #expect(checkout.continueURL == "https://shop.example.com/checkout-sessions/chk_00001")
        #expect(checkout.messages == nil)
    }

    @Test func taxRoundsHalfUp() {
        #expect(CheckoutEngine.basisPoints(1_000, 825) == 83)  // 82.5 → 83
        #expect(CheckoutEngine.basisPoints(200, 825) == 17)  // 16.5 → 17
        #expect(CheckoutEngine.basisPoints(100, 825) == 8)  // 8.25 → 8
    }

    /// The largest checkout a request can make of the dearest item a shop file may hold: 1,000 lines of 10⁶ units
    /// at 10⁹ each, taxed at 100 % and discounted 100 %, computes without trapping.
    @Test func theLargestPossibleCheckoutDoesNotOverflow() {
        #expect(CheckoutEngine.basisPoints(1_000_000_000_000_000_000, 10_000) == 1_000_000_000_000_000_000)
        #expect(CheckoutEngine.basisPoints(999_999_999_999_999_999, 825) == 82_500_000_000_000_000)
        var shop = ShopFile.embedded
        shop.products[0].variants[0].price = 1_000_000_000
        shop.tax?.rateBasisPoints = 10_000
        shop.discounts.append(.init(code: "ALL", title: "Everything", kind: .percentage, value: 100))
        let engine = CheckoutEngine(shop: shop, baseURL: "https://shop.example.com")
        let lines = CheckoutInput(
            lines: Array(repeating: .init(itemID: "var_mug_white", quantity: Limits.quantity), count: Limits.lines),
            buyer: Checkout.Buyer(email: "buyer@example.com"),
            method: .init(type: "shipping", destinations: [Self.home], selectedOptionID: "standard"),
            codes: ["ALL"]
        )
        let session = engine.create(id: "chk_00001", input: lines, stock: { _ in Int.max }, now: now)
        #expect(session.checkout.total("subtotal") == 1_000_000_000_000_000_000)
        #expect(session.checkout.total("discount") == -1_000_000_000_000_000_000)
    }

    @Test func shippingIsFreeFromTheThresholdOnAndCanadaPaysNoTax() {
        let canada = Checkout.Destination(
            type: "shipping_address",
            id: "ca",
            shippingAddress: .init(addressLocality: "Toronto", addressCountry: "CA")
        )
        let session = create(
            input(
                [("var_tee_m", 2)],
                method: .init(type: "shipping", destinations: [canada], selectedOptionID: "express")
            )
        )
        #expect(totals(session.checkout) == ["subtotal=5600", "fulfillment=0", "total=5600"])
        let options = session.checkout.fulfillment?.methods.first?.groups?.first?.options ?? []
        #expect(options.map { $0.totals.first?.amount } == [0, 0])
    }

    @Test func whatIsMissingIsNamedByPathAndKeepsTheCheckoutIncomplete() {
        let session = create(input([("var_mug_white", 1)], email: nil, method: nil))
        #expect(session.checkout.status == .incomplete)
        #expect(
            session.checkout.messages?.map(\.path) == [
                "$.buyer.email", "$.fulfillment.methods[0].selected_destination_id",
            ]
        )
        #expect(session.checkout.messages?.allSatisfy { $0.severity == "recoverable" } == true)
        let noOption = create(input([("var_mug_white", 1)], method: .init(type: "shipping", destinations: [Self.home])))
        #expect(noOption.checkout.messages?.map(\.path) == ["$.fulfillment.methods[0].groups[0].selected_option_id"])
        #expect(totals(noOption.checkout).contains { $0.hasPrefix("fulfillment") } == false)
    }

    @Test func aCountryTheShopDoesNotShipToIsUndeliverable() {
        let france = Checkout.Destination(
            type: "shipping_address",
            id: "fr",
            shippingAddress: .init(addressLocality: "Paris", addressCountry: "FR")
        )
        let session = create(input([("var_mug_white", 1)], method: .init(type: "shipping", destinations: [france])))
        #expect(session.checkout.messageCodes == ["address_undeliverable"])
        #expect(session.checkout.status == .incomplete)
    }

    @Test func pickupOffersTheShopsLocationsAsBusinessLocations() {
        let session = create(
            input([("var_mug_white", 1)], method: .init(type: "pickup", selectedDestinationID: "store_downtown"))
        )
        let method = session.checkout.fulfillment?.methods.first
        #expect(method?.destinations?.map(\.type) == ["business_location"])
        #expect(method?.destinations?.first?.name == "ucpsim Downtown Store")
        #expect(method?.groups?.first?.selectedOptionID == "pickup")
        #expect(session.checkout.status == .readyForComplete)
        #expect(totals(session.checkout) == ["subtotal=1500", "fulfillment=0", "tax=124", "total=1624"])
    }

    @Test func aDigitalOnlyCartNeedsNoFulfillment() {
        let session = create(input([("var_ebook", 1)], method: nil))
        #expect(session.checkout.fulfillment == nil)
        #expect(session.checkout.status == .readyForComplete)
    }

    @Test(arguments: [
        (["welcome10"], ["subtotal=3000", "discount=-300"], [String]()),
        (["SAVE5", "SHIPFREE"], ["subtotal=3000", "discount=-700"], []),
        (["WELCOME10", "SAVE5"], ["subtotal=3000", "discount=-300"], ["discount_code_combination_disallowed"]),
        (["EXPIRED20"], ["subtotal=3000"], ["discount_code_expired"]),
        (["BOGUS"], ["subtotal=3000"], ["discount_code_invalid"]),
        (["SAVE5", "save5"], ["subtotal=3000", "discount=-500"], ["discount_code_already_applied"]),
    ])
    func discountCodes(codes: [String], expected: [String], warnings: [String]) {
        let session = create(input([("var_mug_white", 2)], codes: codes))
        #expect(Array(totals(session.checkout).prefix(expected.count)) == expected)
        #expect(session.checkout.messageCodes == warnings)
        #expect(session.checkout.messages?.allSatisfy { $0.type == "warning" } ?? true)
        #expect(session.checkout.status == .readyForComplete)
    }

    @Test func aCodeBelowItsMinimumIsRefused() {
        let session = create(input([("var_mug_white", 1)], codes: ["SAVE5"]))
        #expect(session.checkout.messageCodes == ["discount_code_user_ineligible"])
        #expect(session.checkout.discounts?.applied.isEmpty == true)
    }

    @Test func shortStockIsOutOfStock() {
        let session = create(input([("var_tee_l", 2), ("var_tee_l", 2)]), stock: { _ in 3 })
        #expect(session.checkout.messageCodes == ["out_of_stock"])
        #expect(session.checkout.messages?.first?.path == "$.line_items[1].quantity")
        #expect(session.checkout.status == .incomplete)
    }

    func pay(_ token: String, handler: String = "mock_payment") -> CompleteInput {
        CompleteInput(instruments: [.init(id: "pi_1", handlerID: handler, type: "card", token: token)])
    }

    @Test func theTokenDecides() {
        let session = create(input([("var_mug_white", 1)]))
        guard
            case .place(let placed, let order) = engine.complete(
                session,
                payment: pay("tok_success"),
                stock: plenty,
                now: now
            )
        else {
            Issue.record("tok_success must place the order")
            return
        }
        #expect(order.checkoutID == "chk_00001" && order.tax == 124 && order.shipping == 599)
        #expect(order.expectationDescription == "Standard Shipping")
        #expect(placed.checkout.payment?.instruments.first?.id == "pi_1")
        guard
            case .refused(let declined) = engine.complete(session, payment: pay("tok_decline"), stock: plenty, now: now)
        else {
            Issue.record("tok_decline is refused")
            return
        }
        #expect(declined.checkout.status == .incomplete && declined.checkout.messageCodes == ["payment_failed"])
        guard case .refused(let escalated) = engine.complete(session, payment: pay("tok_3ds"), stock: plenty, now: now)
        else {
            Issue.record("tok_3ds is refused")
            return
        }
        #expect(escalated.checkout.status == .requiresEscalation && escalated.checkout.continueURL != nil)
        #expect(escalated.checkout.messages?.first?.severity == "requires_buyer_input")
        guard
            case .refused(let unknown) = engine.complete(
                session,
                payment: pay("x", handler: "other"),
                stock: plenty,
                now: now
            )
        else {
            Issue.record("an unadvertised handler is refused")
            return
        }
        #expect(unknown.checkout.messageCodes == ["payment_handler_unknown"])
        // Updating after an escalation re-evaluates: ready again.
        let (again, refusal) = engine.update(escalated, input: escalated.input, stock: plenty, now: now)
        #expect(refusal == nil && again.checkout.status == .readyForComplete)
    }

    @Test func completedAndCanceledSessionsAreImmutable() throws {
        let session = create(input([("var_mug_white", 1)]))
        let (canceled, none) = engine.cancel(session)
        #expect(none == nil && canceled.checkout.status == .canceled && canceled.checkout.continueURL == nil)
        let (unchanged, refusal) = engine.update(canceled, input: input([("var_tee_m", 1)]), stock: plenty, now: now)
        #expect(unchanged == canceled && refusal?.code == "checkout_canceled")
        let (_, cancelAgain) = engine.cancel(canceled)
        #expect(cancelAgain?.code == "checkout_canceled")
        guard
            case .unchanged(_, let note) = engine.complete(
                canceled,
                payment: pay("tok_success"),
                stock: plenty,
                now: now
            )
        else {
            Issue.record("completing a canceled session is refused")
            return
        }
        #expect(note.code == "checkout_canceled")
    }
}
