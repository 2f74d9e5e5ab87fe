import Hummingbird

/// The cart capability's REST binding: `POST /carts`, `GET/PUT /carts/{id}`, `POST /carts/{id}/cancel`.
public struct CartAPI: Sendable {
    public let services: ShopServices

    public init(services: ShopServices) {
        self.services = services
    }

    /// Registers the routes.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        // To be built (issue 13, cart).
    }
}
