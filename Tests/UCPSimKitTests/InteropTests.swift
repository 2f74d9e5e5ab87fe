import Foundation
import Testing
@testable import UCPSimKit

/// Independent checks: PyPI `http-message-signatures` verifies real ucpsim deliveries, and the official UCP
/// JSON schemas validate what ucpsim serves and sends.
@Suite struct InteropTests {
    static let verifier = TestSupport.path("Tests/tools/rfc9421_verify.py")
    static let validator = TestSupport.path("Tests/tools/validate_schemas.py")

    @Test(arguments: SignatureAlgorithm.allCases)
    func independentVerifierAcceptsARealDelivery(_ algorithm: SignatureAlgorithm) async throws {
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let ring = try KeyRing(keys: [try SigningKey.generate(algorithm, kid: "interop-\(algorithm.rawValue)")])
        let shop = try await Shop.start(keys: ring, logger: TestSupport.quietLogger)
        let document = try OrderDocument.load(path: TestSupport.path("fixtures/order-created.json"))
        let attempt = try await shop.send(
            document,
            to: try RequestTarget("\(receiverServer.baseURL)/webhooks/ucp/orders?x=1")
        )
        await shop.stop()
        await receiverServer.stop()
        await receiverClient.shutdown()
        #expect(attempt.accepted)

        let record = try #require(receiver.received.last)
        let jwks = try JSONSerialization.jsonObject(with: JSONEncoder().encode(["keys": ring.publicJWKs()]))
        let requestFile = try TestSupport.temporaryJSON(record.verifierRequest, name: "request.json")
        let jwksFile = try TestSupport.temporaryJSON(jwks, name: "jwks.json")
        let result = try await TestSupport.run(TestSupport.python, [Self.verifier, requestFile, jwksFile])
        #expect(result.status == 0, "independent verifier: \(result.stdout) \(result.stderr)")
        #expect(result.stdout.hasPrefix("verified kid=interop-\(algorithm.rawValue)"))

        // The same request with one body byte changed must fail there too.
        var tampered = record.verifierRequest
        var body = record.body
        body[body.count / 2] ^= 0x01
        tampered["body_base64"] = Data(body).base64EncodedString()
        let tamperedFile = try TestSupport.temporaryJSON(tampered, name: "request.json")
        let rejected = try await TestSupport.run(TestSupport.python, [Self.verifier, tamperedFile, jwksFile])
        #expect(rejected.status == 1)
        #expect(rejected.stdout.hasPrefix("digest_mismatch"))
    }

    /// Runs the schema validator; exit 3 means the schemas are absent, which only a local run may tolerate.
    func validate(kind: String, bytes: [UInt8], extraArguments: [String] = []) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-\(UUID().uuidString).json")
        try Data(bytes).write(to: file)
        let result = try await TestSupport.run(
            TestSupport.python,
            [Self.validator, "--kind", kind] + extraArguments + [file.path]
        )
        if result.status == 3, ProcessInfo.processInfo.environment["UCPSIM_REQUIRE_SCHEMAS"] != "1" {
            print(
                "WARNING: UCP schemas not found; schema validation SKIPPED (\(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))"
            )
            return
        }
        #expect(result.status == 0, "\(kind) failed schema validation:\n\(result.stdout)\(result.stderr)")
    }

    /// Validates many documents in one validator run (`--many`: a JSON array).
    func validateMany(kind: String, documents: [[UInt8]]) async throws {
        let joined = "[" + documents.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",") + "]"
        try await validate(kind: kind, bytes: Array(joined.utf8), extraArguments: ["--many"])
    }

    @Test func servedProfileIsValidUnderBothSchemaSets() async throws {
        let ring = try KeyRing(
            keys: SignatureAlgorithm.allCases.map { try SigningKey.generate($0, kid: "k-\($0.rawValue)") }
        )
        let shop = try await Shop.start(keys: ring, logger: TestSupport.quietLogger)
        let profile = try await shop.client.send(OutgoingRequest(method: "GET", url: shop.profile.profileURL))
        // An unsigned read: the `unauthorized` error body.
        let notFound = try await shop.client.send(
            OutgoingRequest(
                method: "GET",
                url: "\(shop.server.baseURL)/orders/nope",
                headers: HTTPFieldList([("UCP-Agent", try await TestPlatform.agent())])
            )
        )
        await shop.stop()
        try await validate(kind: "profile", bytes: profile.body)
        try await validate(kind: "error", bytes: notFound.body)
    }

    @Test func orderFixtureIsValidUnderBothSchemaSets() async throws {
        try await validate(kind: "order", bytes: try TestSupport.read("fixtures/order-created.json"))
    }

    @Test func schemaValidatorRejectsAnInvalidOrder() async throws {
        var order =
            try JSONSerialization.jsonObject(with: Data(TestSupport.read("fixtures/order-created.json")))
            as! [String: Any]
        order["totals"] = [["type": "subtotal", "amount": 1.5]]
        let bytes = [UInt8](try JSONSerialization.data(withJSONObject: order))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-bad-\(UUID().uuidString).json")
        try Data(bytes).write(to: file)
        let result = try await TestSupport.run(TestSupport.python, [Self.validator, "--kind", "order", file.path])
        if result.status == 3, ProcessInfo.processInfo.environment["UCPSIM_REQUIRE_SCHEMAS"] != "1" { return }
        #expect(result.status == 1, "an order without a total must fail: \(result.stdout)")
    }
}
