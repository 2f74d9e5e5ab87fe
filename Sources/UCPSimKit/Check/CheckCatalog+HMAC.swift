/// The catalogs of the shared-secret dialects, `ucp-hmac` and `standard-webhooks`.
///
/// Neither names error codes or statuses for a refusal, so a refusal is graded on the status alone: 400, 401 or 403.
/// Not any 4xx: a 404 is what a wrong URL answers (a typo must not pass every forged case), 410 tells a Standard
/// Webhooks sender to disable the endpoint, 429 and 5xx ask for a retry.
extension CheckCatalog {
    /// The catalog `ucpsim check --dialect` runs for `dialect`, in order.
    public static func cases(for dialect: DialectName) -> [CheckCase] {
        switch dialect {
        case .ucp: cases
        case .ucpHMAC: ucpHMAC
        case .standardWebhooks: standardWebhooks
        }
    }

    /// What a correct receiver answers a delivery it must refuse, in the HMAC dialects.
    public static let refused: CheckCase.Expected = .reject([.init(400), .init(401), .init(403)])

    static let standardWebhooksSpec = "Standard Webhooks § Verifying webhook signatures"
    static let standardWebhooksTime = "Standard Webhooks § Timestamp (5-minute tolerance)"
    static let ucpHMACSpec = "ucp-hmac: UCP-Signature t=…,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">"
    static let ucpHMACTime = "ucp-hmac: t within 5 minutes of the receiver's clock (ucpsim's choice, README)"
    static let events = "open event vocabulary: acknowledge and ignore an unknown type (ucpsim's choice)"

    /// `ucp-hmac`: the envelope `{event_id, timestamp, event_type, data, metadata}`, `UCP-Signature`.
    public static let ucpHMAC: [CheckCase] = [
        hmacCase("valid", "a correctly signed order.created envelope", .accept, ucpHMACSpec, true, true),
        hmacCase(
            "body-tampered",
            "another envelope's bytes (event_type order.updated) under this one's signature",
            refused,
            ucpHMACSpec,
            false,
            false
        ),
        hmacCase("wrong-secret", "signed with a secret that is not the receiver's", refused, ucpHMACSpec, false, false),
        hmacCase(
            "stale-timestamp",
            "correctly signed, t ten minutes in the past (> 5 min)",
            refused,
            ucpHMACTime,
            true,
            false
        ),
        hmacCase(
            "future-timestamp",
            "correctly signed, t ten minutes in the future (> 5 min)",
            refused,
            ucpHMACTime,
            true,
            false
        ),
        hmacCase(
            "timestamp-changed",
            "t moved back a second after signing (still fresh, no longer the signed t)",
            refused,
            ucpHMACSpec,
            false,
            false
        ),
        hmacCase("missing-signature", "no UCP-Signature header", refused, ucpHMACSpec, false, false),
        hmacCase(
            "signature-not-hex",
            "v1= carries the right MAC, but base64-encoded instead of lowercase hex",
            refused,
            ucpHMACSpec,
            false,
            false
        ),
        hmacCase(
            "signature-without-timestamp",
            "UCP-Signature without t= (v1= alone, the MAC as signed)",
            refused,
            ucpHMACSpec,
            false,
            false
        ),
        hmacCase(
            "unsupported-version",
            "only a v2= signature (an undefined scheme) carrying the right MAC",
            refused,
            ucpHMACSpec,
            false,
            false
        ),
        hmacCase(
            "rotation",
            "two v1= signatures, as the dialect sends during a rotation (t=…,v1=…,v1=…): the first under another"
                + " secret, the second valid: accept when any matches",
            .accept,
            ucpHMACSpec,
            true,
            true
        ),
        hmacCase(
            "reserialized",
            "the same JSON re-serialized (other whitespace and key order) under the original bytes' signature: the"
                + " MAC is over raw bytes",
            refused,
            ucpHMACSpec,
            false,
            false
        ),
        hmacCase(
            "duplicate",
            "the same event_id twice, the second a fresh attempt: acknowledge both, process once",
            .accept,
            ucpHMACSpec,
            true,
            true
        ),
        hmacCase(
            "unknown-event-type",
            "a correctly signed envelope with an event_type no one defines: acknowledge it (2xx) and ignore it",
            .accept,
            events,
            true,
            true
        ),
        hmacCase(
            "late-retry",
            "a retry: the envelope's timestamp (the event's time) 6 hours old, t fresh: freshness is judged on t",
            .accept,
            ucpHMACTime,
            true,
            true
        ),
    ]

