/// Why a received message did not authenticate, with the UCP error code and HTTP status a receiver answers.
public struct SignatureFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reason, as ucpsim names it in logs and reports.
    public enum Reason: String, Sendable, CaseIterable {
        case signatureMissing = "signature_missing"
        case signatureInvalid = "signature_invalid"
        case keyNotFound = "key_not_found"
        case digestMismatch = "digest_mismatch"
        case algorithmUnsupported = "algorithm_unsupported"
        case coverageInsufficient = "coverage_insufficient"
        case invalidProfileURL = "invalid_profile_url"
        case profileUnreachable = "profile_unreachable"
        case profileMalformed = "profile_malformed"
        case headerMissing = "header_missing"
        /// A validly signed webhook about an order another shop owns.
        case orderNotOwned = "order_not_owned"
        /// The body is larger than the receiver accepts; it was not read.
        case bodyTooLarge = "body_too_large"
        /// An HMAC dialect's header is there but cannot be parsed (`UCP-Signature`, `webhook-timestamp`, …).
        case headerMalformed = "header_malformed"
        /// An HMAC dialect's timestamp is more than the tolerance (5 minutes) in the past: a replay, or a late retry.
        case timestampTooOld = "timestamp_too_old"
        /// An HMAC dialect's timestamp is more than the tolerance (5 minutes) in the future.
        case timestampTooNew = "timestamp_too_new"
        /// No HMAC signature matches under any configured secret: the secret is wrong or the body (or id, or
        /// timestamp) changed in transit; an HMAC cannot tell which.
        case signatureMismatch = "signature_mismatch"
        /// An HMAC-signed webhook, and no secret (for its dialect) configured to check it with.
        case secretNotConfigured = "secret_not_configured"
        /// A verified `ucp-hmac` body that is not the event envelope (no `event_id` string).
        case envelopeMalformed = "envelope_malformed"

        /// The UCP error code sent in the response body (the spec's registry; coverage failures count as unsigned).
        public var errorCode: String {
            switch self {
            case .coverageInsufficient: "signature_missing"
            case .headerMissing, .headerMalformed, .envelopeMalformed, .bodyTooLarge: "invalid_request"
            case .timestampTooOld, .timestampTooNew, .signatureMismatch: "signature_invalid"
            case .secretNotConfigured: "key_not_found"
            case .orderNotOwned: "forbidden"
            default: rawValue
            }
        }

        /// The HTTP status the UCP error-code registry assigns.
        public var httpStatus: Int {
            switch self {
            case .signatureMissing, .signatureInvalid, .keyNotFound, .coverageInsufficient: 401
            case .timestampTooOld, .timestampTooNew, .signatureMismatch, .secretNotConfigured: 401
            case .digestMismatch, .algorithmUnsupported, .invalidProfileURL, .headerMissing: 400
            case .headerMalformed, .envelopeMalformed: 400
            case .profileUnreachable: 424
            case .profileMalformed: 422
            case .orderNotOwned: 403
            case .bodyTooLarge: 413
            }
        }
    }

    public let reason: Reason
    public let detail: String
    /// What only the receiver's operator sees (its log), never the sender: e.g. why a profile fetch failed, which
    /// would tell a stranger an open port from a closed one.
    public var diagnostic: String?

    public init(_ reason: Reason, _ detail: String, diagnostic: String? = nil) {
        self.reason = reason
        self.detail = detail
        self.diagnostic = diagnostic
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}
