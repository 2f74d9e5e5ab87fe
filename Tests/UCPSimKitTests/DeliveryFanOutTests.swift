import Foundation
import Synchronization
import Testing
@testable import UCPSimKit

/// Deliveries, not events: one event to several subscriptions in their dialects, each delivery with its own id, lane,
/// journal entry and 410 stop. Real HTTP over loopback, a real outbox on disk.
@Suite struct DeliveryFanOutTests {
    /// A dialect for these tests that signs with the subscription's first secret: `Signature-Input` carries
    /// hex(HMAC-SHA256(secret, body)), so the receiver shows which secret signed.
    struct KeyedDialect: WebhookDialect {
        var name: DialectName { .standardWebhooks }

        func body(for event: OrderEvent) -> [UInt8]? { nil }

        func request(
            for message: WebhookEvent,
            to target: RequestTarget,
            credentials: DeliveryCredentials,
            now: Int64
        ) throws -> OutgoingRequest {
            var headers = HTTPFieldList()
            headers.append("Content-Type", "application/json")
            headers.append("Webhook-Id", message.webhookID)
            headers.append("Webhook-Timestamp", String(now))
            headers.append("Signature-Input", Self.signature(credentials.secrets[0], message.body))
            return OutgoingRequest(method: "POST", url: target.url, headers: headers, body: message.body)
        }

        static func signature(_ secret: WebhookSecret, _ body: [UInt8]) -> String {
            HMACSHA256.mac(key: Array(secret.text.utf8), message: body).map { String(format: "%02x", $0) }.joined()
        }
    }

    static let secret = WebhookSecret("whsec_dGVzdC1zZWNyZXQtdGhhdC1pcy1sb25nLWVub3VnaA==")

    /// An engine on its own HTTP client, with the `ucp` dialect and `KeyedDialect`.
    static func engine(
        concurrency: Int = 1,
        state: String? = nil,
        credentials: @escaping @Sendable (SubscriptionID) -> DeliveryCredentials? = { _ in
            DeliveryCredentials(secrets: [secret])
        },
        gone: @escaping @Sendable (SubscriptionID, String) -> Void = { _, _ in }
    ) throws -> (DeliveryEngine, HTTPClient, Outbox?) {
        let client = HTTPClient(workers: concurrency)
        let sender = WebhookSender(
            client: client,
            signer: MessageSigner(key: try KeyRing.ephemeral().active),
            profileURL: "http://127.0.0.1:9/.well-known/ucp"
        )
        var options = DeliveryEngine.Options()
        options.policy = RetryPolicy(delays: [0.01], jitter: 0, retry4xx: false)
        options.concurrency = concurrency
        var outbox: Outbox?
        if let state { outbox = try Outbox.open(directory: state).0 }
        let engine = DeliveryEngine(
            sender: sender,
            dialects: Dialects([UCPDialect(sender: sender), KeyedDialect()]),
            credentials: credentials,
            onSubscriptionGone: gone,
            outbox: outbox,
            options: options
        )
        return (engine, client, outbox)
    }

    static func delivery(
        _ event: WebhookEvent,
        to subscription: String?,
        dialect: DialectName = .standardWebhooks,
        type: EventType = .orderUpdated,
        target: String
    ) throws -> Delivery {
        Delivery(
            event: event,
            eventType: type,
            subscription: subscription.map(SubscriptionID.init),
            dialect: dialect,
            target: try RequestTarget(target)
        )
    }

