import Foundation
import Synchronization
import Testing

@testable import UCPSimKit

/// `/v1/deliveries` and `/v1/events/stream` over real HTTP on a real in-process shop delivering to real receivers:
/// every route, pages, filters, strict queries, the token, resend and redeliver, the stream and its bounds, a
/// restart.
@Suite struct DeliveriesAPITests {
    typealias API = SubscriptionsCLITests.API

    /// A shop with the control API (its events go to `target` in `ucp`) and the management API.
    static func shop(
        token: String,
        target: String?,
        stateDirectory: String? = nil,
        policy: RetryPolicy = RetryPolicy(delays: [30], jitter: 0, retry4xx: false),
        inspector: DeliveryInspector.Options = DeliveryInspector.Options()
    ) async throws -> Shop {
        var delivery = DeliverySetup(stateDirectory: stateDirectory)
        delivery.engine.policy = policy
        delivery.inspector = inspector
        return try await Shop.start(
            keys: try KeyRing.ephemeral(),
            delivery: delivery,
            control: ControlOptions(target: try target.map { try RequestTarget($0) }, secret: nil),
            apiToken: BearerToken(token),
            logger: TestSupport.quietLogger
        )
    }

    /// Places an order through the control API: one `order.created` event.
    static func place(_ api: API, _ id: String) async throws {
        let placed = try await api.call(
            "POST",
            "/testing/orders",
            #"{"id":"\#(id)","items":[{"sku":"mug","title":"Mug","price":1500,"quantity":1}]}"#
        )
        #expect(placed.status == 201, "\(placed.json)")
    }

    static func list(_ object: [String: Any]) -> [[String: Any]] {
        object["deliveries"] as? [[String: Any]] ?? []
    }

    @Test func listAndDetailShowTheDeliveriesAsSent() async throws {
        let token = "tok-\(UUID().uuidString)"
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let url = receiverServer.baseURL + "/webhooks"
        let shop = try await Self.shop(token: token, target: url)
        let api = API(base: shop.server.baseURL, token: token)
        for id in ["ord_l1", "ord_l2", "ord_l3"] { try await Self.place(api, id) }
        #expect(await shop.engine.drain(timeout: 60))

        let listed = try await api.call("GET", "/v1/deliveries")
        #expect(listed.status == 200)
        let deliveries = Self.list(listed.json)
        // Newest first.
        #expect(deliveries.map { $0["order_id"] as? String } == ["ord_l3", "ord_l2", "ord_l1"])
        #expect(listed.json["next_cursor"] is NSNull)
        let first = try #require(deliveries.last)
        #expect(first["status"] as? String == "delivered" && first["dialect"] as? String == "ucp")
        #expect(first["event_type"] as? String == "order.created" && first["url"] as? String == url)
        #expect(first["subscription"] is NSNull && first["attempt_count"] as? Int == 1)
        #expect(first["next_attempt_at"] == nil && first["dead_reason"] == nil)
        let last = try #require(first["last_attempt"] as? [String: Any])
        #expect(last["number"] as? Int == 1 && last["response_status"] as? Int == 200)
        #expect(last["error"] == nil && last["response_excerpt"] is String)
        #expect((last["at"] as? String)?.hasSuffix("Z") == true && (last["at"] as? String)?.contains(".") == true)

        let id = try #require(first["id"] as? String)
        let shown = try await api.call("GET", "/v1/deliveries/\(id)")
        #expect(shown.status == 200)
        let arrived = try #require(receiver.received.first { $0.webhookID == first["event_id"] as? String })
        let request = try #require(shown.json["request"] as? [String: Any])
        #expect(request["method"] as? String == "POST" && request["url"] as? String == url)
        #expect(request["body"] as? String == String(decoding: arrived.body, as: UTF8.self))
        #expect((request["body_base64"] as? String).flatMap { Data(base64Encoded: $0) } == Data(arrived.body))
        #expect(request["body_size"] as? Int == arrived.body.count)
        // The headers as sent are the ones that arrived (the receiver adds none of its own to the signed ones).
        let headers = try #require(request["headers"] as? [[String: String]])
        for name in ["Webhook-Id", "Signature-Input", "Signature", "Content-Digest"] {
            let sent = headers.first { $0["name"]?.lowercased() == name.lowercased() }?["value"]
            #expect(sent != nil && sent == arrived.headers[name.lowercased()], "\(name)")
        }
        let base = try #require(request["signature_base"] as? String)
        #expect(base.contains("\"@method\": POST") && base.contains("\"@signature-params\": "))
        let snapshot = try #require(shown.json["order_snapshot"] as? [String: Any])
        #expect(snapshot["id"] as? String == "ord_l1")
        let attempts = try #require(shown.json["attempts"] as? [[String: Any]])
        #expect(attempts.count == 1 && attempts.first?["response_status"] as? Int == 200)

        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        await api.client.shutdown()
    }

