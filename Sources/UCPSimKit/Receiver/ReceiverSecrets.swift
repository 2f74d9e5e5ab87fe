import Foundation

/// The shared secrets a receiver checks HMAC-signed webhooks with (`ucpsim listen --secret`), as keys per dialect.
///
/// The team's rule (README, "Secrets"): `standard-webhooks` keys with the base64-decoded bytes after `whsec_` (as
/// that spec says; without the prefix the whole text is decoded, as the official libraries do), `ucp-hmac` with the
/// secret's UTF-8 text as given. A key must be 24–64 bytes; a secret that gives no such key for a dialect is not used
/// for it. Logs name a secret by its 1-based position among those given, never by its text.
public struct ReceiverSecrets: Sendable {
    /// One usable key and the position of the secret it came from.
    struct Key: Sendable {
        let position: Int
        let bytes: [UInt8]
    }

    private let ucpHMAC: [Key]
    private let standardWebhooks: [Key]

    /// No secret: every HMAC-signed webhook is refused `secret_not_configured`.
    public static let none = ReceiverSecrets([])

    public init(_ secrets: [WebhookSecret]) {
        var ucpHMAC: [Key] = []
        var standardWebhooks: [Key] = []
        for (index, secret) in secrets.enumerated() {
            if let key = Self.ucpHMACKey(secret) { ucpHMAC.append(Key(position: index + 1, bytes: key)) }
            if let key = Self.standardWebhooksKey(secret) {
                standardWebhooks.append(Key(position: index + 1, bytes: key))
            }
        }
        self.ucpHMAC = ucpHMAC
        self.standardWebhooks = standardWebhooks
    }

    /// The keys for `dialect`, in the order the secrets were given (none for `ucp`, which is signed with keys).
    func keys(for dialect: DialectName) -> [Key] {
        switch dialect {
        case .ucp: []
        case .ucpHMAC: ucpHMAC
        case .standardWebhooks: standardWebhooks
        }
    }

    /// The `ucp-hmac` key (the rule senders sign with: `WebhookSecret.signingKey(for:)`), nil when unusable.
    public static func ucpHMACKey(_ secret: WebhookSecret) -> [UInt8]? {
        try? secret.signingKey(for: .ucpHMAC)
    }

    /// The `standard-webhooks` key (the rule senders sign with), nil when unusable.
    public static func standardWebhooksKey(_ secret: WebhookSecret) -> [UInt8]? {
        try? secret.signingKey(for: .standardWebhooks)
    }

    /// Why `secret` keys neither dialect, or nil when it keys at least one. Never quotes the secret.
    public static func problem(with secret: WebhookSecret) -> String? {
        if ucpHMACKey(secret) != nil || standardWebhooksKey(secret) != nil { return nil }
        return "a secret must be 24 to 64 bytes of UTF-8 text (ucp-hmac) or whsec_ followed by the base64 of 24 to 64 "
            + "bytes (standard-webhooks); this one is \(secret.text.utf8.count) bytes of text"
    }
}

/// The timestamp rule both HMAC dialects share: an integer of unix seconds within 5 minutes of the receiver's clock
/// (the Standard Webhooks tolerance, applied to `UCP-Signature`'s `t` too).
enum HMACTimestamp {
    /// Seconds a timestamp may be away from `now`, either way.
    static let tolerance: Int64 = 300

    /// The unix seconds in `text` (ASCII digits only), or `header_malformed` naming `header`.
    static func parse(_ text: Substring, header: String) throws(SignatureFailure) -> Int64 {
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let seconds = Int64(text)
        else {
            throw SignatureFailure(
                .headerMalformed,
                "\(header) is not unix seconds: \(Identifier.quoted(String(text)))"
            )
        }
        return seconds
    }

    /// Refuses a timestamp more than `tolerance` away from `now`.
    static func check(_ seconds: Int64, now: Int64, header: String) throws(SignatureFailure) {
        if now - seconds > tolerance {
            throw SignatureFailure(
                .timestampTooOld,
                "\(header) \(seconds) is \(now - seconds) s old (at most \(tolerance) s accepted)"
            )
        }
        if seconds - now > tolerance {
            throw SignatureFailure(
                .timestampTooNew,
                "\(header) \(seconds) is \(seconds - now) s in the future (at most \(tolerance) s accepted)"
            )
        }
    }
}

/// What an HMAC-signed webhook says it is (id and type), read whatever the verdict, for the log line. Unverified
/// when the verdict is a failure.
public struct ClaimedEvent: Sendable, Equatable {
    public var id: String?
    public var type: String?

    public init(id: String?, type: String?) {
        self.id = id
        self.type = type
    }

    /// The body's top-level string `key`, if the body is a JSON object that has one.
    static func string(_ key: String, in body: [UInt8]) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?[key] as? String
    }
}

/// A verified HMAC-signed webhook: which secret matched and the event id duplicates are detected by.
struct HMACVerification: Sendable {
    /// The 1-based position of the matching secret among those configured.
    let secret: Int
    let eventID: String
}

/// The receiving side of one HMAC dialect.
protocol HMACWebhookVerifier: Sendable {
    static var dialect: DialectName { get }

    /// What the webhook claims to be, before verification.
    static func claimedEvent(headers: HTTPFieldList, body: [UInt8]) -> ClaimedEvent

    /// Verifies `body` and `headers` at `now` (unix seconds) with `keys`, or throws the one reason it fails.
    static func verify(headers: HTTPFieldList, body: [UInt8], keys: [ReceiverSecrets.Key], now: Int64)
        throws(SignatureFailure) -> HMACVerification
}

extension HMACWebhookVerifier {
    /// The position of the first key whose MAC over `parts` equals one of `candidates` (compared in constant time).
    static func matchingSecret(
        parts: [[UInt8]],
        candidates: [[UInt8]],
        keys: [ReceiverSecrets.Key]
    ) -> Int? {
        for key in keys {
            let expected = HMACSHA256.mac(key: key.bytes, parts: parts)
            // Every candidate is compared, so the time taken does not tell which one matched.
            var matched = false
            for candidate in candidates where HMACSHA256.constantTimeEqual(expected, candidate) { matched = true }
            if matched { return key.position }
        }
        return nil
    }

    /// The failure when no key matched. How many secrets were tried is for the operator's log only.
    static func mismatch(_ signatures: Int, keys: Int) -> SignatureFailure {
        SignatureFailure(
            .signatureMismatch,
            "no signature matches (wrong secret, or the body changed in transit)",
            diagnostic: "\(signatures) signature\(signatures == 1 ? "" : "s") checked against \(keys) secret"
                + (keys == 1 ? "" : "s")
        )
    }
}
