import Foundation

/// A checkout session as the shop answers it (`schemas/shopping/checkout.json`, SDK `shopping/checkout.py`), without
/// its `ucp` member (the answer adds the negotiated one: see `CheckoutAnswer`). Codable both ways: the shop keeps
/// it in its database exactly as last answered.
public struct Checkout: Codable, Sendable, Equatable {
    /// The spec's status enum.
    public enum Status: String, Codable, Sendable, CaseIterable {
        case incomplete
        case requiresEscalation = "requires_escalation"
        case readyForComplete = "ready_for_complete"
        case completeInProgress = "complete_in_progress"
        case completed
        case canceled

        /// `completed` and `canceled`: nothing changes any more.
        public var isTerminal: Bool { self == .completed || self == .canceled }
    }

    public struct Total: Codable, Sendable, Equatable {
        public var type: String
        public var amount: Int
        public var displayText: String?

        public init(type: String, amount: Int, displayText: String? = nil) {
            self.type = type
            self.amount = amount
            self.displayText = displayText
        }

        enum CodingKeys: String, CodingKey {
            case type, amount
            case displayText = "display_text"
        }
    }

    public struct Item: Codable, Sendable, Equatable {
        /// The variant id.
        public var id: String
        public var title: String
        /// Unit price, minor units.
        public var price: Int
        public var imageURL: String?

        enum CodingKeys: String, CodingKey {
            case id, title, price
            case imageURL = "image_url"
        }
    }

    public struct LineItem: Codable, Sendable, Equatable {
        public var id: String
        public var item: Item
        public var quantity: Int
        public var totals: [Total]
    }

    public struct Buyer: Codable, Sendable, Equatable {
        public var firstName: String?
        public var lastName: String?
        public var email: String?
        public var phoneNumber: String?

        public init(firstName: String? = nil, lastName: String? = nil, email: String? = nil, phoneNumber: String? = nil)
        {
            self.firstName = firstName
            self.lastName = lastName
            self.email = email
            self.phoneNumber = phoneNumber
        }

        enum CodingKeys: String, CodingKey {
            case email
            case firstName = "first_name"
            case lastName = "last_name"
            case phoneNumber = "phone_number"
        }
    }

    public struct Link: Codable, Sendable, Equatable {
        public var type: String
        public var url: String
        public var title: String?
    }

    /// One `messages[]` entry (kept, so it is Codable; `Message` is the gateway's encode-only twin).
    public struct Note: Codable, Sendable, Equatable {
        public var type: String
        public var code: String?
        public var content: String
        public var severity: String?
        public var path: String?

        public static func error(_ code: String, _ content: String, path: String?, severity: String = "recoverable")
            -> Note
        {
            Note(type: "error", code: code, content: content, severity: severity, path: path)
        }

        public static func warning(_ code: String, _ content: String, path: String?) -> Note {
            Note(type: "warning", code: code, content: content, severity: nil, path: path)
        }
    }

    public struct PostalAddress: Codable, Sendable, Equatable {
        public var streetAddress: String?
        public var extendedAddress: String?
        public var addressLocality: String?
        public var addressRegion: String?
        public var postalCode: String?
        public var addressCountry: String?
        public var firstName: String?
        public var lastName: String?
        public var phoneNumber: String?

        enum CodingKeys: String, CodingKey {
            case streetAddress = "street_address"
            case extendedAddress = "extended_address"
            case addressLocality = "address_locality"
            case addressRegion = "address_region"
            case postalCode = "postal_code"
            case addressCountry = "address_country"
            case firstName = "first_name"
            case lastName = "last_name"
            case phoneNumber = "phone_number"
        }
    }

    /// A fulfillment destination: a shipping address (`type: shipping_address`, the address fields inline) or a
    /// business location (`type: business_location`, `name` and `address`).
    public struct Destination: Codable, Sendable, Equatable {
        public var type: String
        public var id: String
        /// `shipping_address`: the address, flattened into the destination.
        public var shippingAddress: PostalAddress?
        /// `business_location`.
        public var name: String?
        public var address: PostalAddress?

        enum CodingKeys: String, CodingKey {
            case type, id, name, address
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try container.decode(String.self, forKey: .type)
            id = try container.decode(String.self, forKey: .id)
            name = try container.decodeIfPresent(String.self, forKey: .name)
            address = try container.decodeIfPresent(PostalAddress.self, forKey: .address)
            shippingAddress = type == "shipping_address" ? try PostalAddress(from: decoder) : nil
        }

        init(
            type: String,
            id: String,
            shippingAddress: PostalAddress? = nil,
            name: String? = nil,
            address: PostalAddress? = nil
        ) {
            self.type = type
            self.id = id
            self.shippingAddress = shippingAddress
            self.name = name
            self.address = address
        }

