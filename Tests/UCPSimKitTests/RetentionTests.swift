import Foundation
import Testing
@testable import UCPSimKit

/// A long-running shop stays small: what it keeps per order and per delivery is bounded, and what a 410 makes it
/// drop is said, not silent.
@Suite struct RetentionTests {
    /// After more deliveries than the bound, the engine holds at most `outcomeLimit` final outcomes (the newest).
    @Test func theEngineKeepsAtMostTheOutcomeLimit() async throws {
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        var setup = DeliverySetup()
        setup.engine.outcomeLimit = 5
        setup.engine.ordered = false
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), delivery: setup, logger: TestSupport.quietLogger)
        let events = (0..<40).map { TestSupport.event("ord_\($0)") }
        try await shop.engine.submit(events, to: try RequestTarget(receiver.url))
        #expect(await shop.engine.drain(timeout: 60))
        #expect(await shop.engine.retainedOutcomeCount == 5)
        #expect(shop.engine.metrics.summary().delivered == 40)
        await shop.stop()
        await receiver.stop()
    }

    /// `serve`'s shop (the control API on) bounds its outcomes without being told to.
    @Test func aShopWithTheControlAPIBoundsItsOutcomes() async throws {
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            control: ControlOptions(target: nil, secret: nil),
            logger: TestSupport.quietLogger
        )
        #expect(await shop.book.limit == OrderBook.defaultLimit)
        #expect(await shop.orders.limit == OrderBook.defaultLimit)
        await shop.stop()
    }

    /// The order book keeps the most recently placed orders: the oldest past the limit is gone (404), the rest live.
    @Test func theOrderBookForgetsTheOldestOrdersPastItsLimit() async throws {
        let book = OrderBook(baseURL: "http://127.0.0.1:1", limit: 3)
        for index in 0..<5 {
            _ = try await book.place(
                OrderSpec(id: "ord_\(index)", lines: [.init(sku: "mug", title: "Mug", price: 1500, quantity: 1)])
            )
        }
        #expect(await book.count == 3)
        #expect(try await book.apply(.cancel(lines: nil), to: "ord_0") == nil)
        #expect(try await book.apply(.cancel(lines: nil), to: "ord_1") == nil)
        #expect(try await book.apply(.cancel(lines: nil), to: "ord_4") != nil)
    }

    /// The snapshot store keeps the latest snapshot of at most `limit` orders; updating one does not add one.
    @Test func theOrderStoreKeepsTheLatestSnapshotOfAtMostItsLimit() async throws {
        let store = OrderStore(limit: 2)
        func document(_ id: String, _ quantity: Int) throws -> OrderDocument {
            let spec = OrderSpec(id: id, lines: [.init(sku: "mug", title: "Mug", price: 1500, quantity: quantity)])
            return OrderDocument(try OrderStateMachine(spec: spec, at: Date(), shopBaseURL: "http://127.0.0.1:1").order)
        }
        await store.put(try document("a", 1))
        await store.put(try document("a", 2))
        await store.put(try document("b", 1))
        #expect(await store.count == 2)
        let latest = try document("c", 1)
        await store.put(latest)
        #expect(await store.count == 2)
        #expect(await store.get("a") == nil)
        #expect(await store.get("c") == latest.bytes)
    }

    /// `serve` against a receiver that answers 410: one line when it happens, one per webhook dropped after it, and
    /// `ucpsim_webhooks_dropped_endpoint_gone_total` counts the drops.
    @Test func serveSaysWhatA410MakesItDrop() async throws {
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 410) }
        let state = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let serve = try ServeProcess.start(["--webhook-url", receiver.url, "--state", state])
        let base = try await serve.baseURL()
        let client = HTTPClient(workers: 1)
        func create(_ id: String) async throws -> Int {
            let body = #"{"id":"\#(id)","items":[{"sku":"mug","price":1500}]}"#
            return try await client.send(
                OutgoingRequest(
                    method: "POST",
                    url: "\(base)/testing/orders",
                    headers: HTTPFieldList([("Content-Type", "application/json")]),
                    body: Array(body.utf8)
                )
            ).status
        }
        #expect(try await create("ord_gone") == 201)
        #expect(try await serve.waitForOutput("HTTP 410"))
        #expect(try await create("ord_dropped_1") == 201)
        #expect(try await create("ord_dropped_2") == 201)
        let metrics = try await client.send(OutgoingRequest(method: "GET", url: "\(base)/metrics"))
        let text = String(decoding: metrics.body, as: UTF8.self)
        await client.shutdown()
        let exit = await serve.interrupt(SIGTERM)
        await receiver.stop()

        #expect(exit.status == 0 && !exit.signalled, "\(exit.stderr)")
        #expect(receiver.received.count == 1)
        #expect(text.contains("ucpsim_webhooks_dropped_endpoint_gone_total 2"), "\(text)")
        let lines = exit.stderr.split(separator: "\n")
        let gone = lines.filter { $0.contains("answered HTTP 410 Gone (webhook-id=") }
        #expect(gone.count == 1 && gone.first?.contains("order=ord_gone") == true, "\(exit.stderr)")
        let dropped = lines.filter { $0.contains("dropped webhook-id=") }
        #expect(dropped.count == 2, "\(exit.stderr)")
        #expect(dropped.contains { $0.contains("order=ord_dropped_1") })
        #expect(dropped.contains { $0.contains("order=ord_dropped_2") })
        #expect(exit.stdout.contains("(2 dropped after HTTP 410 Gone)"), "\(exit.stdout)")
    }
}
