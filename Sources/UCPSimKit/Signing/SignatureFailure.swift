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

        /// The UCP error code sent in the response body (the spec's registry; coverage failures count as unsigned).
        public var errorCode: String {
            switch self {
            case .coverageInsufficient: "signature_missing"
            case .headerMissing, .bodyTooLarge: "invalid_request"
            case .orderNotOwned: "forbidden"
            default: rawValue
            }
        }

        /// The HTTP status the UCP error-code registry assigns.
        public var httpStatus: Int {
            switch self {
            case .signatureMissing, .signatureInvalid, .keyNotFound, .coverageInsufficient: 401
            case .digestMismatch, .algorithmUnsupported, .invalidProfileURL, .headerMissing: 400
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
