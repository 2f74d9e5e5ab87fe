import Foundation
import Testing

@testable import UCPSimKit

/// `ucpsim trigger EVENT_TYPE`: the smallest history that makes the event, delivered to the registered
/// subscriptions or to one URL in a dialect, checked by receivers ucpsim did not write (and by `listen`).
@Suite struct TriggerTests {
    static func ucpsim(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await TestSupport.run(CLITests.binary, arguments)
    }

    @Test func anHMACDeliveryWithAnOverrideVerifiesAtAnIndependentReceiver() async throws {
        let secret = WebhookSecret.generate().text
        let (receiver, url) = try await HMACCheckTests.strictReceiver(.ucpHMAC, secret: secret)
        defer { kill(receiver.processIdentifier, SIGKILL) }
        let result = try await Self.ucpsim([
            "trigger", "fulfillment.status_changed", "--webhook-url", url, "--dialect", "ucp-hmac", "--secret", secret,
            "--override", "data.new_status=FAILED_ATTEMPT", "--state", SubscriptionRegistryTests.temporaryDirectory(),
        ])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("fulfillment.status_changed "), "\(result.stdout)")
        #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret))
        let processed = try await SubscriptionFanOutTests.processed(url)
        #expect(processed.map(\.type) == ["fulfillment.status_changed"])
        let data = processed.first?.body["data"] as? [String: Any]
        #expect(data?["new_status"] as? String == "FAILED_ATTEMPT", "the override, signed as sent")
        #expect((data?["order_id"] as? String)?.hasPrefix("ord_trg_") == true)
    }

    @Test func theRegisteredSubscriptionsThatWantTheTypeGetIt() async throws {
        let state = SubscriptionRegistryTests.temporaryDirectory()
        let secret = WebhookSecret.generate().text
        let (receiver, url) = try await HMACCheckTests.strictReceiver(.standardWebhooks, secret: secret)
        defer { kill(receiver.processIdentifier, SIGKILL) }
        let listener = try await ListenHMACTests.Listener.start(arguments: [])
        for arguments in [
            [
                "--url", url, "--event-type", "payment.status_changed", "--dialect", "standard-webhooks", "--secret",
                secret,
            ],
            ["--url", listener.baseURL, "--event-type", "order.created"],
        ] {
            let added = try await Self.ucpsim(["subscriptions", "add", "--state", state] + arguments)
            #expect(added.status == 0, "\(added.stderr)")
        }
        let payment = try await Self.ucpsim(["trigger", "payment.status_changed", "--state", state])
        // `--port 0`: the port the first run kept in the state directory may have gone to another test since.
        let created = try await Self.ucpsim(["trigger", "order.created", "--state", state, "--port", "0"])
        let lines = try await listener.stop()
        #expect(payment.status == 0 && created.status == 0, "\(payment.stderr)\(created.stderr)")
        #expect(payment.stdout.contains("1 delivery") && created.stdout.contains("1 delivery"))
        // standard-webhooks, verified by the official library: the payment event alone, AUTHORIZED at placement.
        let processed = try await SubscriptionFanOutTests.processed(url)
        #expect(processed.map(\.type) == ["payment.status_changed"])
        #expect((processed.first?.body["data"] as? [String: Any])?["new_status"] as? String == "AUTHORIZED")
        // ucp: the order entity, verified by `ucpsim listen` against the shop's published keys.
        #expect(lines.filter { $0.contains("verified") }.count == 1, "\(lines)")
    }

    @Test(arguments: [
        (["trigger", "order.shipped"], "unknown event type \"order.shipped\""),
        (["trigger", "order.created", "--dialect", "ucp-hmac"], "--dialect and --secret go with --webhook-url"),
        (
            ["trigger", "order.created", "--webhook-url", "http://127.0.0.1:9/h", "--dialect", "ucp-hmac"],
            "--dialect ucp-hmac needs --secret"
        ),
        (
            ["trigger", "order.created", "--webhook-url", "http://127.0.0.1:9/h", "--secret", "x"],
            "--secret is for ucp-hmac and standard-webhooks"
        ),
        (["trigger", "order.created", "--override", "nothing"], "expected path=value"),
    ])
    func badOptionsAreUsageErrors(_ arguments: [String], _ message: String) async throws {
        let result = try await Self.ucpsim(arguments + ["--state", SubscriptionRegistryTests.temporaryDirectory()])
        #expect(result.status == 64)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func nothingReceivesTheTypeIsAUsageErrorAndAnOverrideThatDoesNotFitSendsNothing() async throws {
        let state = SubscriptionRegistryTests.temporaryDirectory()
        let nobody = try await Self.ucpsim(["trigger", "order.updated", "--state", state])
        #expect(nobody.status == 64)
        #expect(nobody.stderr.contains("ucpsim: error: nothing receives order.updated"), "\(nobody.stderr)")
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let misfit = try await Self.ucpsim([
            "trigger", "order.created", "--webhook-url", receiver.url, "--override", "line_items.7.id=x",
            // The port the first run kept in the state directory may have gone to another test since.
            "--state", state, "--port", "0",
        ])
        await receiver.stop()
        #expect(misfit.status == 64, "\(misfit.stderr)")
        #expect(misfit.stderr.contains("not an index of an array"))
        #expect(receiver.received.isEmpty, "nothing sent")
        let outbox = try Outbox.inspect(directory: state)
        #expect(outbox.states.isEmpty, "nothing journaled")
    }
}
