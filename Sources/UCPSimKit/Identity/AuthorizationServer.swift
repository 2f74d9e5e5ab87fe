import Foundation
import Hummingbird

/// The shop's OAuth 2.0 authorization server for identity linking (`dev.ucp.common.identity_linking`): metadata
/// (RFC 8414, RFC 9728), the authorization endpoint with its sign-in and consent page (PKCE S256 only, `iss` in every
/// response: RFC 9207), the token endpoint (authorization code and rotating refresh tokens), revocation (RFC 7009)
/// and the JWKS of the key that signs access tokens (RFC 9068 JWTs).
///
/// The issuer is the shop's base URL, byte for byte as the metadata's `issuer` and every `iss` parameter say; it
/// is also the access tokens' audience (the resource server is the shop).
public struct AuthorizationServer: Sendable {
    /// The shop's base URL, without a trailing slash.
    public let issuer: String
    public let setup: IdentitySetup
    /// Who can sign in (the shop file's customers).
    public let customers: [ShopFile.Customer]
    public let store: OAuthStore
    public let signer: TokenSigner
    public let now: @Sendable () -> Date
    /// The protected resource metadata's `resource_name` (the shop file's name).
    public var resourceName = "ucpsim shop"

    public init(
        issuer: String,
        setup: IdentitySetup,
        customers: [ShopFile.Customer],
        store: OAuthStore,
        signer: TokenSigner,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.issuer = issuer
        self.setup = setup
        self.customers = customers
        self.store = store
        self.signer = signer
        self.now = now
    }

    public var metadataURL: String { "\(issuer)/.well-known/oauth-authorization-server" }
    public var resourceMetadataURL: String { "\(issuer)/.well-known/oauth-protected-resource" }
    public var authorizationEndpoint: String { "\(issuer)/oauth/authorize" }
    public var tokenEndpoint: String { "\(issuer)/oauth/token" }
    public var revocationEndpoint: String { "\(issuer)/oauth/revoke" }
    public var jwksURI: String { "\(issuer)/oauth/jwks" }

    /// The customer `text` names: an id, or an email (case-insensitive).
    public func customer(_ text: String) -> ShopFile.Customer? {
        customers.first { $0.id == text || $0.email.caseInsensitiveCompare(text) == .orderedSame }
    }

    /// Registers the metadata, authorization, token, revocation and JWKS routes.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        addMetadataRoutes(to: router)
        addAuthorizeRoutes(to: router)
        addTokenRoutes(to: router)
    }
}