    /// One event to two subscriptions on one URL: two deliveries with their own ids, the event's id on both, each
    /// signed in its own dialect (the keyed one with the subscription's secret).
    @Test func oneEventGoesToEachSubscriptionInItsDialect() async throws {
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let (engine, client, _) = try Self.engine()
        let event = TestSupport.event("ord_fan")
        let deliveries = [
            try Self.delivery(event, to: "sub_a", dialect: .ucp, target: receiver.url),
            try Self.delivery(event, to: "sub_b", target: receiver.url),
        ]
        try await engine.submit(deliveries)
        let outcomes = [await engine.outcome(of: deliveries[0].id), await engine.outcome(of: deliveries[1].id)]
        await engine.stop()
        await client.shutdown()
        await receiver.stop()

        #expect(outcomes.filter(\.accepted).count == 2)
        #expect(outcomes.map(\.id) == deliveries.map(\.id) && deliveries[0].id != deliveries[1].id)
        #expect(outcomes.map(\.eventID) == [event.webhookID, event.webhookID])
        #expect(outcomes.map(\.subscription) == [SubscriptionID("sub_a"), SubscriptionID("sub_b")])
        #expect(outcomes.map(\.dialect) == [.ucp, .standardWebhooks])
        let arrivals = receiver.received
        #expect(arrivals.count == 2 && arrivals.allSatisfy { $0.webhookID == event.webhookID })
        let signatures = Set(arrivals.map(\.signatureInput))
        #expect(signatures.contains(KeyedDialect.signature(Self.secret, event.body)))
        let rfc9421 = signatures.filter { $0.contains("created=") }
        #expect(rfc9421.count == 1, "the ucp one is RFC 9421-signed")
    }

    /// A delivery in a dialect that signs with a secret, whose subscription has none, is dead-lettered with the
    /// reason: never sent unsigned.
    @Test func aSubscriptionWithoutASecretIsDeadLetteredNotSentUnsigned() async throws {
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let (engine, client, _) = try Self.engine(credentials: { _ in nil })
        let delivery = try Self.delivery(TestSupport.event(), to: "sub_nokey", target: receiver.url)
        try await engine.submit([delivery])
        let outcome = await engine.outcome(of: delivery.id)
        await engine.stop()
        await client.shutdown()
        await receiver.stop()
        #expect(receiver.received.isEmpty)
        guard case .dead(let reason) = outcome.phase else {
            Issue.record("not dead-lettered: \(outcome.phase)")
            return
        }
        #expect(reason.contains("no signing secret for subscription sub_nokey"), "\(reason)")
        #expect(reason.contains("not sent unsigned"))
    }

