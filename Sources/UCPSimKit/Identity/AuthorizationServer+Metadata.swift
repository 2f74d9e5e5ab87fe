import Foundation
import Hummingbird

extension AuthorizationServer {
    /// `/.well-known/oauth-authorization-server` (RFC 8414), `/.well-known/oauth-protected-resource` (RFC 9728) and
    /// `/oauth/jwks`.
    func addMetadataRoutes(to router: Router<BasicRequestContext>) {
        // Being built (identity linking).
    }
}
