/// The webhook dialects a subscription can speak. Adding one: a type in this folder and a line here and in
/// `Dialects.make`.
public enum DialectName: String, CaseIterable, Sendable, Codable {
    /// The UCP spec's order webhooks: the order entity, RFC 9421 + `Content-Digest`, `Webhook-Id`/`-Timestamp`.
    case ucp
    /// The integration guides' event envelope with `UCP-Signature: t=…,v1=<HMAC-SHA256 hex>`.
    case ucpHMAC = "ucp-hmac"
    /// Standard Webhooks (Svix): `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`.
    case standardWebhooks = "standard-webhooks"

    /// Every name, for help texts and errors.
    public static let names = allCases.map(\.rawValue)
}

/// What a delivery is signed with: the subscription's secrets, newest first (more than one while a rotation is on).
/// Never printed, logged or journaled.
public struct DeliveryCredentials: Sendable {
    public var secrets: [WebhookSecret]

    public init(secrets: [WebhookSecret]) { self.secrets = secrets }

    public static let none = DeliveryCredentials(secrets: [])
}

/// A shared webhook secret as given (`whsec_` + base64 when generated).
public struct WebhookSecret: Sendable, Equatable {
    /// The secret's text, exactly as the subscription holds it.
    public let text: String

    public init(_ text: String) { self.text = text }
}

/// One webhook dialect: how an event becomes a body (once, at publish: the same bytes on every attempt) and how one
/// attempt of it is signed (each attempt anew). A dialect owns its fast path and plan cache.
public protocol WebhookDialect: Sendable {
    var name: DialectName { get }

    /// True when an attempt is signed with the subscription's secrets: the engine asks for them, and dead-letters a
    /// delivery that has none instead of sending it unsigned. Default true; the `ucp` dialect signs with the shop's
    /// key.
    var needsCredentials: Bool { get }

    /// The body of `event` in this dialect; nil when the dialect has nothing to say about it (the `ucp` dialect
    /// sends order snapshots only: an interaction without an order has no body there).
    func body(for event: OrderEvent) -> [UInt8]?

    /// The request for one attempt of `message` (its id, timestamp and body fixed at publish) to `target`, signed
    /// at `now` (unix seconds) with `credentials`.
    func request(
        for message: WebhookEvent,
        to target: RequestTarget,
        credentials: DeliveryCredentials,
        now: Int64
    ) throws -> OutgoingRequest
}

extension WebhookDialect {
    public var needsCredentials: Bool { true }
}

/// The dialects a shop delivers in, by name.
public struct Dialects: Sendable {
    private let table: [DialectName: any WebhookDialect]

    public init(_ dialects: [any WebhookDialect]) {
        var table: [DialectName: any WebhookDialect] = [:]
        for dialect in dialects { table[dialect.name] = dialect }
        self.table = table
    }

    public subscript(name: DialectName) -> (any WebhookDialect)? { table[name] }

    /// Every dialect ucpsim speaks; `sender` signs the `ucp` dialect's webhooks, `version` is the release the shop
    /// speaks (named in the `ucp-hmac` envelope).
    public static func standard(sender: WebhookSender, version: UCPVersion = .newest) -> Dialects {
        Dialects([UCPDialect(sender: sender), UCPHMACDialect(version: version), StandardWebhooksDialect()])
    }
}
