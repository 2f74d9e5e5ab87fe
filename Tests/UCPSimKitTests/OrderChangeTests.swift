import Foundation
import Testing
@testable import UCPSimKit

/// Which events each order change gives, and their statuses: whole order lives played on the state machine, each
/// step with the events it must yield.
@Suite struct OrderChangeTests {
    /// One expected event: its type and its subject in short (`CONFIRMED`, `shp_2 SHIPPED`, `AUTHORIZED`).
    struct Expected: Equatable, CustomStringConvertible {
        let type: EventType
        let subject: String

        static func order(_ status: OrderStatus, created: Bool = false) -> Expected {
            Expected(type: created ? .orderCreated : .orderUpdated, subject: status.rawValue)
        }

        static func fulfillment(_ id: String, _ status: FulfillmentStatus) -> Expected {
            Expected(type: .fulfillmentStatusChanged, subject: "\(id) \(status.rawValue)")
        }

        static func payment(_ status: PaymentStatus) -> Expected {
            Expected(type: .paymentStatusChanged, subject: status.rawValue)
        }

        init(type: EventType, subject: String) {
            self.type = type
            self.subject = subject
        }

        init(_ event: OrderEvent) {
            let subject: String =
                switch event.subject {
                case .order(let status): status
                case .fulfillment(let id, let status): "\(id) \(status)"
                case .payment(let status): status
                case .interaction(let agent, let kind, _): "\(agent) \(kind)"
                }
            self.init(type: event.type, subject: subject)
        }

        var description: String { "\(type.rawValue) \(subject)" }
    }

    /// A step of a life: the transition (nil: place) and the events it must give.
    struct Step: Sendable, CustomTestStringConvertible {
        let transition: OrderTransition?
        let expected: [Expected]
        var testDescription: String { transition?.name ?? "place" }
    }

    /// Two mugs at 15.00, a shirt at 25.00, 5.00 shipping: 60.00 paid.
    static let spec = OrderSpec(
        id: "ord_life",
        lines: [
            .init(sku: "mug", title: "Mug", price: 1500, quantity: 2),
            .init(sku: "shirt", title: "Shirt", price: 2500, quantity: 1),
        ],
        shipping: 500
    )

    static func ship(_ lines: [Order.LineQuantity]? = nil) -> OrderTransition {
        .ship(lines: lines, carrier: nil, trackingNumber: nil, trackingURL: nil)
    }

    /// Place, process, ship in two parcels, move and deliver them, return in two goes, refund in parts (one
    /// pending then completed, one failed), credit and a price change, and the last refund.
    static let fullLife: [Step] = [
        Step(transition: nil, expected: [.order(.confirmed, created: true), .payment(.authorized)]),
        Step(transition: .process, expected: [.order(.processing), .fulfillment("exp_1", .processing)]),
        Step(
            transition: ship([.init(id: "li_1", quantity: 2)]),
            expected: [.order(.partiallyShipped), .fulfillment("shp_2", .shipped), .payment(.captured)]
        ),
        Step(transition: ship(), expected: [.order(.shipped), .fulfillment("shp_3", .shipped)]),
        Step(transition: .inTransit(shipment: nil), expected: [.order(.shipped), .fulfillment("shp_3", .inTransit)]),
        Step(
            transition: .deliver(shipment: "shp_2"),
            expected: [.order(.partiallyDelivered), .fulfillment("shp_2", .delivered)]
        ),
        Step(transition: .deliver(shipment: nil), expected: [.order(.delivered), .fulfillment("shp_3", .delivered)]),
        Step(transition: .requestReturn(lines: [.init(id: "li_1", quantity: 1)]), expected: [.order(.returnRequested)]),
        Step(transition: .completeReturn(adjustment: nil), expected: [.order(.partiallyReturned)]),
        Step(
            transition: .refund(amount: 1500, completed: true),
            expected: [.order(.partiallyReturned), .payment(.partiallyRefunded)]
        ),
        Step(transition: .refund(amount: 1000, completed: false), expected: [.order(.partiallyReturned)]),
        Step(
            transition: .completeRefund(adjustment: nil),
            expected: [.order(.partiallyReturned), .payment(.partiallyRefunded)]
        ),
        Step(transition: .refund(amount: 500, completed: false), expected: [.order(.partiallyReturned)]),
        Step(transition: .failRefund(adjustment: nil), expected: [.order(.partiallyReturned), .payment(.failed)]),
        Step(transition: .credit(amount: 300), expected: [.order(.partiallyReturned)]),
        Step(transition: .priceAdjustment(amount: -200), expected: [.order(.partiallyReturned)]),
        Step(
            transition: .requestReturn(lines: [.init(id: "li_1", quantity: 1), .init(id: "li_2", quantity: 1)]),
            expected: [.order(.partiallyReturned)]
        ),
        Step(transition: .completeReturn(adjustment: nil), expected: [.order(.returned)]),
        Step(transition: .refund(amount: nil, completed: true), expected: [.order(.returned), .payment(.refunded)]),
    ]

