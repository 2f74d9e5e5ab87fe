import Foundation

/// A UCP order (`schemas/shopping/order.json`): line items, fulfillment expectations and events, adjustments, totals.
public struct Order: Codable, Sendable, Equatable {
    public struct Envelope: Codable, Sendable, Equatable {
        public struct CapabilityVersion: Codable, Sendable, Equatable {
            public var version: String
        }
        public var version: String
        public var capabilities: [String: [CapabilityVersion]]

        /// The block a release's order carries: its version, on the order capability too.
        public init(version: UCPVersion) {
            self.version = version.rawValue
            self.capabilities = ["dev.ucp.shopping.order": [CapabilityVersion(version: version.rawValue)]]
        }
    }

    public struct Item: Codable, Sendable, Equatable {
        public var id: String
        public var title: String
        /// Unit price in minor units.
        public var price: Int
    }

    public struct Quantity: Codable, Sendable, Equatable {
        public var original: Int
        public var total: Int
        public var fulfilled: Int
    }

    public struct Total: Codable, Sendable, Equatable {
        public var type: String
        public var amount: Int
    }

    public struct LineItem: Codable, Sendable, Equatable {
        public var id: String
        public var item: Item
        public var quantity: Quantity
        public var totals: [Total]
        /// Derived from the quantities; see `LineItemStatus`.
        public var status: String
    }

    public struct LineQuantity: Codable, Sendable, Equatable {
        public var id: String
        public var quantity: Int
    }

    public struct PostalAddress: Codable, Sendable, Equatable {
        public var streetAddress: String?
        public var addressLocality: String?
        public var addressRegion: String?
        public var postalCode: String?
        public var addressCountry: String?

        enum CodingKeys: String, CodingKey {
            case streetAddress = "street_address"
            case addressLocality = "address_locality"
            case addressRegion = "address_region"
            case postalCode = "postal_code"
            case addressCountry = "address_country"
        }
    }

    public struct Expectation: Codable, Sendable, Equatable {
        public var id: String
        public var lineItems: [LineQuantity]
        public var methodType: String
        public var destination: PostalAddress
        public var description: String?

        enum CodingKeys: String, CodingKey {
            case id, destination, description
            case lineItems = "line_items"
            case methodType = "method_type"
        }
    }

    public struct FulfillmentEvent: Codable, Sendable, Equatable {
        public var id: String
        public var occurredAt: String
        public var type: String
        public var lineItems: [LineQuantity]
        public var trackingNumber: String?
        public var trackingURL: String?
        public var carrier: String?
        public var description: String?

        enum CodingKeys: String, CodingKey {
            case id, type, carrier, description
            case occurredAt = "occurred_at"
            case lineItems = "line_items"
            case trackingNumber = "tracking_number"
            case trackingURL = "tracking_url"
        }
    }

    public struct Fulfillment: Codable, Sendable, Equatable {
        public var expectations: [Expectation]
        public var events: [FulfillmentEvent]
    }

    public struct Adjustment: Codable, Sendable, Equatable {
        public var id: String
        public var type: String
        public var occurredAt: String
        public var status: String
        public var lineItems: [LineQuantity]?
        public var totals: [Total]?
        public var description: String?

        enum CodingKeys: String, CodingKey {
            case id, type, status, totals, description
            case occurredAt = "occurred_at"
            case lineItems = "line_items"
        }
    }

    public var ucp: Envelope
    public var id: String
    public var label: String?
    public var checkoutID: String
    public var permalinkURL: String
    public var currency: String
    public var lineItems: [LineItem]
    public var fulfillment: Fulfillment
    public var adjustments: [Adjustment]
    public var totals: [Total]

    enum CodingKeys: String, CodingKey {
        case ucp, id, label, currency, fulfillment, adjustments, totals
        case checkoutID = "checkout_id"
        case permalinkURL = "permalink_url"
        case lineItems = "line_items"
    }

    /// The snapshot as JSON bytes, serialized once (sorted keys, so identical states give identical bytes).
    public func jsonBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Plain strings, integers and arrays always encode.
        return [UInt8]((try? encoder.encode(self)) ?? Data())
    }
}