    @Test func pagesFollowTheirCursorWhileNewDeliveriesArrive() async throws {
        let token = "tok-\(UUID().uuidString)"
        let (_, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let shop = try await Self.shop(token: token, target: receiverServer.baseURL + "/webhooks")
        let api = API(base: shop.server.baseURL, token: token)
        for index in 1...7 { try await Self.place(api, "ord_p\(index)") }
        #expect(await shop.engine.drain(timeout: 60))

        var seen: [String] = []
        var page = try await api.call("GET", "/v1/deliveries?limit=3")
        seen += Self.list(page.json).compactMap { $0["order_id"] as? String }
        // New deliveries arrive between pages: the cursor goes on after the page's last one.
        try await Self.place(api, "ord_p8")
        try await Self.place(api, "ord_p9")
        while let cursor = page.json["next_cursor"] as? String {
            page = try await api.call("GET", "/v1/deliveries?limit=3&cursor=\(cursor)")
            #expect(page.status == 200)
            seen += Self.list(page.json).compactMap { $0["order_id"] as? String }
        }
        #expect(seen == (1...7).reversed().map { "ord_p\($0)" })
        let fresh = try await api.call("GET", "/v1/deliveries?limit=2")
        #expect(Self.list(fresh.json).compactMap { $0["order_id"] as? String } == ["ord_p9", "ord_p8"])

        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        await api.client.shutdown()
    }

    @Test func filtersSelectByStatusSubscriptionOrderAndEventType() async throws {
        let token = "tok-\(UUID().uuidString)"
        let (_, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let refusing = try await ScriptedReceiver.start { _, _ in ScriptedReceiver.Answer(status: 400) }
        let shop = try await Self.shop(token: token, target: receiverServer.baseURL + "/webhooks")
        let api = API(base: shop.server.baseURL, token: token)
        let created = try await api.call(
            "POST",
            "/v1/webhooks",
            #"{"url":"\#(refusing.url)","event_types":["order.created"]}"#
        )
        let subscription = try #require(created.json["id"] as? String)
        try await Self.place(api, "ord_fa")
        try await Self.place(api, "ord_fb")
        #expect(try await api.call("POST", "/testing/orders/ord_fa/process").status == 200)
        #expect(await shop.engine.drain(timeout: 60))

        func orders(_ query: String) async throws -> [String] {
            let answer = try await api.call("GET", "/v1/deliveries?\(query)")
            #expect(answer.status == 200, "\(query): \(answer.json)")
            return Self.list(answer.json).map { "\($0["order_id"] as? String ?? "")/\($0["status"] as? String ?? "")" }
                .sorted()
        }
        #expect(try await orders("status=dead") == ["ord_fa/dead", "ord_fb/dead"])
        #expect(try await orders("status=pending") == [])
        #expect(try await orders("subscription=\(subscription)") == ["ord_fa/dead", "ord_fb/dead"])
        #expect(try await orders("order=ord_fa") == ["ord_fa/dead", "ord_fa/delivered", "ord_fa/delivered"])
        #expect(
            try await orders("event_type=order.created") == [
                "ord_fa/dead", "ord_fa/delivered", "ord_fb/dead", "ord_fb/delivered",
            ]
        )
        #expect(
            try await orders("event_type=order.created&status=delivered") == ["ord_fa/delivered", "ord_fb/delivered"]
        )
        #expect(try await orders("order=ord_fa&status=dead&event_type=order.created") == ["ord_fa/dead"])
        let dead = try await api.call("GET", "/v1/deliveries?status=dead&limit=1")
        let reason = try #require(Self.list(dead.json).first?["dead_reason"] as? String)
        #expect(reason.contains("400"))

        await shop.stop()
        await refusing.server.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        await api.client.shutdown()
    }