    /// Cancel part, then the rest, before anything ships: the authorization is released.
    static let canceledLife: [Step] = [
        Step(transition: nil, expected: [.order(.confirmed, created: true), .payment(.authorized)]),
        Step(
            transition: .cancel(lines: [.init(id: "li_2", quantity: 1)]),
            expected: [.order(.confirmed), .fulfillment("exp_1", .canceled)]
        ),
        Step(
            transition: .cancel(lines: nil),
            expected: [.order(.canceled), .fulfillment("exp_1", .canceled), .payment(.voided)]
        ),
    ]

    /// Ship part, cancel the rest: the order is shipped, the payment was captured and stays so.
    static let partlyCanceledLife: [Step] = [
        Step(transition: nil, expected: [.order(.confirmed, created: true), .payment(.authorized)]),
        Step(
            transition: ship([.init(id: "li_2", quantity: 1)]),
            expected: [.order(.partiallyShipped), .fulfillment("shp_1", .shipped), .payment(.captured)]
        ),
        Step(transition: .cancel(lines: nil), expected: [.order(.shipped), .fulfillment("exp_1", .canceled)]),
        Step(transition: .deliver(shipment: nil), expected: [.order(.delivered), .fulfillment("shp_1", .delivered)]),
    ]

    /// A parcel the carrier cannot deliver, back at the shop, and the whole payment refunded.
    static let undeliveredLife: [Step] = [
        Step(transition: nil, expected: [.order(.confirmed, created: true), .payment(.authorized)]),
        Step(transition: ship(), expected: [.order(.shipped), .fulfillment("shp_1", .shipped), .payment(.captured)]),
        Step(
            transition: .failedAttempt(shipment: nil),
            expected: [.order(.shipped), .fulfillment("shp_1", .failedAttempt)]
        ),
        Step(
            transition: .undeliverable(shipment: "shp_1"),
            expected: [.order(.undeliverable), .fulfillment("shp_1", .undeliverable)]
        ),
        Step(
            transition: .returnedToSender(shipment: nil),
            expected: [.order(.undeliverable), .fulfillment("shp_1", .returnedToSender)]
        ),
        Step(
            transition: .refund(amount: 6000, completed: true),
            expected: [.order(.undeliverable), .payment(.refunded)]
        ),
    ]

    /// Plays `life` on a fresh state machine and checks each step's events.
    func play(_ life: [Step]) throws {
        let start = Date(timeIntervalSince1970: 1_775_913_000)
        var machine = try OrderStateMachine(spec: Self.spec, at: start, shopBaseURL: "http://shop.test")
        for (index, step) in life.enumerated() {
            let before: Order?
            let after: Order
            if let transition = step.transition {
                before = machine.order
                after = try machine.apply(transition, at: start.addingTimeInterval(Double(index) * 60))
            } else {
                before = nil
                after = machine.order
            }
            let occurredAt = Int64(1_775_913_000 + index * 60)
            let events = OrderChange.events(
                before: before,
                after: after,
                transition: step.transition,
                occurredAt: occurredAt
            )
            #expect(events.map(Expected.init) == step.expected, "step \(index + 1): \(step.testDescription)")
            // One time, one document (the order after the change), one order, an id each.
            #expect(events.allSatisfy { $0.occurredAt == occurredAt && $0.orderID == after.id })
            #expect(events.allSatisfy { $0.document?.bytes == after.jsonBytes() })
            #expect(Set(events.map(\.id)).count == events.count)
        }
    }

    @Test func aWholeOrderLifeGivesItsEventsAndStatuses() throws {
        try play(Self.fullLife)
    }

    @Test func cancelingBeforeShipmentVoidsThePayment() throws {
        try play(Self.canceledLife)
    }

    @Test func cancelingWhatIsLeftAfterAShipmentKeepsTheOrderShipped() throws {
        try play(Self.partlyCanceledLife)
    }

    @Test func anUndeliverableParcelAndAFullRefund() throws {
        try play(Self.undeliveredLife)
    }

    @Test func everyTransitionIsCovered() {
        let lives = Self.fullLife + Self.canceledLife + Self.partlyCanceledLife + Self.undeliveredLife
        let covered = Set(lives.compactMap { $0.transition?.name })
        #expect(covered == Set(OrderTransition.names))
    }

    @Test func eventIDsComeFromTheGivenSource() throws {
        let machine = try OrderStateMachine(spec: Self.spec, at: Date(), shopBaseURL: "http://shop.test")
        var counter = 0
        let events = OrderChange.events(before: nil, after: machine.order, transition: nil, occurredAt: 1) {
            counter += 1
            return "evt-\(counter)"
        }
        #expect(events.map(\.id) == ["evt-1", "evt-2"])
    }

