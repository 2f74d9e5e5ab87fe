import Foundation
import Logging

/// A graded catalog case: what the receiver answered, and whether that is what a correct receiver does.
public struct CheckResult: Sendable {
    public let checkCase: CheckCase
    /// The status of each request the case sent (nil: no response).
    public let statuses: [Int?]
    /// The `code` of the receiver's last JSON error body, if it had one.
    public let code: String?
    public let excerpt: String
    public let passed: Bool
    /// What the report should say beyond pass/fail.
    public let note: String
    public let seconds: Double
}

/// Runs the receiver contract catalog: a live shop (ES256 signing, Ed25519 also published), another shop, and the
/// faulty deliveries, each graded against the spec.
public final class CheckSession: Sendable {
    public let shop: Shop
    public let otherShop: Shop
    public let forge: RequestForge

    private init(shop: Shop, otherShop: Shop, forge: RequestForge) {
        self.shop = shop
        self.otherShop = otherShop
        self.forge = forge
    }

    /// Starts both shops on loopback.
    public static func start(clientOptions: HTTPClientOptions = HTTPClientOptions(), logger: Logger) async throws
        -> CheckSession
    {
        let main = try SigningKey.generate(.es256, kid: "check-es256")
        let ed25519 = try SigningKey.generate(.ed25519, kid: "check-ed25519")
        let ring = try KeyRing(keys: [ed25519, main], signWith: main.kid)
        let shop = try await Shop.start(keys: ring, clientOptions: clientOptions, logger: logger)
        let otherShop = try await Shop.start(
            keys: try KeyRing(keys: [SigningKey.generate(.es256, kid: "other-shop-es256")]),
            clientOptions: clientOptions,
            logger: logger
        )
        let forge = RequestForge(
            sender: shop.sender,
            ed25519: ed25519,
            rogue: try SigningKey.generate(.es256, kid: "not-published"),
            otherShop: otherShop.sender,
            unreachableProfile: "http://127.0.0.1:1/.well-known/ucp"
        )
        return CheckSession(shop: shop, otherShop: otherShop, forge: forge)
    }

    public func stop() async {
        await shop.stop()
        await otherShop.stop()
    }

    /// Two snapshots (placed, shipped) of a fresh order of this shop's.
    func snapshots() throws -> (placed: [UInt8], shipped: [UInt8], id: String) {
        let id = "ord_check_" + UUID().uuidString.prefix(8).lowercased()
        let spec = OrderSpec(
            id: id,
            lines: [.init(sku: "mug-blue", title: "Blue Ceramic Mug", price: 1500, quantity: 2)],
            shipping: 499
        )
        var machine = try OrderStateMachine(spec: spec, at: Date(), shopBaseURL: shop.profile.baseURL)
        let placed = machine.order.jsonBytes()
        let shipped = try machine.apply(
            .ship(lines: nil, carrier: "UPS", trackingNumber: nil, trackingURL: nil),
            at: Date()
        ).jsonBytes()
        return (placed, shipped, id)
    }

    /// Runs `cases` against `target`, in catalog order; `progress` sees each result.
    public func run(
        _ cases: [CheckCase],
        target: RequestTarget,
        progress: @Sendable (CheckResult) -> Void = { _ in }
    ) async throws -> [CheckResult] {
        var results: [CheckResult] = []
        for checkCase in cases {
            let started = Date()
            let responses = try await deliveries(for: checkCase, to: target)
            let statuses = responses.map { $0?.status }
            let last = responses.last.flatMap { $0 }
            let code = last.flatMap {
                (try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any])?["code"] as? String
            }
            let passed = statuses.allSatisfy { checkCase.expected.met(by: $0) }
            let result = CheckResult(
                checkCase: checkCase,
                statuses: statuses,
                code: code,
                excerpt: last?.bodyExcerpt(limit: 160) ?? "no response",
                passed: passed,
                note: Self.note(checkCase, statuses: statuses, code: code),
                seconds: Date().timeIntervalSince(started)
            )
            progress(result)
            results.append(result)
        }
        return results
    }

    /// Sends a case's request(s); nil for a request that got no response.
    private func deliveries(for checkCase: CheckCase, to target: RequestTarget) async throws -> [ReceivedResponse?] {
        let now = shop.sender.now
        let client = shop.client
        func send(_ request: OutgoingRequest) async -> ReceivedResponse? { try? await client.send(request) }
        func event(_ body: [UInt8], id: String) -> WebhookEvent {
            WebhookEvent(timestamp: now(), orderID: id, body: body)
        }
        let order = try snapshots()
        switch checkCase.id {
        case "another-shop":
            // This shop's order is known to the receiver first; then another shop speaks for it.
            _ = await send(
                try forge.request("valid", event: event(order.placed, id: order.id), to: target, created: now())
            )
            return [
                await send(
                    try forge.request(
                        "another-shop",
                        event: event(order.shipped, id: order.id),
                        to: target,
                        created: now()
                    )
                )
            ]
        case "duplicate":
            let once = event(order.placed, id: order.id)
            let first = await send(try forge.request("valid", event: once, to: target, created: now()))
            let second = await send(try forge.request("valid", event: once, to: target, created: now()))
            return [first, second]
        case "out-of-order":
            let newer = await send(
                try forge.request("valid", event: event(order.shipped, id: order.id), to: target, created: now())
            )
            let older = await send(
                try forge.request("valid", event: event(order.placed, id: order.id), to: target, created: now())
            )
            return [newer, older]
        case "unknown-fields":
            let body = try RequestForge.withUnknownFields(order.placed)
            return [
                await send(try forge.request("valid", event: event(body, id: order.id), to: target, created: now()))
            ]
        case "key-rotation":
            // Publish a new key and drop the old ones under the same URL; sign with the new key.
            let original = shop.publisher.profile.keys
            let next = try SigningKey.generate(
                .es256,
                kid: "check-es256-rotated-" + UUID().uuidString.prefix(6).lowercased()
            )
            shop.publisher.publish(keys: [try next.publicJWK()])
            defer { shop.publisher.publish(keys: original) }
            let rotated = shop.sender.with(key: next)
            return [
                await send(
                    try rotated.signedRequest(for: event(order.placed, id: order.id), to: target, created: now())
                )
            ]
        default:
            return [
                await send(
                    try forge.request(
                        checkCase.id,
                        event: event(order.placed, id: order.id),
                        to: target,
                        created: now()
                    )
                )
            ]
        }
    }

    static func note(_ checkCase: CheckCase, statuses: [Int?], code: String?) -> String {
        let got = statuses.map { $0.map(String.init) ?? "no response" }.joined(separator: ", ")
        switch checkCase.expected {
        case .either(let expectedCode):
            if let status = statuses.last ?? nil, (200..<300).contains(status) {
                return "accepted: the receiver supports it"
            }
            return "rejected (\(code ?? expectedCode)): the receiver does not support it, which the spec allows"
        case .reject(_, let expectedCode?) where code != nil && code != expectedCode:
            return "got \(got), code \(code!) (spec: \(expectedCode))"
        default:
            if checkCase.id == "duplicate" {
                return "sent twice with one Webhook-Id (\(got)): the receiver should process it once"
            }
            return "got \(got)" + (code.map { ", code \($0)" } ?? "")
        }
    }
}

