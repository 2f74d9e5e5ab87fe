import Foundation
import Logging

/// A graded catalog case: what the receiver answered, and whether that is what a correct receiver does.
public struct CheckResult: Sendable {
    public let checkCase: CheckCase
    /// The status of each request the case sent (nil: no response).
    public let statuses: [Int?]
    /// The `code` of each response's JSON error body (nil: none), in the order of `statuses`.
    public let codes: [String?]
    public let excerpt: String
    public let passed: Bool
    /// What the report should say beyond pass/fail: what came back (status and code), and what that means.
    public let note: String
    public let seconds: Double

    /// The `code` of the last response's error body, if it had one.
    public var code: String? { codes.last ?? nil }
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
        try await Self.grade(cases, dialect: .ucp, progress: progress) { checkCase in
            try await deliveries(for: checkCase, to: target)
        }
    }

    /// Sends each case's request(s) with `deliveries`, in order, and grades the answers; `progress` sees each result.
    static func grade(
        _ cases: [CheckCase],
        dialect: DialectName,
        progress: @Sendable (CheckResult) -> Void,
        deliveries: (CheckCase) async throws -> [ReceivedResponse?]
    ) async throws -> [CheckResult] {
        var results: [CheckResult] = []
        for checkCase in cases {
            let started = Date()
            let responses = try await deliveries(checkCase)
            let statuses = responses.map { $0?.status }
            let codes = responses.map { $0.flatMap(Self.errorCode) }
            let last = responses.last.flatMap { $0 }
            let passed = zip(statuses, codes).allSatisfy { checkCase.expected.met(status: $0, code: $1) }
            let result = CheckResult(
                checkCase: checkCase,
                statuses: statuses,
                codes: codes,
                excerpt: last?.bodyExcerpt(limit: 160) ?? "no response",
                passed: passed,
                note: Self.note(checkCase, dialect: dialect, statuses: statuses, codes: codes, passed: passed),
                seconds: Date().timeIntervalSince(started)
            )
            progress(result)
            results.append(result)
        }
        return results
    }

    /// The `code` member of a JSON error body.
    static func errorCode(_ response: ReceivedResponse) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["code"] as? String
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

    /// What came back, as `200`, `401 signature_invalid`, `400 (no code)` or `no response`.
    static func answer(status: Int?, code: String?) -> String {
        guard let status else { return "no response" }
        if (200..<300).contains(status) { return String(status) }
        return "\(status) \(code ?? "(no code)")"
    }

    /// The report's note: what came back (status and code), then what it means where that needs saying. The
    /// shared-secret dialects have no error codes at all: their notes give the statuses alone.
    static func note(
        _ checkCase: CheckCase,
        dialect: DialectName = .ucp,
        statuses: [Int?],
        codes: [String?],
        passed: Bool
    ) -> String {
        guard dialect == .ucp else {
            let got = "got " + statuses.map { $0.map(String.init) ?? "no response" }.joined(separator: ", ")
            if checkCase.id == "duplicate" {
                return got + ": one event id sent twice; the receiver must process it once"
            }
            if checkCase.id == "late-retry" && !passed {
                return got
                    + ": the body's timestamp is the event's time, unchanged on a retry; freshness is judged on the"
                    + " signed timestamp, which is fresh"
            }
            return got
        }
        let got = "got " + zip(statuses, codes).map { answer(status: $0, code: $1) }.joined(separator: ", ")
        let accepted = statuses.last.flatMap { $0 }.map { (200..<300).contains($0) } ?? false
        switch checkCase.expected {
        case .either:
            guard passed else { return got }
            return got
                + (accepted
                    ? ": the receiver supports it" : ": the receiver does not support it, which the spec allows")
        case .reject where checkCase.expected.statusOnly:
            return got + ": the spec names no error code here; graded on the status alone"
        case .reject, .accept:
            if checkCase.id == "duplicate" {
                return got + ": one event id sent twice; the receiver must process it once"
            }
            if checkCase.id == "late-retry" && !passed {
                return got
                    + ": Webhook-Timestamp is the event's time, identical on every retry; a receiver that applies a"
                    + " five-minute window to it (Standard Webhooks' habit) rejects legitimate UCP retries"
            }
            return got
        }
    }
}

/// Offline vectors: each case as a file another language's tests can replay.
///
/// Reproducible: everything in a file follows from the seed (keys, `Webhook-Id`s) or is fixed (the instant `now`,
/// hence `created` and `Webhook-Timestamp`; the order), and ES256 signatures use RFC 6979 deterministic nonces, so the
/// same seed writes byte-identical files.
public enum CheckExport {
    /// The instant every vector is made for (2026-04-11T13:10:00Z): `created` values are relative to it, and a
    /// verifier replaying a vector sets its clock here (the file's `now`).
    public static let now: Int64 = 1_775_913_000

    /// A fresh seed for a run without `--seed`: printed, so the run can be repeated.
    public static func randomSeed() -> UInt64 { UInt64.random(in: 0...UInt64(UInt32.max)) }

