/// One case of the receiver contract catalog: a delivery with a deliberate property, and what a correct receiver does.
public struct CheckCase: Sendable {
    /// What a correct receiver answers.
    public enum Expected: Sendable, Equatable, CustomStringConvertible {
        /// Any 2xx.
        case accept
        /// One of these statuses; `code` is the spec's error code where it gives one.
        case reject(statuses: [Int], code: String?)
        /// Either is conformant (an optional feature); the report says which.
        case either(code: String)

        public var description: String {
            switch self {
            case .accept: "2xx"
            case .reject(let statuses, let code):
                statuses.map(String.init).joined(separator: "/") + (code.map { " \($0)" } ?? "")
            case .either(let code): "2xx or 400 \(code)"
            }
        }

        /// Whether `status` meets the expectation.
        public func met(by status: Int?) -> Bool {
            guard let status else { return false }
            switch self {
            case .accept: return (200..<300).contains(status)
            case .reject(let statuses, _): return statuses.contains(status)
            case .either: return (200..<300).contains(status) || status == 400
            }
        }
    }

    public let id: String
    public let summary: String
    public let expected: Expected
    /// Where the rule comes from.
    public let spec: String
    /// What the independent RFC 9421 verifier says of the request alone (the exported vector's label).
    public let signatureVerifies: Bool
}

/// The catalog, in the order `ucpsim check` runs it.
public enum CheckCatalog {
    static let signatures = "signatures.md § REST Request Verification"
    static let digest = "signatures.md § REST Binding (Content-Digest), RFC 9530"
    static let coverage = "overview § Identity Resolution Algorithm, step 5"
    static let order = "shopping/order § Webhooks"

    public static let cases: [CheckCase] = [
        .init(
            id: "valid",
            summary: "a correctly signed order webhook",
            expected: .accept,
            spec: signatures,
            signatureVerifies: true
        ),
        .init(
            id: "body-tampered",
            summary: "the body changed after signing",
            expected: .reject(statuses: [400], code: "digest_mismatch"),
            spec: digest,
            signatureVerifies: false
        ),
        .init(
            id: "digest-other-body",
            summary: "Content-Digest (signed) of another body",
            expected: .reject(statuses: [400], code: "digest_mismatch"),
            spec: digest,
            signatureVerifies: false
        ),
        .init(
            id: "digest-extra-member",
            summary: "a second Content-Digest member (sha-512) that does not match",
            expected: .reject(statuses: [400], code: "digest_mismatch"),
            spec: digest,
            signatureVerifies: false
        ),
        .init(
            id: "missing-signature",
            summary: "no Signature header",
            expected: .reject(statuses: [401], code: "signature_missing"),
            spec: signatures,
            signatureVerifies: false
        ),
        .init(
            id: "missing-signature-input",
            summary: "no Signature-Input header",
            expected: .reject(statuses: [401], code: "signature_missing"),
            spec: signatures,
            signatureVerifies: false
        ),
        .init(
            id: "missing-content-digest",
            summary: "no Content-Digest header (it is covered)",
            expected: .reject(statuses: [400, 401], code: nil),
            spec: digest,
            signatureVerifies: false
        ),
        .init(
            id: "missing-ucp-agent",
            summary: "no UCP-Agent header: the signer's profile is unknown",
            expected: .reject(statuses: [400, 401], code: nil),
            spec: signatures,
            signatureVerifies: false
        ),
        .init(
            id: "missing-webhook-id",
            summary: "no Webhook-Id header",
            expected: .reject(statuses: [400, 401], code: nil),
            spec: order,
            signatureVerifies: false
        ),
        .init(
            id: "missing-webhook-timestamp",
            summary: "no Webhook-Timestamp header",
            expected: .reject(statuses: [400, 401], code: nil),
            spec: order,
            signatureVerifies: false
        ),
        .init(
            id: "coverage-without-ucp-agent",
            summary: "validly signed, but ucp-agent is not covered",
            expected: .reject(statuses: [401], code: nil),
            spec: coverage,
            signatureVerifies: false
        ),
        .init(
            id: "coverage-without-content-digest",
            summary: "validly signed, but content-digest is not covered",
            expected: .reject(statuses: [401], code: nil),
            spec: coverage,
            signatureVerifies: false
        ),
        .init(
            id: "der-signature",
            summary: "the ES256 signature DER-encoded instead of raw r||s",
            expected: .reject(statuses: [401], code: "signature_invalid"),
            spec: "signatures.md § Signature Algorithms",
            signatureVerifies: false
        ),
        .init(
            id: "unpublished-key",
            summary: "signed by a key the profile does not publish",
            expected: .reject(statuses: [401], code: "key_not_found"),
            spec: signatures,
            signatureVerifies: false
        ),
        .init(
            id: "ed25519-key",
            summary: "signed with a published Ed25519 key (optional algorithm)",
            expected: .either(code: "algorithm_unsupported"),
            spec: "signatures.md § Signature Algorithms",
            signatureVerifies: true
        ),
        .init(
            id: "profile-not-well-known",
            summary: "UCP-Agent names a profile outside /.well-known/ucp",
            expected: .reject(statuses: [400], code: "invalid_profile_url"),
            spec: "signatures.md § UCP-Agent parsing rules",
            signatureVerifies: true
        ),
        .init(
            id: "profile-unreachable",
            summary: "UCP-Agent names a profile that cannot be fetched",
            expected: .reject(statuses: [424], code: "profile_unreachable"),
            spec: "overview § Error Codes",
            signatureVerifies: true
        ),
        .init(
            id: "another-shop",
            summary: "validly signed by another shop, about this shop's order",
            expected: .reject(statuses: [401, 403], code: nil),
            spec: "overview § Identity Resolution Algorithm (authenticated identity)",
            signatureVerifies: true
        ),
        .init(
            id: "duplicate",
            summary: "the same event twice (same Webhook-Id): acknowledge both, process once",
            expected: .accept,
            spec: order,
            signatureVerifies: true
        ),
        .init(
            id: "out-of-order",
            summary: "an older snapshot of an order after a newer one",
            expected: .accept,
            spec: order,
            signatureVerifies: true
        ),
        .init(
            id: "whitespace",
            summary: "the same JSON with other whitespace (the digest is over raw bytes)",
            expected: .accept,
            spec: digest,
            signatureVerifies: true
        ),
        .init(
            id: "unknown-fields",
            summary: "unknown extra fields and a new fulfillment event type (open vocabularies)",
            expected: .accept,
            spec: order,
            signatureVerifies: true
        ),
        .init(
            id: "key-rotation",
            summary: "a new key published and the old one removed: refetch the profile and accept",
            expected: .accept,
            spec: "signatures.md § Key Rotation",
            signatureVerifies: true
        ),
    ]

    /// The cases a scenario step may apply with `mutate:` (faults of a single request).
    public static let mutations: Set<String> = [
        "body-tampered", "digest-other-body", "digest-extra-member", "missing-signature", "missing-signature-input",
        "missing-content-digest", "missing-ucp-agent", "missing-webhook-id", "missing-webhook-timestamp",
        "coverage-without-ucp-agent", "coverage-without-content-digest", "der-signature", "whitespace",
    ]
}
