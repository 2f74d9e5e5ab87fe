import Foundation
import Hummingbird
import Synchronization

/// The profile the shop currently publishes; swappable, so keys can rotate while the shop runs.
public final class ProfilePublisher: Sendable {
    private struct Published {
        let profile: BusinessProfile
        let bytes: [UInt8]
        let etag: String
    }

    private let current: Mutex<Published>

    public init(_ profile: BusinessProfile) {
        current = Mutex(Self.render(profile))
    }

    /// The published profile.
    public var profile: BusinessProfile { current.withLock { $0.profile } }

    /// Publishes a new key set under the same URL (a rotation).
    public func publish(keys: [JWK]) {
        let old = profile
        let next = BusinessProfile(baseURL: old.baseURL, keys: keys, version: old.version)
        current.withLock { $0 = Self.render(next) }
    }

    fileprivate var rendered: (bytes: [UInt8], etag: String) { current.withLock { ($0.bytes, $0.etag) } }

    private static func render(_ profile: BusinessProfile) -> Published {
        let bytes = profile.json()
        let etag =
            "\"" + DigestAlgorithm.sha256.hash(bytes).prefix(12).map { String(format: "%02x", $0) }.joined() + "\""
        return Published(profile: profile, bytes: bytes, etag: etag)
    }
}

/// The shop's HTTP surface: the business profile and the current order snapshots.
public struct ShopServer: Sendable {
    public let publisher: ProfilePublisher
    public let orders: OrderStore
    /// `Cache-Control` max-age of the profile, in seconds.
    public var profileMaxAge = 300

    public init(publisher: ProfilePublisher, orders: OrderStore) {
        self.publisher = publisher
        self.orders = orders
    }

    /// Registers the shop's routes on `router`.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        let maxAge = profileMaxAge
        let publisher = self.publisher
        router.get("/.well-known/ucp") { request, _ -> Response in
            let (bytes, etag) = publisher.rendered
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
        let orders = self.orders
        let notFound = Self.notFoundBody(version: publisher.profile.version)
        router.get("/orders/:id") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            if let snapshot = await orders.get(id) { return .json(snapshot) }
            // UCP answers business outcomes, not-found included, with HTTP 200 and an error message body.
            return .json(notFound)
        }
    }

    /// The spec's not-found error body (`error_response.json`).
    static func notFoundBody(version: String) -> [UInt8] {
        let body: [String: Any] = [
            "ucp": [
                "version": version,
                "status": "error",
                "capabilities": ["dev.ucp.shopping.order": [["version": version]]],
            ],
            "messages": [
                ["type": "error", "code": "not_found", "severity": "unrecoverable", "content": "Order not found."]
            ],
        ]
        return [UInt8]((try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data())
    }
}
