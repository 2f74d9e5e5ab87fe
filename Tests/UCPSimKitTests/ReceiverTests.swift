import Foundation
import Hummingbird
import Synchronization
import Testing
@testable import UCPSimKit

/// The reference receiver's duties beyond verification: how often it refetches a profile, and what it answers.
@Suite struct ReceiverTests {
    /// A clock the test moves.
    final class TestClock: Sendable {
        private let time = Mutex(Date(timeIntervalSince1970: 1_775_913_000))
        var now: Date { time.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { time.withLock { $0 += seconds } }
    }

    final class Counter: Sendable {
        private let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
        func increment() { count.withLock { $0 += 1 } }
    }

    /// A profile server on loopback that counts its fetches and publishes only `published`.
    static func profileServer(publishing published: SigningKey) async throws -> (RunningServer, Counter) {
        let fetches = Counter()
        let router = Router()
        let bytes = BusinessProfile(baseURL: "http://127.0.0.1", keys: [try published.publicJWK()]).json()
        router.get("/.well-known/ucp") { _, _ -> Response in
            fetches.increment()
            return .json(bytes, headers: [.cacheControl: "public, max-age=300"])
        }
        let server = try await RunningServer.start(
            router: router,
            host: "127.0.0.1",
            port: 0,
            logger: TestSupport.quietLogger
        )
        return (server, fetches)
    }

    @Test func anUnknownKeyRefetchesTheProfileAtMostOncePerTTLFloor() async throws {
        let published = try SigningKey.generate(.es256, kid: "published")
        let (profileServer, fetches) = try await Self.profileServer(publishing: published)
        let fetched = { fetches.value }
        let client = HTTPClient(workers: 2)
        let clock = TestClock()
        // What is counted is fetches, not their speed: a loaded machine (a full parallel test run) may take longer than
        // the default 5 s for one, which would turn the first answer into a fetch failure.
        var options = ReferenceReceiver.Options()
        options.profileLimits.fetchTimeoutMilliseconds = 60_000
        let receiver = ReferenceReceiver(client: client, options: options, now: { clock.now })
        let target = try RequestTarget("http://127.0.0.1:9/webhooks/ucp/orders")
        let body = try TestSupport.read("fixtures/order-created.json")

        func deliver(signedBy key: SigningKey, timestamp: Int64) async throws -> Int {
            let sender = WebhookSender(
                client: client,
                signer: MessageSigner(key: key),
                profileURL: "\(profileServer.baseURL)/.well-known/ucp"
            )
            let event = WebhookEvent(timestamp: timestamp, orderID: "ord_7Kq2mX9pLw4R", body: body)
            let request = try sender.signedRequest(
                for: event,
                to: target,
                created: Int64(clock.now.timeIntervalSince1970)
            )
            return await receiver.receive(method: "POST", url: target.url, headers: request.headers, body: body).0
        }

        let rogue = try SigningKey.generate(.es256, kid: "rogue")
        #expect(try await deliver(signedBy: rogue, timestamp: 1) == 401)
        #expect(fetched() == 2, "the first fetch, and one forced refresh for the unknown key")
        clock.advance(10)
        #expect(try await deliver(signedBy: rogue, timestamp: 2) == 401)
        clock.advance(49)
        #expect(try await deliver(signedBy: rogue, timestamp: 3) == 401)
        #expect(fetched() == 2, "no second forced refresh within the 60 s floor")
        #expect(try await deliver(signedBy: published, timestamp: 4) == 200)
        clock.advance(1)
        #expect(try await deliver(signedBy: rogue, timestamp: 5) == 401)
        #expect(fetched() == 3, "the floor has passed: one more forced refresh")
        #expect(receiver.received.filter { $0.status == 401 }.allSatisfy { $0.verdict.failureReason == .keyNotFound })
        await profileServer.stop()
        await client.shutdown()
    }

    /// `webhooks.orderEvent` in `rest.openapi.json`: the 200 body is `{"ucp": {...}}`, validated here against the
    /// official schema, over real HTTP.
    @Test(arguments: UCPVersion.allCases)
    func theAnswerIsTheUCPBodyTheWebhookSchemaRequires(_ version: UCPVersion) async throws {
        let (_, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            version: version,
            logger: TestSupport.quietLogger
        )
        let order = try await shop.book.place(
            OrderSpec(id: "ord_answer", lines: [.init(sku: "s", title: "T", price: 100, quantity: 1)])
        )
        let event = WebhookEvent(timestamp: 1_775_913_000, orderID: order.id, body: order.jsonBytes())
        let target = try RequestTarget("\(receiverServer.baseURL)/webhooks/ucp/orders")
        let request = try shop.sender.signedRequest(
            for: event,
            to: target,
            created: Int64(Date().timeIntervalSince1970)
        )
        let first = try await shop.client.send(request)
        let again = try await shop.client.send(request)
        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()

        #expect(first.status == 200 && again.status == 200)
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(first.body)) as? [String: Any])
        let ucp = try #require(answer["ucp"] as? [String: Any])
        #expect(ucp["version"] as? String == version.rawValue)
        #expect(answer["status"] == nil)
        #expect(again.body == first.body, "a duplicate is acknowledged the same way")
        let output = try await UCPVersionTests.validate(kind: "webhook-response", documents: [first.body])
        #expect(output.map { $0.contains("ok ") } ?? true)
    }
}