    /// A document with no state machine behind it: what its JSON says.
    struct DocumentCase: Sendable, CustomTestStringConvertible {
        let name: String
        let json: String
        let status: OrderStatus
        var testDescription: String { name }
    }

    static func document(lines: String, events: String = "[]", adjustments: String = "[]") -> String {
        """
        {"ucp":{"version":"2026-08-25"},"id":"ord_j","checkout_id":"c","permalink_url":"http://s/o","currency":"USD",
        "totals":[],"line_items":[\(lines)],"fulfillment":{"events":\(events)},"adjustments":\(adjustments)}
        """
    }

    static let two = #"{"id":"li_1","quantity":{"original":2,"total":2,"fulfilled":0}}"#
    static let twoShipped = #"{"id":"li_1","quantity":{"original":2,"total":2,"fulfilled":2}}"#

    @Test(arguments: [
        DocumentCase(name: "nothing yet", json: document(lines: two), status: .confirmed),
        DocumentCase(name: "no line items", json: document(lines: ""), status: .pending),
        DocumentCase(
            name: "processing",
            json: document(lines: two, events: #"[{"id":"e1","type":"processing"}]"#),
            status: .processing
        ),
        DocumentCase(
            name: "one of two shipped",
            json: document(lines: #"{"id":"li_1","quantity":{"original":2,"total":2,"fulfilled":1}}"#),
            status: .partiallyShipped
        ),
        DocumentCase(
            name: "shipped",
            json: document(lines: twoShipped, events: #"[{"id":"s1","type":"shipped","tracking_number":"T1"}]"#),
            status: .shipped
        ),
        DocumentCase(
            name: "delivered",
            json: document(
                lines: twoShipped,
                events: #"[{"id":"s1","type":"shipped","tracking_number":"T1"},"#
                    + #"{"id":"e2","type":"delivered","tracking_number":"T1"}]"#
            ),
            status: .delivered
        ),
        DocumentCase(
            name: "one parcel of two delivered",
            json: document(
                lines: twoShipped,
                events: #"[{"id":"s1","type":"shipped","tracking_number":"T1"},"#
                    + #"{"id":"s2","type":"shipped","tracking_number":"T2"},"#
                    + #"{"id":"e3","type":"delivered","tracking_number":"T1"}]"#
            ),
            status: .partiallyDelivered
        ),
        DocumentCase(
            name: "canceled",
            json: document(lines: #"{"id":"li_1","quantity":{"original":2,"total":0,"fulfilled":0}}"#),
            status: .canceled
        ),
        DocumentCase(
            name: "returned",
            json: document(
                lines: twoShipped,
                events: #"[{"id":"s1","type":"delivered","tracking_number":"T1"}]"#,
                adjustments:
                    #"[{"id":"a1","type":"return","status":"completed","line_items":[{"id":"li_1","quantity":-2}]}]"#
            ),
            status: .returned
        ),
        DocumentCase(
            name: "only line statuses",
            json: document(lines: #"{"id":"li_1","status":"partial"}"#),
            status: .partiallyShipped
        ),
    ])
    func aDocumentsStatusIsReadFromItsJSON(_ item: DocumentCase) throws {
        let document = try OrderDocument(bytes: Array(item.json.utf8), source: item.name)
        let created = OrderChange.event(document: document, first: true, occurredAt: 42)
        #expect(created.type == .orderCreated && created.subject == .order(status: item.status.rawValue))
        #expect(created.occurredAt == 42 && created.orderID == "ord_j" && created.document?.bytes == document.bytes)
        let updated = OrderChange.event(document: document, first: false, occurredAt: 43)
        #expect(updated.type == .orderUpdated && updated.id != created.id)
    }

    @Test func theBundledFixtureIsAConfirmedOrder() throws {
        let document = try OrderDocument.load(path: TestSupport.path("fixtures/order-created.json"))
        let event = OrderChange.event(document: document, first: true, occurredAt: 0)
        #expect(event.subject == .order(status: "CONFIRMED"))
    }

    /// The state machine's orders read the same through their JSON as through the `Order` value.
    @Test func theJSONReadingAgreesWithTheOrderValue() throws {
        let start = Date(timeIntervalSince1970: 1_775_913_000)
        var machine = try OrderStateMachine(spec: Self.spec, at: start, shopBaseURL: "http://shop.test")
        for step in Self.fullLife {
            if let transition = step.transition { try machine.apply(transition, at: start) }
            #expect(OrderStatus.derive(json: machine.order.jsonBytes()) == OrderStatus.derive(machine.order))
        }
    }
}
