import Hummingbird

/// The catalog capability's REST binding: `POST /catalog/search`, `/catalog/lookup`, `/catalog/product`.
///
/// Every route passes the shopping gateway and answers HTTP 200 with the negotiated `ucp` envelope; a malformed
/// or empty request is HTTP 400 (`invalid_request`, or `request_too_large` for a lookup over `Catalog.lookupLimit`).
public struct CatalogAPI: Sendable {
    public let services: ShopServices

    public init(services: ShopServices) {
        self.services = services
    }

    struct SearchResponse: Encodable {
        struct Pagination: Encodable {
            let cursor: String?
            let hasNextPage: Bool
            let totalCount: Int

            enum CodingKeys: String, CodingKey {
                case cursor
                case hasNextPage = "has_next_page"
                case totalCount = "total_count"
            }
        }

        let ucp: ResponseEnvelope
        let products: [CatalogProduct]
        let pagination: Pagination
    }

    struct LookupResponse: Encodable {
        let ucp: ResponseEnvelope
        let products: [CatalogProduct]
        let messages: [Message]?
    }

    struct ProductResponse: Encodable {
        let ucp: ResponseEnvelope
        let product: CatalogProduct
    }

    /// Registers the routes.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        let services = self.services
        let catalog = Catalog(shop: services.shop)
        router.post("/catalog/search") { request, _ in
            try await services.gateway.handle(request, .catalogSearch) { call in
                let body = try ShoppingBody.decode(Catalog.SearchRequest.self, from: call.body)
                let page: Catalog.SearchPage
                do throws(Catalog.Refusal) {
                    page = try catalog.search(body)
                } catch {
                    throw error.apiError
                }
                return .json(
                    SearchResponse(
                        ucp: call.envelope(),
                        products: page.products,
                        pagination: .init(
                            cursor: page.nextCursor,
                            hasNextPage: page.nextCursor != nil,
                            totalCount: page.totalCount
                        )
                    )
                )
            }
        }
        router.post("/catalog/lookup") { request, _ in
            try await services.gateway.handle(request, .catalogLookup) { call in
                let body = try ShoppingBody.decode(Catalog.LookupRequest.self, from: call.body)
                let result: Catalog.LookupResult
                do throws(Catalog.Refusal) {
                    result = try catalog.lookup(body)
                } catch {
                    throw error.apiError
                }
                let messages = result.notFound.map { Message.info(code: "not_found", $0) }
                return .json(
                    LookupResponse(
                        ucp: call.envelope(),
                        products: result.products,
                        messages: messages.isEmpty ? nil : messages
                    )
                )
            }
        }
        router.post("/catalog/product") { request, _ in
            try await services.gateway.handle(request, .catalogProduct) { call in
                let body = try ShoppingBody.decode(Catalog.ProductRequest.self, from: call.body)
                guard let product = catalog.product(body) else {
                    return .error(call, code: "not_found", "Product not found: \(body.id)")
                }
                return .json(ProductResponse(ucp: call.envelope(), product: product))
            }
        }
    }
}
