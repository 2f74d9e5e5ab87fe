// `UCPSimBench --checkout [CHECKOUTS] [CONCURRENCY]`: completed checkouts per second on loopback.
//
// An in-process `Shop` (the embedded shop file) and, beside it, a platform: its profile (an ES256 key, and
// `dev.ucp.shopping.order` `config.webhook_url` pointing at a `ReferenceReceiver` that verifies every webhook against
// the shop's profile). CONCURRENCY lanes each run checkouts one after another: create (the e-book, the one item with
// stock for any run length), update (buyer email), complete (`tok_success` with the shop's first payment handler);
// every request carries `UCP-Agent`, `Request-Id`, an `Idempotency-Key` and an RFC 9421 signature by the platform's
// key, as an agent sends them. A checkout counts once its `order.created` webhook has reached the receiver and
// verified. Prints checkouts per second and the p50/p99 of `complete`; exits 1 with the reason when the shop cannot
// check out (e.g. its routes answer 404), never with a trap.
import Foundation
import Hummingbird
import Logging
import Synchronization
import UCPSimKit

/// Why the checkout bench stopped.
struct CheckoutBenchFailure: Error, CustomStringConvertible {
    let description: String
}

/// The platform side of the bench: signs requests as its profile's key and counts verified order webhooks.
final class BenchPlatform: Sendable {
    let key: SigningKey
    let profileURL: String
    let receiver: ReferenceReceiver
    let server: RunningServer
    let arrivals = Arrivals()

    /// Order ids of verified webhooks and when each first arrived; how many webhooks did not verify.
    final class Arrivals: Sendable {
        let orders = Mutex<[String: Date]>([:])
        let rejected = Mutex(0)
    }

    static let item = "var_ebook"

    init(client: HTTPClient) async throws {
        key = try SigningKey.generate(.es256, kid: "bench-platform-es256")
        let arrivals = self.arrivals
        let receiver = ReferenceReceiver(
            client: client,
            onReceive: { webhook in
                guard case .success = webhook.verdict else {
                    arrivals.rejected.withLock { $0 += 1 }
                    return
                }
                let object = try? JSONSerialization.jsonObject(with: Data(webhook.body)) as? [String: Any]
                guard let id = object?["id"] as? String else { return }
                let now = Date()
                arrivals.orders.withLock { if $0[id] == nil { $0[id] = now } }
            }
        )
        self.receiver = receiver
        let router = Router()
        let profile = Mutex<[UInt8]>([])
        // Not /.well-known/ucp: the receiver's routes serve its own (keyless) platform profile there.
        router.get("/platform/profile") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(bytes: profile.withLock { $0 }))
            )
        }
        receiver.addRoutes(to: router)
        server = try await RunningServer.start(router: router, host: "127.0.0.1", port: 0, logger: quietLogger)
        profileURL = server.baseURL + "/platform/profile"
        let bytes = try Self.profile(key: key.publicJWK(), webhookURL: server.baseURL + "/webhooks/ucp/orders")
        profile.withLock { $0 = bytes }
    }

    /// A platform profile for release 2026-08-25 with every shopping capability the shop has.
    static func profile(key: JWK, webhookURL: String) throws -> [UInt8] {
        let version = "2026-08-25"
        func entry(_ spec: String, _ schema: String, extra: [String: Any] = [:]) -> [[String: Any]] {
            [
                [
                    "version": version,
                    "spec": "https://ucp.dev/\(version)/specification/\(spec)",
                    "schema": "https://ucp.dev/\(version)/schemas/shopping/\(schema)",
                ].merging(extra) { $1 }
            ]
        }
        let keyObject = try JSONSerialization.jsonObject(with: JSONEncoder().encode(key))
        let document: [String: Any] = [
            "ucp": [
                "version": version,
                "services": [
                    "dev.ucp.shopping": [
                        [
                            "version": version, "transport": "rest",
                            "spec": "https://ucp.dev/\(version)/specification/overview/",
                            "schema": "https://ucp.dev/\(version)/services/shopping/rest.openapi.json",
                        ]
                    ]
                ],
                "capabilities": [
                    "dev.ucp.shopping.checkout": entry("shopping/checkout", "checkout.json"),
                    "dev.ucp.shopping.discount": entry(
                        "discount",
                        "discount.json",
                        extra: ["extends": ["dev.ucp.shopping.checkout", "dev.ucp.shopping.cart"]]
                    ),
                    "dev.ucp.shopping.order": entry(
                        "shopping/order",
                        "order.json",
                        extra: ["config": ["webhook_url": webhookURL]]
                    ),
                ],
                "payment_handlers": [
                    "dev.ucpsim.mock_payment": [
                        [
                            "id": "mock_payment", "version": version,
                            "spec": "https://ucpsim.dev/specification/mock-payment",
                            "schema": "https://ucpsim.dev/schemas/mock-payment.json",
                        ]
                    ]
                ],
            ],
            "keys": [keyObject],
        ]
        return [UInt8](try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]))
    }

    /// A signed, negotiated request: `@method @authority @path ucp-agent [idempotency-key content-digest content-type]`.
    func request(_ method: String, _ url: String, body: [String: Any]? = nil) throws -> OutgoingRequest {
        var headers = HTTPFieldList([
            ("UCP-Agent", "profile=\"\(profileURL)\""), ("Request-Id", UUID().uuidString.lowercased()),
            ("Accept", "application/json"),
        ])
        var components = ["@method", "@authority", "@path", "ucp-agent"]
        var bytes: [UInt8] = []
        if method != "GET" {
            headers.append("Idempotency-Key", UUID().uuidString.lowercased())
            components.append("idempotency-key")
        }
        if let body {
            bytes = [UInt8](try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
            let digest = Data(DigestAlgorithm.sha256.hash(bytes)).base64EncodedString()
            headers.append("Content-Digest", "sha-256=:\(digest):")
            headers.append("Content-Type", "application/json")
            components += ["content-digest", "content-type"]
        }
        let signer = MessageSigner(key: key)
        let message = SignableMessage(method: method, target: try RequestTarget(url), headers: headers)
        let (input, signature) = try signer.sign(
            message,
            parameters: SignatureParameters(
                components: components,
                created: Int64(Date().timeIntervalSince1970),
                keyID: key.kid
            )
        )
        headers.append("Signature-Input", input)
        headers.append("Signature", signature)
        return OutgoingRequest(method: method, url: url, headers: headers, body: bytes)
    }

    func stop() async { await server.stop() }
}

