import Foundation

/// How the shop runs identity linking (`serve`: on by default; `--no-identity-linking` leaves it out).
public struct IdentitySetup: Sendable {
    /// Registered clients: the shop file's `oauth_clients:` and `--oauth-client`.
    public var clients: [OAuthClient]
    /// `--auto-consent CUSTOMER` (an id or an email of the shop file's customers): the authorization endpoint signs
    /// this customer in and consents without showing the page, for CI.
    public var autoConsent: String?
    /// `--require-identity`: checkout operations need a buyer token with `dev.ucp.shopping.checkout:manage`.
    public var requireIdentity: Bool
    /// Access tokens (JWTs) live this long.
    public var accessTokenLifetime: TimeInterval = 300
    /// Authorization codes live this long (RFC 6749 §4.1.2: at most 10 minutes).
    public var codeLifetime: TimeInterval = 60
    /// Refresh tokens live this long (each use rotates it).
    public var refreshTokenLifetime: TimeInterval = 30 * 24 * 3600

    public init(clients: [OAuthClient] = [], autoConsent: String? = nil, requireIdentity: Bool = false) {
        self.clients = clients
        self.autoConsent = autoConsent
        self.requireIdentity = requireIdentity
    }

    /// The scopes the shop offers and its profile lists.
    public var scopes: [String] { IdentityScope.offered(requireIdentity: requireIdentity) }

    /// The client registered under `id`.
    public func client(_ id: String) -> OAuthClient? { clients.first { $0.id == id } }
}
