/// One case of the receiver contract catalog: a delivery with a deliberate property, and what a correct receiver does.
public struct CheckCase: Sendable {
    /// One answer a receiver may give: a status, and the error body's `code` where the spec names one.
    public struct Answer: Sendable, Equatable, CustomStringConvertible {
        public let status: Int
        /// The `code` the error body must carry; nil when the spec names only the status (any code passes).
        public let code: String?

        public init(_ status: Int, _ code: String? = nil) {
            self.status = status
            self.code = code
        }

        public var description: String { "\(status)" + (code.map { " \($0)" } ?? "") }

        func matches(status: Int, code: String?) -> Bool {
            status == self.status && (self.code == nil || code == self.code)
        }
    }

    /// What a correct receiver answers.
    public enum Expected: Sendable, Equatable, CustomStringConvertible {
        /// Any 2xx.
        case accept
        /// One of these answers (status, and code where the spec gives one).
        case reject([Answer])
        /// Either is conformant (an optional feature): any 2xx, or exactly this rejection; the report says which.
        case either(Answer)

        public var description: String {
            switch self {
            case .accept: "2xx"
            case .reject(let answers): Self.text(answers)
            case .either(let answer): "2xx | \(answer)"
            }
        }

        /// `400 digest_mismatch | 401 signature_invalid`; answers without a code share one status list: `400/401`.
        static func text(_ answers: [Answer]) -> String {
            let bare = answers.filter { $0.code == nil }.map { String($0.status) }
            let coded = answers.filter { $0.code != nil }.map(\.description)
            return (coded + (bare.isEmpty ? [] : [bare.joined(separator: "/")])).joined(separator: " | ")
        }

        /// Whether one response (status, error-body `code`) meets the expectation; no response never does.
        public func met(status: Int?, code: String?) -> Bool {
            guard let status else { return false }
            switch self {
            case .accept: return (200..<300).contains(status)
            case .reject(let answers): return answers.contains { $0.matches(status: status, code: code) }
            case .either(let answer):
                return (200..<300).contains(status) || answer.matches(status: status, code: code)
            }
        }

        /// True when the spec names no error code for this rejection (the grade is the status alone).
        public var statusOnly: Bool {
            if case .reject(let answers) = self { return answers.allSatisfy { $0.code == nil } }
            return false
        }
    }

    public let id: String
    public let summary: String
    public let expected: Expected
    /// Where the rule comes from.
    public let spec: String
    /// Whether the RFC 9421 signature over the signature base verifies with a key of the exported JWK set, found by
    /// `keyid` (cryptography only: no coverage, digest or time rules). False when there is no signature to check, a
    /// covered component is absent (no base), or the key is not published. In the shared-secret dialects: a `v1`
    /// signature of the header matches the signed content (`ucp-hmac`: `t` and the body; `standard-webhooks`: the
    /// id, the timestamp and the body) under the secret, whatever the clock says.
    public let signatureVerifies: Bool
    /// Whether the request alone passes UCP's `verify_rest_request` against the exported JWK set at the vector's
    /// `now`: coverage, `Content-Digest`, signature, and `created`/`expires` (60 s clock skew). Profile-level rules
    /// (the UCP-Agent URL, ownership) are not part of it. In the shared-secret dialects: every header is there and
    /// well-formed, a `v1` signature matches, and the signed timestamp lies within 5 minutes of `now`.
    public let requestVerifies: Bool
}

/// The catalog, in the order `ucpsim check` runs it.
public enum CheckCatalog {
    static let signatures = "signatures.md § REST Request Verification"
    static let digest = "signatures.md § REST Binding (Content-Digest), RFC 9530"
    static let coverage = "overview § Identity Resolution Algorithm, step 5"
    static let order = "shopping/order § Webhooks"
    static let errorCodes = "overview § Error Codes"
    static let time = "RFC 9421 §2.3, §3.2.1; signatures.md § Replay Protection (freshness is application-defined)"

