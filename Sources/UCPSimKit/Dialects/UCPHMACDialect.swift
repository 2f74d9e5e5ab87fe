/// The integration guides' event envelope, signed with the subscription's shared secret:
///
///     {"data": {…}, "event_id": "…", "event_type": "order.created",
///      "metadata": {"source_system": "ucpsim", "version": "2026-08-25"}, "timestamp": "2026-11-30T00:00:00Z"}
///
/// with `Content-Type: application/json` and `UCP-Signature: t=<now>,v1=<hex HMAC-SHA256>`, the MAC keyed with the
/// secret's UTF-8 text over `"<now>.<raw body>"`. During a rotation every secret signs: one `v1=` per secret, newest
/// first (`t=…,v1=…,v1=…`); a receiver accepts when any matches.
public struct UCPHMACDialect: WebhookDialect {
    /// The release named in the envelope's `metadata.version`: the one the shop speaks.
    public let version: UCPVersion

    public init(version: UCPVersion = .newest) { self.version = version }

    public var name: DialectName { .ucpHMAC }

    /// The envelope; `event_id` is the event's id (so the same on every retry) and `timestamp` its occurrence.
    public func body(for event: OrderEvent) -> [UInt8]? {
        EventPayload.json([
            "event_id": event.id,
            "timestamp": EventPayload.timestamp(event.occurredAt),
            "event_type": event.type.rawValue,
            "data": EventPayload.data(for: event),
            "metadata": ["source_system": "ucpsim", "version": version.rawValue],
        ])
    }

    /// Signs the message's body at `now` with every secret; throws without a usable secret (never sends unsigned).
    public func request(
        for message: WebhookEvent,
        to target: RequestTarget,
        credentials: DeliveryCredentials,
        now: Int64
    ) throws -> OutgoingRequest {
        var headers = HTTPFieldList()
        headers.reserveCapacity(2)
        headers.append("Content-Type", "application/json")
        headers.append("UCP-Signature", try signature(body: message.body, credentials: credentials, now: now))
        return OutgoingRequest(method: "POST", url: target.url, headers: headers, body: message.body)
    }

    /// The `UCP-Signature` value: `t=<now>`, then `,v1=<64 hex digits>` per secret in the order given.
    public func signature(body: [UInt8], credentials: DeliveryCredentials, now: Int64) throws -> String {
        guard !credentials.secrets.isEmpty else { throw DialectError.noSecret(name) }
        let stamp = String(now)
        let signedPrefix = Array("\(stamp).".utf8)
        var value = "t=" + stamp
        value.reserveCapacity(value.utf8.count + credentials.secrets.count * 68)
        for secret in credentials.secrets {
            var key = try secret.signingKey(for: name)
            defer { HMACSHA256.cleanse(&key) }
            value += ",v1=" + Hex.lowercase(HMACSHA256.mac(key: key, parts: [signedPrefix, body]))
        }
        return value
    }
}

/// Lowercase hexadecimal.
enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Two lowercase hex digits per byte, written straight into the string's storage.
    static func lowercase(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { buffer in
            for (index, byte) in bytes.enumerated() {
                buffer[2 * index] = digits[Int(byte >> 4)]
                buffer[2 * index + 1] = digits[Int(byte & 0x0F)]
            }
            return bytes.count * 2
        }
    }
}