    /// The files for `cases`, by file name, in catalog order.
    public static func documents(_ cases: [CheckCase], target: RequestTarget, seed: UInt64) throws -> [(
        String, Data
    )] {
        let client = HTTPClient(workers: 1)
        defer { client.shutdown() }
        let derive = SeededKeys(seed: seed)
        let shopKey = try derive.key(.es256, kid: "shop-es256")
        let ed25519 = try derive.key(.ed25519, kid: "shop-ed25519")
        let otherKey = try derive.key(.es256, kid: "other-shop-es256")
        let clock: @Sendable () -> Int64 = { now }
        let sender = WebhookSender(
            client: client,
            signer: MessageSigner(key: shopKey),
            profileURL: "https://shop.example.com/.well-known/ucp",
            now: clock
        )
        let forge = RequestForge(
            sender: sender,
            ed25519: ed25519,
            rogue: try derive.key(.es256, kid: "not-published"),
            otherShop: WebhookSender(
                client: client,
                signer: MessageSigner(key: otherKey),
                profileURL: "https://other-shop.example.com/.well-known/ucp",
                now: clock
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
            at: Date(timeIntervalSince1970: TimeInterval(now)),
            shopBaseURL: "https://shop.example.com"
        ).order.jsonBytes()
        var documents: [(String, Data)] = []
        for checkCase in cases {
            var body = placed
            if checkCase.id == "unknown-fields" { body = try RequestForge.withUnknownFields(placed) }
            let event = WebhookEvent(
                webhookID: derive.uuid(checkCase.id),
                timestamp: now,
                orderID: spec.id,
                body: body
            )
            let request: OutgoingRequest
            var jwks = published
            switch checkCase.id {
            case "another-shop":
                request = try forge.request(checkCase.id, event: event, to: target, created: now)
                jwks = [try otherKey.publicJWK()]
            case "key-rotation":
                let next = try derive.key(.es256, kid: "shop-es256-next")
                request = try sender.with(key: next).signedRequest(for: event, to: target, created: now)
                jwks = [try next.publicJWK()]
            default:
                request = try forge.request(checkCase.id, event: event, to: target, created: now)
            }
            let document: [String: Any] = [
                "id": checkCase.id, "summary": checkCase.summary, "spec": checkCase.spec,
                "expected": expected(checkCase.expected),
                "seed": seed, "now": now,
                "signature_verifies": checkCase.signatureVerifies,
                "request_verifies": checkCase.requestVerifies,
                "request": [
                    "method": request.method, "url": request.url,
                    "headers": request.headers.fields.map { [$0.name, $0.value] },
                    "body_base64": Data(request.body).base64EncodedString(),
                ],
                "jwks": ["keys": try jwks.map { try JSONSerialization.jsonObject(with: JSONEncoder().encode($0)) }],
            ]
            documents.append(("\(checkCase.id).json", try vectorJSON(document)))
        }
        return documents
    }

    /// A vector's `expected`: `accept` (true, false or "either") and the acceptable rejections.
    static func expected(_ expected: CheckCase.Expected) -> [String: Any] {
        func answers(_ list: [CheckCase.Answer]) -> [[String: Any]] {
            list.map { ["status": $0.status, "code": $0.code as Any? ?? NSNull()] }
        }
        switch expected {
        case .accept: return ["accept": true, "answers": [] as [Any]]
        case .reject(let list): return ["accept": false, "answers": answers(list)]
        case .either(let answer): return ["accept": "either", "answers": answers([answer])]
        }
    }

    /// Pretty, key-sorted JSON with a final newline: the vector files' form.
    static func vectorJSON(_ document: [String: Any]) throws -> Data {
        var data = try JSONSerialization.data(
            withJSONObject: document,
            options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        )
        data.append(0x0A)
        return data
    }

    /// Writes `DIR/<case>.json` (request, the JWK set or throw-away secret to verify with, the expected outcome) for
    /// `cases` of `dialect`'s catalog, all or nothing: on a write error the files already written and a directory
    /// made here are removed again.
    public static func write(
        _ cases: [CheckCase],
        dialect: DialectName = .ucp,
        to directory: String,
        target: RequestTarget,
        seed: UInt64
    ) throws -> [String] {
        let documents =
            dialect == .ucp
            ? try documents(cases, target: target, seed: seed)
            : try documents(cases, dialect: dialect, target: target, seed: seed)
        let made = try makeDirectory(directory)
        var written: [String] = []
        for (name, data) in documents {
            let path = (directory as NSString).appendingPathComponent(name)
            do {
                try SafeFile.replace([UInt8](data), at: path)
            } catch {
                for done in written { unlink(done) }
                if let made { try? FileManager.default.removeItem(atPath: made) }
                throw error
            }
            written.append(path)
        }
        return written
    }

    /// Creates `path` and its missing parents; returns the topmost directory made here (nil: it existed).
    static func makeDirectory(_ path: String) throws(UCPSimError) -> String? {
        var made: String?
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix = (prefix as NSString).appendingPathComponent(String(component))
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: prefix, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else {
                    throw UCPSimError(.cannotCreate, "cannot write \(path): \(prefix) is not a directory")
                }
                continue
            }
            guard mkdir(prefix, 0o755) == 0 else {
                let reason = String(cString: strerror(errno))
                if let made { try? FileManager.default.removeItem(atPath: made) }
                throw UCPSimError(.cannotCreate, "cannot write \(path): \(reason)")
            }
            made = made ?? prefix
        }
        return made
    }
}