    public static let cases: [CheckCase] = [
        .init(
            id: "valid",
            summary: "a correctly signed order webhook",
            expected: .accept,
            spec: signatures,
            signatureVerifies: true,
            requestVerifies: true
        ),
        .init(
            id: "body-tampered",
            summary: "the body changed after signing",
            expected: .reject([.init(400, "digest_mismatch")]),
            spec: digest,
            signatureVerifies: true,
            requestVerifies: false
        ),
        .init(
            id: "digest-other-body",
            summary: "Content-Digest (signed) of another body",
            expected: .reject([.init(400, "digest_mismatch")]),
            spec: digest,
            signatureVerifies: true,
            requestVerifies: false
        ),
        .init(
            id: "digest-extra-member",
            summary: "a second Content-Digest member (sha-512) that does not match",
            expected: .reject([.init(400, "digest_mismatch")]),
            spec: digest,
            signatureVerifies: true,
            requestVerifies: false
        ),
        .init(
            id: "missing-signature",
            summary: "no Signature header",
            expected: .reject([.init(401, "signature_missing")]),
            spec: signatures,
            signatureVerifies: false,
            requestVerifies: false
        ),
        .init(
            id: "missing-signature-input",
            summary: "no Signature-Input header",
            expected: .reject([.init(401, "signature_missing")]),
            spec: signatures,
            signatureVerifies: false,
            requestVerifies: false
        ),
        .init(
            id: "missing-content-digest",
            summary: "no Content-Digest header (it is covered)",
            expected: .reject([.init(400, "digest_mismatch"), .init(401, "signature_invalid")]),
            spec: digest,
            signatureVerifies: false,
            requestVerifies: false
        ),
        .init(
            id: "missing-ucp-agent",
            summary: "no UCP-Agent header: the signer's profile is unknown",
            expected: .reject([.init(400, "invalid_profile_url")]),
            spec: errorCodes,
            signatureVerifies: false,
            requestVerifies: false
        ),
        .init(
            id: "missing-webhook-id",
            summary: "no Webhook-Id header",
            expected: .reject([.init(400), .init(401)]),
            spec: order,
            signatureVerifies: false,
            requestVerifies: false
        ),
        .init(
            id: "missing-webhook-timestamp",
            summary: "no Webhook-Timestamp header",
            expected: .reject([.init(400), .init(401)]),
            spec: order,
            signatureVerifies: false,
            requestVerifies: false
        ),
        .init(
            id: "coverage-without-ucp-agent",
            summary: "validly signed, but ucp-agent is not covered",
            expected: .reject([.init(401, "signature_missing"), .init(401, "signature_invalid")]),
            spec: coverage,
            signatureVerifies: true,
            requestVerifies: false
        ),
        .init(
            id: "coverage-without-content-digest",
            summary: "validly signed, but content-digest is not covered",
            expected: .reject([.init(401, "signature_missing"), .init(401, "signature_invalid")]),
            spec: coverage,
            signatureVerifies: true,
            requestVerifies: false
        ),
        .init(
            id: "der-signature",
            summary: "the ES256 signature DER-encoded instead of raw r||s",
            expected: .reject([.init(401, "signature_invalid")]),
            spec: "signatures.md § Signature Algorithms",
            signatureVerifies: false,
            requestVerifies: false
        ),
        .init(
            id: "created-in-future",
            summary: "validly signed, but created lies an hour ahead of the receiver's clock",
            expected: .reject([.init(401)]),
            spec: time,
            signatureVerifies: true,
            requestVerifies: false
        ),
        .init(
            id: "signature-expired",
            summary: "validly signed, with an expires parameter five minutes in the past",
            expected: .reject([.init(401)]),
            spec: time,
            signatureVerifies: true,
            requestVerifies: false
        ),
        .init(
            id: "late-retry",
            summary: "a fresh signature on a retry whose Webhook-Timestamp (the event's time) is 6 hours old",
            expected: .accept,
            spec: order,
            signatureVerifies: true,
            requestVerifies: true
        ),
        .init(
            id: "ed25519-key",
            summary: "signed with a published Ed25519 key (optional algorithm)",
            expected: .either(.init(400, "algorithm_unsupported")),
            spec: "signatures.md § Signature Algorithms",
            signatureVerifies: true,
            requestVerifies: true
        ),
        .init(
            id: "profile-not-well-known",
            summary: "UCP-Agent names a profile outside /.well-known/ucp",
            expected: .reject([.init(400, "invalid_profile_url")]),
            spec: "signatures.md § UCP-Agent parsing rules",
            signatureVerifies: true,
            requestVerifies: true
        ),
        .init(
            id: "profile-unreachable",
            summary: "UCP-Agent names a profile that cannot be fetched",
            expected: .reject([.init(424, "profile_unreachable")]),
            spec: errorCodes,
            signatureVerifies: true,
            requestVerifies: true
        ),
        .init(
            id: "another-shop",
            summary: "validly signed by another shop, about this shop's order",
            expected: .reject([.init(401), .init(403)]),
            spec: "overview § Identity Resolution Algorithm (authenticated identity)",
            signatureVerifies: true,
            requestVerifies: true
        ),
        .init(
            id: "duplicate",
            summary: "the same event twice (same Webhook-Id): acknowledge both, process once",
            expected: .accept,
            spec: order,
            signatureVerifies: true,
            requestVerifies: true
        ),
        .init(
            id: "out-of-order",
            summary: "an older snapshot of an order after a newer one",
            expected: .accept,
            spec: order,
            signatureVerifies: true,
            requestVerifies: true
        ),
        .init(
            id: "whitespace",
            summary: "the same JSON with other whitespace (the digest is over raw bytes)",
            expected: .accept,
            spec: digest,
            signatureVerifies: true,
            requestVerifies: true
        ),
        .init(
            id: "unknown-fields",
            summary: "unknown extra fields and a new fulfillment event type (open vocabularies)",
            expected: .accept,
            spec: order,
            signatureVerifies: true,
            requestVerifies: true
        ),
        .init(
            id: "key-rotation",
            summary: "a new key published and the old one removed: refetch the profile and accept",
            expected: .accept,
            spec: "signatures.md § Key Rotation",
            signatureVerifies: true,
            requestVerifies: true
        ),
        .init(
            id: "unpublished-key",
            // Last, after key-rotation: a receiver refetches a profile for an unknown kid at most once per 60 s per
            // origin (signatures.md), and the rotation needs that refetch; this case's answer is the same either way.
            summary: "signed by a key the profile does not publish",
            expected: .reject([.init(401, "key_not_found")]),
            spec: signatures,
            signatureVerifies: false,
            requestVerifies: false
        ),
    ]

    /// The cases a scenario step may apply with `mutate:` (faults of a single request).
    public static let mutations: Set<String> = [
        "body-tampered", "digest-other-body", "digest-extra-member", "missing-signature", "missing-signature-input",
        "missing-content-digest", "missing-ucp-agent", "missing-webhook-id", "missing-webhook-timestamp",
        "coverage-without-ucp-agent", "coverage-without-content-digest", "der-signature", "whitespace",
    ]
}