    /// A 410 stops the subscription it answered, not the URL: another subscription on the same URL keeps being
    /// delivered, the registry hears which subscription went, and its later deliveries are dead-lettered unsent.
    @Test func goneStopsOneSubscriptionNotTheURL() async throws {
        let receiver = try await ScriptedReceiver.start { _, received in
            .init(status: String(decoding: received.body, as: UTF8.self).contains("gone-sub") ? 410 : 200)
        }
        let heard = Mutex<[String]>([])
        let (engine, client, _) = try Self.engine(gone: { subscription, url in
            heard.withLock { $0.append("\(subscription) \(url)") }
        })
        let first = try Self.delivery(
            TestSupport.event("ord_1", body: "{\"to\":\"gone-sub\"}"),
            to: "sub_gone",
            target: receiver.url
        )
        try await engine.submit([first])
        let stopped = await engine.outcome(of: first.id)
        let later = try Self.delivery(
            TestSupport.event("ord_2", body: "{\"to\":\"gone-sub\"}"),
            to: "sub_gone",
            target: receiver.url
        )
        let other = try Self.delivery(TestSupport.event("ord_2"), to: "sub_kept", target: receiver.url)
        let bare = try Self.delivery(TestSupport.event("ord_3"), to: nil, dialect: .ucp, target: receiver.url)
        try await engine.submit([later, other, bare])
        let outcomes = [
            await engine.outcome(of: later.id), await engine.outcome(of: other.id), await engine.outcome(of: bare.id),
        ]
        await engine.stop()
        await client.shutdown()
        await receiver.stop()

        #expect(stopped.phase == .dead(reason: "HTTP 410 Gone: endpoint stopped"))
        #expect(heard.withLock { $0 } == ["sub_gone \(receiver.url)"])
        #expect(
            outcomes[0].phase == .dead(reason: "endpoint stopped after HTTP 410 Gone") && outcomes[0].attempts.isEmpty
        )
        #expect(outcomes[1].accepted && outcomes[2].accepted)
        #expect(receiver.received.count == 3)
    }

    /// The journal records a delivery's id, event id, subscription, dialect and type, and reads them back; a `ucp`
    /// delivery without a subscription writes exactly the line it always did, and an old journal reads back as
    /// `ucp` deliveries whose id is the event's. No secret is ever written.
    @Test func theJournalKeepsDeliveriesAndStillReadsOldLines() async throws {
        let directory = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let event = TestSupport.event("ord_j", body: "{\"id\":\"ord_j\"}")
        let keyed = try Self.delivery(event, to: "sub_k", type: .fulfillmentStatusChanged, target: receiver.url)
        let plain = Delivery.ucp(event, to: try RequestTarget(receiver.url))
        do {
            let (engine, client, outbox) = try Self.engine(state: directory)
            try await engine.submit([keyed, plain])
            #expect(await engine.outcome(of: keyed.id).accepted)
            #expect(await engine.outcome(of: plain.id).accepted)
            await engine.stop()
            await client.shutdown()
            outbox?.close()
        }
        await receiver.stop()
        let text = try String(contentsOfFile: "\(directory)/outbox.jsonl", encoding: .utf8)
        #expect(!text.contains(Self.secret.text))
        let lines = text.split(separator: "\n").map(String.init)
        let body = Data(event.body).base64EncodedString()
        let digest = DigestAlgorithm.sha256.hash(event.body).hexString
        let old =
            "{\"k\":\"event\",\"id\":\"\(event.webhookID)\",\"ts\":\(event.timestamp),\"order\":\"ord_j\","
            + "\"target\":\"\(receiver.url)\",\"len\":\(event.body.count),\"sha256\":\"\(digest)\",\"body\":\"\(body)\"}"
        #expect(lines.contains(old), "\(lines)")
        let keyedLine = try #require(lines.first { $0.contains("\"id\":\"\(keyed.id)\"") && $0.contains("\"event\"") })
        #expect(keyedLine.contains("\"event\":\"\(event.webhookID)\""))
        #expect(keyedLine.contains("\"sub\":\"sub_k\"") && keyedLine.contains("\"dialect\":\"standard-webhooks\""))
        #expect(keyedLine.contains("\"type\":\"fulfillment.status_changed\""))

        let snapshot = try Outbox.inspect(directory: directory)
        let states = snapshot.states
        #expect(states.map(\.id) == [keyed.id, plain.id])
        #expect(states.map(\.event.webhookID) == [event.webhookID, event.webhookID])
        #expect(states.map(\.subscription) == [SubscriptionID("sub_k"), nil])
        #expect(states.map(\.dialect) == [.standardWebhooks, .ucp])
        #expect(states.map(\.eventType) == [.fulfillmentStatusChanged, DeliveryState.defaultEventType])
        #expect(states.allSatisfy { $0.phase == .delivered })
        #expect(DeliveryState.named(event.webhookID, in: states).map(\.id) == [keyed.id, plain.id])
        #expect(DeliveryState.named(keyed.id.rawValue, in: states).map(\.id) == [keyed.id])
    }

    /// `deliveries list` and `show` print each delivery's id, event id, subscription, dialect and type; `show` with
    /// an event id shows every delivery of it.
    @Test func deliveriesShowsEachDeliveryOfAnEvent() async throws {
        let directory = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let event = TestSupport.event("ord_cli")
        let target = try RequestTarget("http://127.0.0.1:9/hooks")
        let states = [
            try Self.delivery(event, to: "sub_one", type: .orderCreated, target: target.url),
            try Self.delivery(event, to: "sub_two", dialect: .ucp, target: target.url),
        ].map {
            DeliveryState(
                id: $0.id,
                event: $0.event,
                eventType: $0.eventType,
                subscription: $0.subscription,
                dialect: $0.dialect,
                target: $0.target.url,
                firstAttempt: Date()
            )
        }
        do {
            let (outbox, _) = try Outbox.open(directory: directory)
            try outbox.appendEvents(states)
            outbox.close()
        }
        let listed = try await CLITests.ucpsim(["deliveries", "list", "--state", directory])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("2 deliveries of 1 event(s)"), "\(listed.stdout)")
        #expect(listed.stdout.contains("\(states[0].id)  ord_cli  pending"))
        #expect(
            listed.stdout.contains("standard-webhooks  order.created  event=\(event.webhookID)  subscription=sub_one")
        )

        let shown = try await CLITests.ucpsim(["deliveries", "show", event.webhookID, "--state", directory])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("delivery \(states[0].id)  webhook-id \(event.webhookID)"))
        #expect(shown.stdout.contains("delivery \(states[1].id)  webhook-id \(event.webhookID)"))
        #expect(shown.stdout.contains("subscription sub_one  dialect standard-webhooks  type order.created"))
        #expect(shown.stdout.contains("subscription sub_two  dialect ucp  type order.updated"))
        #expect(shown.stdout.contains("body \(event.body.count) bytes"))

        let one = try await CLITests.ucpsim(["deliveries", "show", states[1].id.rawValue, "--state", directory])
        #expect(one.stdout.contains("delivery \(states[1].id)") && !one.stdout.contains("delivery \(states[0].id)"))
        let json = try await CLITests.ucpsim(["deliveries", "list", "--json", "--state", directory])
        let rows = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(rows.map { $0["delivery_id"] as? String } == states.map(\.id.rawValue))
        #expect(rows.map { $0["subscription"] as? String } == ["sub_one", "sub_two"])
    }
}

