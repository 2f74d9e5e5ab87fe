import Foundation
import Testing

@testable import UCPSimKit

/// The publish path end to end: subscriptions made over `/v1/webhooks` receive their event types in their dialect,
/// each checked by an implementation ucpsim did not write; a 410 disables one subscription only; subscriptions and
/// their pending deliveries survive a SIGKILL.
@Suite struct SubscriptionFanOutTests {
    typealias API = SubscriptionsCLITests.API

    /// A shop with the control API and the management API, on a fresh state directory.
    static func shop(token: String) async throws -> Shop {
        var delivery = DeliverySetup(stateDirectory: SubscriptionRegistryTests.temporaryDirectory())
        delivery.engine.policy = RetryPolicy(delays: [0.05, 0.05, 0.05], jitter: 0, retry4xx: false)
        return try await Shop.start(
            keys: try KeyRing.ephemeral(),
            delivery: delivery,
            control: ControlOptions(target: nil, secret: nil),
            apiToken: BearerToken(token),
            logger: TestSupport.quietLogger
        )
    }

    /// The events a strict Python receiver processed: (event id, event type, body), in arrival order.
    static func processed(_ url: String) async throws -> [(id: String, type: String, body: [String: Any])] {
        let client = HTTPClient(workers: 1)
        let response = try await client.send(OutgoingRequest(method: "GET", url: url + "/events"))
        await client.shutdown()
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [[String]])
        return try rows.map { row in
            let body = try #require(
                try JSONSerialization.jsonObject(with: Data(row[2].utf8)) as? [String: Any]
            )
            return (row[0], row[1], body)
        }
    }

    @Test func subscriptionsMadeOverTheAPIGetTheirEventTypesInTheirDialect() async throws {
        let token = "tok-\(UUID().uuidString)"
        let shop = try await Self.shop(token: token)
        let api = API(base: shop.server.baseURL, token: token)
        let hmacSecret = WebhookSecret.generate().text
        let standardSecret = WebhookSecret.generate().text
        let (hmacProcess, hmacURL) = try await HMACCheckTests.strictReceiver(.ucpHMAC, secret: hmacSecret)
        let (standardProcess, standardURL) = try await HMACCheckTests.strictReceiver(
            .standardWebhooks,
            secret: standardSecret
        )
        defer {
            kill(hmacProcess.processIdentifier, SIGKILL)
            kill(standardProcess.processIdentifier, SIGKILL)
        }
        let (reference, referenceServer, referenceClient) = try await TestSupport.startReceiver()

        let subscriptions = [
            #"{"url":"\#(hmacURL)","event_types":["order.created","fulfillment.status_changed"],"#
                + #""dialect":"ucp-hmac","secret_key":"\#(hmacSecret)"}"#,
            #"{"url":"\#(standardURL)","event_types":["*"],"dialect":"standard-webhooks","#
                + #""secret_key":"\#(standardSecret)"}"#,
            #"{"url":"\#(referenceServer.baseURL)/webhooks/ucp/orders","event_types":["order.created","order.updated"]}"#,
        ]
        for body in subscriptions {
            let created = try await api.call("POST", "/v1/webhooks", body)
            #expect(created.status == 201, "\(created.json)")
        }
        // Place, process, ship: the control API's changes, published to every subscription.
        let placed = try await api.call(
            "POST",
            "/testing/orders",
            #"{"id":"ord_fan","items":[{"sku":"mug","title":"Mug","price":1500,"quantity":2}]}"#
        )
        #expect(placed.status == 201)
        #expect(try await api.call("POST", "/testing/orders/ord_fan/process").status == 200)
        #expect(try await api.call("POST", "/testing/orders/ord_fan/ship").status == 200)
        #expect(await shop.engine.drain(timeout: 60))
        await shop.stop()
        await referenceServer.stop()
        await referenceClient.shutdown()
        await api.client.shutdown()

        // ucp-hmac, verified by Python's hmac: only the types it asked for, in order, each with its envelope.
        let hmac = try await Self.processed(hmacURL)
        #expect(hmac.map(\.type) == ["order.created", "fulfillment.status_changed", "fulfillment.status_changed"])
        #expect(
            hmac.map { ($0.body["data"] as? [String: Any])?["new_status"] as? String } == [
                nil, "PROCESSING", "SHIPPED",
            ]
        )
        #expect((hmac.first?.body["data"] as? [String: Any])?["order_id"] as? String == "ord_fan")
        // standard-webhooks, verified by the official library: every event of the three changes, in order.
        let standard = try await Self.processed(standardURL)
        #expect(
            standard.map(\.type) == [
                "order.created", "payment.status_changed",
                "order.updated", "fulfillment.status_changed",
                "order.updated", "fulfillment.status_changed", "payment.status_changed",
            ]
        )
        #expect(Set(standard.map(\.id)).count == 7, "each event its own id")
        // One event, one id, whatever the dialect: ucp-hmac's order.created is standard-webhooks' too.
        #expect(hmac.first?.id == standard.first?.id)
        // ucp: one webhook per change (the order entity carries all of it), verified by the reference receiver, and
        // the last one by the independent RFC 9421 verifier.
        #expect(reference.received.count == 3)
        let record = try #require(reference.received.last)
        let jwks = try JSONSerialization.jsonObject(with: JSONEncoder().encode(["keys": shop.keyRing.publicJWKs()]))
        let result = try await TestSupport.run(
            TestSupport.python,
            [
                InteropTests.verifier, try TestSupport.temporaryJSON(record.verifierRequest, name: "request.json"),
                try TestSupport.temporaryJSON(jwks, name: "jwks.json"),
            ]
        )
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    @Test func aGoneReceiverDisablesItsSubscriptionOnlyAndTwoSubscriptionsOnOneURLAreTwoDeliveries() async throws {
        let token = "tok-\(UUID().uuidString)"
        let shop = try await Self.shop(token: token)
        let api = API(base: shop.server.baseURL, token: token)
        let shared = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let gone = try await ScriptedReceiver.start { _, _ in .init(status: 410) }
        var ids: [String] = []
        for url in [shared.url, shared.url, gone.url] {
            let created = try await api.call("POST", "/v1/webhooks", #"{"url":"\#(url)","event_types":["*"]}"#)
            ids.append(try #require(created.json["id"] as? String))
        }
        _ = try await api.call("POST", "/testing/orders", #"{"id":"ord_g","items":[{"sku":"a","price":100}]}"#)
        #expect(await shop.engine.drain(timeout: 60))
        #expect(shared.received.count == 2, "one URL, two subscriptions: two deliveries")
        #expect(gone.received.count == 1)
        // The 410 disabled that subscription (visible in the API), and only that one.
        var states: [String: Bool] = [:]
        for _ in 0..<500 {
            let listed = try await api.call("GET", "/v1/webhooks")
            for row in listed.json["data"] as? [[String: Any]] ?? [] {
                if let id = row["id"] as? String { states[id] = row["enabled"] as? Bool }
            }
            if states[ids[2]] == false { break }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        #expect(states == [ids[0]: true, ids[1]: true, ids[2]: false])
        let disabled = try await api.call("GET", "/v1/webhooks/\(ids[2])")
        #expect((disabled.json["disabled_reason"] as? String)?.contains("410") == true)
        // The next change goes to the two live subscriptions, not to the disabled one.
        _ = try await api.call("POST", "/testing/orders/ord_g/process")
        #expect(await shop.engine.drain(timeout: 60))
        await shop.stop()
        await api.client.shutdown()
        #expect(shared.received.count == 4)
        #expect(gone.received.count == 1)
        await shared.stop()
        await gone.stop()
    }
}

extension SubscriptionFanOutTests {
    /// Concurrent control-API calls on one order: each change and the journaling of its deliveries are one step, so
    /// the receiver gets the snapshots in the order the changes were made (each one more credit than the last).
    @Test func concurrentChangesToOneOrderAreDeliveredInTheOrderTheyWereMade() async throws {
        let token = "tok-\(UUID().uuidString)"
        let shop = try await Self.shop(token: token)
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let api = API(base: shop.server.baseURL, token: token)
        #expect(
            try await api.call("POST", "/v1/webhooks", #"{"url":"\#(receiver.url)","event_types":["*"]}"#).status == 201
        )
        #expect(
            try await api.call("POST", "/testing/orders", #"{"id":"ord_c","items":[{"sku":"a","price":100}]}"#).status
                == 201
        )
        let client = HTTPClient(workers: 8)
        let calls = 40
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<calls {
                group.addTask {
                    try await client.send(
                        OutgoingRequest(
                            method: "POST",
                            url: "\(shop.server.baseURL)/testing/orders/ord_c/credit",
                            headers: HTTPFieldList([("Content-Type", "application/json")]),
                            body: Array(#"{"amount":100}"#.utf8)
                        )
                    ).status
                }
            }
            for try await status in group { #expect(status == 200) }
        }
        #expect(await shop.engine.drain(timeout: 60))
        await shop.stop()
        await client.shutdown()
        await api.client.shutdown()
        await receiver.stop()
        let credits = try receiver.received.map { received in
            let order = try #require(try JSONSerialization.jsonObject(with: Data(received.body)) as? [String: Any])
            return (order["adjustments"] as? [Any])?.count ?? 0
        }
        #expect(credits.count == calls + 1)
        #expect(credits == Array(0...calls), "snapshots in the order they were made: \(credits)")
    }
}

extension SubscriptionFanOutTests {
    /// `serve` killed while a subscription's delivery is pending (its receiver down): after a restart on the same
    /// state directory the subscription, its secret and the delivery are all there, and the delivery arrives, signed
    /// with the stored secret, at a `listen` that checks it.
    @Test func subscriptionsAndTheirPendingDeliveriesSurviveSIGKILL() async throws {
        let state = SubscriptionRegistryTests.temporaryDirectory()
        let secret = WebhookSecret.generate().text
        // A receiver's address, then nothing listening there.
        let probe = try await ListenHMACTests.Listener.start(arguments: ["--secret", secret])
        let url = probe.baseURL
        _ = try await probe.stop()
        let port = try #require(URLComponents(string: url)?.port)
        let added = try await TestSupport.run(
            CLITests.binary,
            [
                "subscriptions", "add", "--state", state, "--url", url, "--event-type", "order.created", "--dialect",
                "ucp-hmac", "--secret", secret,
            ]
        )
        #expect(added.status == 0, "\(added.stderr)")
        let options = ["--state", state, "--api-token", "t", "--retry-schedule", "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"]
        let serve = try ServeProcess.start(options)
        let api = API(base: try await serve.baseURL(), token: "t")
        #expect(
            try await api.call("POST", "/testing/orders", #"{"id":"ord_k","items":[{"sku":"a","price":1}]}"#).status
                == 201
        )
        // Wait until the first attempt failed (the journal says so), then kill.
        var attempted = false
        for _ in 0..<1000 where !attempted {
            let snapshot = try Outbox.inspect(directory: state)
            attempted = snapshot.states.first.map { !$0.attempts.isEmpty } ?? false
            if !attempted { try await Task.sleep(nanoseconds: 10_000_000) }
        }
        #expect(attempted)
        #expect(await serve.interrupt(SIGKILL).signalled)
        await api.client.shutdown()

        let listener = try await ListenHMACTests.Listener.start(arguments: ["--port", String(port), "--secret", secret])
        let again = try ServeProcess.start(options)
        var delivered = false
        // Bounded at a minute: the restarted serve and its 1 s retries are slow on a loaded machine.
        for _ in 0..<6000 where !delivered {
            let snapshot = try Outbox.inspect(directory: state)
            delivered = snapshot.states.first?.phase == .delivered
            if !delivered { try await Task.sleep(nanoseconds: 10_000_000) }
        }
        _ = await again.interrupt(SIGTERM)
        let lines = try await listener.stop()
        #expect(delivered)
        let snapshot = try Outbox.inspect(directory: state)
        #expect(snapshot.states.count == 1)
        let state0 = try #require(snapshot.states.first)
        #expect(state0.dialect == .ucpHMAC && state0.subscription != nil)
        #expect(
            lines.contains {
                $0.hasPrefix("verified  dialect=ucp-hmac event=\(state0.event.webhookID) type=order.created")
            },
            "\(lines)"
        )
        #expect(!lines.joined().contains(secret))
        let journal = try String(contentsOfFile: state + "/outbox.jsonl", encoding: .utf8)
        #expect(!journal.contains(secret) && !journal.contains(String(secret.dropFirst(6))), "no secret in the journal")
    }
}

extension SubscriptionFanOutTests {
    /// Two snapshots of one order in one publication (a replay): the order's latest snapshot is the later one.
    @Test func aPublicationKeepsEachOrdersLastSnapshot() async throws {
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        let fixture = try TestSupport.read("fixtures/order-created.json")
        let first = try OrderDocument(bytes: fixture, source: "first")
        let changed = try #require(try JSONSerialization.jsonObject(with: Data(fixture)) as? [String: Any])
        var second = changed
        second["label"] = "second"
        let later = try OrderDocument(
            bytes: [UInt8](try JSONSerialization.data(withJSONObject: second, options: [.sortedKeys])),
            source: "second"
        )
        try await shop.webhooks.publish([
            [OrderChange.event(document: first, first: true, occurredAt: 1)],
            [OrderChange.event(document: later, first: false, occurredAt: 2)],
        ])
        let stored = await shop.orders.get(first.id)
        await shop.stop()
        #expect(stored == later.bytes)
    }
}
