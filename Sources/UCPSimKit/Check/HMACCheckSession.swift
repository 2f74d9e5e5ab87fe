import Foundation

/// Runs a shared-secret dialect's catalog (`ucp-hmac`, `standard-webhooks`) against a receiver that holds `secret`:
/// no shop or profile is involved, only the dialect's sender and an HTTP client.
public final class HMACCheckSession: Sendable {
    public let client: HTTPClient
    public let forge: HMACForge
    /// Unix seconds now: the signing time of every attempt.
    let now: @Sendable () -> Int64

    private init(client: HTTPClient, forge: HMACForge, now: @escaping @Sendable () -> Int64) {
        self.client = client
        self.forge = forge
        self.now = now
    }

    /// The dialect `name` signs with; nil for `ucp`, which signs with keys, not secrets.
    public static func dialect(_ name: DialectName) -> (any WebhookDialect)? {
        switch name {
        case .ucp: nil
        case .ucpHMAC: UCPHMACDialect()
        case .standardWebhooks: StandardWebhooksDialect()
        }
    }

    /// A session for `dialect` with the receiver's `secret`; throws when the dialect cannot sign with it (wrong
    /// shape or size: the message never quotes the secret).
    public static func start(
        dialect name: DialectName,
        secret: WebhookSecret,
        clientOptions: HTTPClientOptions = HTTPClientOptions(),
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) throws -> HMACCheckSession {
        guard let dialect = dialect(name) else { throw DialectWithoutSecret(dialect: name) }
        var key = try secret.signingKey(for: name)
        HMACSHA256.cleanse(&key)
        let forge = HMACForge(dialect: dialect, secret: secret, otherSecret: WebhookSecret.generate())
        return HMACCheckSession(client: HTTPClient(workers: 1, options: clientOptions), forge: forge, now: now)
    }

    public func stop() async { await client.shutdown() }

    /// A placed order of the catalog's, as the `order.created` event's document.
    static func order(id: String, at instant: Int64, baseURL: String) throws -> OrderDocument {
        var spec = OrderSpec(
            id: id,
            lines: [.init(sku: "mug-blue", title: "Blue Ceramic Mug", price: 1500, quantity: 2)],
            shipping: 499
        )
        spec.checkoutID = "chk_" + id
        let order = try OrderStateMachine(
            spec: spec,
            at: Date(timeIntervalSince1970: TimeInterval(instant)),
            shopBaseURL: baseURL
        ).order
        return try OrderDocument(bytes: order.jsonBytes(), source: "the catalog's order")
    }

    /// Runs `cases` against `target`, in catalog order; `progress` sees each result.
    public func run(
        _ cases: [CheckCase],
        target: RequestTarget,
        progress: @Sendable (CheckResult) -> Void = { _ in }
    ) async throws -> [CheckResult] {
        try await CheckSession.grade(cases, dialect: forge.dialect.name, progress: progress) { checkCase in
            let id = UUID().uuidString.lowercased()
            let order = try Self.order(
                id: "ord_check_" + id.prefix(8),
                at: now(),
                baseURL: "https://shop.example.com"
            )
            let message = try forge.event(checkCase.id, id: id, order: order, occurredAt: now())
            let client = client
            func send() async throws -> ReceivedResponse? {
                let request = try forge.request(checkCase.id, message: message, to: target, now: now())
                return try? await client.send(request)
            }
            if checkCase.id == "duplicate" {
                // A retry of a delivered event: the same id and body, signed afresh.
                return [try await send(), try await send()]
            }
            return [try await send()]
        }
    }

    /// `--dialect ucp` with a secret: that dialect signs with the shop's keys.
    struct DialectWithoutSecret: Error, CustomStringConvertible {
        let dialect: DialectName
        var description: String { "the \(dialect.rawValue) dialect signs with keys, not a shared secret" }
    }
}
