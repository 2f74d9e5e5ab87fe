import Foundation

/// Why the token or revocation endpoint refuses a request: an RFC 6749 §5.2 error code and its
/// `error_description`.
public struct OAuthTokenError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The RFC 6749 §5.2 error codes the endpoints answer.
    public enum Code: String, Sendable {
        /// A parameter is missing, repeated or malformed, or the body is not a form.
        case invalidRequest = "invalid_request"
        /// Client authentication failed (unknown client, wrong secret, another method than the registered one).
        case invalidClient = "invalid_client"
        /// The code or refresh token is unknown, expired, used, revoked, another client's, or its PKCE verifier
        /// or redirect URI does not match.
        case invalidGrant = "invalid_grant"
        case unsupportedGrantType = "unsupported_grant_type"
        /// A refresh asked for a scope the grant does not hold.
        case invalidScope = "invalid_scope"
    }

    public let code: Code
    /// The `error_description`: printable ASCII without `"` or `\` (RFC 6749 §5.2).
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = String(
            detail.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "\\" }
        )
    }

    public var description: String { "\(code.rawValue): \(detail)" }

    /// HTTP 401 for a failed client authentication, 400 for the rest (RFC 6749 §5.2).
    public var status: Int { code == .invalidClient ? 401 : 400 }

    static func invalidRequest(_ detail: String) -> OAuthTokenError { OAuthTokenError(.invalidRequest, detail) }
    static func invalidClient(_ detail: String) -> OAuthTokenError { OAuthTokenError(.invalidClient, detail) }
    static func invalidGrant(_ detail: String) -> OAuthTokenError { OAuthTokenError(.invalidGrant, detail) }
    static func invalidScope(_ detail: String) -> OAuthTokenError { OAuthTokenError(.invalidScope, detail) }
}
