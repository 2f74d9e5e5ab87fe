import Foundation

/// What the shopping APIs (catalog, cart, checkout) share: the shop file, the gateway every request passes, the
/// state database, the order book and the one publish path.
public struct ShopServices: Sendable {
    public let shop: ShopFile
    public let gateway: ShoppingGateway
    /// Carts, checkout sessions and idempotency keys live here (`DIR/ucpsim.sqlite`).
    public let database: ShopDatabase
    /// Completing a checkout places its order here.
    public let book: OrderBook
    /// Completing a checkout publishes the order's first events here.
    public let webhooks: WebhookPublisher
    /// The shop's public base URL (permalinks, `continue_url`).
    public let baseURL: String
    /// The clock (expiry, discount codes' expiry).
    public let now: @Sendable () -> Date
    /// HOOK for the cart (issue 13): the line items of cart `id` for `POST /checkout-sessions` with `cart_id` and
    /// no `line_items`; nil (or a nil answer) when there is no such cart. `CartAPI` sets it; checkout only reads it.
    public var cartLineItems: (@Sendable (_ id: String) async throws -> [CheckoutInput.Line]?)?

    public init(
        shop: ShopFile,
        gateway: ShoppingGateway,
        database: ShopDatabase,
        book: OrderBook,
        webhooks: WebhookPublisher,
        baseURL: String,
        now: @escaping @Sendable () -> Date = { Date() },
        cartLineItems: (@Sendable (_ id: String) async throws -> [CheckoutInput.Line]?)? = nil
    ) {
        self.cartLineItems = cartLineItems
        self.shop = shop
        self.gateway = gateway
        self.database = database
        self.book = book
        self.webhooks = webhooks
        self.baseURL = baseURL
        self.now = now
    }
}