    @Test(arguments: [
        ("status=bogus", "$.status"), ("status=", "$.status"), ("event_type=order.nope", "$.event_type"),
        ("limit=0", "$.limit"), ("limit=501", "$.limit"), ("limit=ten", "$.limit"), ("cursor=zzz", "$.cursor"),
        ("colour=red", "$.colour"), ("limit=2&limit=3", "$.limit"),
    ])
    func aBadQueryIsRefused(query: String, path: String) async throws {
        let token = "tok-\(UUID().uuidString)"
        let shop = try await Self.shop(token: token, target: nil)
        let api = API(base: shop.server.baseURL, token: token)
        let answer = try await api.call("GET", "/v1/deliveries?\(query)")
        #expect(answer.status == 400, "\(query)")
        #expect(answer.json["code"] as? String == "invalid_request" && answer.json["path"] as? String == path)
        await shop.stop()
        await api.client.shutdown()
    }

    @Test func everyRouteNeedsTheToken() async throws {
        let token = "tok-\(UUID().uuidString)"
        let shop = try await Self.shop(token: token, target: nil)
        let client = HTTPClient(workers: 1)
        let routes = [
            ("GET", "/v1/deliveries"), ("GET", "/v1/deliveries/dlv_x"), ("POST", "/v1/deliveries/dlv_x/resend"),
            ("POST", "/v1/deliveries/dlv_x/redeliver"), ("GET", "/v1/events/stream"),
        ]
        for (method, path) in routes {
            for authorization in [nil, "Bearer wrong", "Basic \(token)"] as [String?] {
                var headers = HTTPFieldList()
                if let authorization { headers.append("Authorization", authorization) }
                let answer = try await client.send(
                    OutgoingRequest(method: method, url: shop.server.baseURL + path, headers: headers, body: [])
                )
                #expect(answer.status == 401, "\(method) \(path) \(authorization ?? "none")")
                #expect(answer.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
            }
        }
        #expect(shop.inspector?.openStreams == 0)
        await shop.stop()
        await client.shutdown()
    }

