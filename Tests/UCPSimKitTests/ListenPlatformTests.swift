import Foundation
import Testing

@testable import UCPSimKit

/// `ucpsim listen` is also a platform: its `/.well-known/ucp` is a platform profile whose order webhook URL is the
/// receiver, so a shop that a request names it to sends that checkout's order webhooks to it, verified.
@Suite struct ListenPlatformTests {
    @Test func theReceiversPlatformProfileIsValidInEachRelease() async throws {
        let (_, server, client) = try await TestSupport.startReceiver()
        var bodies: [UCPVersion: [UInt8]] = [:]
        for (version, path) in [(UCPVersion.newest, "/.well-known/ucp"), (.v2026_04_08, "/.well-known/ucp/2026-04-08")]
        {
            let response = try await client.send(OutgoingRequest(method: "GET", url: "\(server.baseURL)\(path)"))
            #expect(response.status == 200)
            bodies[version] = response.body
        }
        await server.stop()
        await client.shutdown()
        for (version, body) in bodies {
            let profile = try UCPVersionTests.object(body)
            let ucp = try #require(profile["ucp"] as? [String: Any])
            #expect(ucp["version"] as? String == version.rawValue)
            let order = (ucp["capabilities"] as? [String: [[String: Any]]])?["dev.ucp.shopping.order"]?.first
            let webhook = (order?["config"] as? [String: Any])?["webhook_url"] as? String
            #expect(webhook == "\(server.baseURL)\(ReferenceReceiver.platformWebhookPath)")
            let output = try await UCPVersionTests.validate(kind: "platform-profile", documents: [body])
            if let output, version == .newest {
                #expect(output.contains("ok main") && output.contains("ok ucp-sdk-0.5.0"), "\(output)")
            }
        }
    }

    @Test func aCheckoutNamingTheReceiverAsItsPlatformSendsItTheVerifiedOrder() async throws {
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        // As `serve` runs it: registered subscriptions (the platform's among them) get what is published.
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            control: ControlOptions(target: nil, secret: nil),
            logger: TestSupport.quietLogger
        )
        let agent = "profile=\"\(receiverServer.baseURL)/.well-known/ucp\""
        func send(_ method: String, _ path: String, _ body: String) async throws -> [String: Any] {
            let response = try await shop.client.send(
                OutgoingRequest(
                    method: method,
                    url: "\(shop.server.baseURL)\(path)",
                    headers: HTTPFieldList([("Content-Type", "application/json"), ("UCP-Agent", agent)]),
                    body: Array(body.utf8)
                )
            )
            return try UCPVersionTests.object(response.body)
        }
        let created = try await send(
            "POST",
            "/checkout-sessions",
            CheckoutAPITests.body(fulfillment: CheckoutAPITests.shipping())
        )
        let id = try #require(created["id"] as? String)
        #expect(created["status"] as? String == "ready_for_complete", "\(created)")
        let completed = try await send("POST", "/checkout-sessions/\(id)/complete", CheckoutAPITests.pay("tok_success"))
        #expect(completed["status"] as? String == "completed", "\(completed)")
        for _ in 0..<400 where receiver.received.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        let first = try #require(receiver.received.first)
        #expect(first.url.hasSuffix(ReferenceReceiver.platformWebhookPath))
        guard case .success = first.verdict else {
            Issue.record("the receiver did not verify the order: \(first.verdict)")
            return
        }
        #expect(first.status == 200)
        let order = try JSONDecoder().decode(Order.self, from: Data(first.body))
        #expect(order.checkoutID == id)
    }
}
