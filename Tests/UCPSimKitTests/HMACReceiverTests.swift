import Foundation
import Testing
@testable import UCPSimKit

/// The reference receiver's `ucp-hmac` and `standard-webhooks` sides, over real loopback HTTP, against requests
/// signed by an independent implementation: the official `standardwebhooks` PyPI library and Python's `hmac`
/// (`Tests/tools/sign_hmac_webhook.py`).
@Suite struct HMACReceiverTests {
    /// A secret as ucpsim generates them: `whsec_` + base64 of 32 bytes (fixed here).
    static let secret = "whsec_" + Data((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }).base64EncodedString()
    /// The secret being rotated out, configured first on the receiver.
    static let retired =
        "whsec_" + Data((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 11 &+ 5) }).base64EncodedString()
    /// A secret the receiver does not know.
    static let stranger =
        "whsec_" + Data((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }).base64EncodedString()
    /// Another one.
    static let otherStranger =
        "whsec_" + Data((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ 9) }).base64EncodedString()

    /// One request for the Python signer.
    struct Unsigned: Sendable {
        var dialect: DialectName
        var secrets: [String]
        var body: [UInt8]
        var timestamp: Int64
        var id: String

        init(_ dialect: DialectName, id: String, secrets: [String] = [secret], timestamp: Int64? = nil) {
            self.dialect = dialect
            self.secrets = secrets
            self.id = id
            self.timestamp = timestamp ?? Int64(Date().timeIntervalSince1970)
            self.body = HMACReceiverTests.body(dialect, id: id)
        }
    }

    /// The body each dialect's sender puts on the wire: the `ucp-hmac` envelope, a Standard Webhooks payload.
    static func body(_ dialect: DialectName, id: String) -> [UInt8] {
        let data = #"{"order_id":"ord_hmac_1","status":"CONFIRMED"}"#
        switch dialect {
        case .ucpHMAC:
            return Array(
                (#"{"event_id":"\#(id)","timestamp":"2026-11-30T00:00:00Z","event_type":"order.created","data":"#
                    + data + #","metadata":{"source_system":"ucpsim","version":"1.0"}}"#).utf8
            )
        default:
            return Array(
                (#"{"type":"order.created","timestamp":"2026-11-30T00:00:00Z","data":"# + data + "}").utf8
            )
        }
    }

    /// The headers the independent implementation signs `requests` with, in order.
    static func sign(_ requests: [Unsigned]) async throws -> [HTTPFieldList] {
        let input: [[String: Any]] = requests.map {
            [
                "dialect": $0.dialect.rawValue, "secrets": $0.secrets, "timestamp": $0.timestamp, "id": $0.id,
                "body_base64": Data($0.body).base64EncodedString(),
            ]
        }
        let path = try TestSupport.temporaryJSON(input, name: "requests.json")
        let result = try await TestSupport.run(
            TestSupport.python,
            [TestSupport.path("Tests/tools/sign_hmac_webhook.py"), path]
        )
        #expect(result.status == 0, "\(result.stderr)")
        let output = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[[String]]],
            "\(result.stdout)"
        )
        return output.map { fields in
            var headers = HTTPFieldList([("Content-Type", "application/json")])
            for field in fields where field.count == 2 { headers.append(field[0], field[1]) }
            return headers
        }
    }

    /// POSTs each request to `url`, one after the other, and returns the statuses and answer bodies.
    static func post(
        _ requests: [(headers: HTTPFieldList, body: [UInt8])],
        to url: String,
        client: HTTPClient
    ) async throws -> [(status: Int, body: [UInt8])] {
        var answers: [(status: Int, body: [UInt8])] = []
        for request in requests {
            let response = try await client.send(
                OutgoingRequest(method: "POST", url: url, headers: request.headers, body: request.body)
            )
            answers.append((response.status, response.body))
        }
        return answers
    }

    /// A reference receiver on loopback with `secrets`.
    static func startReceiver(secrets: [String]) async throws -> (ReferenceReceiver, RunningServer, HTTPClient) {
        let client = HTTPClient(workers: 2)
        var options = ReferenceReceiver.Options()
        options.secrets = secrets.map(WebhookSecret.init)
        let (receiver, server) = try await ReferenceReceiver.start(
            client: client,
            options: options,
            logger: TestSupport.quietLogger
        )
        return (receiver, server, client)
    }

    /// What is done to a correctly signed request, and what the receiver must make of it.
    enum Mischief: String, CaseIterable, Sendable {
        case none, tamperedBody, wrongSecret, staleTimestamp, futureTimestamp, missingHeader, malformedHeader
        case rotationOneValidAmongSeveral
    }

    static let dialects: [DialectName] = [.ucpHMAC, .standardWebhooks]

    @Test(arguments: dialects, Mischief.allCases)
    func eachFailureHasOneReasonAndStatus(_ dialect: DialectName, _ mischief: Mischief) async throws {
        let now = Int64(Date().timeIntervalSince1970)
        var unsigned = Unsigned(dialect, id: "evt_\(mischief.rawValue)")
        switch mischief {
        case .wrongSecret: unsigned.secrets = [Self.stranger]
        case .staleTimestamp: unsigned.timestamp = now - 600
        case .futureTimestamp: unsigned.timestamp = now + 600
        case .rotationOneValidAmongSeveral: unsigned.secrets = [Self.stranger, Self.secret, Self.otherStranger]
        default: break
        }
        var headers = try #require(try await Self.sign([unsigned]).first)
        var body = unsigned.body
        switch (mischief, dialect) {
        case (.tamperedBody, _):
            body = Array(
                String(decoding: body, as: UTF8.self).replacingOccurrences(of: "CONFIRMED", with: "CANCELED").utf8
            )
        case (.missingHeader, .ucpHMAC): headers.set("UCP-Signature", nil)
        case (.missingHeader, _): headers.set("webhook-timestamp", nil)
        case (.malformedHeader, .ucpHMAC): headers.set("UCP-Signature", "t=\(now),v1=not-hex")
        case (.malformedHeader, _): headers.set("webhook-signature", "v1:c2lnbmF0dXJl")
        default: break
        }

        let (receiver, server, client) = try await Self.startReceiver(secrets: [Self.retired, Self.secret])
        let answers = try await Self.post([(headers, body)], to: "\(server.baseURL)/hooks", client: client)
        await server.stop()
        await client.shutdown()

        let expected: (status: Int, reason: SignatureFailure.Reason?, code: String?) =
            switch (mischief, dialect) {
            case (.none, _), (.rotationOneValidAmongSeveral, _): (200, nil, nil)
            case (.tamperedBody, _), (.wrongSecret, _): (401, .signatureMismatch, "signature_invalid")
            case (.staleTimestamp, _): (401, .timestampTooOld, "signature_invalid")
            case (.futureTimestamp, _): (401, .timestampTooNew, "signature_invalid")
            case (.missingHeader, .ucpHMAC): (401, .signatureMissing, "signature_missing")
            case (.missingHeader, _): (400, .headerMissing, "invalid_request")
            case (.malformedHeader, _): (400, .headerMalformed, "invalid_request")
            }
        let record = try #require(receiver.received.last)
        let answer = try #require(answers.first)
        let answerBody = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: String])
        #expect(answer.status == expected.status, "\(record.logLine)")
        #expect(record.status == expected.status)
        #expect(record.verdict.failureReason == expected.reason, "\(record.logLine)")
        if let reason = expected.reason {
            #expect(answerBody["code"] == expected.code)
            #expect(answerBody["content"]?.hasPrefix("\(reason.rawValue): ") == true)
            #expect(record.body == Array(body.prefix(4096)), "a rejected body's first 4 KiB are kept")
        } else {
            #expect(answerBody == ["status": "ok"])
            #expect(record.verdict == .success("#2"), "the second configured secret matched")
            #expect(record.dialect == dialect)
            #expect(record.eventID == unsigned.id && record.eventType == "order.created")
            #expect(record.logLine.hasPrefix("verified  dialect=\(dialect.rawValue) event=\(unsigned.id)"))
        }
        if mischief == .tamperedBody || mischief == .wrongSecret {
            #expect(
                answerBody["content"]
                    == "signature_mismatch: no signature matches (wrong secret, or the body changed in transit)",
                "the sender is not told how many secrets the receiver holds"
            )
            #expect(record.logLine.contains("(1 signature checked against 2 secrets)"), "\(record.logLine)")
        }
        #expect(!record.logLine.contains(Self.secret) && !record.logLine.contains(Self.retired))
    }

    /// A retry of an event (a new timestamp, the same id) is acknowledged 200 again and marked a duplicate: processed
    /// once. The same id in another dialect is another event.
    @Test(arguments: dialects)
    func aRepeatedEventIDIsAcknowledgedAndProcessedOnce(_ dialect: DialectName) async throws {
        let now = Int64(Date().timeIntervalSince1970)
        let first = Unsigned(dialect, id: "evt_again", timestamp: now - 30)
        let retry = Unsigned(dialect, id: "evt_again", timestamp: now)
        let other = Unsigned(dialect == .ucpHMAC ? .standardWebhooks : .ucpHMAC, id: "evt_again")
        let signed = try await Self.sign([first, retry, other])
        let (receiver, server, client) = try await Self.startReceiver(secrets: [Self.secret])
        let answers = try await Self.post(
            [(signed[0], first.body), (signed[1], retry.body), (signed[2], other.body)],
            to: "\(server.baseURL)/hooks",
            client: client
        )
        await server.stop()
        await client.shutdown()

        #expect(answers.map(\.status) == [200, 200, 200])
        #expect(answers[1].body == answers[0].body, "a duplicate is acknowledged the same way")
        #expect(receiver.received.map(\.duplicate) == [false, true, false])
        #expect(receiver.received[1].logLine.hasPrefix("verified (duplicate)  dialect=\(dialect.rawValue)"))
    }

    @Test(arguments: dialects)
    func withoutASecretHMACWebhooksAreRefusedSayingSo(_ dialect: DialectName) async throws {
        let unsigned = Unsigned(dialect, id: "evt_nosecret")
        let headers = try #require(try await Self.sign([unsigned]).first)
        let (receiver, server, client) = try await Self.startReceiver(secrets: [])
        let answers = try await Self.post([(headers, unsigned.body)], to: "\(server.baseURL)/", client: client)
        await server.stop()
        await client.shutdown()

        #expect(answers.first?.status == 401)
        let answer = try #require(
            try JSONSerialization.jsonObject(with: Data(answers.first?.body ?? [])) as? [String: String]
        )
        #expect(answer["code"] == "key_not_found")
        #expect(answer["content"]?.hasPrefix("secret_not_configured: no secret is configured") == true)
        #expect(receiver.received.last?.verdict.failureReason == .secretNotConfigured)
    }

    /// The Standard Webhooks spec's known-answer vector (its reference libraries' tests), at the instant it was made.
    @Test func theStandardWebhooksKnownAnswerVerifies() async throws {
        let body = Array(#"{"test": 2432232314}"#.utf8)
        var headers = HTTPFieldList([
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", "1614265330"),
            ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
        ])
        var options = ReferenceReceiver.Options()
        options.secrets = [WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
        let client = HTTPClient(workers: 1)
        let receiver = ReferenceReceiver(
            client: client,
            options: options,
            now: { Date(timeIntervalSince1970: 1_614_265_330) }
        )
        let url = "http://127.0.0.1:9/hooks"
        #expect(await receiver.receive(method: "POST", url: url, headers: headers, body: body).0 == 200)
        headers.set("webhook-signature", "v1a,ZmFrZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(await receiver.receive(method: "POST", url: url, headers: headers, body: body).0 == 200)
        headers.set("webhook-signature", "v1a,ZmFrZQ==")
        #expect(await receiver.receive(method: "POST", url: url, headers: headers, body: body).0 == 401)
        #expect(receiver.received.last?.verdict.failureReason == .signatureMismatch)
        await client.shutdown()
    }

    @Test func aSecretGivesAKeyPerDialectOrIsRefused() {
        let generated = WebhookSecret(Self.secret)
        #expect(ReceiverSecrets.standardWebhooksKey(generated)?.count == 32)
        #expect(ReceiverSecrets.ucpHMACKey(generated) == Array(Self.secret.utf8))
        let text = WebhookSecret("a shared secret, plain text!")
        #expect(ReceiverSecrets.standardWebhooksKey(text) == nil && ReceiverSecrets.ucpHMACKey(text) != nil)
        #expect(ReceiverSecrets.problem(with: text) == nil)
        let short = WebhookSecret("whsec_c2hvcnQ=")
        #expect(ReceiverSecrets.problem(with: short)?.contains("24 to 64") == true)
    }
}