        public func encode(to encoder: any Encoder) throws {
            try shippingAddress?.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(type, forKey: .type)
            try container.encode(id, forKey: .id)
            try container.encodeIfPresent(name, forKey: .name)
            try container.encodeIfPresent(address, forKey: .address)
        }

        /// The country it is in.
        var country: String? { shippingAddress?.addressCountry ?? address?.addressCountry }
    }

    public struct Description: Codable, Sendable, Equatable {
        public var plain: String
    }

    public struct Option: Codable, Sendable, Equatable {
        public var id: String
        public var title: String
        public var description: Description?
        public var carrier: String?
        public var totals: [Total]
    }

    public struct Group: Codable, Sendable, Equatable {
        public var id: String
        public var lineItemIDs: [String]
        public var options: [Option]?
        public var selectedOptionID: String?

        enum CodingKeys: String, CodingKey {
            case id, options
            case lineItemIDs = "line_item_ids"
            case selectedOptionID = "selected_option_id"
        }
    }

    public struct Method: Codable, Sendable, Equatable {
        public var id: String
        public var type: String
        public var lineItemIDs: [String]
        public var destinations: [Destination]?
        public var selectedDestinationID: String?
        public var groups: [Group]?

        enum CodingKeys: String, CodingKey {
            case id, type, destinations, groups
            case lineItemIDs = "line_item_ids"
            case selectedDestinationID = "selected_destination_id"
        }
    }

    public struct AvailableMethod: Codable, Sendable, Equatable {
        public var type: String
        public var lineItemIDs: [String]

        enum CodingKeys: String, CodingKey {
            case type
            case lineItemIDs = "line_item_ids"
        }
    }

    public struct Fulfillment: Codable, Sendable, Equatable {
        public var methods: [Method]
        public var availableMethods: [AvailableMethod]?

        enum CodingKeys: String, CodingKey {
            case methods
            case availableMethods = "available_methods"
        }
    }

    public struct AppliedDiscount: Codable, Sendable, Equatable {
        public var code: String?
        public var title: String
        /// Positive: what the discount takes off.
        public var amount: Int
    }

    public struct Discounts: Codable, Sendable, Equatable {
        public var codes: [String]
        public var applied: [AppliedDiscount]
    }

    /// A payment instrument as answered: never its credential.
    public struct Instrument: Codable, Sendable, Equatable {
        public var id: String
        public var handlerID: String
        public var type: String
        public var selected: Bool?

        enum CodingKeys: String, CodingKey {
            case id, type, selected
            case handlerID = "handler_id"
        }
    }

    public struct Payment: Codable, Sendable, Equatable {
        public var instruments: [Instrument]
    }

    public struct OrderConfirmation: Codable, Sendable, Equatable {
        public var id: String
        public var permalinkURL: String

        enum CodingKeys: String, CodingKey {
            case id
            case permalinkURL = "permalink_url"
        }
    }

    public var id: String
    public var status: Status
    public var currency: String
    public var lineItems: [LineItem]
    public var buyer: Buyer?
    public var totals: [Total]
    public var links: [Link]
    public var messages: [Note]?
    public var expiresAt: String?
    public var continueURL: String?
    public var fulfillment: Fulfillment?
    public var discounts: Discounts?
    public var payment: Payment?
    public var order: OrderConfirmation?
    /// The cart it was made from (`cart_id` on create; the cart capability's field, shown when it is negotiated).
    public var cartID: String?

    enum CodingKeys: String, CodingKey {
        case id, status, currency, buyer, totals, links, messages, fulfillment, discounts, payment, order
        case cartID = "cart_id"
        case lineItems = "line_items"
        case expiresAt = "expires_at"
        case continueURL = "continue_url"
    }

    /// The total of `type` (the first), or nil.
    public func total(_ type: String) -> Int? { totals.first { $0.type == type }?.amount }

    /// The codes of its messages, in order.
    public var messageCodes: [String] { (messages ?? []).compactMap(\.code) }
}

/// A checkout answer: the negotiated `ucp` member and the checkout, with the extensions the call did not negotiate
/// left out.
public struct CheckoutAnswer: Encodable, Sendable {
    public var ucp: ResponseEnvelope
    public var checkout: Checkout

    public init(_ checkout: Checkout, call: ShoppingCall) {
        var shown = checkout
        if !call.has(.fulfillment) { shown.fulfillment = nil }
        if !call.has(.discount) { shown.discounts = nil }
        if !call.has(.cart) { shown.cartID = nil }
        self.ucp = call.envelope()
        self.checkout = shown
    }

    enum CodingKeys: String, CodingKey {
        case ucp
    }

    public func encode(to encoder: any Encoder) throws {
        try checkout.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ucp, forKey: .ucp)
    }
}
