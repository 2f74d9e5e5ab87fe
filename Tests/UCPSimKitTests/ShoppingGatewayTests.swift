import Foundation
import Hummingbird
import Synchronization
import Testing
@testable import UCPSimKit

/// A real gateway on loopback with test-only routes (each answers what the gateway concluded, and how many times it
/// ran), a real platform profile server, and libcurl as the platform's client.
final class GatewayHarness: Sendable {
    let server: RunningServer
    let gateway: ShoppingGateway
    let database: ShopDatabase
    let registry: SubscriptionRegistry
    let platform: PlatformProfileServer
    let client: HTTPClient
    let shopKeys: KeyRing
    private let counter: Counter

    /// How many times a route's handler ran.
    var runs: Int { counter.value.withLock { $0 } }

    /// Counts handler runs.
    final class Counter: Sendable {
        let value = Mutex(0)

        func next() -> Int {
            value.withLock {
                $0 += 1
                return $0
            }
        }
    }

    private init(
        server: RunningServer,
        gateway: ShoppingGateway,
        database: ShopDatabase,
        registry: SubscriptionRegistry,
        platform: PlatformProfileServer,
        client: HTTPClient,
        shopKeys: KeyRing,
        counter: Counter
    ) {
        self.counter = counter
        self.server = server
        self.gateway = gateway
        self.database = database
        self.registry = registry
        self.platform = platform
        self.client = client
        self.shopKeys = shopKeys
    }

    /// What the test routes answer.
    struct Echo: Codable {
        var version: String
        var capabilities: [String]
        var platform: String?
        var run: Int
    }

    static func start(
        version: UCPVersion = .newest,
        supported: [UCPVersion] = [],
        requireSigned: Bool = false
    ) async throws -> GatewayHarness {
        let platform = try await PlatformProfileServer.start()
        let client = HTTPClient(workers: 4)
        let database = try ShopDatabase.inMemory()
        let registry = try SubscriptionRegistry(database: database)
        let shopKeys = try KeyRing(keys: [try SigningKey.generate(.es256, kid: "shop-2026")])
        let gateway = ShoppingGateway(
            version: version,
            paymentHandlers: [],
            supportedVersions: supported,
            profiles: ProfileCache(client: client, purpose: .platform),
            signing: ResponseSigning(signer: MessageSigner(key: shopKeys.active)),
            requireSignedRequests: requireSigned,
            idempotency: IdempotencyStore(database: database),
            subscriptions: registry
        )
        let counter = Counter()
        let router = Router()
        router.add(middleware: APIErrorMiddleware())
        let routes: [(HTTPRequest.Method, String, ShoppingOperation)] = [
            (.post, "/checkout-sessions", .checkoutCreate),
            (.post, "/carts", .cartCreate),
            (.get, "/carts/:id", .cartGet),
            (.post, "/catalog/search", .catalogSearch),
        ]
        for (method, path, operation) in routes {
            router.on(RouterPath(path), method: method) { request, _ in
                try await gateway.handle(request, operation) { call in
                    let run = counter.next()
                    let echo = Echo(
                        version: call.version.rawValue,
                        capabilities: call.capabilities.keys.map(\.rawValue).sorted(),
                        platform: call.platform?.profileURL,
                        run: run
                    )
                    return .json(echo, status: operation == .checkoutCreate ? .created : .ok)
                }
            }
        }
        let server = try await RunningServer.start(
            router: router,
            host: "127.0.0.1",
            port: 0,
            logger: TestSupport.quietLogger
        )
        let harness = GatewayHarness(
            server: server,
            gateway: gateway,
            database: database,
            registry: registry,
            platform: platform,
            client: client,
            shopKeys: shopKeys,
            counter: counter
        )
        try platform.serve(profile: try platform.profile())
        return harness
    }