/// Offline vectors: each case as a file another language's tests can replay.
public enum CheckExport {
    /// Writes `DIR/<case>.json` (request, the JWK set to verify with, the expected outcome) for `cases`.
    public static func write(_ cases: [CheckCase], to directory: String, target: RequestTarget) throws -> [String] {
        let client = HTTPClient(workers: 1)
        defer { client.shutdown() }
        let shopKey = try SigningKey.generate(.es256, kid: "shop-es256")
        let ed25519 = try SigningKey.generate(.ed25519, kid: "shop-ed25519")
        let otherKey = try SigningKey.generate(.es256, kid: "other-shop-es256")
        let sender = WebhookSender(
            client: client,
            signer: MessageSigner(key: shopKey),
            profileURL: "https://shop.example.com/.well-known/ucp"
        )
        let forge = RequestForge(
            sender: sender,
            ed25519: ed25519,
            rogue: try SigningKey.generate(.es256, kid: "not-published"),
            otherShop: WebhookSender(
                client: client,
                signer: MessageSigner(key: otherKey),
                profileURL: "https://other-shop.example.com/.well-known/ucp"
            ),
            unreachableProfile: "https://unreachable.invalid/.well-known/ucp"
        )
        let published = [try shopKey.publicJWK(), try ed25519.publicJWK()]
        var spec = OrderSpec(
            id: "ord_vector_1",
            lines: [.init(sku: "mug-blue", title: "Blue Ceramic Mug", price: 1500, quantity: 2)],
            shipping: 499
        )
        spec.checkoutID = "chk_vector_1"
        let placed = try OrderStateMachine(
            spec: spec,
            at: Date(timeIntervalSince1970: 1_775_913_000),
            shopBaseURL: "https://shop.example.com"
        ).order.jsonBytes()
        let created = Int64(Date().timeIntervalSince1970)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [String] = []
        for checkCase in cases {
            var body = placed
            if checkCase.id == "unknown-fields" { body = try RequestForge.withUnknownFields(placed) }
            let event = WebhookEvent(timestamp: 1_775_913_000, orderID: spec.id, body: body)
            var jwks = published
            let request: OutgoingRequest
            switch checkCase.id {
            case "another-shop":
                request = try forge.request(checkCase.id, event: event, to: target, created: created)
                jwks = [try otherKey.publicJWK()]
            case "key-rotation":
                let next = try SigningKey.generate(.es256, kid: "shop-es256-next")
                request = try sender.with(key: next).signedRequest(for: event, to: target, created: created)
                jwks = [try next.publicJWK()]
            default:
                request = try forge.request(checkCase.id, event: event, to: target, created: created)
            }
            let expected: [String: Any]
            switch checkCase.expected {
            case .accept: expected = ["accept": true]
            case .reject(let statuses, let code):
                expected = ["accept": false, "statuses": statuses, "code": code as Any? ?? NSNull()]
            case .either(let code): expected = ["accept": "either", "statuses": [200, 400], "code": code]
            }
            let document: [String: Any] = [
                "id": checkCase.id, "summary": checkCase.summary, "spec": checkCase.spec, "expected": expected,
                "signature_verifies": checkCase.signatureVerifies,
                "request": [
                    "method": request.method, "url": request.url,
                    "headers": request.headers.fields.map { [$0.name, $0.value] },
                    "body_base64": Data(request.body).base64EncodedString(),
                ],
                "jwks": ["keys": try jwks.map { try JSONSerialization.jsonObject(with: JSONEncoder().encode($0)) }],
            ]
            let path = (directory as NSString).appendingPathComponent("\(checkCase.id).json")
            let data = try JSONSerialization.data(
                withJSONObject: document,
                options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            )
            guard FileManager.default.createFile(atPath: path, contents: data) else {
                throw UCPSimError(.cannotCreate, "cannot write \(path)")
            }
            written.append(path)
        }
        return written
    }
}
