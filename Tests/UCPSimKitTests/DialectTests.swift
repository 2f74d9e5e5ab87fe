import Foundation
import Testing
@testable import UCPSimKit

/// The HMAC webhook dialects: their bodies, and their signatures as independent implementations check them (the
/// Standard Webhooks project's Python library, and Python's `hmac` for `ucp-hmac`).
@Suite struct DialectTests {
    static let verifier = TestSupport.path("Tests/tools/webhook_hmac_verify.py")
    static var target: RequestTarget {
        get throws { try RequestTarget("http://127.0.0.1:9/webhooks/orders") }
    }
    /// 2026-11-30T00:00:00Z.
    static let occurredAt: Int64 = 1_795_996_800

    /// A secret as ucpsim generates them: `whsec_` + base64 of 32 random bytes.
    static func newSecret() -> String {
        "whsec_" + Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }

    static func fixture(_ mutate: (inout [String: Any]) -> Void = { _ in }) throws -> OrderDocument {
        let bytes = try TestSupport.read("fixtures/order-created.json")
        var order = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        mutate(&order)
        let data = try JSONSerialization.data(withJSONObject: order, options: [.prettyPrinted])
        return try OrderDocument(bytes: [UInt8](data), source: "fixture")
    }

    static func orderEvent(
        _ type: EventType = .orderCreated,
        document: OrderDocument?,
        subject: OrderEvent.Subject = .order(status: "confirmed")
    ) -> OrderEvent {
        OrderEvent(
            id: "evt_0f8e2a4c",
            type: type,
            occurredAt: occurredAt,
            orderID: document?.id,
            document: document,
            subject: subject
        )
    }

    /// The message the engine would publish for `event` in `dialect`.
    static func message(_ dialect: any WebhookDialect, _ event: OrderEvent) throws -> WebhookEvent {
        let body = try #require(dialect.body(for: event))
        return WebhookEvent(webhookID: event.id, timestamp: event.occurredAt, orderID: event.orderID ?? "", body: body)
    }