    /// A request from the platform: `UCP-Agent` naming `agent` (default: its profile), a JSON body when given,
    /// an `Idempotency-Key` when given, signed when `sign`.
    func request(
        _ method: String = "POST",
        _ path: String = "/checkout-sessions",
        body: String? = #"{"line_items":[]}"#,
        agent: String?? = .none,
        key: String? = nil,
        sign: Bool = false
    ) throws -> OutgoingRequest {
        var request = OutgoingRequest(method: method, url: "\(server.baseURL)\(path)")
        switch agent {
        case .none: request.headers.append("UCP-Agent", UCPAgent.header(profileURL: platform.url()))
        case .some(.some(let value)): request.headers.append("UCP-Agent", value)
        case .some(.none): break
        }
        if let key { request.headers.append("Idempotency-Key", key) }
        if let body {
            request.headers.append("Content-Type", "application/json")
            request.body = Array(body.utf8)
        }
        if sign { try platform.sign(&request) }
        return request
    }

    func send(_ request: OutgoingRequest) async throws -> ReceivedResponse {
        try await client.send(request)
    }

    func stop() async {
        await server.stop()
        await platform.stop()
        await client.shutdown()
    }
}

extension ReceivedResponse {
    /// The flat error body's `code`, or the error_response's first message code.
    var code: String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        if let code = object["code"] as? String { return code }
        return ((object["messages"] as? [[String: Any]])?.first)?["code"] as? String
    }

    var echo: GatewayHarness.Echo? { try? JSONDecoder().decode(GatewayHarness.Echo.self, from: Data(body)) }
}

/// The shopping gateway over real HTTP: negotiation, request and response signatures, idempotency, platform
/// webhook subscriptions.
@Suite struct ShoppingGatewayTests {
    // MARK: - Capability intersection (values)

    @Test func intersectionPicksTheHighestCommonVersion() {
        let result = CapabilityNegotiation.intersect(
            business: ["a": ["2026-04-08", "2026-08-25"], "b": ["2026-08-25"], "c": ["2026-08-25"]],
            platform: ["a": ["2026-01-11", "2026-04-08", "2026-08-25"], "b": ["2026-04-08"], "x": ["2026-08-25"]],
            extends: [:]
        )
        // b has no common version; c and x are on one side only.
        #expect(result == ["a": "2026-08-25"])
    }

