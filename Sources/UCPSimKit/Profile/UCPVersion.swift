/// A dated UCP release ucpsim can speak: a closed set, so every shape that differs between releases is a `switch`
/// the compiler checks when a release is added.
///
/// What differs (read from the spec repository at each release):
/// - the capability `spec` URLs: 2026-08-25 moved the shopping pages under `/specification/shopping/…`;
/// - the profile's key list: `signing_keys` in 2026-04-08, `keys` from 2026-08-25;
/// - the signature algorithms: 2026-04-08 lists ES256 (required) and ES384 (optional); 2026-08-25 adds EdDSA
///   (Ed25519);
/// - the version string itself, which every `ucp` block (profile, order, error and webhook answer) carries.
public enum UCPVersion: String, Sendable, CaseIterable, Codable, Comparable {
    case v2026_04_08 = "2026-04-08"
    case v2026_08_25 = "2026-08-25"

    /// The newest release: what ucpsim speaks unless told otherwise.
    public static let newest = UCPVersion.v2026_08_25

    /// The known releases, for help texts and errors: `2026-04-08, 2026-08-25`.
    public static var known: String { allCases.map(\.rawValue).joined(separator: ", ") }

    public static func < (lhs: UCPVersion, rhs: UCPVersion) -> Bool { lhs.rawValue < rhs.rawValue }

    var base: String { "https://ucp.dev/\(rawValue)" }

    /// The human-readable spec of the order capability.
    public var orderSpecURL: String {
        switch self {
        case .v2026_04_08: "\(base)/specification/order"
        case .v2026_08_25: "\(base)/specification/shopping/order"
        }
    }

    /// The human-readable spec of a shopping capability, as the release's own example profiles name it
    /// (2026-08-25 moved catalog, cart, checkout and order under `/specification/shopping/`; the fulfillment and
    /// discount extensions stayed at `/specification/<name>`).
    public func specURL(_ capability: ShoppingCapability) -> String {
        let page: String
        switch capability {
        case .catalogSearch: page = "catalog/search"
        case .catalogLookup: page = "catalog/lookup"
        case .cart: page = "cart"
        case .checkout: page = "checkout"
        case .order: return orderSpecURL
        case .fulfillment: return "\(base)/specification/fulfillment"
        case .discount: return "\(base)/specification/discount"
        }
        switch self {
        case .v2026_04_08: return "\(base)/specification/\(page)"
        case .v2026_08_25: return "\(base)/specification/shopping/\(page)"
        }
    }

    /// A shopping capability's JSON schema (the same paths in both releases).
    public func schemaURL(_ capability: ShoppingCapability) -> String {
        let file: String
        switch capability {
        case .catalogSearch: file = "catalog_search"
        case .catalogLookup: file = "catalog_lookup"
        case .cart: file = "cart"
        case .checkout: file = "checkout"
        case .fulfillment: file = "fulfillment"
        case .discount: file = "discount"
        case .order: file = "order"
        }
        return "\(base)/schemas/shopping/\(file).json"
    }

    /// The identity-linking capability's spec page (2026-08-25 moved it under `/specification/common/`).
    public var identityLinkingSpecURL: String {
        switch self {
        case .v2026_04_08: "\(base)/specification/identity-linking"
        case .v2026_08_25: "\(base)/specification/common/identity-linking"
        }
    }

    /// The order capability's JSON schema.
    public var orderSchemaURL: String { "\(base)/schemas/shopping/order.json" }

    /// The spec page of the `dev.ucp.shopping` service.
    public var serviceSpecURL: String { "\(base)/specification/overview" }

    /// The REST binding's OpenAPI document.
    public var serviceSchemaURL: String { "\(base)/services/shopping/rest.openapi.json" }

    /// The profile member that lists the business's public JWKs.
    public var keysMember: String {
        switch self {
        case .v2026_04_08: "signing_keys"
        case .v2026_08_25: "keys"
        }
    }

    /// The signature algorithms the release lists (a verifier must support ES256; the rest are optional).
    public var algorithms: [SignatureAlgorithm] {
        switch self {
        case .v2026_04_08: [.es256, .es384]
        case .v2026_08_25: [.es256, .es384, .ed25519]
        }
    }

    /// `ES256, ES384`: the listed algorithms by their JWS names, for messages.
    public var algorithmNames: String { algorithms.map(\.jwsName).joined(separator: ", ") }
}
