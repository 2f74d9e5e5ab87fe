import Hummingbird

/// The catalog capability's REST binding: `POST /catalog/search`, `/catalog/lookup`, `/catalog/product`.
public struct CatalogAPI: Sendable {
    public let services: ShopServices

    public init(services: ShopServices) {
        self.services = services
    }

    /// Registers the routes.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        // To be built (issue 13, catalog).
    }
}
