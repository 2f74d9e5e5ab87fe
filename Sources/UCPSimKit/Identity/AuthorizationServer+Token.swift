import Foundation
import Hummingbird

extension AuthorizationServer {
    /// `POST /oauth/token` (authorization_code, refresh_token) and `POST /oauth/revoke` (RFC 7009).
    func addTokenRoutes(to router: Router<BasicRequestContext>) {
        // Being built (identity linking).
    }
}
