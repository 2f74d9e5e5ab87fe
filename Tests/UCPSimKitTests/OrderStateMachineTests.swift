import Foundation
import Testing
@testable import UCPSimKit

@Suite struct OrderStateMachineTests {
    static let start = Date(timeIntervalSince1970: 1_775_913_000)
    static let spec = OrderSpec(
        id: "ord_1",
        lines: [
            .init(sku: "mug", title: "Mug", price: 1500, quantity: 2),
            .init(sku: "tea", title: "Tea", price: 800, quantity: 3),
        ],
        shipping: 499
    )

    func machine() throws -> OrderStateMachine {
        try OrderStateMachine(spec: Self.spec, at: Self.start, shopBaseURL: "http://127.0.0.1:8080/")
    }

    func at(_ minutes: Int) -> Date { Self.start.addingTimeInterval(Double(minutes) * 60) }

    func total(_ order: Order, _ type: String) -> Int? { order.totals.first { $0.type == type }?.amount }

    @Test func placedOrderIsFullyPopulated() async throws {
        let order = try machine().order
        #expect(order.permalinkURL == "http://127.0.0.1:8080/orders/ord_1")
        #expect(order.lineItems.map(\.status) == ["processing", "processing"])
        #expect(total(order, "subtotal") == 5400 && total(order, "fulfillment") == 499 && total(order, "total") == 5899)
        #expect(order.fulfillment.expectations.first?.lineItems.map(\.quantity) == [2, 3])
    }

