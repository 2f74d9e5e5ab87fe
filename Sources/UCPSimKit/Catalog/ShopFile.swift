import Foundation

/// What the shop sells and how: products, fulfillment, discount codes, payment handlers, tax and customers
/// (`serve --shop FILE`, YAML; `ShopFile.embedded` without it). Money is integer minor units of `currency`.
public struct ShopFile: Sendable, Equatable {
    /// The shop's display name.
    public var name: String
    /// ISO 4217 code every price is in.
    public var currency: String
    public var products: [Product]
    public var fulfillment: Fulfillment
    public var discounts: [Discount]
    public var paymentHandlers: [PaymentHandler]
    public var tax: TaxRule?
    public var customers: [Customer]
    /// Platforms registered with the shop's OAuth authorization server (identity linking).
    public var oauthClients: [OAuthClient]
    /// Legal links every checkout carries (`links[]`: terms of service, privacy policy).
    public var links: [Link]

    public init(
        name: String,
        currency: String,
        products: [Product],
        fulfillment: Fulfillment,
        discounts: [Discount] = [],
        paymentHandlers: [PaymentHandler],
        tax: TaxRule? = nil,
        customers: [Customer] = [],
        oauthClients: [OAuthClient] = [],
        links: [Link]
    ) {
        self.name = name
        self.currency = currency
        self.products = products
        self.fulfillment = fulfillment
        self.discounts = discounts
        self.paymentHandlers = paymentHandlers
        self.tax = tax
        self.customers = customers
        self.oauthClients = oauthClients
        self.links = links
    }

    /// A product: what the catalog shows; what is bought is one of its variants.
    public struct Product: Sendable, Equatable {
        public var id: String
        public var title: String
        public var description: String
        /// Category names, most general first (e.g. `["Kitchen", "Mugs"]`).
        public var categories: [String]
        /// Image URLs.
        public var images: [String]
        /// At least one.
        public var variants: [Variant]

        public init(
            id: String,
            title: String,
            description: String,
            categories: [String] = [],
            images: [String] = [],
            variants: [Variant]
        ) {
            self.id = id
            self.title = title
            self.description = description
            self.categories = categories
            self.images = images
            self.variants = variants
        }
    }

    /// A purchasable item: its id is what a line item's `item.id` names.
    public struct Variant: Sendable, Equatable {
        public var id: String
        public var title: String
        /// Unit price in minor units.
        public var price: Int
        /// The unit price for a signed-in customer (a checkout with a buyer token), at most `price`; nil: `price`.
        public var memberPrice: Int?
        /// Units in stock; 0 is out of stock.
        public var inventory: Int
        /// Option values (e.g. `size: L`).
        public var options: [String: String]
        /// Delivered electronically: needs no shipping address or shipping option.
        public var digital: Bool

        public init(
            id: String,
            title: String,
            price: Int,
            inventory: Int,
            options: [String: String] = [:],
            digital: Bool = false,
            memberPrice: Int? = nil
        ) {
            self.id = id
            self.title = title
            self.price = price
            self.memberPrice = memberPrice
            self.inventory = inventory
            self.options = options
            self.digital = digital
        }
    }

    public struct Fulfillment: Sendable, Equatable {
        /// Shipping options, in the order offered.
        public var shipping: [ShippingOption]
        /// A merchandise subtotal at or above this ships free (minor units); nil: never.
        public var freeShippingThreshold: Int?
        /// ISO 3166-1 alpha-2 codes the shop ships to.
        public var countries: [String]
        /// Pickup locations (the `pickup` method); empty: no pickup.
        public var pickup: [PickupLocation]

        public init(
            shipping: [ShippingOption],
            freeShippingThreshold: Int? = nil,
            countries: [String],
            pickup: [PickupLocation] = []
        ) {
            self.shipping = shipping
            self.freeShippingThreshold = freeShippingThreshold
            self.countries = countries
            self.pickup = pickup
        }
    }

    public struct ShippingOption: Sendable, Equatable {
        public var id: String
        /// What the buyer sees, and the order's fulfillment expectation's description.
        public var title: String
        /// Rate in minor units.
        public var rate: Int
        /// e.g. "Arrives in 5-7 business days".
        public var description: String?
        public var carrier: String?

        public init(id: String, title: String, rate: Int, description: String? = nil, carrier: String? = nil) {
            self.id = id
            self.title = title
            self.rate = rate
            self.description = description
            self.carrier = carrier
        }
    }

    public struct PickupLocation: Sendable, Equatable {
        public var id: String
        public var name: String
        public var address: Address

        public init(id: String, name: String, address: Address) {
            self.id = id
            self.name = name
            self.address = address
        }
    }

    /// A postal address (the spec's `postal_address` fields).
    public struct Address: Sendable, Equatable {
        public var streetAddress: String
        public var locality: String
        public var region: String?
        public var postalCode: String
        /// ISO 3166-1 alpha-2.
        public var country: String
        public var firstName: String?
        public var lastName: String?

        public init(
            streetAddress: String,
            locality: String,
            region: String? = nil,
            postalCode: String,
            country: String,
            firstName: String? = nil,
            lastName: String? = nil
        ) {
            self.streetAddress = streetAddress
            self.locality = locality
            self.region = region
            self.postalCode = postalCode
            self.country = country
            self.firstName = firstName
            self.lastName = lastName
        }
    }

