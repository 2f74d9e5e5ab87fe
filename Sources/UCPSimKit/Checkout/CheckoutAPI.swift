import Hummingbird

/// The checkout capability's REST binding: `POST /checkout-sessions`, `GET/PUT /checkout-sessions/{id}`,
/// `POST /checkout-sessions/{id}/complete`, `POST /checkout-sessions/{id}/cancel`.
public struct CheckoutAPI: Sendable {
    public let services: ShopServices

    public init(services: ShopServices) {
        self.services = services
    }

    /// Registers the routes.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        // To be built (issue 13, checkout).
    }
}