    @Test func happyPathDerivesStatusesAndKeepsEventsAppendOnly() async throws {
        var machine = try machine()
        try machine.apply(.process, at: at(1))
        let partial = try machine.apply(
            .ship(lines: [.init(id: "li_1", quantity: 1)], carrier: "UPS", trackingNumber: "1Z1", trackingURL: nil),
            at: at(2)
        )
        #expect(partial.lineItems.map(\.status) == ["partial", "processing"])
        let shipped = try machine.apply(
            .ship(lines: nil, carrier: nil, trackingNumber: nil, trackingURL: nil),
            at: at(3)
        )
        #expect(shipped.lineItems.map(\.status) == ["fulfilled", "fulfilled"])
        #expect(shipped.lineItems.map(\.quantity.fulfilled) == [2, 3])
        try machine.apply(.inTransit(shipment: nil), at: at(4))
        try machine.apply(.failedAttempt(shipment: nil), at: at(5))
        let delivered = try machine.apply(.deliver(shipment: nil), at: at(6))
        #expect(
            delivered.fulfillment.events.map(\.type) == [
                "processing", "shipped", "shipped", "in_transit", "failed_attempt", "delivered",
            ]
        )
        #expect(delivered.fulfillment.events.prefix(3) == shipped.fulfillment.events.prefix(3))
        #expect(delivered.fulfillment.events[1].trackingNumber == "1Z1")
    }

    @Test func cancellationReducesTotalsAndFullCancellationAllowsOnlyMoney() async throws {
        var machine = try machine()
        let partial = try machine.apply(.cancel(lines: [.init(id: "li_2", quantity: 1)]), at: at(1))
        #expect(partial.lineItems[1].quantity.total == 2 && partial.lineItems[1].quantity.original == 3)
        #expect(total(partial, "total") == 5899 - 800)
        #expect(
            partial.adjustments.last?.type == "cancellation"
                && partial.adjustments.last?.lineItems?.first?.quantity == -1
        )
        let all = try machine.apply(.cancel(lines: nil), at: at(2))
        #expect(all.lineItems.map(\.status) == ["removed", "removed"])
        #expect(total(all, "total") == 0 && total(all, "subtotal") == 0)
        #expect(throws: TransitionError.self) {
            try machine.apply(.ship(lines: nil, carrier: nil, trackingNumber: nil, trackingURL: nil), at: at(3))
        }
        try machine.apply(.refund(amount: nil, completed: true), at: at(3))
        #expect(machine.order.adjustments.last?.totals?.first?.amount == -5899)
    }

    @Test func returnsAndRefundsMoveForwardOnly() async throws {
        var machine = try machine()
        try machine.apply(.ship(lines: nil, carrier: nil, trackingNumber: nil, trackingURL: nil), at: at(1))
        try machine.apply(.deliver(shipment: nil), at: at(2))
        let requested = try machine.apply(.requestReturn(lines: [.init(id: "li_1", quantity: 1)]), at: at(3))
        #expect(requested.adjustments.last?.status == "pending")
        #expect(total(requested, "total") == 5899, "a return does not change the order totals")
        try machine.apply(.completeReturn(adjustment: nil), at: at(4))
        #expect(throws: TransitionError.self) { try machine.apply(.completeReturn(adjustment: nil), at: at(5)) }
        try machine.apply(.refund(amount: 1500, completed: false), at: at(5))
        try machine.apply(.failRefund(adjustment: nil), at: at(6))
        #expect(throws: TransitionError.self) { try machine.apply(.completeRefund(adjustment: nil), at: at(7)) }
        try machine.apply(.refund(amount: 5899, completed: true), at: at(7))
        try machine.apply(.credit(amount: 100), at: at(8))
        try machine.apply(.priceAdjustment(amount: -200), at: at(9))
        #expect(machine.order.adjustments.map(\.type) == ["return", "refund", "refund", "credit", "price_adjustment"])
    }

    struct Rejection: Sendable, CustomTestStringConvertible {
        let setup: [OrderTransition]
        let transition: OrderTransition
        let reason: String
        var testDescription: String { "\(transition.name): \(reason)" }
    }

    static let shipAll = OrderTransition.ship(lines: nil, carrier: nil, trackingNumber: nil, trackingURL: nil)

    @Test(arguments: [
        Rejection(
            setup: [],
            transition: .ship(
                lines: [.init(id: "li_1", quantity: 3)],
                carrier: nil,
                trackingNumber: nil,
                trackingURL: nil
            ),
            reason: "only 2 unshipped"
        ),
        Rejection(
            setup: [],
            transition: .ship(
                lines: [.init(id: "li_9", quantity: 1)],
                carrier: nil,
                trackingNumber: nil,
                trackingURL: nil
            ),
            reason: "no line item li_9"
        ),
        Rejection(setup: [], transition: .inTransit(shipment: nil), reason: "nothing has shipped"),
        Rejection(setup: [], transition: .deliver(shipment: nil), reason: "nothing has shipped"),
        Rejection(
            setup: [shipAll],
            transition: .cancel(lines: [.init(id: "li_1", quantity: 1)]),
            reason: "only 0 unshipped"
        ),
        Rejection(
            setup: [shipAll],
            transition: .requestReturn(lines: [.init(id: "li_1", quantity: 1)]),
            reason: "delivered"
        ),
        Rejection(
            setup: [shipAll, .deliver(shipment: nil)],
            transition: .requestReturn(lines: [.init(id: "li_1", quantity: 3)]),
            reason: "only 2 delivered"
        ),
        Rejection(
            setup: [shipAll, .deliver(shipment: nil)],
            transition: .deliver(shipment: nil),
            reason: "is delivered"
        ),
        Rejection(setup: [], transition: .refund(amount: 5900, completed: true), reason: "exceeds"),
        Rejection(
            setup: [.refund(amount: 5000, completed: true)],
            transition: .refund(amount: 900, completed: true),
            reason: "exceeds"
        ),
        Rejection(setup: [.cancel(lines: nil)], transition: .process, reason: "fully canceled"),
        Rejection(setup: [], transition: .completeRefund(adjustment: nil), reason: "no refund"),
        Rejection(setup: [shipAll], transition: .returnedToSender(shipment: nil), reason: "is shipped"),
    ])
    func invalidTransitionsAreRejectedWithOrderTransitionAndReason(_ rejection: Rejection) async throws {
        var machine = try machine()
        for (index, step) in rejection.setup.enumerated() { try machine.apply(step, at: at(index + 1)) }
        let before = machine.order
        do {
            try machine.apply(rejection.transition, at: at(30))
            Issue.record("expected a rejection")
        } catch {
            #expect(error.orderID == "ord_1")
            #expect(error.transition == rejection.transition.name)
            #expect(error.description.contains(rejection.reason), "\(error)")
        }
        #expect(machine.order == before, "a rejected transition changes nothing")
    }

    @Test func timeCannotGoBackwards() async throws {
        var machine = try machine()
        try machine.apply(.process, at: at(10))
        #expect { try machine.apply(.process, at: at(5)) } throws: { "\($0)".contains("time goes backwards") }
    }

    /// Random valid sequences: quantities never negative, fulfilled ≤ total, totals consistent; every snapshot
    /// is collected for the schema check.
    @Test func randomTransitionSequencesKeepTheInvariants() async throws {
        var generator = SeededGenerator(seed: 42)
        var snapshots: [[UInt8]] = []
        for _ in 0..<60 {
            var machine = try machine()
            snapshots.append(machine.order.jsonBytes())
            for step in 0..<25 {
                let candidate = Self.randomTransition(&generator, order: machine.order)
                guard (try? machine.apply(candidate, at: at(step + 1))) != nil else { continue }
                let order = machine.order
                snapshots.append(order.jsonBytes())
                for line in order.lineItems {
                    #expect(line.quantity.total >= 0 && line.quantity.fulfilled >= 0)
                    #expect(line.quantity.fulfilled <= line.quantity.total)
                    #expect(line.quantity.total <= line.quantity.original)
                    #expect(line.status == LineItemStatus.derive(line.quantity))
                }
                #expect(order.totals.filter { $0.type == "subtotal" }.count == 1)
                #expect(order.totals.filter { $0.type == "total" }.count == 1)
                #expect(
                    total(order, "total") == order.totals.filter { $0.type != "total" }.reduce(0) { $0 + $1.amount }
                )
            }
        }
        #expect(snapshots.count > 300)
        try await InteropTests().validateMany(kind: "order", documents: snapshots)
    }

    static func randomTransition(_ generator: inout SeededGenerator, order: Order) -> OrderTransition {
        let line = order.lineItems.randomElement(using: &generator)?.id ?? "li_1"
        let quantity = Int.random(in: 1...2, using: &generator)
        let some = Bool.random(using: &generator) ? nil : [Order.LineQuantity(id: line, quantity: quantity)]
        switch Int.random(in: 0..<12, using: &generator) {
        case 0: return .process
        case 1, 2: return .ship(lines: some, carrier: "UPS", trackingNumber: nil, trackingURL: nil)
        case 3: return .inTransit(shipment: nil)
        case 4, 5: return .deliver(shipment: nil)
        case 6: return .failedAttempt(shipment: nil)
        case 7: return .cancel(lines: some)
        case 8: return .requestReturn(lines: [.init(id: line, quantity: quantity)])
        case 9: return .completeReturn(adjustment: nil)
        case 10:
            return .refund(
                amount: Int.random(in: 1...3000, using: &generator),
                completed: Bool.random(using: &generator)
            )
        default:
            return Bool.random(using: &generator) ? .completeRefund(adjustment: nil) : .undeliverable(shipment: nil)
        }
    }
}

/// SplitMix64: reproducible randomness for property tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
