import Foundation
import Testing
@testable import UCPSimKit

/// `types/fulfillment_event.json`: every event whose type is not `processing` carries `tracking_number` and
/// `tracking_url`. The state machine gives each parcel its tracking at shipment and repeats it on every carrier event;
/// the bundled fixtures and scenarios are checked event by event.
@Suite struct FulfillmentTrackingTests {
    static let start = Date(timeIntervalSince1970: 1_775_913_000)

    static func machine(_ id: String = "ord_1") throws -> OrderStateMachine {
        try OrderStateMachine(
            spec: OrderSpec(
                id: id,
                lines: [
                    .init(sku: "a", title: "A", price: 1000, quantity: 2),
                    .init(sku: "b", title: "B", price: 500, quantity: 1),
                ]
            ),
            at: start,
            shopBaseURL: "https://shop.example.com/",
            version: .newest
        )
    }

    @Test func everyCarrierEventCarriesItsParcelsTracking() throws {
        var machine = try Self.machine()
        let steps: [OrderTransition] = [
            .process,
            .ship(
                lines: [.init(id: "li_1", quantity: 2)],
                carrier: "FedEx",
                trackingNumber: "FX123",
                trackingURL: "https://fedex.example/track/FX123"
            ),
            .ship(lines: nil, carrier: nil, trackingNumber: nil, trackingURL: nil),
            .inTransit(shipment: "shp_2"),
            .failedAttempt(shipment: "shp_2"),
            .deliver(shipment: "shp_2"),
            .inTransit(shipment: "shp_3"),
            .undeliverable(shipment: "shp_3"),
            .returnedToSender(shipment: "shp_3"),
        ]
        for (index, step) in steps.enumerated() { try machine.apply(step, at: Self.start + Double(index + 1) * 60) }
        let events = machine.order.fulfillment.events
        #expect(
            events.map(\.type) == [
                "processing", "shipped", "shipped", "in_transit", "failed_attempt", "delivered", "in_transit",
                "undeliverable", "returned_to_sender",
            ]
        )
        #expect(events[0].trackingNumber == nil && events[0].trackingURL == nil)
        for event in events.dropFirst() {
            #expect(event.trackingNumber?.isEmpty == false && event.trackingURL?.isEmpty == false, "\(event)")
        }
        let first = events.filter { $0.lineItems == [.init(id: "li_1", quantity: 2)] }
        #expect(first.count == 4)
        #expect(
            first.allSatisfy { $0.trackingNumber == "FX123" && $0.trackingURL == "https://fedex.example/track/FX123" }
        )
        #expect(first.allSatisfy { $0.carrier == "FedEx" })
        let second = events.filter { $0.lineItems == [.init(id: "li_2", quantity: 1)] }
        #expect(second.count == 4)
        #expect(Set(second.map(\.trackingNumber)).count == 1 && Set(second.map(\.trackingURL)).count == 1)
        let url = try #require(second.first?.trackingURL)
        #expect(url.hasPrefix("https://shop.example.com/tracking/1Z"), "\(url)")
    }

    @Test func defaultTrackingIsDeterministic() throws {
        func shipped(_ id: String) throws -> Order.FulfillmentEvent? {
            var machine = try Self.machine(id)
            try machine.apply(.ship(lines: nil, carrier: nil, trackingNumber: nil, trackingURL: nil), at: Self.start)
            return machine.order.fulfillment.events.last
        }
        let one = try #require(try shipped("ord_1"))
        #expect(try shipped("ord_1") == one)
        #expect(try shipped("ord_2")?.trackingNumber != one.trackingNumber)
        #expect(one.trackingNumber?.count == 18)
    }

    /// Every event of every bundled fixture, and of every snapshot every bundled scenario produces, against the
    /// official schema and the tracking rule.
    @Test func everyBundledFixtureAndScenarioEventMeetsTheSchema() async throws {
        var documents: [[UInt8]] = []
        let fixtures = try FileManager.default.contentsOfDirectory(atPath: TestSupport.path("fixtures"))
            .filter { $0.hasSuffix(".json") }.sorted()
        #expect(fixtures.count >= 5)
        for file in fixtures {
            documents += try EventFixture.load(path: TestSupport.path("fixtures/\(file)")).events.map(\.body)
        }
        let scenarios = try FileManager.default.contentsOfDirectory(atPath: TestSupport.path("scenarios"))
            .filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(scenarios.count >= 8)
        for file in scenarios {
            let scenario = try Scenario.load(path: TestSupport.path("scenarios/\(file)"))
            var player = ScenarioPlayer(scenario, start: Self.start, shopBaseURL: "http://127.0.0.1:8080")
            for step in scenario.steps { documents += try player.play(step).map { $0.jsonBytes() } }
        }
        let events = documents.flatMap { document -> [[String: Any]] in
            let order = (try? JSONSerialization.jsonObject(with: Data(document))) as? [String: Any]
            return ((order?["fulfillment"] as? [String: Any])?["events"] as? [[String: Any]]) ?? []
        }
        let carrierEvents = events.filter { $0["type"] as? String != "processing" }
        #expect(carrierEvents.count > 57)
        for event in carrierEvents {
            #expect(event["tracking_number"] is String && event["tracking_url"] is String, "\(event)")
        }
        if let output = try await UCPVersionTests.validate(kind: "order", documents: documents) {
            #expect(output.contains("ok tracking"))
            #expect(!output.contains("invalid"), "\(output)")
        }
    }
}
