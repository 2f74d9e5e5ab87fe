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

/// The shop's HTTP surface: the business profile and the current order snapshots.
public struct ShopServer: Sendable {
    public let publisher: ProfilePublisher
    public let orders: OrderStore
    /// `Cache-Control` max-age of the profile, in seconds.
    public var profileMaxAge = 300
    /// Signs `GET /orders/{id}` answers; nil: unsigned.
    public var signing: ResponseSigning?
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
        let orders = self.orders
        let notFound = Self.notFoundBody(version: publisher.profile.version)
        let signing = self.signing
        router.get("/orders/:id") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            // UCP answers business outcomes, not-found included, with HTTP 200 and an error message body.
            let body = await orders.get(id) ?? notFound
            return signing?.response(status: .ok, body: body) ?? .json(body)
        }
    }

    /// The spec's not-found error body (`error_response.json`).
    static func notFoundBody(version: UCPVersion) -> [UInt8] {
        let body: [String: Any] = [
            "ucp": [
                "version": version.rawValue,
                "status": "error",
                "capabilities": ["dev.ucp.shopping.order": [["version": version.rawValue]]],
            ],
            "messages": [
                ["type": "error", "code": "not_found", "severity": "unrecoverable", "content": "Order not found."]
            ],
        ]
        return [UInt8]((try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data())
    }
}