private let quietLogger: Logger = {
    var logger = Logger(label: "ucpsim.bench")
    logger.logLevel = .critical
    return logger
}()

/// Hands out `limit` turns to the lanes, one at a time.
final class TakeCounter: Sendable {
    private let taken = Mutex(0)
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// True while turns are left (and takes one).
    func take() -> Bool {
        taken.withLock { value in
            guard value < limit else { return false }
            value += 1
            return true
        }
    }
}

/// One JSON object from a response that must have `status` (else the reason the bench stops).
private func object(
    _ response: ReceivedResponse,
    _ what: String,
    expect: Int
) throws(CheckoutBenchFailure) -> [String: Any] {
    guard response.status == expect else {
        let hint = response.status == 404 ? " (the shop has no such route: checkout has not landed in this build)" : ""
        throw CheckoutBenchFailure(
            description:
                "\(what) answered HTTP \(response.status), expected \(expect)\(hint): \(response.bodyExcerpt(limit: 200))"
        )
    }
    guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
        throw CheckoutBenchFailure(
            description: "\(what): the body is not a JSON object: \(response.bodyExcerpt(limit: 200))"
        )
    }
    return object
}

private func messages(_ object: [String: Any]) -> String {
    let codes = (object["messages"] as? [[String: Any]] ?? []).map { "\($0["type"] ?? "?"):\($0["code"] ?? "?")" }
    return codes.isEmpty ? "no messages" : codes.joined(separator: ", ")
}

/// One checkout: create, update, complete. Returns the order id and how long `complete` took, in milliseconds.
private func oneCheckout(
    base: String,
    platform: BenchPlatform,
    client: HTTPClient,
    handler: String
) async throws -> (order: String, completeMilliseconds: Double) {
    let line: [String: Any] = ["item": ["id": BenchPlatform.item], "quantity": 1]
    let created = try object(
        try await client.send(
            try platform.request("POST", base + "/checkout-sessions", body: ["line_items": [line]])
        ),
        "POST /checkout-sessions",
        expect: 201
    )
    guard let id = created["id"] as? String, let lines = created["line_items"] as? [[String: Any]] else {
        throw CheckoutBenchFailure(
            description: "POST /checkout-sessions: no checkout in the answer (\(messages(created)))"
        )
    }
    let update: [String: Any] = [
        "line_items": lines.map { ["id": $0["id"] ?? "", "item": ["id": BenchPlatform.item], "quantity": 1] },
        "buyer": ["email": "bench@example.com", "first_name": "Bench", "last_name": "Buyer"],
    ]
    let updated = try object(
        try await client.send(try platform.request("PUT", base + "/checkout-sessions/\(id)", body: update)),
        "PUT /checkout-sessions/{id}",
        expect: 200
    )
    guard updated["status"] as? String == "ready_for_complete" else {
        throw CheckoutBenchFailure(
            description:
                "after the update the checkout is \(updated["status"] ?? "?"), not ready_for_complete (\(messages(updated)))"
        )
    }
    let payment: [String: Any] = [
        "payment": [
            "instruments": [
                [
                    "id": "instr_1", "handler_id": handler, "type": "card", "selected": true,
                    "credential": ["type": "PAYMENT_GATEWAY", "token": "tok_success"],
                ]
            ]
        ]
    ]
    let request = try platform.request("POST", base + "/checkout-sessions/\(id)/complete", body: payment)
    let started = Date()
    let response = try await client.send(request)
    let milliseconds = Date().timeIntervalSince(started) * 1000
    let completed = try object(response, "POST /checkout-sessions/{id}/complete", expect: 200)
    guard completed["status"] as? String == "completed",
        let order = (completed["order"] as? [String: Any])?["id"] as? String
    else {
        throw CheckoutBenchFailure(
            description:
                "complete left the checkout \(completed["status"] ?? "?") with no order (\(messages(completed)))"
        )
    }
    return (order, milliseconds)
}