    @Test func unknownDeliveriesWrongMethodsAndConflicts() async throws {
        let token = "tok-\(UUID().uuidString)"
        let (_, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let failing = try await ScriptedReceiver.start { _, _ in ScriptedReceiver.Answer(status: 503) }
        let shop = try await Self.shop(token: token, target: receiverServer.baseURL + "/webhooks")
        let api = API(base: shop.server.baseURL, token: token)
        for path in ["/v1/deliveries/dlv_nope", "/v1/deliveries/dlv_nope/resend", "/v1/deliveries/dlv_nope/redeliver"] {
            let answer = try await api.call(path.hasSuffix("nope") ? "GET" : "POST", path)
            #expect(answer.status == 404 && answer.json["code"] as? String == "not_found", "\(path)")
        }
        for (method, path, allow) in [
            ("DELETE", "/v1/deliveries", "GET"), ("POST", "/v1/deliveries/dlv_x", "GET"),
            ("GET", "/v1/deliveries/dlv_x/resend", "POST"), ("PUT", "/v1/deliveries/dlv_x/redeliver", "POST"),
            ("POST", "/v1/events/stream", "GET"),
        ] {
            let answer = try await api.call(method, path)
            #expect(answer.status == 405 && answer.json["code"] as? String == "method_not_allowed", "\(method) \(path)")
            #expect((answer.json["content"] as? String)?.hasSuffix("use \(allow)") == true)
        }
        #expect(try await api.call("GET", "/v1/deliveries/dlv_x/other").status == 404)

        // A delivered one is not a dead letter; a pending one (503, next try in 30 s) is on its way.
        _ = try await api.call("POST", "/v1/webhooks", #"{"url":"\#(failing.url)","event_types":["*"]}"#)
        try await Self.place(api, "ord_c1")
        // Wait for the control target's delivery and the failing subscription's first attempt (its retry is 30 s
        // away).
        while true {
            let pending = Self.list(try await api.call("GET", "/v1/deliveries?status=pending").json)
            let delivered = Self.list(try await api.call("GET", "/v1/deliveries?status=delivered").json)
            if pending.first?["attempt_count"] as? Int == 1 && !delivered.isEmpty { break }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        let delivered = try #require(Self.list(try await api.call("GET", "/v1/deliveries?status=delivered").json).first)
        let pending = try #require(Self.list(try await api.call("GET", "/v1/deliveries?status=pending").json).first)
        #expect(pending["next_attempt_at"] is String && pending["attempt_count"] as? Int == 1)
        let notDead = try await api.call("POST", "/v1/deliveries/\(delivered["id"] as? String ?? "")/redeliver")
        #expect(notDead.status == 409 && notDead.json["code"] as? String == "not_dead_letter")
        for action in ["resend", "redeliver"] {
            let onItsWay = try await api.call("POST", "/v1/deliveries/\(pending["id"] as? String ?? "")/\(action)")
            #expect(onItsWay.status == 409 && onItsWay.json["code"] as? String == "delivery_pending", "\(action)")
        }
        // Strict bodies.
        let id = delivered["id"] as? String ?? ""
        for (body, path) in [
            (#"{"url":"http://127.0.0.1:1/x"}"#, "$.url"), (#"{"webhook_url":5}"#, "$.webhook_url"),
            (#"{"webhook_url":"ftp://example.com/x"}"#, "$.webhook_url"),
        ] {
            let refused = try await api.call("POST", "/v1/deliveries/\(id)/resend", body)
            #expect(refused.status == 400 && refused.json["path"] as? String == path, "\(body): \(refused.json)")
        }
        #expect(try await api.call("POST", "/v1/deliveries/\(id)/resend", "[1]").status == 400)
        #expect(try await api.call("POST", "/v1/deliveries/\(id)/redeliver", #"{"webhook_url":"x"}"#).status == 400)

        await shop.stop()
        await failing.server.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        await api.client.shutdown()
    }

    @Test func resendToAnotherURLArrivesWithTheSameIdAndBytesSignedAfresh() async throws {
        let token = "tok-\(UUID().uuidString)"
        let (first, firstServer, firstClient) = try await TestSupport.startReceiver()
        let (second, secondServer, secondClient) = try await TestSupport.startReceiver()
        let shop = try await Self.shop(token: token, target: firstServer.baseURL + "/webhooks")
        let api = API(base: shop.server.baseURL, token: token)
        try await Self.place(api, "ord_r1")
        #expect(await shop.engine.drain(timeout: 60))
        let original = try #require(first.received.first)
        let id = try #require(Self.list(try await api.call("GET", "/v1/deliveries").json).first?["id"] as? String)

        let elsewhere = secondServer.baseURL + "/elsewhere"
        let resent = try await api.call("POST", "/v1/deliveries/\(id)/resend", #"{"webhook_url":"\#(elsewhere)"}"#)
        #expect(resent.status == 202, "\(resent.json)")
        #expect(resent.json["status"] as? String == "pending" && resent.json["url"] as? String == elsewhere)
        #expect(await shop.engine.drain(timeout: 60))

        let again = try #require(second.received.first)
        #expect(again.webhookID == original.webhookID && again.body == original.body)
        #expect(again.verdict.failure == nil, "\(again.verdict)")
        #expect(again.headers["signature"] != nil && again.headers["signature-input"] != nil)
        #expect(again.url == elsewhere)
        let shown = try await api.call("GET", "/v1/deliveries/\(id)")
        #expect(shown.json["status"] as? String == "delivered" && shown.json["attempt_count"] as? Int == 2)
        let attempts = try #require(shown.json["attempts"] as? [[String: Any]])
        #expect(attempts.map { $0["number"] as? Int } == [1, 2])
        // The request shown is the last one: to the second receiver, with the headers it got.
        let request = try #require(shown.json["request"] as? [String: Any])
        let headers = try #require(request["headers"] as? [[String: String]])
        #expect(headers.first { $0["name"] == "Signature" }?["value"] == again.headers["signature"])
        #expect(request["url"] as? String == elsewhere)

        // Resent to its own receiver without a body.
        #expect(try await api.call("POST", "/v1/deliveries/\(id)/resend").status == 202)
        #expect(await shop.engine.drain(timeout: 60))
        #expect(second.received.count == 2 && first.received.count == 1)

        await shop.stop()
        for server in [firstServer, secondServer] { await server.stop() }
        for client in [firstClient, secondClient] { await client.shutdown() }
        await api.client.shutdown()
    }

    @Test func redeliverSendsADeadLetterAgain() async throws {
        let token = "tok-\(UUID().uuidString)"
        // The first answer is a 400 (dead at once: 4xx are not retried); the next ones are 200.
        let receiver = try await ScriptedReceiver.start { index, _ in
            ScriptedReceiver.Answer(status: index == 0 ? 400 : 200)
        }
        let shop = try await Self.shop(token: token, target: receiver.url)
        let api = API(base: shop.server.baseURL, token: token)
        try await Self.place(api, "ord_d1")
        #expect(await shop.engine.drain(timeout: 60))
        let dead = try #require(Self.list(try await api.call("GET", "/v1/deliveries?status=dead").json).first)
        let id = try #require(dead["id"] as? String)

        let redelivered = try await api.call("POST", "/v1/deliveries/\(id)/redeliver", "{}")
        #expect(redelivered.status == 202, "\(redelivered.json)")
        #expect(redelivered.json["status"] as? String == "pending")
        #expect(await shop.engine.drain(timeout: 60))
        let shown = try await api.call("GET", "/v1/deliveries/\(id)")
        #expect(shown.json["status"] as? String == "delivered" && shown.json["attempt_count"] as? Int == 2)
        let arrived = receiver.received
        #expect(
            arrived.count == 2 && arrived[0].webhookID == arrived[1].webhookID && arrived[0].body == arrived[1].body
        )
        // Delivered now: no longer a dead letter.
        #expect(try await api.call("POST", "/v1/deliveries/\(id)/redeliver").status == 409)

        await shop.stop()
        await receiver.server.stop()
        await api.client.shutdown()
    }

    @Test func theStreamTellsQueuedAttemptAndOutcomeAndReplaysAfterLastEventID() async throws {
        let token = "tok-\(UUID().uuidString)"
        let (_, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let shop = try await Self.shop(token: token, target: receiverServer.baseURL + "/webhooks")
        let api = API(base: shop.server.baseURL, token: token)
        let stream = try EventStreamClient(base: shop.server.baseURL, headers: [("Authorization", "Bearer \(token)")])
        let head = try await stream.readHead()
        #expect(head.hasPrefix("HTTP/1.1 200"))
        #expect(head.lowercased().contains("content-type: text/event-stream"))
        #expect(head.lowercased().contains("cache-control: no-store"))

        try await Self.place(api, "ord_s1")
        let events = try await stream.events { $0.contains { $0.name == "outcome" } }
        #expect(stream.bodyText.hasPrefix("retry: 2000\n\n"))
        #expect(events.map(\.name) == ["queued", "attempt", "outcome"])
        #expect(events.map { $0.json["order_id"] as? String } == ["ord_s1", "ord_s1", "ord_s1"])
        #expect(events.map { $0.json["status"] as? String } == ["pending", "delivered", "delivered"])
        let attempt = try #require(events[1].json["attempt"] as? [String: Any])
        #expect(attempt["number"] as? Int == 1 && attempt["response_status"] as? Int == 200)
        let ids = events.compactMap { $0.id.flatMap { UInt64($0) } }
        #expect(ids.count == 3 && ids == ids.sorted() && Set(ids).count == 3)
        stream.close()

        // Reconnecting after the first event replays the other two.
        let again = try EventStreamClient(
            base: shop.server.baseURL,
            headers: [("Authorization", "Bearer \(token)"), ("Last-Event-ID", String(ids[0]))]
        )
        let replayed = try await again.events { $0.count >= 2 }
        #expect(replayed.map(\.name) == ["attempt", "outcome"] && replayed.map(\.id) == events.dropFirst().map(\.id))
        again.close()
        // An id the shop never gave (or no longer keeps): reset.
        let unknown = try EventStreamClient(
            base: shop.server.baseURL,
            headers: [("Authorization", "Bearer \(token)"), ("Last-Event-ID", "987654")]
        )
        let reset = try await unknown.events { !$0.isEmpty }
        #expect(reset.first?.name == "reset" && reset.first?.data == "{}")
        unknown.close()

        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        await api.client.shutdown()
    }

    @Test func streamsAreBoundedEndWhenTheirClientGoesAndWhenTheShopStops() async throws {
        let token = "tok-\(UUID().uuidString)"
        var options = DeliveryInspector.Options()
        options.maxStreams = 2
        options.keepAlive = 0.05
        let shop = try await Self.shop(token: token, target: nil, inspector: options)
        let auth = [("Authorization", "Bearer \(token)")]
        let one = try EventStreamClient(base: shop.server.baseURL, headers: auth)
        let two = try EventStreamClient(base: shop.server.baseURL, headers: auth)
        _ = try await one.readHead()
        _ = try await two.readHead()
        let three = try EventStreamClient(base: shop.server.baseURL, headers: auth)
        let refused = try await three.readHead()
        #expect(refused.hasPrefix("HTTP/1.1 503"))
        _ = try await three.readToEnd()
        #expect(three.bodyText.contains("too_many_streams"))
        // Keep-alive comments while idle.
        _ = try await one.events { _ in one.bodyText.contains(": keep-alive\n\n") }
        #expect(one.bodyText.contains(": keep-alive\n\n"))

        // A client that hangs up: its stream ends at the next keep-alive.
        two.close()
        while shop.inspector?.openStreams != 1 { try await Task.sleep(nanoseconds: 10_000_000) }
        let four = try EventStreamClient(base: shop.server.baseURL, headers: auth)
        #expect(try await four.readHead().hasPrefix("HTTP/1.1 200"))

        // Stopping the shop ends the open streams (it does not wait for their clients).
        await shop.stop()
        #expect(try await one.readToEnd())
        #expect(try await four.readToEnd())
        #expect(shop.inspector?.openStreams == 0)
    }

    @Test func aStreamThatFallsBehindGetsResetNotAnEndlessQueue() async throws {
        var options = DeliveryInspector.Options()
        options.streamQueueLimit = 4
        let inspector = DeliveryInspector(restored: [], outbox: nil, options: options)
        #expect(inspector.events.limits.queue == 4)
        let slow = try #require(inspector.events.subscribe())
        let state = DeliveryState(
            event: WebhookEvent(timestamp: 1_800_000_000, orderID: "ord_slow", body: Array("{}".utf8)),
            target: "http://127.0.0.1:1/x",
            firstAttempt: Date()
        )
        for _ in 0..<3 { inspector.observe(.queued([state])) }
        #expect(inspector.events.backlogs.map(\.queued) == [3])
        var read = ""
        for _ in 0..<3 {
            read += String(decoding: inspector.events.text(of: try #require(await slow.next())), as: UTF8.self)
        }
        #expect(read.components(separatedBy: "event: queued").count == 4 && read.hasPrefix("id: 1\nevent: queued\n"))
        for _ in 0..<50 { inspector.observe(.queued([state])) }
        #expect(inspector.events.backlogs.map(\.queued) == [0] && inspector.events.backlogs.map(\.reset) == [true])
        let behind = String(decoding: inspector.events.text(of: try #require(await slow.next())), as: UTF8.self)
        // Only the reset (with the newest id), not the 50 events.
        #expect(behind == "id: 53\nevent: reset\ndata: {}\n\n")
        inspector.observe(.finished(state))
        let next = String(decoding: inspector.events.text(of: try #require(await slow.next())), as: UTF8.self)
        #expect(next.hasPrefix("id: 54\nevent: outcome\n"))
        #expect(inspector.count == 1)
        slow.close()
    }

    @Test func theIndexKeepsPendingOnesDeadLettersAndTheNewestDeliveredOnes() throws {
        var options = DeliveryInspector.Options()
        options.keepDelivered = 3
        options.replayLimit = 5
        let inspector = DeliveryInspector(restored: [], outbox: nil, options: options)
        var states: [DeliveryState] = []
        for index in 0..<10 {
            let state = DeliveryState(
                event: WebhookEvent(timestamp: 1_800_000_000, orderID: "ord_\(index)", body: Array("{}".utf8)),
                target: "http://127.0.0.1:1/x",
                firstAttempt: Date()
            )
            states.append(state)
            inspector.observe(.queued([state]))
        }
        #expect(inspector.count == 10)
        // ord_0 dies, ord_1 … ord_7 are delivered.
        var dead = states[0]
        dead.kill(reason: "test")
        inspector.observe(.finished(dead))
        for index in 1..<8 {
            var state = states[index]
            let attempt = AttemptRecord(number: 1, at: Date(), status: 200, milliseconds: 1, detail: "")
            state.record(attempt, retryAfter: nil, policy: .standard, random: 0)
            inspector.observe(.finished(state))
        }
        // Two pending, the three newest delivered ones, and the dead letter (whatever its age).
        #expect(inspector.count == 6 && inspector.keptEvents == 5)
        let listed = inspector.page(DeliveryFilter(), after: nil, limit: 50).entries.map(\.state.event.orderID)
        #expect(listed == ["ord_9", "ord_8", "ord_7", "ord_6", "ord_5", "ord_0"])
    }

    @Test func aRestartedShopShowsTheDeliveriesItRestored() async throws {
        let token = "tok-\(UUID().uuidString)"
        let directory = SubscriptionRegistryTests.temporaryDirectory()
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let url = receiverServer.baseURL + "/webhooks"
        let shop = try await Self.shop(token: token, target: url, stateDirectory: directory)
        let api = API(base: shop.server.baseURL, token: token)
        try await Self.place(api, "ord_x1")
        try await Self.place(api, "ord_x2")
        #expect(await shop.engine.drain(timeout: 60))
        await shop.stop()
        await api.client.shutdown()

        let restarted = try await Self.shop(token: token, target: url, stateDirectory: directory)
        let again = API(base: restarted.server.baseURL, token: token)
        let listed = Self.list(try await again.call("GET", "/v1/deliveries").json)
        #expect(listed.map { $0["order_id"] as? String } == ["ord_x2", "ord_x1"])
        #expect(listed.map { $0["status"] as? String } == ["delivered", "delivered"])
        #expect(listed.map { $0["attempt_count"] as? Int } == [1, 1])
        let id = try #require(listed.last?["id"] as? String)
        let shown = try await again.call("GET", "/v1/deliveries/\(id)")
        let request = try #require(shown.json["request"] as? [String: Any])
        let arrived = try #require(receiver.received.first { $0.webhookID == listed.last?["event_id"] as? String })
        #expect(request["body"] as? String == String(decoding: arrived.body, as: UTF8.self), "\(request)")
        #expect((shown.json["order_snapshot"] as? [String: Any])?["id"] as? String == "ord_x1")
        // Resent after the restart (to another receiver: the first knows the order from the earlier shop): its
        // bytes come back from the journal.
        let (other, otherServer, otherClient) = try await TestSupport.startReceiver()
        let resent = try await again.call(
            "POST",
            "/v1/deliveries/\(id)/resend",
            #"{"webhook_url":"\#(otherServer.baseURL)/webhooks"}"#
        )
        #expect(resent.status == 202)
        #expect(await restarted.engine.drain(timeout: 60))
        let resentArrival = try #require(other.received.first)
        #expect(resentArrival.webhookID == arrived.webhookID && resentArrival.body == arrived.body)
        #expect(resentArrival.verdict.failure == nil, "\(resentArrival.verdict)")
        await otherServer.stop()
        await otherClient.shutdown()

        await restarted.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        await again.client.shutdown()
    }

    @Test func servePrintsTheInspectorAndStopsWithAStreamOpen() async throws {
        let serve = try ServeProcess.start(["--state", SubscriptionRegistryTests.temporaryDirectory()])
        let base = try await serve.baseURL()
        #expect(try await serve.waitForOutput("inspector: \(base)/inspector\n"))
        var line: Substring?
        while line == nil {
            line = serve.stderr.split(separator: "\n").first { $0.hasPrefix("api token: ") }
            if line == nil { try await Task.sleep(nanoseconds: 2_000_000) }
        }
        let tokenLine = try #require(line)
        let token = try #require(tokenLine.dropFirst("api token: ".count).split(separator: " ").first.map(String.init))
        #expect(tokenLine.contains("\(base)/inspector#token=\(token)"), "\(tokenLine)")

        // The API answers, and an open stream does not keep serve from stopping on the first signal.
        let api = API(base: base, token: token)
        let listed = try await api.call("GET", "/v1/deliveries")
        #expect(listed.status == 200 && Self.list(listed.json).isEmpty && listed.json["next_cursor"] is NSNull)
        let stream = try EventStreamClient(base: base, headers: [("Authorization", "Bearer \(token)")])
        #expect(try await stream.readHead().hasPrefix("HTTP/1.1 200"))
        _ = try await stream.events { _ in stream.bodyText.hasPrefix("retry: 2000") }
        let exit = await serve.interrupt(SIGTERM)
        #expect(!exit.hung && exit.status == 0, "\(exit.stderr)")
        #expect(try await stream.readToEnd())
        await api.client.shutdown()
    }

    @Test func aBodyTheJournalCannotGiveBackIsSaidSoAndNotResent() async throws {
        let token = "tok-\(UUID().uuidString)"
        let directory = SubscriptionRegistryTests.temporaryDirectory()
        let (_, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let shop = try await Self.shop(
            token: token,
            target: receiverServer.baseURL + "/webhooks",
            stateDirectory: directory
        )
        let api = API(base: shop.server.baseURL, token: token)
        try await Self.place(api, "ord_b1")
        #expect(await shop.engine.drain(timeout: 60))
        let id = try #require(Self.list(try await api.call("GET", "/v1/deliveries").json).first?["id"] as? String)
        #expect(
            (try await api.call("GET", "/v1/deliveries/\(id)").json["request"] as? [String: Any])?["body"] is String
        )

        // The journal's copy of the body changes under the running shop (same length, other bytes).
        let path = (directory as NSString).appendingPathComponent("outbox.jsonl")
        var journal = try #require(FileManager.default.contents(atPath: path))
        let marker = Data(#""body":""#.utf8)
        let start = try #require(journal.range(of: marker)).upperBound
        journal[start + 4] = journal[start + 4] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seek(toOffset: 0)
        try handle.write(contentsOf: journal)
        try handle.close()

        let shown = try await api.call("GET", "/v1/deliveries/\(id)")
        #expect(shown.status == 200)
        let request = try #require(shown.json["request"] as? [String: Any])
        #expect(request["body"] is NSNull && request["body_base64"] is NSNull && request["body_size"] is NSNull)
        #expect((request["body_unavailable"] as? String)?.contains("SHA-256") == true, "\(request)")
        #expect(shown.json["order_snapshot"] is NSNull && request["headers"] is [[String: String]])
        let refused = try await api.call("POST", "/v1/deliveries/\(id)/resend")
        #expect(refused.status == 409 && refused.json["code"] as? String == "body_unavailable", "\(refused.json)")

        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        await api.client.shutdown()
    }
}
