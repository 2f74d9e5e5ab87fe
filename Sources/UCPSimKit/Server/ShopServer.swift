import Foundation
import Hummingbird
import Synchronization

/// The profile the shop currently publishes, and its leaf profiles; swappable, so keys can rotate while the shop runs.
public final class ProfilePublisher: Sendable {
    private struct Rendered {
        let bytes: [UInt8]
        let etag: String
    }

    private struct Published {
        let profile: BusinessProfile
        let main: Rendered
        let leaves: [UCPVersion: Rendered]
    }

    private let current: Mutex<Published>

    public init(_ profile: BusinessProfile) {
        current = Mutex(Self.render(profile))
    }

    /// The published profile.
    public var profile: BusinessProfile { current.withLock { $0.profile } }

    /// Publishes a new key set under the same URLs (a rotation).
    public func publish(keys: [JWK]) {
        let old = profile
        let next = BusinessProfile(
            baseURL: old.baseURL,
            keys: keys,
            version: old.version,
            olderVersions: old.olderVersions,
            paymentHandlers: old.paymentHandlers,
            identityScopes: old.identityScopes
        )
        current.withLock { $0 = Self.render(next) }
    }

    /// The bytes and ETag of the main profile (nil version) or of a leaf profile; nil when that leaf is not served.
    fileprivate func rendered(_ version: UCPVersion?) -> (bytes: [UInt8], etag: String)? {
        current.withLock { published in
            guard let version else { return (published.main.bytes, published.main.etag) }
            return published.leaves[version].map { ($0.bytes, $0.etag) }
        }
    }

    private static func render(_ profile: BusinessProfile) -> Published {
        func rendered(_ profile: BusinessProfile) -> Rendered {
            let bytes = profile.json()
            let digest = DigestAlgorithm.sha256.hash(bytes).prefix(12)
            return Rendered(bytes: bytes, etag: "\"" + digest.map { String(format: "%02x", $0) }.joined() + "\"")
        }
        var leaves: [UCPVersion: Rendered] = [:]
        for version in profile.olderVersions { leaves[version] = rendered(profile.leaf(version)) }
        return Published(profile: profile, main: rendered(profile), leaves: leaves)
    }
}

/// The shop's HTTP surface: the business profile and the orders (`GET /orders/{id}`, for those allowed to read
/// them).
public struct ShopServer: Sendable {
    public let publisher: ProfilePublisher
    public let orders: OrderStore
    /// `Cache-Control` max-age of the profile, in seconds.
    public var profileMaxAge = 300
    /// What `GET /orders/{id}` passes (the gateway: `UCP-Agent`, signatures, tokens, signed answers) and asks (who
    /// placed which order); nil: the shop serves no `GET /orders/{id}`.
    public var services: ShopServices?
    /// Checks buyer tokens on `GET /orders/{id}` (identity linking); nil: the shop offers no identity linking.
    public var identity: IdentityGuard?

    public init(publisher: ProfilePublisher, orders: OrderStore) {
        self.publisher = publisher
        self.orders = orders
    }

    /// Registers the shop's routes on `router`.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        let maxAge = profileMaxAge
        let publisher = self.publisher
        let serve: @Sendable (Request, UCPVersion?) -> Response = { request, version in
            guard let (bytes, etag) = publisher.rendered(version) else {
                return Response(status: .notFound)
            }
            var headers: HTTPFields = [:]
            headers[.cacheControl] = "public, max-age=\(maxAge)"
            headers[.eTag] = etag
            if let match = request.headers[.ifNoneMatch],
                match.split(separator: ",").contains(where: {
                    $0.trimmingCharacters(in: .whitespaces) == etag || $0.trimmingCharacters(in: .whitespaces) == "*"
                })
            {
                return Response(status: .notModified, headers: headers)
            }
            return .json(bytes, headers: headers)
        }
        router.get("/.well-known/ucp") { request, _ in serve(request, nil) }
        // The leaf profiles `supported_versions` points at, one per older release the shop speaks.
        router.get("/.well-known/ucp/:version") { request, context -> Response in
            guard let version = context.parameters.get("version").flatMap(UCPVersion.init(rawValue:)) else {
                return Response(status: .notFound)
            }
            return serve(request, version)
        }
        guard let services else { return }
        let server = self
        router.get("/orders/:id") { request, context -> Response in
            let id = context.parameters.get("id") ?? ""
            return try await services.gateway.handle(request, .orderGet) { call in
                try await server.order(id, call: call, services: services)
            }
        }
    }

    /// `GET /orders/{id}` once the gateway let the call in (a token it validated is `call.buyer`; a signature it
    /// verified is `call.signed`). UCP answers business outcomes, not-found and refusals included, with HTTP 200 and
    /// an error body; an order the caller may not read is `not_found`, as an unknown one is (its existence is not
    /// revealed).
    /// - A buyer: the orders that customer placed with a token (`CustomerOrders`), or, for an order no customer
    ///   placed with a token, whose checkout's buyer email is the customer's.
    /// - A platform's signed request: the orders that platform placed (`PlatformOrders`), with or without a token
    ///   (a buyer token never narrows what the platform itself may read).
    /// - Anyone else (only without identity linking: the gateway answers 401 otherwise): `unauthorized`.
    func order(_ id: String, call: ShoppingCall, services: ShopServices) async throws -> ShoppingReply {
        let notFound = ShoppingReply.error(call, code: "not_found", "Order not found.")
        guard call.buyer != nil || call.signed else {
            return .error(
                call,
                code: "unauthorized",
                "Reading an order needs a request signed by the platform that placed it"
                    + (identity == nil ? "" : ", or a buyer token with \(IdentityScope.orderRead)")
            )
        }
        guard let bytes = await orders.get(id) else { return notFound }
        if let buyer = call.buyer {
            let owner = try await services.customerOrders.customer(of: id)
            if owner == buyer.customerID { return ShoppingReply(body: bytes) }
            if owner == nil, let email = identity?.customer(id: buyer.customerID)?.email,
                let placedBy = try buyerEmail(of: bytes, database: services.database),
                placedBy.caseInsensitiveCompare(email) == .orderedSame
            {
                return ShoppingReply(body: bytes)
            }
        }
        if call.signed, let platform = call.platform,
            services.platformOrders.platform(of: id) == platform.profileURL
        {
            return ShoppingReply(body: bytes)
        }
        return notFound
    }

    /// The buyer email of the checkout session that placed the order `bytes` (its `checkout_id`); nil when none.
    private func buyerEmail(of bytes: [UInt8], database: ShopDatabase) throws -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            let checkoutID = object["checkout_id"] as? String
        else { return nil }
        return try CheckoutStore(database: database).session(checkoutID)?.checkout.buyer?.email
    }
}