/// The checkout phase; returns the exit status.
func runCheckoutBench(checkouts: Int, concurrency: Int) async -> Int32 {
    let checkouts = max(1, checkouts)
    let lanes = max(1, min(concurrency, checkouts))
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-bench-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: state) }
    let client = HTTPClient(workers: lanes + 2)
    var shop: Shop?
    var platform: BenchPlatform?
    do {
        platform = try await BenchPlatform(client: client)
        var setup = DeliverySetup(stateDirectory: state)
        setup.engine.concurrency = lanes
        // As `serve` runs it: the registered subscriptions (the platform's, made from its profile's webhook_url, among
        // them) get the shop's webhooks; no extra URL.
        shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            delivery: setup,
            control: ControlOptions(target: nil, secret: nil),
            logger: quietLogger
        )
    } catch {
        say("checkout bench: cannot start the shop or the platform: \(error)")
        await platform?.stop()
        await client.shutdown()
        return 1
    }
    guard let shop, let platform else { return 1 }
    let base = shop.profile.baseURL
    say(
        "== checkout: \(checkouts) completed checkouts (create, update, complete; order.created delivered, signed and verified), \(lanes) in flight, in-process shop \(base)"
    )
    let outcome: Result<(Double, [Double], Int), CheckoutBenchFailure> = await {
        do {
            // The handler to pay with: the first one the shop's profile advertises.
            let profile = try object(
                try await client.send(OutgoingRequest(method: "GET", url: base + "/.well-known/ucp")),
                "GET /.well-known/ucp",
                expect: 200
            )
            let handlers = (profile["ucp"] as? [String: Any])?["payment_handlers"] as? [String: [[String: Any]]] ?? [:]
            // (The embedded shop's handler id when the profile names none: the first call then says what is missing.)
            let handler =
                handlers.keys.sorted().compactMap({ handlers[$0]?.first?["id"] as? String }).first ?? "mock_payment"
            let began = Date()
            let next = TakeCounter(limit: checkouts)
            let placed = try await withThrowingTaskGroup(of: [(String, Double)].self) { group in
                for _ in 0..<lanes {
                    group.addTask {
                        var mine: [(String, Double)] = []
                        while next.take() {
                            mine.append(
                                try await oneCheckout(base: base, platform: platform, client: client, handler: handler)
                            )
                        }
                        return mine
                    }
                }
                var all: [(String, Double)] = []
                for try await lane in group { all += lane }
                return all
            }
            // Every order's webhook, verified by the platform's receiver (bounded: 60 s after the last complete).
            let deadline = Date().addingTimeInterval(60)
            var arrived = 0
            while Date() < deadline {
                arrived = platform.arrivals.orders.withLock { orders in placed.filter { orders[$0.0] != nil }.count }
                if arrived == placed.count { break }
                try await Task.sleep(nanoseconds: 10_000_000)
            }
            guard arrived == placed.count else {
                throw CheckoutBenchFailure(
                    description:
                        "\(placed.count - arrived) of \(placed.count) order webhooks did not reach the platform verified within 60 s (\(platform.arrivals.rejected.withLock { $0 }) rejected)"
                )
            }
            let last =
                platform.arrivals.orders.withLock { orders in placed.compactMap { orders[$0.0] }.max() } ?? Date()
            return .success((last.timeIntervalSince(began), placed.map(\.1).sorted(), placed.count))
        } catch let failure as CheckoutBenchFailure {
            return .failure(failure)
        } catch {
            return .failure(CheckoutBenchFailure(description: "\(error)"))
        }
    }()
    await shop.stop()
    await platform.stop()
    await client.shutdown()
    switch outcome {
    case .failure(let failure):
        say("checkout bench stopped: \(failure)")
        return 1
    case .success(let (elapsed, latencies, count)):
        func percentile(_ p: Double) -> Double {
            latencies[min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1)]
        }
        let rate = Double(count) / elapsed
        say(
            "completed:         \(count) checkouts in \(String(format: "%.2f", elapsed)) s, every order.created verified"
        )
        say("throughput:        \(String(format: "%.0f", rate)) completed checkouts/s")
        say(
            "complete latency:  p50 \(String(format: "%.1f", percentile(0.5))) ms, p99 \(String(format: "%.1f", percentile(0.99))) ms (POST …/complete, sent to answered)"
        )
        say(
            "RESULT checkouts_per_second=\(String(format: "%.0f", rate)) complete_p50_ms=\(String(format: "%.1f", percentile(0.5))) complete_p99_ms=\(String(format: "%.1f", percentile(0.99)))"
        )
        return 0
    }
}
