import Foundation
import Testing
@testable import UCPSimKit

/// Real HTTP over loopback: a running shop, the reference receiver, libcurl in between.
@Suite struct EndToEndTests {
    @Test func signedDeliveryIsVerifiedByTheReferenceReceiver() async throws {
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        let document = try OrderDocument.load(path: TestSupport.path("fixtures/order-created.json"))
        let target = try RequestTarget("\(receiverServer.baseURL)/webhooks/ucp/orders?tenant=a")
        let attempt = try await shop.send(document, to: target)
        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()

        #expect(attempt.accepted)
        let record = try #require(receiver.received.last)
        #expect(record.status == 200)
        #expect(try record.verdict.get() == shop.keyRing.active.kid)
        #expect(record.body == document.bytes, "the body arrives byte-identical")
        #expect(record.headers["webhook-id"] == attempt.webhookID)
        #expect(UUID(uuidString: attempt.webhookID) != nil)
        #expect(record.headers["content-type"] == "application/json")
        #expect(record.headers["signature-input"]?.contains("\"@query\"") == true)
        #expect(record.headers["signature-input"]?.contains("alg=") == false)
    }

    @Test func tamperedBodyIsRejectedWithDigestMismatch() async throws {
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        let document = try OrderDocument.load(path: TestSupport.path("fixtures/order-created.json"))
        let target = try RequestTarget("\(receiverServer.baseURL)/hook")
        let event = WebhookEvent(timestamp: 1_775_913_000, orderID: document.id, body: document.bytes)
        var request = try shop.sender.signedRequest(
            for: event,
            to: target,
            created: Int64(Date().timeIntervalSince1970)
        )
        request.body = Array(
            String(decoding: document.bytes, as: UTF8.self).replacingOccurrences(of: "2800", with: "0001").utf8
        )
        let response = try await shop.client.send(request)
        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()

        #expect(response.status == 400)
        let body = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: String]
        #expect(body?["code"] == "digest_mismatch")
        #expect(receiver.received.last?.verdict.failureReason == .digestMismatch)
    }

    @Test func unpublishedKeyIsRejectedAndRotationIsPickedUp() async throws {
        // The receiver refetches on an unknown key at most once per 60 s: its clock moves past that below.
        let clock = ReceiverTests.TestClock()
        let receiverClient = HTTPClient(workers: 2)
        let (receiver, receiverServer) = try await ReferenceReceiver.start(
            client: receiverClient,
            logger: TestSupport.quietLogger,
            now: { clock.now }
        )
        let published = try SigningKey.generate(.es256, kid: "published")
        let shop = try await Shop.start(keys: try KeyRing(keys: [published]), logger: TestSupport.quietLogger)
        let target = try RequestTarget("\(receiverServer.baseURL)/hook")
        let document = try OrderDocument.load(path: TestSupport.path("fixtures/order-created.json"))

        let first = try await shop.send(document, to: target)
        #expect(first.accepted)

        // A key the profile does not publish, same UCP-Agent: key_not_found (after one refetch of the profile).
        let rogue = shop.sender.with(key: try SigningKey.generate(.es256, kid: "rogue"))
        let event = WebhookEvent(timestamp: 1, orderID: document.id, body: document.bytes)
        let rejected = try await rogue.deliver(event, to: target)
        #expect(!rejected.accepted)
        #expect(receiver.received.last?.verdict.failureReason == .keyNotFound)
        #expect(receiver.received.last?.status == 401)

        // Rotation: the shop publishes a new key and drops the old one, under the same profile URL.
        clock.advance(ProfileCache.ttlFloor)
        let next = try SigningKey.generate(.ed25519, kid: "next")
        shop.publisher.publish(keys: [try next.publicJWK()])
        let rotated = shop.sender.with(key: next)
        let afterRotation = try await rotated.deliver(
            WebhookEvent(timestamp: 2, orderID: document.id, body: document.bytes),
            to: target
        )
        // The old key is gone: a signature with it no longer verifies once the receiver has refetched.
        let stale = try await shop.sender.deliver(
            WebhookEvent(timestamp: 3, orderID: document.id, body: document.bytes),
            to: target
        )
        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        #expect(afterRotation.accepted)
        #expect(try receiver.received[receiver.received.count - 2].verdict.get() == "next")
        #expect(!stale.accepted)
        #expect(receiver.received.last?.verdict.failureReason == .keyNotFound)
    }

    @Test func anotherShopCannotSpeakForThisShopsOrder() async throws {
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let shopA = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        let shopB = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        let target = try RequestTarget("\(receiverServer.baseURL)/hook")
        let document = try OrderDocument.load(path: TestSupport.path("fixtures/order-created.json"))
        let own = try await shopA.send(document, to: target)
        let foreign = try await shopB.sender.deliver(
            WebhookEvent(timestamp: 1, orderID: document.id, body: document.bytes),
            to: target
        )
        await shopA.stop()
        await shopB.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        #expect(own.accepted)
        #expect(!foreign.accepted)
        #expect(receiver.received.last?.status == 403)
        #expect(receiver.received.last?.verdict.failureReason == .orderNotOwned)
    }

    @Test func servedProfilePublishesItsReleasesKeysWithCachingHeaders() async throws {
        let ring = try KeyRing(keys: [
            try SigningKey.generate(.es256, kid: "a"), try SigningKey.generate(.es384, kid: "b"),
        ])
        let shop = try await Shop.start(keys: ring, logger: TestSupport.quietLogger)
        let response = try await shop.client.send(OutgoingRequest(method: "GET", url: shop.profile.profileURL))
        let etag = try #require(response.headers["etag"])
        var conditional = OutgoingRequest(method: "GET", url: shop.profile.profileURL)
        conditional.headers.append("If-None-Match", etag)
        let notModified = try await shop.client.send(conditional)
        let order = try await shop.client.send(
            OutgoingRequest(
                method: "GET",
                url: "\(shop.server.baseURL)/orders/ord_missing",
                headers: HTTPFieldList([("UCP-Agent", try await TestPlatform.agent())])
            )
        )
        await shop.stop()

        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.headers["cache-control"] == "public, max-age=300")
        #expect(notModified.status == 304)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        // 2026-08-25 (the default) names the list `keys`; 2026-04-08 named it `signing_keys` (UCPVersionTests).
        let keys = try #require(json["keys"] as? [[String: Any]])
        #expect(json["signing_keys"] == nil)
        #expect(keys.map { $0["kid"] as? String } == ["a", "b"])
        #expect(!keys.contains { $0["d"] != nil })
        let ucp = try #require(json["ucp"] as? [String: Any])
        #expect(ucp["version"] as? String == "2026-08-25")
        #expect(FetchedProfile(json: response.body)?.keys.count == 2)
        let error = try JSONSerialization.jsonObject(with: Data(order.body)) as? [String: Any]
        // An unsigned request (no platform to speak for, no identity linking) may read no order.
        #expect((error?["messages"] as? [[String: Any]])?.first?["code"] as? String == "unauthorized")
    }

    @Test func ordersAreServedAfterTheyAreSent() async throws {
        let (_, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            control: ControlOptions(target: nil, secret: nil),
            logger: TestSupport.quietLogger
        )
        let document = try OrderDocument.load(path: TestSupport.path("fixtures/order-created.json"))
        _ = try await shop.send(document, to: try RequestTarget("\(receiverServer.baseURL)/hook"))
        // No platform placed it: the control API's back door reads it.
        let fetched = try await shop.client.send(
            OutgoingRequest(method: "GET", url: "\(shop.server.baseURL)/testing/orders/\(document.id)")
        )
        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        #expect(fetched.status == 200)
        #expect(fetched.body == document.bytes)
    }

    @Test func unreachableReceiverIsATransportErrorNotACrash() async throws {
        var setup = DeliverySetup()
        setup.engine.policy.delays = []
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), delivery: setup, logger: TestSupport.quietLogger)
        // Bind and close a port so nothing listens on it.
        let closed = try await TestSupport.startReceiver()
        let url = "\(closed.1.baseURL)/hook"
        await closed.1.stop()
        await closed.2.shutdown()
        let document = try OrderDocument.load(path: TestSupport.path("fixtures/order-created.json"))
        let attempt = try await shop.send(document, to: try RequestTarget(url))
        await shop.stop()
        #expect(!attempt.accepted)
        #expect(attempt.attempts.count == 1 && attempt.lastStatus == nil)
        #expect(attempt.attempts.first?.detail.contains("connect") == true, "\(attempt.attempts)")
    }
}

extension Result where Failure == SignatureFailure {
    var failureReason: SignatureFailure.Reason? {
        if case .failure(let failure) = self { return failure.reason }
        return nil
    }
}
