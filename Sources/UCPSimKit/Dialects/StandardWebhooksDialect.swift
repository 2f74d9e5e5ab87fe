import Foundation

/// Standard Webhooks (https://www.standardwebhooks.com, Svix): the spec's recommended payload
///
///     {"data": {…}, "timestamp": "2026-11-30T00:00:00Z", "type": "order.created"}
///
/// where `data` is the full UCP order entity for `order.created` and `order.updated`, and the same object as the
/// `ucp-hmac` envelope's `data` for the other event types. Headers: `Content-Type: application/json`, `webhook-id`
/// (the event's id, the same on every retry), `webhook-timestamp` (the attempt's time) and `webhook-signature:
/// v1,<base64 HMAC-SHA256>` over `"<id>.<timestamp>.<raw body>"`, keyed with the base64-decoded bytes after the
/// secret's `whsec_` prefix. During a rotation every secret signs: space-separated `v1,` entries, newest first.
public struct StandardWebhooksDialect: WebhookDialect {
    public init() {}

    public var name: DialectName { .standardWebhooks }

    public func body(for event: OrderEvent) -> [UInt8]? {
        let data: [String: Any]
        switch event.type {
        case .orderCreated, .orderUpdated:
            data = event.document.flatMap(EventPayload.object(of:)) ?? EventPayload.data(for: event)
        case .fulfillmentStatusChanged, .paymentStatusChanged, .agentInteraction:
            data = EventPayload.data(for: event)
        }
        return EventPayload.json([
            "type": event.type.rawValue,
            "timestamp": EventPayload.timestamp(event.occurredAt),
            "data": data,
        ])
    }

    /// Signs the message's id, `now` and body with every secret; throws without a usable secret.
    public func request(
        for message: WebhookEvent,
        to target: RequestTarget,
        credentials: DeliveryCredentials,
        now: Int64
    ) throws -> OutgoingRequest {
        let signature = try signature(id: message.webhookID, body: message.body, credentials: credentials, now: now)
        var headers = HTTPFieldList()
        headers.reserveCapacity(4)
        headers.append("Content-Type", "application/json")
        headers.append("webhook-id", message.webhookID)
        headers.append("webhook-timestamp", String(now))
        headers.append("webhook-signature", signature)
        return OutgoingRequest(method: "POST", url: target.url, headers: headers, body: message.body)
    }

    /// The `webhook-signature` value: `v1,<base64>` per secret in the order given, separated by single spaces.
    public func signature(id: String, body: [UInt8], credentials: DeliveryCredentials, now: Int64) throws -> String {
        guard !credentials.secrets.isEmpty else { throw DialectError.noSecret(name) }
        let signedPrefix = Array("\(id).\(now).".utf8)
        var entries: [String] = []
        entries.reserveCapacity(credentials.secrets.count)
        for secret in credentials.secrets {
            var key = try secret.signingKey(for: name)
            defer { HMACSHA256.cleanse(&key) }
            entries.append("v1," + Data(HMACSHA256.mac(key: key, parts: [signedPrefix, body])).base64EncodedString())
        }
        return entries.joined(separator: " ")
    }
}
