import Foundation
import Hummingbird

/// The shop's HTTP surface: the business profile and the current order snapshots.
public struct ShopServer: Sendable {
    public let profile: BusinessProfile
    public let orders: OrderStore
    /// `Cache-Control` max-age of the profile, in seconds.
    public var profileMaxAge = 300

    public init(profile: BusinessProfile, orders: OrderStore) {
        self.profile = profile
        self.orders = orders
    }

    /// Registers the shop's routes on `router`.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        let profileBytes = profile.json()
        let etag =
            "\"" + DigestAlgorithm.sha256.hash(profileBytes).prefix(12).map { String(format: "%02x", $0) }.joined()
            + "\""
        let maxAge = profileMaxAge
        router.get("/.well-known/ucp") { request, _ -> Response in
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
            return .json(profileBytes, headers: headers)
        }
        let orders = self.orders
        let notFound = Self.notFoundBody(version: profile.version)
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