    @Test func intersectionPrunesOrphanedExtensionsToAFixpoint() {
        let all = ["root": ["1"], "ext": ["1"], "ext2": ["1"], "multi": ["1"], "other": ["1"]]
        let extends = ["ext": ["root"], "ext2": ["ext"], "multi": ["root", "other"]]
        // Without root: ext goes, then ext2 (its parent ext went); multi stays through `other`.
        var platform = all
        platform.removeValue(forKey: "root")
        #expect(
            CapabilityNegotiation.intersect(business: all, platform: platform, extends: extends)
                == ["other": "1", "multi": "1"]
        )
        // Without root and other: multi goes too.
        platform.removeValue(forKey: "other")
        #expect(CapabilityNegotiation.intersect(business: all, platform: platform, extends: extends).isEmpty)
        // Everything present: everything stays.
        #expect(CapabilityNegotiation.intersect(business: all, platform: all, extends: extends).count == 5)
    }

    @Test func shopCapabilitiesDropDiscountWithoutCheckout() {
        let platform = [
            "dev.ucp.shopping.catalog.search": ["2026-08-25"],
            "dev.ucp.shopping.discount": ["2026-08-25"],
            "dev.ucp.shopping.fulfillment": ["2026-08-25"],
        ]
        let negotiated = CapabilityNegotiation.shopCapabilities(platform: platform, version: .v2026_08_25)
        #expect(negotiated == [.catalogSearch: .v2026_08_25])
        let withCart = CapabilityNegotiation.shopCapabilities(
            platform: platform.merging(["dev.ucp.shopping.cart": ["2026-08-25"]]) { a, _ in a },
            version: .v2026_08_25
        )
        // Discount and fulfillment extend checkout only: a cart keeps neither.
        #expect(withCart == [.catalogSearch: .v2026_08_25, .cart: .v2026_08_25])
    }

    @Test func protocolVersionIsTheShopsOrASupportedOne() {
        #expect(
            CapabilityNegotiation.protocolVersion(platform: "2026-08-25", shop: .v2026_08_25, supported: [])
                == .v2026_08_25
        )
        #expect(CapabilityNegotiation.protocolVersion(platform: "2026-04-08", shop: .v2026_08_25, supported: []) == nil)
        #expect(
            CapabilityNegotiation.protocolVersion(
                platform: "2026-04-08",
                shop: .v2026_08_25,
                supported: [.v2026_04_08]
            ) == .v2026_04_08
        )
        #expect(CapabilityNegotiation.protocolVersion(platform: "2025-01-01", shop: .v2026_08_25, supported: []) == nil)
    }

    // MARK: - Negotiation over HTTP

    @Test func aPlatformIsNegotiated() async throws {
        let harness = try await GatewayHarness.start()
        defer { Task { await harness.stop() } }
        let response = try await harness.send(try harness.request())
        #expect(response.status == 201)
        let echo = try #require(response.echo)
        #expect(echo.version == "2026-08-25")
        #expect(echo.platform == harness.platform.url())
        #expect(echo.capabilities == ShoppingCapability.allCases.map(\.rawValue).sorted())
    }

    @Test func negotiationErrors() async throws {
        let harness = try await GatewayHarness.start()
        defer { Task { await harness.stop() } }
        func expect(_ request: OutgoingRequest, _ status: Int, _ code: String, _ comment: Comment) async throws {
            let response = try await harness.send(request)
            #expect(response.status == status, comment)
            #expect(response.code == code, comment)
        }
        try await expect(try harness.request(agent: .some(nil)), 400, "invalid_profile_url", "no UCP-Agent")
        try await expect(try harness.request(agent: "profile=unquoted/x"), 400, "invalid_profile_url", "not a string")
        try await expect(
            try harness.request(agent: UCPAgent.header(profileURL: "ftp://example.com/p")),
            400,
            "invalid_profile_url",
            "not http(s)"
        )
        try await expect(
            try harness.request(agent: UCPAgent.header(profileURL: "http://10.1.2.3/profile")),
            400,
            "invalid_profile_url",
            "a private address"
        )
        try await expect(
            try harness.request(agent: UCPAgent.header(profileURL: harness.platform.url("/missing"))),
            424,
            "profile_unreachable",
            "404 at the profile URL"
        )
        harness.platform.serve("/text", body: Array("not json".utf8))
        try await expect(
            try harness.request(agent: UCPAgent.header(profileURL: harness.platform.url("/text"))),
            422,
            "profile_malformed",
            "not JSON"
        )
        try harness.platform.serve("/noversion", profile: ["ucp": ["capabilities": [:] as [String: Any]]])
        try await expect(
            try harness.request(agent: UCPAgent.header(profileURL: harness.platform.url("/noversion"))),
            422,
            "profile_malformed",
            "no ucp.version"
        )
        try harness.platform.serve("/old", profile: try harness.platform.profile(version: "2026-04-08"))
        try await expect(
            try harness.request(agent: UCPAgent.header(profileURL: harness.platform.url("/old"))),
            422,
            "version_unsupported",
            "2026-04-08 at a 2026-08-25-only shop"
        )
    }

    @Test func anOlderSupportedVersionIsNegotiated() async throws {
        let harness = try await GatewayHarness.start(supported: [.v2026_04_08])
        defer { Task { await harness.stop() } }
        try harness.platform.serve(profile: try harness.platform.profile(version: "2026-04-08"))
        let response = try await harness.send(try harness.request())
        #expect(response.status == 201)
        #expect(response.echo?.version == "2026-04-08")
        #expect(response.echo?.capabilities.contains("dev.ucp.shopping.checkout") == true)
    }

    @Test func catalogIsServedWithoutUCPAgentButCheckoutIsNot() async throws {
        let harness = try await GatewayHarness.start()
        defer { Task { await harness.stop() } }
        let catalog = try await harness.send(try harness.request("POST", "/catalog/search", agent: .some(nil)))
        #expect(catalog.status == 200)
        #expect(catalog.echo?.platform == nil)
        let cart = try await harness.send(try harness.request("POST", "/carts", agent: .some(nil)))
        #expect(cart.status == 400)
        #expect(cart.code == "invalid_profile_url")
    }

    @Test func anOperationOutsideTheIntersectionIsCapabilitiesIncompatible() async throws {
        let harness = try await GatewayHarness.start()
        defer { Task { await harness.stop() } }
        try harness.platform.serve(
            profile: try harness.platform.profile(capabilities: ["dev.ucp.shopping.catalog.search"])
        )
        let response = try await harness.send(try harness.request())
        #expect(response.status == 200)
        #expect(response.code == "capabilities_incompatible")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let ucp = try #require(object["ucp"] as? [String: Any])
        #expect(ucp["status"] as? String == "error")
        #expect((ucp["capabilities"] as? [String: Any])?.isEmpty == true)
        #expect(harness.runs == 0)
        // A capability present at another version only is not shared either.
        try harness.platform.serve(profile: try harness.platform.profile(capabilityVersion: "2026-04-08"))
        harness.gateway.profiles?.clear()
        #expect(try await harness.send(try harness.request()).code == "capabilities_incompatible")
    }

    // MARK: - Request signatures

    @Test func aSignedRequestIsAcceptedAndATamperedOneRefused() async throws {
        let harness = try await GatewayHarness.start()
        defer { Task { await harness.stop() } }
        let signed = try harness.request(key: UUID().uuidString, sign: true)
        #expect(try await harness.send(signed).status == 201)

        var body = signed
        body.body = Array(#"{"line_items":[1]}"#.utf8)
        let tamperedBody = try await harness.send(body)
        #expect(tamperedBody.status == 400)
        #expect(tamperedBody.code == "digest_mismatch")

        var header = signed
        header.headers.set("Idempotency-Key", UUID().uuidString)
        let tamperedHeader = try await harness.send(header)
        #expect(tamperedHeader.status == 401)
        #expect(tamperedHeader.code == "signature_invalid")

        var unknown = try harness.request(key: UUID().uuidString)
        try harness.platform.sign(&unknown, keyID: "not-published")
        let unknownKey = try await harness.send(unknown)
        #expect(unknownKey.status == 401)
        #expect(unknownKey.code == "key_not_found")

        // Idempotency-Key is present but not covered.
        var partial = try harness.request(key: UUID().uuidString)
        try harness.platform.sign(
            &partial,
            components: ["@method", "@authority", "@path", "ucp-agent", "content-digest", "content-type"]
        )
        let uncovered = try await harness.send(partial)
        #expect(uncovered.status == 401)
        #expect(uncovered.code == "signature_missing")
        #expect(harness.runs == 1)
    }

    @Test func aKeyOfAnUnsupportedCurveIsAlgorithmUnsupported() async throws {
        let harness = try await GatewayHarness.start()
        defer { Task { await harness.stop() } }
        var profile = try harness.platform.profile()
        profile["keys"] = [["kid": "p521", "kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"]]
        try harness.platform.serve(profile: profile)
        var request = try harness.request()
        try harness.platform.sign(&request, keyID: "p521")
        let response = try await harness.send(request)
        #expect(response.status == 400)
        #expect(response.code == "algorithm_unsupported")
    }

    @Test func anUnknownKeyIDRefetchesTheProfileOnce() async throws {
        let harness = try await GatewayHarness.start()
        defer { Task { await harness.stop() } }
        // The shop caches a profile without the key (an unsigned request), then the platform publishes it.
        var withoutKeys = try harness.platform.profile()
        withoutKeys["keys"] = [] as [Any]
        try harness.platform.serve(profile: withoutKeys)
        #expect(try await harness.send(try harness.request()).status == 201)
        try harness.platform.serve(profile: try harness.platform.profile())
        #expect(try await harness.send(try harness.request(sign: true)).status == 201)
        // A second unknown key within the TTL floor is not fetched for again.
        var unknown = try harness.request()
        try harness.platform.sign(&unknown, keyID: "rotated-later")
        #expect(try await harness.send(unknown).code == "key_not_found")
    }

    @Test func requireSignedRequestsRefusesUnsignedOnes() async throws {
        let harness = try await GatewayHarness.start(requireSigned: true)
        defer { Task { await harness.stop() } }
        let unsigned = try await harness.send(try harness.request())
        #expect(unsigned.status == 401)
        #expect(unsigned.code == "signature_missing")
        let anonymous = try await harness.send(try harness.request("POST", "/catalog/search", agent: .some(nil)))
        #expect(anonymous.status == 401)
        #expect(anonymous.code == "signature_missing")
        #expect(try await harness.send(try harness.request(sign: true)).status == 201)
    }

    // MARK: - Response signatures

    @Test func responsesAreSignedAndAnIndependentVerifierAcceptsThem() async throws {
        let harness = try await GatewayHarness.start()
        defer { Task { await harness.stop() } }
        let jwks = try JSONSerialization.jsonObject(with: JSONEncoder().encode(["keys": harness.shopKeys.publicJWKs()]))
        let jwksFile = try TestSupport.temporaryJSON(jwks, name: "jwks.json")
        // A success and a protocol error are both signed.
        for request in [try harness.request(), try harness.request(agent: .some(nil))] {
            let response = try await harness.send(request)
            let document: [String: Any] = [
                "status": response.status,
                "headers": response.headers.fields.map { [$0.name, $0.value] },
                "body_base64": Data(response.body).base64EncodedString(),
            ]
            let file = try TestSupport.temporaryJSON(document, name: "response.json")
            let result = try await TestSupport.run(
                TestSupport.python,
                [InteropTests.verifier, file, jwksFile, "--response"]
            )
            #expect(result.stdout.hasPrefix("verified kid=shop-2026"), "\(result.stdout) \(result.stderr)")

            var tampered = document
            tampered["status"] = response.status == 201 ? 200 : 201
            let tamperedFile = try TestSupport.temporaryJSON(tampered, name: "response.json")
            let rejected = try await TestSupport.run(
                TestSupport.python,
                [InteropTests.verifier, tamperedFile, jwksFile, "--response"]
            )
            #expect(rejected.stdout.hasPrefix("signature_invalid"), "\(rejected.stdout)")
        }
    }

    @Test func orderSnapshotsAreSigned() async throws {
        let shop = try await Shop.start(keys: try KeyRing.ephemeral(), logger: TestSupport.quietLogger)
        let client = HTTPClient(workers: 1)
        let response = try await client.send(
            OutgoingRequest(
                method: "GET",
                url: "\(shop.server.baseURL)/orders/nope",
                headers: HTTPFieldList([("UCP-Agent", try await TestPlatform.agent())])
            )
        )
        await client.shutdown()
        await shop.stop()
        let jwks = try JSONSerialization.jsonObject(with: JSONEncoder().encode(["keys": shop.keyRing.publicJWKs()]))
        let document: [String: Any] = [
            "status": response.status,
            "headers": response.headers.fields.map { [$0.name, $0.value] },
            "body_base64": Data(response.body).base64EncodedString(),
        ]
        let result = try await TestSupport.run(
            TestSupport.python,
            [
                InteropTests.verifier, try TestSupport.temporaryJSON(document, name: "response.json"),
                try TestSupport.temporaryJSON(jwks, name: "jwks.json"), "--response",
            ]
        )
        #expect(result.stdout.hasPrefix("verified kid=\(shop.keyRing.active.kid)"), "\(result.stdout) \(result.stderr)")
    }

    // MARK: - Idempotency

    @Test func aReplayAnswersTheSameBytesAndAnotherBodyConflicts() async throws {
        let harness = try await GatewayHarness.start()
        defer { Task { await harness.stop() } }
        let key = UUID().uuidString
        let first = try await harness.send(try harness.request(key: key))
        let again = try await harness.send(try harness.request(key: key))
        #expect(first.status == 201)
        #expect(again.status == 201)
        #expect(again.body == first.body)
        #expect(harness.runs == 1)

        let conflict = try await harness.send(try harness.request(body: #"{"line_items":[{}]}"#, key: key))
        #expect(conflict.status == 409)
        #expect(conflict.code == "idempotency_key_reused")
        #expect(harness.runs == 1)

        // The same key from another operation is another key; no key at all: no deduplication.
        #expect(try await harness.send(try harness.request("POST", "/carts", key: key)).echo?.run == 2)
        _ = try await harness.send(try harness.request())
        _ = try await harness.send(try harness.request())
        #expect(harness.runs == 4)
    }

    @Test func aFailingIdempotencyStoreAnswers503WithoutRunning() async throws {
        let harness = try await GatewayHarness.start()
        defer { Task { await harness.stop() } }
        try await harness.database.queue.write { db in try db.execute(sql: "DROP TABLE idempotency_key") }
        let response = try await harness.send(try harness.request(key: UUID().uuidString))
        #expect(response.status == 503)
        #expect(response.headers["retry-after"] != nil)
        #expect(harness.runs == 0)
    }

    // MARK: - Platform webhooks

    @Test func aPlatformsWebhookURLBecomesOneSubscriptionThatFollowsItsProfile() async throws {
        let harness = try await GatewayHarness.start()
        defer { Task { await harness.stop() } }
        try harness.platform.serve(profile: try harness.platform.profile(webhookURL: "https://platform.example/hooks"))
        #expect(try await harness.send(try harness.request()).status == 201)
        #expect(try await harness.send(try harness.request()).status == 201)
        var list = try await harness.registry.list()
        #expect(list.count == 1)
        let first = try #require(list.first)
        #expect(first.platform == harness.platform.url())
        #expect(first.url == "https://platform.example/hooks")
        #expect(first.dialect == .ucp)

        // A changed webhook URL updates the same subscription (once the cached profile expires).
        try harness.platform.serve(profile: try harness.platform.profile(webhookURL: "https://platform.example/v2"))
        harness.gateway.profiles?.clear()
        #expect(try await harness.send(try harness.request()).status == 201)
        list = try await harness.registry.list()
        #expect(list.map(\.url) == ["https://platform.example/v2"])
        #expect(list.first?.id == first.id)
    }

    @Test func platformSubscriptionsAndOrderOwnersSurviveARestart() async throws {
        let directory = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let database = try ShopDatabase.open(directory: directory)
            let registry = try SubscriptionRegistry(database: database)
            try await registry.platformSubscription(for: "https://a.example/p", webhookURL: "https://a.example/hooks")
            try await PlatformOrders(database: database).record(orderID: "ord_1", platform: "https://a.example/p")
            // Recording again keeps the first platform.
            try await PlatformOrders(database: database).record(orderID: "ord_1", platform: "https://b.example/p")
        }
        let database = try ShopDatabase.open(directory: directory)
        #expect(PlatformOrders(database: database).platform(of: "ord_1") == "https://a.example/p")
        #expect(PlatformOrders(database: database).platform(of: "ord_2") == nil)
        let subscriptions = try await SubscriptionRegistry(database: database).list()
        #expect(subscriptions.map(\.platform) == ["https://a.example/p"])
        // The API's JSON shows the platform of such a subscription.
        let subscription = try #require(subscriptions.first)
        let object = try JSONSerialization.jsonObject(with: Data(subscription.json())) as? [String: Any]
        #expect(object?["platform"] as? String == "https://a.example/p")
    }

    @Test func eachPlatformReceivesOnlyTheOrdersItPlaced() async throws {
        let receiverA = try await ScriptedReceiver.start { _, _ in .init() }
        let receiverB = try await ScriptedReceiver.start { _, _ in .init() }
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            control: ControlOptions(target: nil, secret: nil),
            logger: TestSupport.quietLogger
        )
        try await shop.subscriptions.platformSubscription(for: "https://a.example/profile", webhookURL: receiverA.url)
        try await shop.subscriptions.platformSubscription(for: "https://b.example/profile", webhookURL: receiverB.url)
        let platformOrders = shop.webhooks.platformOrders
        try await platformOrders.record(orderID: "ord_a", platform: "https://a.example/profile")
        try await platformOrders.record(orderID: "ord_b", platform: "https://b.example/profile")
        var changes: [[OrderEvent]] = []
        for id in ["ord_a", "ord_b", "ord_shop"] {
            let document = try DialectTests.fixture { $0["id"] = id }
            changes.append([OrderChange.event(document: document, first: true, occurredAt: 1_775_913_000)])
        }
        let deliveries = try await shop.webhooks.publish(changes)
        #expect(deliveries.count == 2)
        #expect(await shop.engine.drain(timeout: 60))
        await shop.stop()
        await receiverA.stop()
        await receiverB.stop()
        #expect(receiverA.received.map(\.orderID) == ["ord_a"])
        #expect(receiverB.received.map(\.orderID) == ["ord_b"])
    }
}

