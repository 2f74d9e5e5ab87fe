import Foundation
import Hummingbird

extension AuthorizationServer {
    /// `GET /oauth/authorize` (the sign-in and consent page, or straight to the redirect with `--auto-consent`) and
    /// `POST /oauth/authorize` (the page's form).
    func addAuthorizeRoutes(to router: Router<BasicRequestContext>) {
        // Being built (identity linking).
    }
}