    /// `standard-webhooks`: `{type, timestamp, data}`, `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    public static let standardWebhooks: [CheckCase] = [
        hmacCase("valid", "a correctly signed order.created event", .accept, standardWebhooksSpec, true, true),
        hmacCase(
            "body-tampered",
            "another event's bytes (type order.updated) under this one's signature",
            refused,
            standardWebhooksSpec,
            false,
            false
        ),
        hmacCase(
            "wrong-secret",
            "signed with a secret that is not the receiver's",
            refused,
            standardWebhooksSpec,
            false,
            false
        ),
        hmacCase(
            "stale-timestamp",
            "correctly signed, webhook-timestamp ten minutes in the past (> 5 min)",
            refused,
            standardWebhooksTime,
            true,
            false
        ),
        hmacCase(
            "future-timestamp",
            "correctly signed, webhook-timestamp ten minutes in the future (> 5 min)",
            refused,
            standardWebhooksTime,
            true,
            false
        ),
        hmacCase(
            "timestamp-changed",
            "webhook-timestamp moved back a second after signing (still fresh, no longer the signed one)",
            refused,
            standardWebhooksSpec,
            false,
            false
        ),
        hmacCase(
            "other-id",
            "a signature made for another webhook-id (the signed content binds the id)",
            refused,
            standardWebhooksSpec,
            false,
            false
        ),
        hmacCase("missing-signature", "no webhook-signature header", refused, standardWebhooksSpec, false, false),
        hmacCase("missing-id", "no webhook-id header", refused, standardWebhooksSpec, false, false),
        hmacCase("missing-timestamp", "no webhook-timestamp header", refused, standardWebhooksSpec, false, false),
        hmacCase(
            "signature-not-base64",
            "webhook-signature v1,<text that is not base64>",
            refused,
            standardWebhooksSpec,
            false,
            false
        ),
        hmacCase(
            "signature-without-version",
            "webhook-signature without the v1, prefix (the base64 MAC alone)",
            refused,
            standardWebhooksSpec,
            false,
            false
        ),
        hmacCase(
            "unsupported-version",
            "only a v2, signature (an undefined scheme) carrying the right MAC",
            refused,
            standardWebhooksSpec,
            false,
            false
        ),
        hmacCase(
            "rotation",
            "three space-separated signatures: v1 under another secret, v1a (asymmetric, not ours), then the valid v1:"
                + " accept when any v1 matches",
            .accept,
            standardWebhooksSpec,
            true,
            true
        ),
        hmacCase(
            "reserialized",
            "the same JSON re-serialized (other whitespace and key order) under the original bytes' signature: the"
                + " MAC is over raw bytes",
            refused,
            standardWebhooksSpec,
            false,
            false
        ),
        hmacCase(
            "duplicate",
            "the same webhook-id twice, the second a fresh attempt: acknowledge both, process once",
            .accept,
            standardWebhooksSpec,
            true,
            true
        ),
        hmacCase(
            "unknown-event-type",
            "a correctly signed event with a type no one defines: acknowledge it (2xx) and ignore it",
            .accept,
            events,
            true,
            true
        ),
        hmacCase(
            "late-retry",
            "a retry: the body's timestamp (the event's time) 6 hours old, webhook-timestamp fresh: freshness is"
                + " judged on the header",
            .accept,
            standardWebhooksTime,
            true,
            true
        ),
    ]

    private static func hmacCase(
        _ id: String,
        _ summary: String,
        _ expected: CheckCase.Expected,
        _ spec: String,
        _ signatureVerifies: Bool,
        _ requestVerifies: Bool
    ) -> CheckCase {
        CheckCase(
            id: id,
            summary: summary,
            expected: expected,
            spec: spec,
            signatureVerifies: signatureVerifies,
            requestVerifies: requestVerifies
        )
    }
}