/// `serve`'s shopping options, through the built binary.
@Suite struct ServeShoppingOptionsTests {
    @Test func serveTakesTheProfilePolicyOptionsAndChecksThem() async throws {
        let result = try await CLITests.ucpsim(["serve", "--port", "0", "--allow-profile-host", "a/b"])
        #expect(result.status == 64)
        #expect(
            result.stderr.contains("a host for --allow-http-profile or --allow-profile-host is a name or an address")
        )
        let help = try await CLITests.ucpsim(["serve", "--help"])
        #expect(help.stdout.contains("--require-signed-requests"))
        #expect(help.stdout.contains("--allow-private-profiles"))
    }

    /// The identity-linking options are checked before anything starts: exit 64 and one line saying why.
    @Test(arguments: [
        (["--oauth-client", "agent"], "--oauth-client agent: must be ID[:SECRET]:REDIRECT_URI"),
        (["--oauth-client", "agent:s3cret:ftp://x/cb"], "must be http or https"),
        (["--oauth-client", "agent:http://127.0.0.1/cb#frag"], "must not have a fragment"),
        (
            ["--oauth-client", "agent:http://127.0.0.1/a", "--oauth-client", "agent:http://127.0.0.1/b"],
            "--oauth-client agent is given twice"
        ),
        (["--no-identity-linking", "--auto-consent", "alice@example.com"], "--auto-consent needs identity linking"),
        (["--no-identity-linking", "--require-identity"], "--require-identity needs identity linking"),
        (
            ["--host", "0.0.0.0", "--simulation-secret", "s", "--auto-consent", "alice@example.com"],
            "it is for a loopback --host only"
        ),
        (["--auto-consent", "nobody@example.com"], "the shop file has no customer with that id or email"),
    ])
    func identityOptionsAreChecked(_ arguments: [String], _ reason: String) async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-\(UUID().uuidString)").path
        let result = try await CLITests.ucpsim(["serve", "--port", "0", "--state", state] + arguments)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains(reason), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state), "nothing is made before the options are checked")
    }
}
