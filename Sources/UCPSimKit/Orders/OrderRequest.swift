import Foundation

/// The fields that describe an order to place: the body of `POST /testing/orders` and each entry of a scenario's
/// `orders:`. One type reads both (JSON through `JSONDecoder`, YAML through `YAMLDecoder`), strictly: an unknown
/// field, a wrong type or an out-of-range value is a `FieldError` naming the field.
public struct OrderRequest: Decodable, Sendable, Equatable {
    /// One `items` entry.
    public struct Item: Decodable, Sendable, Equatable {
        public var id: String?
        public var sku: String
        /// Default: the sku.
        public var title: String?
        /// Unit price in the currency's minor units.
        public var price: Int
        /// Default 1.
        public var quantity: Int

        enum CodingKeys: String, CodingKey, CaseIterable {
            case id, sku, title, price, quantity
        }

        public init(from decoder: any Decoder) throws {
            let fields = try StrictFields(decoder, CodingKeys.self)
            id = try fields.string(.id)
            if let id, let problem = Identifier.problem(id) { throw fields.error(.id, problem) }
            guard let sku = try fields.string(.sku) else {
                throw fields.error(.sku, "is required and must be a non-empty string")
            }
            self.sku = sku
            title = try fields.string(.title)
            let priceRule = "must be an integer from 0 to \(Limits.price) (minor units)"
            guard let price = try fields.integer(.price, in: 0...Limits.price, priceRule) else {
                throw fields.error(.price, "is required and \(priceRule)")
            }
            self.price = price
            quantity =
                try fields.integer(
                    .quantity,
                    in: 1...Limits.quantity,
                    "must be an integer from 1 to \(Limits.quantity)"
                )
                ?? 1
            guard price * quantity <= Limits.lineTotal else {
                throw fields.error(.quantity, "times price must be at most \(Limits.lineTotal) minor units per line")
            }
        }
    }

    /// Empty or nil: the control API generates one; scenarios require it.
    public var id: String?
    public var label: String?
    /// An active ISO 4217 code with a minor unit; default USD.
    public var currency: String
    /// Shipping fee in minor units; default 0.
    public var shipping: Int
    /// Scenarios only: this many copies, `ID_001` … `ID_N`.
    public var count: Int?
    public var items: [Item]
    /// Default: `OrderSpec.defaultDestination`.
    public var destination: Order.PostalAddress?

    /// The largest `count`.
    public static let maximumCount = 100_000

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, label, currency, shipping, count, items, destination
    }

    enum AddressKeys: String, CodingKey, CaseIterable {
        case streetAddress = "street_address"
        case addressLocality = "address_locality"
        case addressRegion = "address_region"
        case postalCode = "postal_code"
        case addressCountry = "address_country"
    }

    public init(from decoder: any Decoder) throws {
        let fields = try StrictFields(decoder, CodingKeys.self)
        id = try fields.string(.id)
        if let id, let problem = Identifier.problem(id) { throw fields.error(.id, problem) }
        label = try fields.optional(String.self, .label, "must be a string")
        let currency = try fields.optional(String.self, .currency, "must be a string (an ISO 4217 code such as USD)")
        if let currency {
            guard ISO4217.codes.contains(currency) else {
                throw fields.error(.currency, "must be an active ISO 4217 code such as USD or EUR, got \"\(currency)\"")
            }
            guard ISO4217.minorUnit(of: currency) != nil else {
                throw fields.error(.currency, "\(currency) has no minor unit in ISO 4217, and amounts are minor units")
            }
        }
        self.currency = currency ?? "USD"
        shipping =
            try fields.integer(
                .shipping,
                in: 0...Limits.price,
                "must be an integer from 0 to \(Limits.price) (minor units)"
            )
            ?? 0
        count = try fields.integer(.count, in: 1..., "must be an integer from 1 to \(Self.maximumCount)")
        if let count, count > Self.maximumCount {
            throw fields.error(.count, "must be an integer from 1 to \(Self.maximumCount), got \(count)")
        }
        let listProblem = "must be a non-empty list of {sku, price, quantity, title, id}"
        guard let items = try fields.optional([Item].self, .items, listProblem) else {
            throw fields.error(.items, "is required and \(listProblem)")
        }
        guard !items.isEmpty else { throw fields.error(.items, listProblem) }
        guard items.count <= Limits.lines else {
            throw fields.error(.items, "must hold at most \(Limits.lines) lines, got \(items.count)")
        }
        self.items = items
        if fields.container.contains(.destination) {
            let address: StrictFields<AddressKeys>
            do {
                address = try StrictFields(try fields.container.superDecoder(forKey: .destination), AddressKeys.self)
            } catch let error as FieldError {
                throw error
            } catch {
                throw fields.error(.destination, "must be an object")
            }
            destination = Order.PostalAddress(
                streetAddress: try address.optional(String.self, .streetAddress, "must be a string"),
                addressLocality: try address.optional(String.self, .addressLocality, "must be a string"),
                addressRegion: try address.optional(String.self, .addressRegion, "must be a string"),
                postalCode: try address.optional(String.self, .postalCode, "must be a string"),
                addressCountry: try address.optional(String.self, .addressCountry, "must be a string")
            )
        } else {
            destination = nil
        }
    }

    /// The order to place (`id` empty when the request has none).
    public var spec: OrderSpec {
        OrderSpec(
            id: id ?? "",
            label: label,
            currency: currency,
            lines: items.map { item in
                .init(
                    id: item.id,
                    sku: item.sku,
                    title: item.title ?? item.sku,
                    price: item.price,
                    quantity: item.quantity
                )
            },
            destination: destination ?? OrderSpec.defaultDestination,
            shipping: shipping
        )
    }

    /// Reads a JSON body (an empty body is refused: an order needs items).
    public static func decode(json bytes: [UInt8]) throws(FieldError) -> OrderRequest {
        guard !bytes.isEmpty else { throw FieldError(path: [], "is empty; an order needs at least `items`") }
        return try JSONInput.decode(OrderRequest.self, from: bytes)
    }
}

/// Reads a JSON input into a strict boundary type, turning every failure into a `FieldError`.
enum JSONInput {
    static func decode<Value: Decodable>(_ type: Value.Type, from bytes: [UInt8]) throws(FieldError) -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: Data(bytes))
        } catch let error as FieldError {
            throw error
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            throw FieldError(path: [], "is not JSON")
        } catch {
            throw FieldError(path: [], "must be a JSON object")
        }
    }
}

/// Bounds on the numbers an order takes, so that no total can overflow (a trap would end `serve`): at most
/// `lines` lines of at most `quantity` units at most `price` minor units each, and adjustments of at most `amount`.
public enum Limits {
    /// A unit price or a shipping fee, in minor units (10^12: ten billion of a two-decimal currency).
    public static let price = 1_000_000_000_000
    /// Units of one line.
    public static let quantity = 1_000_000
    /// Lines in one order.
    public static let lines = 1_000
    /// A line's price times its quantity (so 1,000 lines total at most 10^18, below `Int.max`).
    public static let lineTotal = 1_000_000_000_000_000
    /// The magnitude of one adjustment or refund amount, in minor units.
    public static let amount = 1_000_000_000_000_000
}
