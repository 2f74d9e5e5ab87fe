import Foundation
import HTTPTypes

/// A customer a valid access token speaks for.
public struct BuyerIdentity: Sendable, Equatable {
    public var customerID: String
    public var clientID: String
    public var scopes: [String]

    public init(customerID: String, clientID: String, scopes: [String]) {
        self.customerID = customerID
        self.clientID = clientID
        self.scopes = scopes
    }
}

/// The resource server's side of identity linking: validates the Bearer access token of a request (signature,
/// `iss`, `aud`, `exp`, client, revocation) and answers the spec's 401 `identity_required` / 403
/// `insufficient_scope` challenges.
public struct IdentityGuard: Sendable {
    public let issuer: String
    public let resourceMetadataURL: String
    public let setup: IdentitySetup
    public let signer: TokenSigner
    public let store: OAuthStore
    public let now: @Sendable () -> Date

    public init(server: AuthorizationServer) {
        issuer = server.issuer
        resourceMetadataURL = server.resourceMetadataURL
        setup = server.setup
        signer = server.signer
        store = server.store
        now = server.now
    }
}
