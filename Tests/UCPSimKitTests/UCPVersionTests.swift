import Foundation
import Testing
@testable import UCPSimKit

/// The UCP releases: the newest is the default, each has its own shapes, non-releases are refused, and older
/// releases are served as `supported_versions` leaf profiles.
@Suite struct UCPVersionTests {
    /// Runs the schema validator (official schemas, and the `ucp-sdk` models for 2026-08-25) and returns its
    /// output; nil when the schemas are absent and this run may tolerate that.
    static func validate(kind: String, documents: [[UInt8]]) async throws -> String? {
        let joined = "[" + documents.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",") + "]"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-\(UUID().uuidString).json")
        try Data(joined.utf8).write(to: file)
        let result = try await TestSupport.run(
            TestSupport.python,
            [InteropTests.validator, "--kind", kind, "--many", file.path]
        )
        if result.status == 3, ProcessInfo.processInfo.environment["UCPSIM_REQUIRE_SCHEMAS"] != "1" {
            print("WARNING: UCP schemas not found; schema validation SKIPPED")
            return nil
        }
        #expect(result.status == 0, "\(kind) failed validation:\n\(result.stdout)\(result.stderr)")
        return result.stdout
    }

    static func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    static func get(_ url: String, client: HTTPClient) async throws -> ReceivedResponse {
        try await client.send(OutgoingRequest(method: "GET", url: url))
    }

    @Test func theNewestReleaseIsTheDefaultEverywhere() async throws {
        #expect(UCPVersion.newest.rawValue == "2026-08-25")
        #expect(UCPVersion.allCases.map(\.rawValue) == ["2026-04-08", "2026-08-25"])
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        let profile = try await Self.get(shop.profile.profileURL, client: shop.client)
        let order = try await shop.book.place(
            OrderSpec(id: "ord_v", lines: [.init(sku: "s", title: "T", price: 100, quantity: 1)])
        )
        await shop.stop()
        let ucp = try #require(try Self.object(profile.body)["ucp"] as? [String: Any])
        #expect(ucp["version"] as? String == "2026-08-25")
        #expect(order.ucp.version == "2026-08-25")
        #expect(order.ucp.capabilities["dev.ucp.shopping.order"]?.first?.version == "2026-08-25")
        let output = try await Self.validate(kind: "profile", documents: [profile.body])
        #expect(output.map { $0.contains("ok main") && $0.contains("ok ucp-sdk-0.5.0") } ?? true, "\(output ?? "")")
    }

    /// What differs between the releases, as served: the spec URLs, the key list's name, the version everywhere.
    @Test(arguments: UCPVersion.allCases)
    func eachReleaseServesItsOwnProfileShape(_ version: UCPVersion) async throws {
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            version: version,
            logger: TestSupport.quietLogger
        )
        let profile = try await Self.get(shop.profile.profileURL, client: shop.client)
        // An unsigned read gets the `unauthorized` error body, in the negotiated release.
        let notFound = try await shop.client.send(
            OutgoingRequest(
                method: "GET",
                url: "\(shop.server.baseURL)/orders/nope",
                headers: HTTPFieldList([("UCP-Agent", try await TestPlatform.agent(version))])
            )
        )
        await shop.stop()
        let document = try Self.object(profile.body)
        let ucp = try #require(document["ucp"] as? [String: Any])
        let order = try #require((ucp["capabilities"] as? [String: [[String: Any]]])?["dev.ucp.shopping.order"]?.first)
        #expect(ucp["version"] as? String == version.rawValue)
        #expect(order["version"] as? String == version.rawValue)
        #expect(ucp["supported_versions"] == nil)
        switch version {
        case .v2026_04_08:
            #expect(order["spec"] as? String == "https://ucp.dev/2026-04-08/specification/order")
            #expect(document["signing_keys"] is [Any] && document["keys"] == nil)
        case .v2026_08_25:
            #expect(order["spec"] as? String == "https://ucp.dev/2026-08-25/specification/shopping/order")
            #expect(document["keys"] is [Any] && document["signing_keys"] == nil)
        }
        let errorUCP = try #require(try Self.object(notFound.body)["ucp"] as? [String: Any])
        #expect(errorUCP["version"] as? String == version.rawValue)
        _ = try await Self.validate(kind: "profile", documents: [profile.body])
        _ = try await Self.validate(kind: "error", documents: [notFound.body])
    }

    @Test(arguments: UCPVersion.allCases)
    func anOrderCarriesItsReleaseInItsUCPBlock(_ version: UCPVersion) async throws {
        var machine = try OrderStateMachine(
            spec: OrderSpec(id: "ord_1", lines: [.init(sku: "s", title: "T", price: 100, quantity: 2)]),
            at: Date(timeIntervalSince1970: 1_775_913_000),
            shopBaseURL: "https://shop.example.com",
            version: version
        )
        let placed = machine.order
        try machine.apply(
            .ship(lines: nil, carrier: nil, trackingNumber: nil, trackingURL: nil),
            at: Date(timeIntervalSince1970: 1_775_913_060)
        )
        #expect(placed.ucp == Order.Envelope(version: version))
        #expect(placed.ucp.version == version.rawValue)
        #expect(placed.ucp.capabilities == ["dev.ucp.shopping.order": [.init(version: version.rawValue)]])
        _ = try await Self.validate(kind: "order", documents: [placed.jsonBytes(), machine.order.jsonBytes()])
    }

    @Test func ed25519IsOnlyListedFrom20260825() async throws {
        #expect(UCPVersion.v2026_04_08.algorithms == [.es256, .es384])
        #expect(UCPVersion.v2026_08_25.algorithms == [.es256, .es384, .ed25519])
        let ring = try KeyRing(keys: [try SigningKey.generate(.ed25519, kid: "ed")])
        await #expect(throws: UCPSimError.self) {
            try await Shop.start(keys: ring, version: .v2026_04_08, logger: TestSupport.quietLogger)
        }
        do {
            try ring.check(version: .v2026_04_08)
            Issue.record("an Ed25519 key must be refused under 2026-04-08")
        } catch {
            #expect(error.exitCode == .usage)
            #expect(error.message.contains("EdDSA") && error.message.contains("ES256, ES384"), "\(error.message)")
        }
        try ring.check(version: .v2026_08_25)
    }

    /// `supported_versions`: the main profile maps each older release to its leaf profile, which is that release's
    /// self-contained profile (its own shapes, only the keys it lists, no `supported_versions`).
    @Test func olderReleasesAreServedAsSupportedVersionsLeafProfiles() async throws {
        let ring = try KeyRing(keys: [
            try SigningKey.generate(.ed25519, kid: "ed"), try SigningKey.generate(.es256, kid: "ec"),
        ])
        let shop = try await Shop.start(
            keys: ring,
            olderVersions: [.v2026_04_08],
            logger: TestSupport.quietLogger
        )
        let main = try await Self.get(shop.profile.profileURL, client: shop.client)
        let leafURL = "\(shop.profile.profileURL)/2026-04-08"
        let leaf = try await Self.get(leafURL, client: shop.client)
        let notALeaf = try await Self.get("\(shop.profile.profileURL)/2026-08-25", client: shop.client)
        let unknown = try await Self.get("\(shop.profile.profileURL)/draft", client: shop.client)
        await shop.stop()

        let mainDocument = try Self.object(main.body)
        let mainUCP = try #require(mainDocument["ucp"] as? [String: Any])
        #expect(mainUCP["version"] as? String == "2026-08-25")
        #expect(mainUCP["supported_versions"] as? [String: String] == ["2026-04-08": leafURL])
        #expect((mainDocument["keys"] as? [[String: Any]])?.compactMap { $0["kid"] as? String } == ["ed", "ec"])

        #expect(leaf.status == 200)
        #expect(leaf.headers["cache-control"]?.contains("max-age") == true && leaf.headers["etag"] != nil)
        let leafDocument = try Self.object(leaf.body)
        let leafUCP = try #require(leafDocument["ucp"] as? [String: Any])
        #expect(leafUCP["version"] as? String == "2026-04-08")
        #expect(leafUCP["supported_versions"] == nil)
        #expect(leafDocument["keys"] == nil)
        #expect((leafDocument["signing_keys"] as? [[String: Any]])?.compactMap { $0["kid"] as? String } == ["ec"])
        #expect(notALeaf.status == 404 && unknown.status == 404)
        _ = try await Self.validate(kind: "profile", documents: [main.body, leaf.body])
    }

    // MARK: - The command line

    struct Refusal: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        let message: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    @Test(arguments: [
        Refusal(arguments: ["--ucp-version", "banana"], message: "banana"),
        Refusal(arguments: ["--ucp-version", "draft"], message: "draft"),
        Refusal(arguments: ["--ucp-version", "2026-01-11"], message: "2026-01-11"),
        Refusal(arguments: ["--supported-version", "2026-08-25"], message: "must be older"),
        Refusal(arguments: ["--ucp-version", "2026-04-08", "--supported-version", "2026-04-08"], message: "older"),
    ])
    func anythingButAKnownReleaseIsAUsageError(_ refusal: Refusal) async throws {
        let result = try await CLITests.ucpsim(
            ["send", CLITests.fixture, "--webhook-url", "http://127.0.0.1:9/h"] + refusal.arguments
        )
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains(refusal.message), "\(result.stderr)")
        #expect(!result.stdout.contains("attempt"))
    }

    @Test func anEd25519KeyUnder20260408IsAUsageError() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-ed-\(UUID().uuidString)").path
        let generated = try await CLITests.ucpsim(["keys", "generate", "--alg", "ed25519", "--out", dir, "--kid", "ed"])
        #expect(generated.status == 0, "\(generated.stderr)")
        let result = try await CLITests.ucpsim([
            "send", try Self.fixture(declaring: "2026-04-08").path, "--webhook-url", "http://127.0.0.1:9/h",
            "--keys", dir, "--ucp-version", "2026-04-08",
        ])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("ucpsim: error: key ed is EdDSA"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    // MARK: - Fixtures declaring another release

    /// The bundled snapshot with its `ucp` block rewritten to `version`, as a file; returns its path and bytes.
    static func fixture(declaring version: String) throws -> (path: String, bytes: [UInt8]) {
        let text = String(decoding: try TestSupport.read(CLITests.fixture), as: UTF8.self)
            .replacingOccurrences(of: "\"2026-08-25\"", with: "\"\(version)\"")
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-\(UUID().uuidString).json")
        try Data(text.utf8).write(to: url)
        return (url.path, Array(text.utf8))
    }

    @Test func aFixtureOfAnotherReleaseIsWarnedAboutAndSentByteForByte() async throws {
        let (receiver, receiverServer, receiverClient) = try await TestSupport.startReceiver()
        let url = "\(receiverServer.baseURL)/webhooks/ucp/orders"
        let older = try Self.fixture(declaring: "2026-04-08")
        let warned = try await CLITests.ucpsim(["send", older.path, "--webhook-url", url])
        let matching = try await CLITests.ucpsim(["send", CLITests.fixture, "--webhook-url", url])
        let explicit = try await CLITests.ucpsim([
            "send", older.path, "--webhook-url", url, "--ucp-version", "2026-04-08",
        ])
        await receiverServer.stop()
        await receiverClient.shutdown()

        #expect(warned.status == 0, "\(warned.stderr)")
        let warnings = warned.stderr.split(separator: "\n").filter { $0.hasPrefix("ucpsim: warning: ") }
        #expect(warnings.count == 1, "\(warned.stderr)")
        #expect(warnings.first?.contains("\"2026-04-08\"") == true && warnings.first?.contains("2026-08-25") == true)
        #expect(!matching.stderr.contains("warning") && !explicit.stderr.contains("warning"), "\(matching.stderr)")
        #expect(receiver.received.count == 3)
        #expect(receiver.received.first?.body == older.bytes)
        #expect(receiver.received.first?.status == 200)
    }

    @Test func replayAndDemoWarnOncePerFixture() async throws {
        let replay = try await CLITests.ucpsim([
            "replay", "fixtures/happy-path.events.json", CLITests.fixture, "--ucp-version", "2026-04-08",
        ])
        #expect(replay.status == 0, "\(replay.stdout)\(replay.stderr)")
        let warnings = replay.stderr.split(separator: "\n").filter { $0.hasPrefix("ucpsim: warning: ") }
        #expect(warnings.count == 2, "\(replay.stderr)")
        #expect(warnings.first?.contains("fixtures/happy-path.events.json") == true)
        #expect(warnings.first?.contains("5 of 5 events") == true, "\(warnings)")

        let older = try Self.fixture(declaring: "2026-04-08")
        let demo = try await CLITests.ucpsim(["demo", "--fixture", older.path])
        #expect(demo.status == 0, "\(demo.stdout)\(demo.stderr)")
        #expect(demo.stderr.split(separator: "\n").filter { $0.hasPrefix("ucpsim: warning: ") }.count == 1)
    }
}
