/// The OAuth scopes identity linking offers (`dev.ucp.common.identity_linking` `config.scopes`): each gates the
/// operations its capability's spec maps to it.
public enum IdentityScope {
    /// Read the customer's orders (`GET /orders/{id}`).
    public static let orderRead = "dev.ucp.shopping.order:read"
    /// Cancel or return the customer's orders.
    public static let orderManage = "dev.ucp.shopping.order:manage"
    /// Create, update and complete checkouts for the customer: gated only with `serve --require-identity`.
    public static let checkoutManage = "dev.ucp.shopping.checkout:manage"

    /// The scopes a shop offers: the order ones, and checkout's when it requires identity for checkout.
    public static func offered(requireIdentity: Bool) -> [String] {
        [orderRead, orderManage] + (requireIdentity ? [checkoutManage] : [])
    }

    /// What the consent page and the profile's `description.plain` say a scope allows.
    public static func description(_ scope: String) -> String {
        switch scope {
        case orderRead: "View your orders and their shipping status."
        case orderManage: "Manage your orders: cancel them before they ship."
        case checkoutManage: "Check out on your behalf, with your saved addresses and member prices."
        default: scope
        }
    }
}