    static func json(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    /// Runs the independent verifier on `request`; returns its exit status and line.
    static func verify(
        _ dialect: DialectName,
        _ request: OutgoingRequest,
        body: [UInt8]? = nil,
        secret: String,
        now: Int64
    ) async throws -> (status: Int32, line: String) {
        let file = try TestSupport.temporaryJSON(
            [
                "method": request.method,
                "url": request.url,
                "headers": request.headers.fields.map { [$0.name, $0.value] },
                "body_base64": Data(body ?? request.body).base64EncodedString(),
            ],
            name: "request.json"
        )
        let result = try await TestSupport.run(
            TestSupport.python,
            [verifier, dialect.rawValue, file, "--secret", secret, "--now", String(now)]
        )
        #expect(result.status != 2, "verifier usage error: \(result.stderr)")
        return (result.status, result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    // MARK: Signatures, checked independently

    @Test func standardWebhooksSignsTheSpecsKnownAnswerVector() async throws {
        let message = WebhookEvent(
            webhookID: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1_614_265_330,
            orderID: "x",
            body: Array(#"{"test": 2432232314}"#.utf8)
        )
        let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        for secret in ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] {
            let request = try StandardWebhooksDialect().request(
                for: message,
                to: Self.target,
                credentials: DeliveryCredentials(secrets: [WebhookSecret(secret)]),
                now: 1_614_265_330
            )
            #expect(request.headers["webhook-signature"] == expected)
            #expect(request.headers["webhook-id"] == "msg_p5jXN8AQM9LWM0D4loKWxJek")
            #expect(request.headers["webhook-timestamp"] == "1614265330")
        }
        // The library reproduces the same vector (its self-test), so both sides agree on it.
        let selfTest = try await TestSupport.run(TestSupport.python, [Self.verifier, "--self-test"])
        #expect(selfTest.status == 0, "\(selfTest.stdout)\(selfTest.stderr)")
    }

    @Test func theStandardWebhooksLibraryVerifiesADeliveryAndRejectsATamperedOne() async throws {
        let dialect = StandardWebhooksDialect()
        let secret = Self.newSecret()
        let message = try Self.message(dialect, Self.orderEvent(document: try Self.fixture()))
        let now = Self.occurredAt + 42
        let request = try dialect.request(
            for: message,
            to: Self.target,
            credentials: DeliveryCredentials(secrets: [WebhookSecret(secret)]),
            now: now
        )
        #expect(
            request.headers.fields.map(\.name) == [
                "Content-Type", "webhook-id", "webhook-timestamp", "webhook-signature",
            ]
        )
        #expect(request.headers["Content-Type"] == "application/json")
        #expect(request.headers["webhook-id"] == "evt_0f8e2a4c")
        #expect(request.headers["webhook-timestamp"] == String(now))
        #expect(request.body == message.body)
        #expect(request.url == "http://127.0.0.1:9/webhooks/orders")

        let verified = try await Self.verify(.standardWebhooks, request, secret: secret, now: now)
        #expect(verified.status == 0, "\(verified.line)")
        #expect(verified.line == "verified type=order.created")

        var tampered = request.body
        tampered[tampered.count / 2] ^= 0x01
        let rejected = try await Self.verify(.standardWebhooks, request, body: tampered, secret: secret, now: now)
        #expect(rejected.status == 1)
        #expect(rejected.line.hasPrefix("signature_invalid"))
        let otherSecret = try await Self.verify(.standardWebhooks, request, secret: Self.newSecret(), now: now)
        #expect(otherSecret.line.hasPrefix("signature_invalid"))
        // The timestamp is the attempt's, and the library holds it to its 5-minute window.
        let late = try await Self.verify(.standardWebhooks, request, secret: secret, now: now + 301)
        #expect(late.line.hasPrefix("timestamp_out_of_range"))
    }

    @Test func pythonsHMACVerifiesAUCPHMACDeliveryAndRejectsATamperedOne() async throws {
        let dialect = UCPHMACDialect()
        let secret = Self.newSecret()
        let message = try Self.message(dialect, Self.orderEvent(document: try Self.fixture()))
        let now = Self.occurredAt + 7
        let request = try dialect.request(
            for: message,
            to: Self.target,
            credentials: DeliveryCredentials(secrets: [WebhookSecret(secret)]),
            now: now
        )
        #expect(request.headers.fields.map(\.name) == ["Content-Type", "UCP-Signature"])
        #expect(request.headers["Content-Type"] == "application/json")
        let signature = try #require(request.headers["UCP-Signature"])
        #expect(signature.wholeMatch(of: /t=1795996807,v1=[0-9a-f]{64}/) != nil, "\(signature)")
        #expect(request.body == message.body)

        let verified = try await Self.verify(.ucpHMAC, request, secret: secret, now: now)
        #expect(verified.status == 0, "\(verified.line)")
        #expect(verified.line == "verified t=1795996807 v1#1")

        var tampered = request.body
        tampered[tampered.count / 2] ^= 0x01
        let rejected = try await Self.verify(.ucpHMAC, request, body: tampered, secret: secret, now: now)
        #expect(rejected.status == 1)
        #expect(rejected.line.hasPrefix("signature_invalid"))
        // ucp-hmac keys with the secret's text as given: the decoded bytes are another key.
        let decodedKey = try await Self.verify(
            .ucpHMAC,
            request,
            secret: String(secret.dropFirst("whsec_".count)),
            now: now
        )
        #expect(decodedKey.line.hasPrefix("signature_invalid"))
    }

    @Test(arguments: [DialectName.standardWebhooks, .ucpHMAC])
    func duringARotationEverySecretSignsAndEitherVerifies(_ name: DialectName) async throws {
        let dialect = try #require(Self.dialects[name])
        let (newer, older) = (Self.newSecret(), Self.newSecret())
        let message = try Self.message(dialect, Self.orderEvent(document: try Self.fixture()))
        let now = Self.occurredAt + 60
        let both = try dialect.request(
            for: message,
            to: Self.target,
            credentials: DeliveryCredentials(secrets: [WebhookSecret(newer), WebhookSecret(older)]),
            now: now
        )
        let alone = try [newer, older].map { secret in
            try dialect.request(
                for: message,
                to: Self.target,
                credentials: DeliveryCredentials(secrets: [WebhookSecret(secret)]),
                now: now
            )
        }
        switch name {
        case .standardWebhooks:
            let entries = try #require(both.headers["webhook-signature"]).split(separator: " ").map(String.init)
            #expect(entries == alone.map { $0.headers["webhook-signature"] ?? "" })
        default:
            let header = try #require(both.headers["UCP-Signature"])
            let single = alone.map {
                ($0.headers["UCP-Signature"] ?? "").replacingOccurrences(of: "t=\(now),", with: "")
            }
            #expect(header == "t=\(now),\(single[0]),\(single[1])")
        }
        for secret in [newer, older] {
            let result = try await Self.verify(name, both, secret: secret, now: now)
            #expect(result.status == 0, "\(result.line)")
        }
    }

    static let dialects: [DialectName: any WebhookDialect] = [
        .standardWebhooks: StandardWebhooksDialect(), .ucpHMAC: UCPHMACDialect(),
    ]

    @Test(arguments: [DialectName.standardWebhooks, .ucpHMAC])
    func aMissingOrUnusableSecretIsAnErrorNeverAnUnsignedWebhook(_ name: DialectName) throws {
        let dialect = try #require(Self.dialects[name])
        let message = WebhookEvent(webhookID: "e", timestamp: 1, orderID: "o", body: Array("{}".utf8))
        func attempt(_ secrets: [String]) throws -> OutgoingRequest {
            try dialect.request(
                for: message,
                to: Self.target,
                credentials: DeliveryCredentials(secrets: secrets.map(WebhookSecret.init)),
                now: 2
            )
        }
        #expect(throws: DialectError.self) { try attempt([]) }
        do {
            _ = try attempt([])
        } catch let error as DialectError {
            #expect(error.isMissingSecret)
            #expect(error.description.contains(name.rawValue))
        }
        // 12 bytes (22 characters with the prefix) is too short for both readings of the secret; 72 too long.
        let short = "whsec_" + Data(repeating: 7, count: 12).base64EncodedString()
        let long = "whsec_" + Data(repeating: 7, count: 72).base64EncodedString()
        for secret in [short, long] {
            do {
                _ = try attempt([Self.newSecret(), secret])
                Issue.record("\(name.rawValue) signed with an unusable secret")
            } catch let error as DialectError {
                #expect(!error.isMissingSecret)
                #expect(!error.description.contains(secret))
                #expect(!error.description.contains(String(secret.dropFirst(6))))
            }
        }
    }

    @Test func standardWebhooksSecretsMustBeBase64() throws {
        let good = Data(repeating: 0xFB, count: 32).base64EncodedString()
        let key = try WebhookSecret("whsec_" + good).signingKey(for: .standardWebhooks)
        #expect(key == [UInt8](repeating: 0xFB, count: 32))
        #expect(try WebhookSecret(good).signingKey(for: .standardWebhooks) == key)
        #expect(
            try WebhookSecret("whsec_" + good.replacingOccurrences(of: "=", with: "")).signingKey(
                for: .standardWebhooks
            ) == key
        )
        let urlSafe = good.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        for bad in ["whsec_" + urlSafe, "whsec_", "whsec_" + good + "!", "whsec_ " + good] {
            #expect(throws: DialectError.self) { try WebhookSecret(bad).signingKey(for: .standardWebhooks) }
        }
        // ucp-hmac takes the whole text: 24–64 UTF-8 bytes.
        #expect(try WebhookSecret("whsec_" + good).signingKey(for: .ucpHMAC) == Array(("whsec_" + good).utf8))
        #expect(throws: DialectError.self) {
            try WebhookSecret(String(repeating: "a", count: 23)).signingKey(for: .ucpHMAC)
        }
        #expect(throws: DialectError.self) {
            try WebhookSecret(String(repeating: "a", count: 65)).signingKey(for: .ucpHMAC)
        }
    }

    // MARK: Bodies

    @Test func theUCPHMACEnvelopeCarriesTheOrderSummaryInDecimalMoney() throws {
        let body = try #require(UCPHMACDialect().body(for: Self.orderEvent(document: try Self.fixture())))
        let envelope = try Self.json(body)
        #expect(Set(envelope.keys) == ["event_id", "timestamp", "event_type", "data", "metadata"])
        #expect(envelope["event_id"] as? String == "evt_0f8e2a4c")
        #expect(envelope["timestamp"] as? String == "2026-11-30T00:00:00Z")
        #expect(envelope["event_type"] as? String == "order.created")
        let metadata = try #require(envelope["metadata"] as? [String: String])
        #expect(metadata == ["source_system": "ucpsim", "version": "2026-08-25"])

        let data = try #require(envelope["data"] as? [String: Any])
        #expect(Set(data.keys) == ["order_id", "status", "customer_info", "items", "total_amount", "shipping_address"])
        #expect(data["order_id"] as? String == "ord_7Kq2mX9pLw4R")
        #expect(data["status"] as? String == "confirmed")
        #expect(data["customer_info"] is NSNull)
        let items = try #require(data["items"] as? [[String: Any]])
        #expect(
            items.map { $0["item_id"] as? String } == [
                "sku_dripper_ceramic_white", "sku_filters_unbleached_100", "sku_beans_yirgacheffe_340g",
            ]
        )
        #expect(items.map { $0["name"] as? String }.first == "Ceramic Pour-Over Coffee Dripper")
        #expect(items.map { $0["quantity"] as? Int } == [1, 2, 1])
        #expect(
            items.map { $0["price"] as? [String: String] } == [
                ["amount": "28.00", "currency": "USD"], ["amount": "6.50", "currency": "USD"],
                ["amount": "19.00", "currency": "USD"],
            ]
        )
        #expect(data["total_amount"] as? [String: String] == ["amount": "70.94", "currency": "USD"])
        #expect(
            data["shipping_address"] as? [String: String] == [
                "line1": "123 Main St", "city": "Austin", "state": "TX", "zip": "78701", "country": "US",
            ]
        )
        // Deterministic: sorted keys, slashes as they are.
        #expect(String(decoding: body, as: UTF8.self).hasPrefix(#"{"data":{"customer_info":null,"items":[{"item_id""#))
    }

    @Test func theBuyerBecomesCustomerInfo() throws {
        let withEmail = try Self.fixture { $0["buyer"] = ["email": "jane@example.com", "first_name": "Jane"] }
        let withID = try Self.fixture { $0["buyer"] = ["id": "usr_42", "email": "jane@example.com"] }
        for (document, userID) in [(withEmail, "jane@example.com"), (withID, "usr_42")] {
            let body = try #require(UCPHMACDialect().body(for: Self.orderEvent(.orderUpdated, document: document)))
            let data = try #require(try Self.json(body)["data"] as? [String: Any])
            #expect(data["customer_info"] as? [String: String] == ["user_id": userID, "email": "jane@example.com"])
        }
    }

    @Test func theSameEventGivesTheSameBytesWhateverTheDocumentsLayout() throws {
        let pretty = try Self.fixture()
        let compact = try OrderDocument(
            bytes: [UInt8](try JSONSerialization.data(withJSONObject: try Self.json(pretty.bytes), options: [])),
            source: "compact"
        )
        for dialect in Self.dialects.values {
            let first = try #require(dialect.body(for: Self.orderEvent(document: pretty)))
            #expect(dialect.body(for: Self.orderEvent(document: pretty)) == first)
            #expect(dialect.body(for: Self.orderEvent(document: compact)) == first)
            #expect(!first.contains(0x0A))
            #expect(!String(decoding: first, as: UTF8.self).contains(#"\/"#))
        }
    }

    @Test func standardWebhooksSendsTheOrderEntityForOrderEvents() throws {
        let document = try Self.fixture()
        let body = try #require(StandardWebhooksDialect().body(for: Self.orderEvent(.orderUpdated, document: document)))
        let payload = try Self.json(body)
        #expect(Set(payload.keys) == ["type", "timestamp", "data"])
        #expect(payload["type"] as? String == "order.updated")
        #expect(payload["timestamp"] as? String == "2026-11-30T00:00:00Z")
        let data = try #require(payload["data"] as? NSDictionary)
        #expect(data == (try Self.json(document.bytes) as NSDictionary))
        #expect(
            String(decoding: body, as: UTF8.self).contains(
                #""permalink_url":"http://127.0.0.1:8080/orders/ord_7Kq2mX9pLw4R""#
            )
        )
    }

    @Test func fulfillmentPaymentAndInteractionEventsCarryTheirOwnData() throws {
        let document = try Self.fixture()
        let cases: [(OrderEvent, [String: Any])] = [
            (
                Self.orderEvent(
                    .fulfillmentStatusChanged,
                    document: document,
                    subject: .fulfillment(id: "shp_1", status: "shipped")
                ),
                ["fulfillment_id": "shp_1", "order_id": "ord_7Kq2mX9pLw4R", "new_status": "shipped"]
            ),
            (
                Self.orderEvent(.paymentStatusChanged, document: document, subject: .payment(status: "refunded")),
                ["order_id": "ord_7Kq2mX9pLw4R", "new_status": "refunded"]
            ),
            (
                Self.orderEvent(
                    .agentInteraction,
                    document: document,
                    subject: .interaction(agentID: "agent_1", kind: "question", details: ["topic": "delivery"])
                ),
                [
                    "agent_id": "agent_1", "kind": "question", "details": ["topic": "delivery"],
                    "order_id": "ord_7Kq2mX9pLw4R",
                ]
            ),
            (
                Self.orderEvent(
                    .agentInteraction,
                    document: nil,
                    subject: .interaction(agentID: "agent_1", kind: "browse", details: [:])
                ),
                ["agent_id": "agent_1", "kind": "browse", "details": [String: String]()]
            ),
        ]
        for (event, expected) in cases {
            let envelope = try Self.json(try #require(UCPHMACDialect().body(for: event)))
            #expect(envelope["event_type"] as? String == event.type.rawValue)
            #expect((envelope["data"] as? NSDictionary) == (expected as NSDictionary))
            let standard = try Self.json(try #require(StandardWebhooksDialect().body(for: event)))
            #expect((standard["data"] as? NSDictionary) == (expected as NSDictionary))
        }
    }

    @Test func aSparseOrderGivesNullsNotACrash() throws {
        let sparse = try OrderDocument(
            bytes: Array(
                #"""
                {"ucp":{"version":"2026-08-25"},"id":"ord_s","checkout_id":"c","permalink_url":"https://s.example/o",
                 "currency":"ZZZ","fulfillment":{},"totals":[{"type":"total","amount":"12"}],
                 "line_items":[{"id":"li","item":{"price":true}},"junk",{"item":{"id":"i","price":1250},"quantity":{"total":3}}],
                 "buyer":"not an object"}
                """#.utf8
            ),
            source: "sparse"
        )
        let body = try #require(
            UCPHMACDialect().body(for: Self.orderEvent(document: sparse, subject: .payment(status: "x")))
        )
        let data = try #require(try Self.json(body)["data"] as? [String: Any])
        #expect(data["status"] is NSNull)
        #expect(data["customer_info"] is NSNull)
        #expect(data["shipping_address"] is NSNull)
        #expect(data["total_amount"] is NSNull)
        let items = try #require(data["items"] as? [[String: Any]])
        #expect(items.count == 2)
        #expect(items[0]["item_id"] is NSNull && items[0]["name"] is NSNull && items[0]["quantity"] is NSNull)
        #expect(items[0]["price"] is NSNull)
        #expect(items[1]["price"] as? [String: String] == ["amount": "12.50", "currency": "ZZZ"])
        #expect(items[1]["quantity"] as? Int == 3)
    }

    @Test(arguments: [
        (1250, "USD", "12.50"), (5, "USD", "0.05"), (-1250, "USD", "-12.50"), (-5, "EUR", "-0.05"), (0, "USD", "0.00"),
        (1250, "JPY", "1250"), (-7, "JPY", "-7"), (1250, "KWD", "1.250"), (7, "CLF", "0.0007"), (1250, "XXX", "12.50"),
    ])
    func moneyIsADecimalStringWithTheCurrencysExponent(_ minorUnits: Int, _ currency: String, _ expected: String) {
        #expect(EventPayload.decimal(minorUnits, currency: currency) == expected)
    }

    @Test(arguments: [Int64(0), 1_795_996_800, 951_782_400, 4_107_542_399, -1, 253_402_300_799, 1_614_265_330])
    func timestampsAreRFC3339InUTCAsFoundationWritesThem(_ seconds: Int64) {
        let foundation = ISO8601DateFormatter.string(
            from: Date(timeIntervalSince1970: TimeInterval(seconds)),
            timeZone: TimeZone(identifier: "UTC") ?? .current,
            formatOptions: [.withInternetDateTime]
        )
        #expect(EventPayload.timestamp(seconds) == foundation)
    }

    @Test func theStandardRegistryHasEveryDialect() throws {
        let key = try SigningKey.generate(.es256, kid: "k")
        let sender = WebhookSender(client: HTTPClient(workers: 1), signer: MessageSigner(key: key), profileURL: "x")
        defer { sender.client.shutdown() }
        let dialects = Dialects.standard(sender: sender, version: .v2026_04_08)
        for name in DialectName.allCases { #expect(dialects[name]?.name == name) }
        let envelope = try Self.json(
            try #require(dialects[.ucpHMAC]?.body(for: Self.orderEvent(document: try Self.fixture())))
        )
        #expect((envelope["metadata"] as? [String: String])?["version"] == "2026-04-08")
    }
}
