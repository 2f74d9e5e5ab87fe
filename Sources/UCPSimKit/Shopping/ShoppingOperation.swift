/// The capabilities the shop implements, as its profile advertises them and negotiation intersects them.
public enum ShoppingCapability: String, Sendable, CaseIterable, Comparable {
    case catalogSearch = "dev.ucp.shopping.catalog.search"
    case catalogLookup = "dev.ucp.shopping.catalog.lookup"
    case cart = "dev.ucp.shopping.cart"
    case checkout = "dev.ucp.shopping.checkout"
    case fulfillment = "dev.ucp.shopping.fulfillment"
    case discount = "dev.ucp.shopping.discount"
    case order = "dev.ucp.shopping.order"

    /// The capabilities an extension extends (any one present keeps it); empty for a root capability.
    public var extends: [ShoppingCapability] {
        switch self {
        case .fulfillment: [.checkout]
        // Carts take no discount codes here: the extension is offered on checkout only.
        case .discount: [.checkout]
        default: []
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One operation of the shopping service's REST binding.
public enum ShoppingOperation: String, Sendable, CaseIterable {
    case catalogSearch = "search_catalog"
    case catalogLookup = "lookup_catalog"
    case catalogProduct = "get_product"
    case cartCreate = "create_cart"
    case cartGet = "get_cart"
    case cartUpdate = "update_cart"
    case cartCancel = "cancel_cart"
    case checkoutCreate = "create_checkout"
    case checkoutGet = "get_checkout"
    case checkoutUpdate = "update_checkout"
    case checkoutComplete = "complete_checkout"
    case checkoutCancel = "cancel_checkout"
    case orderGet = "get_order"
    /// ucpsim's extension (the 2026-08-25 REST binding has no order mutation): `POST /orders/{id}/cancel`, the
    /// buyer cancels an order nothing of which has shipped.
    case orderCancel = "cancel_order"

    /// The capability the operation belongs to (its response's root capability).
    public var capability: ShoppingCapability {
        switch self {
        case .catalogSearch: .catalogSearch
        case .catalogLookup, .catalogProduct: .catalogLookup
        case .cartCreate, .cartGet, .cartUpdate, .cartCancel: .cart
        case .checkoutCreate, .checkoutGet, .checkoutUpdate, .checkoutComplete, .checkoutCancel: .checkout
        case .orderGet, .orderCancel: .order
        }
    }

    /// Whether it changes state (POST/PUT other than catalog reads): these take an `Idempotency-Key`.
    public var changesState: Bool {
        switch self {
        case .catalogSearch, .catalogLookup, .catalogProduct, .cartGet, .checkoutGet, .orderGet: false
        default: true
        }
    }

    /// The identity-linking scopes a buyer token needs for `operation` (all of them): the order ones always,
    /// checkout's only when the shop requires identity for checkout (`serve --require-identity`); none for the
    /// catalog and carts. The gateway's guard answers 401/403 from this list.
    public static func requiredScopes(for operation: ShoppingOperation, requireIdentity: Bool) -> [String] {
        switch operation {
        case .orderGet: [IdentityScope.orderRead]
        // The answer is the whole order: reading it needs order:read too (the challenge names the full set).
        case .orderCancel: [IdentityScope.orderRead, IdentityScope.orderManage]
        case .checkoutCreate, .checkoutGet, .checkoutUpdate, .checkoutComplete, .checkoutCancel:
            requireIdentity ? [IdentityScope.checkoutManage] : []
        case .catalogSearch, .catalogLookup, .catalogProduct, .cartCreate, .cartGet, .cartUpdate, .cartCancel: []
        }
    }
}
