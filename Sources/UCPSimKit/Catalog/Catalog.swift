import Foundation

/// Catalog search, lookup and product detail over the shop file: a pure value, so every rule is tested without HTTP.
///
/// Choices where the spec leaves room (README § Catalog):
/// - a query matches a product when every word of it appears, case-insensitively, in the product's title,
///   description or a category;
/// - `filters.categories` keeps products with at least one of the named categories (case-insensitive);
///   `filters.price` keeps products with at least one variant priced within `[min, max]` (minor units of the shop's
///   currency), and the product is shown whole;
/// - results come in the shop file's order; the cursor is an opaque token of the next offset;
/// - lookup takes product and variant ids, at most `lookupLimit` (distinct) of them.
public struct Catalog: Sendable {
    public let shop: ShopFile

    /// The page size when a search names none.
    public static let defaultLimit = 10
    /// The largest page: a larger `limit` is clamped to it (the spec lets a business clamp silently).
    public static let maxLimit = 50
    /// The most ids one lookup takes; more is HTTP 400 `request_too_large`.
    public static let lookupLimit = 50

    public init(shop: ShopFile) {
        self.shop = shop
    }

    // MARK: Requests

    /// `filters` of search and lookup.
    public struct Filters: Decodable, Sendable, Equatable {
        public struct PriceFilter: Decodable, Sendable, Equatable {
            public var min: Int?
            public var max: Int?
        }

        public var categories: [String]?
        public var price: PriceFilter?

        public init(categories: [String]? = nil, price: PriceFilter? = nil) {
            self.categories = categories
            self.price = price
        }
    }

    public struct SearchRequest: Decodable, Sendable, Equatable {
        public struct Pagination: Decodable, Sendable, Equatable {
            public var cursor: String?
            public var limit: Int?
        }

        public var query: String?
        public var filters: Filters?
        public var pagination: Pagination?

        public init(query: String? = nil, filters: Filters? = nil, cursor: String? = nil, limit: Int? = nil) {
            self.query = query
            self.filters = filters
            self.pagination = cursor == nil && limit == nil ? nil : Pagination(cursor: cursor, limit: limit)
        }
    }

    public struct LookupRequest: Decodable, Sendable, Equatable {
        public var ids: [String]
        public var filters: Filters?

        public init(ids: [String], filters: Filters? = nil) {
            self.ids = ids
            self.filters = filters
        }
    }

    public struct ProductRequest: Decodable, Sendable, Equatable {
        public struct Selection: Decodable, Sendable, Equatable {
            public var name: String
            public var label: String
        }

        public var id: String
        public var selected: [Selection]?
        /// Option names in relaxation order: when no variant matches every selection, the last one is dropped first.
        public var preferences: [String]?

        public init(id: String, selected: [Selection]? = nil, preferences: [String]? = nil) {
            self.id = id
            self.selected = selected
            self.preferences = preferences
        }
    }

    // MARK: Answers

    /// Why a request is refused (HTTP 400).
    public enum Refusal: Error, Equatable, Sendable {
        /// Neither a query nor a filter.
        case emptySearch
        case invalid(path: String, String)
        case tooManyIDs(Int)

        var apiError: APIError {
            switch self {
            case .emptySearch:
                APIError(.badRequest, code: "invalid_request", "a search needs a `query` or `filters`")
            case .invalid(let path, let reason):
                APIError(.badRequest, code: "invalid_request", reason, path: path)
            case .tooManyIDs(let count):
                APIError(
                    .badRequest,
                    code: "request_too_large",
                    "\(count) ids; a lookup takes at most \(Catalog.lookupLimit)",
                    path: "$.ids"
                )
            }
        }
    }

    public struct SearchPage: Sendable, Equatable {
        public var products: [CatalogProduct]
        /// The next page's cursor; nil on the last page.
        public var nextCursor: String?
        public var totalCount: Int
    }

    /// One page of the products that match `request`.
    public func search(_ request: SearchRequest) throws(Refusal) -> SearchPage {
        let query = request.query?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if query.isEmpty && (request.filters == nil || request.filters == Filters()) {
            throw .emptySearch
        }
        let limit = request.pagination?.limit ?? Self.defaultLimit
        guard limit >= 1 else { throw .invalid(path: "$.pagination.limit", "pagination.limit must be at least 1") }
        var offset = 0
        if let cursor = request.pagination?.cursor {
            guard let decoded = Self.offset(cursor: cursor) else {
                throw .invalid(path: "$.pagination.cursor", "pagination.cursor is not a cursor this shop gave")
            }
            offset = decoded
        }
        let words = query.lowercased().split(whereSeparator: \.isWhitespace).map(String.init)
        let matches = shop.products.filter { product in
            let text = ([product.title, product.description] + product.categories).joined(separator: "\n").lowercased()
            return words.allSatisfy(text.contains) && passes(product, request.filters)
        }
        let page = matches.dropFirst(offset).prefix(Swift.min(limit, Self.maxLimit))
        let next = offset + page.count
        return SearchPage(
            products: page.map { CatalogProduct($0, variants: $0.variants, currency: shop.currency) },
            nextCursor: next < matches.count ? Self.cursor(offset: next) : nil,
            totalCount: matches.count
        )
    }

    public struct LookupResult: Sendable, Equatable {
        public var products: [CatalogProduct]
        /// The ids that named nothing (or only what the filters removed), in request order.
        public var notFound: [String]
    }

