/// The catalog's JSON shapes (`shopping/types/product.json`, `variant.json`; ucp-sdk 0.5.0 `Product`, `Variant`,
/// `LookupVariant`, `DetailProduct`), built from the shop file.
public struct CatalogProduct: Encodable, Sendable, Equatable {
    public struct Description: Encodable, Sendable, Equatable {
        public var plain: String
    }

    public struct Category: Encodable, Sendable, Equatable {
        public var value: String
    }

    public struct Price: Encodable, Sendable, Equatable {
        public var amount: Int
        public var currency: String
    }

    public struct PriceRange: Encodable, Sendable, Equatable {
        public var min: Price
        public var max: Price
    }

    public struct Media: Encodable, Sendable, Equatable {
        public var type: String
        public var url: String
    }

    /// A product option (`options[]`); on `/catalog/product` its values say whether they exist and are available
    /// given the other selections.
    public struct Option: Encodable, Sendable, Equatable {
        public var name: String
        public var values: [OptionValue]
    }

    public struct OptionValue: Encodable, Sendable, Equatable {
        public var label: String
        /// `/catalog/product` only: some in-stock variant has this value with the other effective selections.
        public var available: Bool?
        /// `/catalog/product` only: some variant has this value with the other effective selections.
        public var exists: Bool?
    }

    /// `{name, label}`: a variant's option value, or an effective selection.
    public struct SelectedOption: Encodable, Sendable, Equatable {
        public var name: String
        public var label: String
    }

    public struct Availability: Encodable, Sendable, Equatable {
        public var available: Bool
        /// `in_stock` or `out_of_stock`.
        public var status: String
    }

    /// Which lookup input a variant answers (`inputs[]`): `exact` for a variant id, `featured` for a product id.
    public struct Input: Encodable, Sendable, Equatable {
        public var id: String
        public var match: String
    }

    public struct Variant: Encodable, Sendable, Equatable {
        public var id: String
        public var title: String
        public var description: Description
        public var price: Price
        public var availability: Availability
        public var options: [SelectedOption]?
        /// Lookup answers only.
        public var inputs: [Input]?
    }

    public var id: String
    public var title: String
    public var description: Description
    public var categories: [Category]
    public var priceRange: PriceRange
    public var media: [Media]
    public var options: [Option]?
    public var variants: [Variant]
    /// `/catalog/product` only: the effective selections (present when the product has options).
    public var selected: [SelectedOption]?

    enum CodingKeys: String, CodingKey {
        case id, title, description, categories, media, options, variants, selected
        case priceRange = "price_range"
    }

    /// The product as the catalog shows it, with `variants` (in that order; at least one).
    init(_ product: ShopFile.Product, variants: [ShopFile.Variant], currency: String) {
        id = product.id
        title = product.title
        description = Description(plain: product.description)
        categories = product.categories.map { Category(value: $0) }
        let prices = variants.map(\.price)
        priceRange = PriceRange(
            min: Price(amount: prices.min() ?? 0, currency: currency),
            max: Price(amount: prices.max() ?? 0, currency: currency)
        )
        media = product.images.map { Media(type: "image", url: $0) }
        let names = Catalog.optionNames(product)
        options =
            names.isEmpty
            ? nil
            : names.map { name in
                Option(name: name, values: Catalog.optionValues(product, name).map { OptionValue(label: $0) })
            }
        self.variants = variants.map { variant in
            Variant(
                id: variant.id,
                title: variant.title,
                description: Description(plain: product.description),
                price: Price(amount: variant.price, currency: currency),
                availability: variant.inventory > 0
                    ? Availability(available: true, status: "in_stock")
                    : Availability(available: false, status: "out_of_stock"),
                options: variant.options.isEmpty
                    ? nil
                    : variant.options.keys.sorted().compactMap { name in
                        variant.options[name].map { SelectedOption(name: name, label: $0) }
                    },
                inputs: nil
            )
        }
        selected = nil
    }
}