    public struct Discount: Sendable, Equatable {
        public enum Kind: String, Sendable, Equatable, CaseIterable {
            /// `value` is a percentage of the merchandise subtotal (1–100).
            case percentage
            /// `value` is an amount off in minor units.
            case fixedAmount = "fixed_amount"
        }

        /// The code a buyer enters (matched case-insensitively).
        public var code: String
        public var title: String
        public var kind: Kind
        public var value: Int
        /// The merchandise subtotal the code needs (minor units); nil: any.
        public var minimumSubtotal: Int?
        /// After this instant the code is refused as expired; nil: never.
        public var expiresAt: Date?
        /// Whether it combines with other codes; a non-stackable code applies alone.
        public var stackable: Bool

        public init(
            code: String,
            title: String,
            kind: Kind,
            value: Int,
            minimumSubtotal: Int? = nil,
            expiresAt: Date? = nil,
            stackable: Bool = false
        ) {
            self.code = code
            self.title = title
            self.kind = kind
            self.value = value
            self.minimumSubtotal = minimumSubtotal
            self.expiresAt = expiresAt
            self.stackable = stackable
        }
    }

    /// A payment handler the profile advertises (`ucp.payment_handlers`). The mock handler decides by token.
    public struct PaymentHandler: Sendable, Equatable {
        /// Reverse-domain name it is advertised under (e.g. `dev.ucpsim.mock_payment`).
        public var name: String
        /// The handler's `id` (what a payment instrument's `handler_id` names).
        public var id: String
        /// Tokens and what paying with them does; any other token is declined.
        public var tokens: [String: TokenOutcome]

        public init(name: String, id: String, tokens: [String: TokenOutcome]) {
            self.name = name
            self.id = id
            self.tokens = tokens
        }
    }

    /// What the mock handler does with a token.
    public enum TokenOutcome: String, Sendable, Equatable, CaseIterable {
        case success
        case decline
        /// Needs the buyer (3-D Secure style): the checkout goes to `requires_escalation` with a `continue_url`.
        case escalate
        /// Accepted for asynchronous completion: the checkout answers `complete_in_progress`, and the order is placed
        /// when the checkout is next read.
        case pending
    }

    /// One tax rate on the taxable amount.
    public struct TaxRule: Sendable, Equatable {
        public var title: String
        /// Rate in basis points (825 = 8.25 %); the tax is rounded half up to a minor unit.
        public var rateBasisPoints: Int
        /// Destination countries it applies to; empty: all.
        public var countries: [String]
        /// Whether shipping is taxed too.
        public var shippingTaxable: Bool

        public init(title: String, rateBasisPoints: Int, countries: [String] = [], shippingTaxable: Bool = false) {
            self.title = title
            self.rateBasisPoints = rateBasisPoints
            self.countries = countries
            self.shippingTaxable = shippingTaxable
        }
    }

    /// A customer who can sign in (identity linking) and whose saved addresses are offered.
    public struct Customer: Sendable, Equatable {
        public var id: String
        public var email: String
        public var firstName: String
        public var lastName: String
        /// The sign-in password (a simulator: stored as given).
        public var password: String
        public var addresses: [Address]

        public init(
            id: String,
            email: String,
            firstName: String,
            lastName: String,
            password: String,
            addresses: [Address] = []
        ) {
            self.id = id
            self.email = email
            self.firstName = firstName
            self.lastName = lastName
            self.password = password
            self.addresses = addresses
        }
    }

    /// A link every checkout shows (`links[]`).
    public struct Link: Sendable, Equatable {
        /// The spec's link type (e.g. `terms_of_service`, `privacy_policy`).
        public var type: String
        public var url: String
        public var title: String?

        public init(type: String, url: String, title: String? = nil) {
            self.type = type
            self.url = url
            self.title = title
        }
    }
}

extension ShopFile {
    /// The variant with `id`, with its product; nil when the shop has none.
    public func variant(_ id: String) -> (product: Product, variant: Variant)? {
        for product in products {
            if let variant = product.variants.first(where: { $0.id == id }) { return (product, variant) }
        }
        return nil
    }

    /// The unit price of `variant` for a checkout with (`member` true) or without a signed-in customer.
    public static func unitPrice(_ variant: Variant, member: Bool) -> Int {
        member ? variant.memberPrice ?? variant.price : variant.price
    }

    /// The customer with `id`; nil for nil or an id the shop does not know.
    public func customer(id: String?) -> Customer? {
        guard let id else { return nil }
        return customers.first { $0.id == id }
    }

    /// The product with `id`.
    public func product(_ id: String) -> Product? {
        products.first { $0.id == id }
    }

    /// The handler a payment instrument's `handler_id` names.
    public func paymentHandler(id: String) -> PaymentHandler? {
        paymentHandlers.first { $0.id == id }
    }

    /// The discount a code names (case-insensitive).
    public func discount(code: String) -> Discount? {
        discounts.first { $0.code.caseInsensitiveCompare(code) == .orderedSame }
    }
}