    /// The products `request.ids` name: a variant id gives that variant (`exact`), a product id its featured
    /// variant (`featured`: the first in stock, else the first). Duplicate ids count once; each product appears
    /// once, in the order of the first id that named it.
    public func lookup(_ request: LookupRequest) throws(Refusal) -> LookupResult {
        var ids: [String] = []
        for id in request.ids where !ids.contains(id) { ids.append(id) }
        guard ids.count <= Self.lookupLimit else { throw .tooManyIDs(ids.count) }
        guard !ids.isEmpty else { throw .invalid(path: "$.ids", "ids must name at least one product or variant") }
        var order: [String] = []
        var chosen: [String: [(variant: ShopFile.Variant, inputs: [CatalogProduct.Input])]] = [:]
        var notFound: [String] = []
        for id in ids {
            let found: (ShopFile.Product, ShopFile.Variant, String)?
            if let product = shop.product(id) {
                found = (product, featured(product), "featured")
            } else if let (product, variant) = shop.variant(id) {
                found = (product, variant, "exact")
            } else {
                found = nil
            }
            guard let (product, variant, match) = found, passes(product, request.filters) else {
                notFound.append(id)
                continue
            }
            if chosen[product.id] == nil { order.append(product.id) }
            var entries = chosen[product.id] ?? []
            let input = CatalogProduct.Input(id: id, match: match)
            if let index = entries.firstIndex(where: { $0.variant.id == variant.id }) {
                entries[index].inputs.append(input)
            } else {
                entries.append((variant, [input]))
            }
            chosen[product.id] = entries
        }
        let products = order.compactMap { productID -> CatalogProduct? in
            guard let product = shop.product(productID), let entries = chosen[productID] else { return nil }
            var shown = CatalogProduct(product, variants: entries.map(\.variant), currency: shop.currency)
            for index in shown.variants.indices { shown.variants[index].inputs = entries[index].inputs }
            return shown
        }
        return LookupResult(products: products, notFound: notFound)
    }

    /// The product `request.id` names (a product or variant id) for a detail page, or nil when the shop has none.
    ///
    /// The effective variant comes first: the named variant; else the first variant matching every selection,
    /// dropping selections from the end of `preferences` (then the rest, last first) until one matches; else the
    /// featured variant. `selected` is its options; each option value says whether it exists and is available with
    /// the other effective selections.
    public func product(_ request: ProductRequest) -> CatalogProduct? {
        let product: ShopFile.Product
        var effective: ShopFile.Variant
        if let named = shop.product(request.id) {
            product = named
            effective = featured(named)
            if var selections = request.selected, !selections.isEmpty {
                let ranked = (request.preferences ?? []).filter { name in selections.contains { $0.name == name } }
                var dropOrder = Array(ranked.reversed())
                for selection in selections.reversed() where !ranked.contains(selection.name) {
                    dropOrder.append(selection.name)
                }
                while true {
                    let wanted = selections
                    if let match = named.variants.first(where: { variant in
                        wanted.allSatisfy { variant.options[$0.name] == $0.label }
                    }) {
                        effective = match
                        break
                    }
                    guard !dropOrder.isEmpty else { break }
                    let dropped = dropOrder.removeFirst()
                    selections.removeAll { $0.name == dropped }
                }
            }
        } else if let (owner, variant) = shop.variant(request.id) {
            product = owner
            effective = variant
        } else {
            return nil
        }
        let variants = [effective] + product.variants.filter { $0.id != effective.id }
        var shown = CatalogProduct(product, variants: variants, currency: shop.currency)
        let names = Self.optionNames(product)
        guard !names.isEmpty else { return shown }
        shown.selected = names.compactMap { name in
            effective.options[name].map { CatalogProduct.SelectedOption(name: name, label: $0) }
        }
        shown.options = names.map { name in
            CatalogProduct.Option(
                name: name,
                values: Self.optionValues(product, name).map { label in
                    let candidates = product.variants.filter { variant in
                        variant.options[name] == label
                            && names.allSatisfy { other in
                                other == name || variant.options[other] == effective.options[other]
                            }
                    }
                    return CatalogProduct.OptionValue(
                        label: label,
                        available: candidates.contains { $0.inventory > 0 },
                        exists: !candidates.isEmpty
                    )
                }
            )
        }
        return shown
    }

    // MARK: Rules

    /// The variant a product id stands for: the first in stock, else the first.
    func featured(_ product: ShopFile.Product) -> ShopFile.Variant {
        product.variants.first { $0.inventory > 0 } ?? product.variants[0]
    }

    func passes(_ product: ShopFile.Product, _ filters: Filters?) -> Bool {
        guard let filters else { return true }
        if let wanted = filters.categories, !wanted.isEmpty {
            let has = Set(product.categories.map { $0.lowercased() })
            guard wanted.contains(where: { has.contains($0.lowercased()) }) else { return false }
        }
        if let price = filters.price {
            guard
                product.variants.contains(where: { variant in
                    variant.price >= (price.min ?? Int.min) && variant.price <= (price.max ?? Int.max)
                })
            else { return false }
        }
        return true
    }

    /// Option names of a product's variants, sorted.
    static func optionNames(_ product: ShopFile.Product) -> [String] {
        Set(product.variants.flatMap(\.options.keys)).sorted()
    }

    /// The values of option `name`, in variant order, each once.
    static func optionValues(_ product: ShopFile.Product, _ name: String) -> [String] {
        var values: [String] = []
        for variant in product.variants {
            if let value = variant.options[name], !values.contains(value) { values.append(value) }
        }
        return values
    }

    /// The opaque cursor of a result offset: base64url of `offset:N` (deterministic: same request, same cursor).
    static func cursor(offset: Int) -> String {
        Base64URL.encode(Array("offset:\(offset)".utf8))
    }

    static func offset(cursor: String) -> Int? {
        guard let bytes = Base64URL.decode(cursor) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix("offset:"), let offset = Int(text.dropFirst(7)), offset >= 0 else { return nil }
        return offset
    }
}
