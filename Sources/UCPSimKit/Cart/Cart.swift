import Foundation

/// A cart as kept: the lines the shop could price, and the platform's `buyer` and `context`, echoed back.
public struct StoredCart: Sendable, Equatable {
    public struct Line: Codable, Sendable, Equatable {
        public var itemID: String
        public var quantity: Int

        enum CodingKeys: String, CodingKey {
            case itemID = "item_id"
            case quantity
        }
    }

    public var id: String
    public var lines: [Line]
    public var buyer: OpaqueJSON?
    public var context: OpaqueJSON?
}

/// The body of `POST /carts` and `PUT /carts/{id}` (the spec's create and update requests share one shape; an
/// update's line `id`s are ignored: it is a full replacement, and lines are numbered afresh).
public struct CartRequest: Decodable, Sendable, Equatable {
    public struct Line: Decodable, Sendable, Equatable {
        public struct Item: Decodable, Sendable, Equatable {
            public var id: String
        }

        public var item: Item
        public var quantity: Int
    }

    public var lineItems: [Line]
    public var buyer: OpaqueJSON?
    public var context: OpaqueJSON?

    enum CodingKeys: String, CodingKey {
        case lineItems = "line_items"
        case buyer, context
    }

    /// Refuses what no cart can hold (HTTP 400): quantities outside 1…`Limits.quantity`, too many lines, a `buyer`
    /// or `context` that is not an object.
    func validate() throws(FieldError) {
        guard lineItems.count <= Limits.lines else {
            throw FieldError(path: [.key("line_items")], "has \(lineItems.count) lines; at most \(Limits.lines)")
        }
        for (index, line) in lineItems.enumerated() where !(1...Limits.quantity).contains(line.quantity) {
            throw FieldError(
                path: [.key("line_items"), .index(index), .key("quantity")],
                "must be from 1 to \(Limits.quantity), got \(line.quantity)"
            )
        }
        for (name, value) in [("buyer", buyer), ("context", context)] {
            if let value, !value.isObject { throw FieldError(path: [.key(name)], "must be an object") }
        }
    }
}

/// Prices carts from the shop file: a pure value, tested without HTTP or a database.
///
/// - A line whose item the shop does not sell is left out of the cart, with an `item_unavailable` error message.
/// - A line whose variant is out of stock (or short of the quantity) stays, with an `out_of_stock` error message
///   whose `path` points at it; totals still count it (they are estimates).
/// - Lines are numbered `li_1`, `li_2`, … in request order; each has a `subtotal` and a `total`, and so does the
///   cart. The cart carries no discounts, fulfillment or tax (checkout computes those).
public struct CartPricing: Sendable {
    public let shop: ShopFile
    /// Units completed checkouts took from each variant's inventory (what is left is for sale).
    public let reserved: [String: Int]

    public init(shop: ShopFile, reserved: [String: Int] = [:]) {
        self.shop = shop
        self.reserved = reserved
    }

    /// Units of `variant` for sale now.
    public func available(_ variant: ShopFile.Variant) -> Int {
        max(0, variant.inventory - (reserved[variant.id] ?? 0))
    }

    /// What a request leaves in the cart, and the messages about what it could not keep.
    public func accept(_ request: CartRequest) -> (lines: [StoredCart.Line], messages: [Message]) {
        var lines: [StoredCart.Line] = []
        var messages: [Message] = []
        for line in request.lineItems {
            if shop.variant(line.item.id) == nil {
                messages.append(
                    .error(
                        code: "item_unavailable",
                        "Item \(line.item.id) is not sold by this shop",
                        severity: .recoverable
                    )
                )
            } else {
                lines.append(StoredCart.Line(itemID: line.item.id, quantity: line.quantity))
            }
        }
        return (lines, messages)
    }

    /// Whether none of `lines` can be bought now (every item unknown or out of stock).
    public func nothingAvailable(_ lines: [StoredCart.Line]) -> Bool {
        lines.allSatisfy { line in shop.variant(line.itemID).map { available($0.variant) } ?? 0 == 0 }
    }

    /// The cart's JSON, with `messages` first (from `accept`) and then one `out_of_stock` per short line.
    public func render(_ cart: StoredCart, envelope: ResponseEnvelope, messages: [Message] = []) -> CartResponse {
        var items: [CartResponse.LineItem] = []
        var messages = messages
        var subtotal = 0
        for line in cart.lines {
            guard let (product, variant) = shop.variant(line.itemID) else { continue }
            let amount = variant.price * line.quantity
            subtotal += amount
            let index = items.count
            items.append(
                CartResponse.LineItem(
                    id: "li_\(index + 1)",
                    item: .init(
                        id: variant.id,
                        title: variant.title,
                        price: variant.price,
                        imageURL: product.images.first
                    ),
                    quantity: line.quantity,
                    totals: [.init(type: "subtotal", amount: amount), .init(type: "total", amount: amount)]
                )
            )
            if available(variant) < line.quantity {
                messages.append(
                    .error(
                        code: "out_of_stock",
                        available(variant) == 0
                            ? "\(variant.title) is out of stock"
                            : "Only \(available(variant)) of \(variant.title) in stock",
                        severity: .recoverable,
                        path: "$.line_items[\(index)]"
                    )
                )
            }
        }
        return CartResponse(
            ucp: envelope,
            id: cart.id,
            lineItems: items,
            buyer: cart.buyer,
            context: cart.context,
            currency: shop.currency,
            totals: [.init(type: "subtotal", amount: subtotal), .init(type: "total", amount: subtotal)],
            messages: messages.isEmpty ? nil : messages
        )
    }
}

/// The spec's cart (`shopping/cart.json`; ucp-sdk 0.5.0 `Cart`).
public struct CartResponse: Encodable, Sendable, Equatable {
    /// A cart's line items, items and totals have a checkout's shapes.
    public typealias Item = Checkout.Item
    public typealias Total = Checkout.Total
    public typealias LineItem = Checkout.LineItem

    public var ucp: ResponseEnvelope
    public var id: String
    public var lineItems: [LineItem]
    public var buyer: OpaqueJSON?
    public var context: OpaqueJSON?
    public var currency: String
    public var totals: [Total]
    public var messages: [Message]?

    enum CodingKeys: String, CodingKey {
        case ucp, id, buyer, context, currency, totals, messages
        case lineItems = "line_items"
    }
}