/// A receiver that never answers cannot take every connection: with `--concurrency 4` it holds at most two
/// (`DeliveryEngine.Options.destinationLimit`), and another receiver is delivered meanwhile.
@Suite struct SlowReceiverTests {
    @Test func aHangingReceiverDoesNotHoldUpAnother() async throws {
        // Connections to it complete in the kernel's backlog and the requests are sent; nothing ever answers.
        let (fd, port) = try TestSupport.listenOnLoopback(backlog: 64)
        defer { close(fd) }
        let fast = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        var setup = DeliverySetup()
        setup.engine.policy = RetryPolicy(delays: [1], jitter: 0, retry4xx: false)
        setup.engine.concurrency = 4
        setup.engine.stopGrace = 0.05
        var client = HTTPClientOptions()
        client.totalTimeoutMilliseconds = 60_000
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            clientOptions: client,
            delivery: setup,
            logger: TestSupport.quietLogger
        )
        let hanging = (0..<4).map { TestSupport.event("ord_hang_\($0)") }
        let prompt = (0..<6).map { TestSupport.event("ord_fast_\($0)") }
        // Both at once, as an event fanned out to two subscriptions is.
        let slowTarget = try RequestTarget("http://127.0.0.1:\(port)/hangs")
        let fastTarget = try RequestTarget(fast.url)
        try await shop.engine.submit(
            hanging.map { Delivery.ucp($0, to: slowTarget) } + prompt.map { Delivery.ucp($0, to: fastTarget) }
        )
        var delivered = 0
        for event in prompt where await shop.engine.outcome(of: event.webhookID).accepted { delivered += 1 }
        // Every prompt delivery is in while the hanging receiver has not answered (nor timed out) once.
        var answered = 0
        for event in hanging { answered += await shop.engine.pendingState(of: event.webhookID)?.attempts.count ?? 1 }
        await shop.stop()
        await fast.stop()
        #expect(delivered == prompt.count)
        #expect(answered == 0)
        #expect(fast.received.count == prompt.count)
    }
}
