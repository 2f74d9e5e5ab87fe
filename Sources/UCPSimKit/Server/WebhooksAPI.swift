import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The subscription management API on `ucpsim serve`, behind a Bearer token: `POST /v1/webhooks` (201, with the
/// secret, this once), `GET /v1/webhooks`, `GET /v1/webhooks/{id}`, `PATCH /v1/webhooks/{id}` (a new secret is in
/// that answer only), `DELETE /v1/webhooks/{id}` (204). Errors are `APIError`s.
public struct WebhooksAPI: Sendable {
    public let registry: SubscriptionRegistry
    public let token: BearerToken

    public init(registry: SubscriptionRegistry, token: BearerToken) {
        self.registry = registry
        self.token = token
    }

    /// The largest request body, in bytes (a subscription is a few hundred).
    public static let bodyLimit = 64 * 1024

    /// Registers the routes; every `/v1/*` request, unknown paths included, needs the token first.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        let v1 = router.group("/v1").add(middleware: BearerTokenMiddleware(token: token))
        v1.post("/webhooks") { request, _ -> Response in
            let bytes = try await Self.body(of: request)
            let new: NewSubscription
            do throws(FieldError) {
                new = try CreateSubscriptionRequest.decode(json: bytes)
            } catch {
                throw APIError.invalid(error)
            }
            let created = try await Self.answering { () async throws(SubscriptionError) in
                try await registry.add(new, origin: .api)
            }
            return .json(created.subscription.json(secret: created.secret), status: .created)
        }
        v1.get("/webhooks") { _, _ -> Response in
            let all = try await Self.answering { () async throws(SubscriptionError) in try await registry.list() }
            return .json(Subscription.json(list: all))
        }
        v1.get("/webhooks/:id") { _, context -> Response in
            let id = Self.id(context)
            let found = try await Self.answering { () async throws(SubscriptionError) in try await registry.get(id) }
            guard let found else { throw Self.notFound(id) }
            return .json(found.json())
        }
        v1.patch("/webhooks/:id") { request, context -> Response in
            let id = Self.id(context)
            let bytes = try await Self.body(of: request)
            let changes: SubscriptionChanges
            do throws(FieldError) {
                changes = try UpdateSubscriptionRequest.decode(json: bytes)
            } catch {
                throw APIError.invalid(error)
            }
            let updated = try await Self.answering { () async throws(SubscriptionError) in
                try await registry.update(id, changes)
            }
            return .json(updated.subscription.json(secret: updated.secret))
        }
        v1.delete("/webhooks/:id") { _, context -> Response in
            let id = Self.id(context)
            try await Self.answering { () async throws(SubscriptionError) in try await registry.remove(id) }
            return Response(status: .noContent)
        }
        let routes: [(path: String, allowed: [HTTPRequest.Method])] = [
            ("/webhooks", [.get, .post]), ("/webhooks/:id", [.get, .patch, .delete]),
        ]
        for (path, methods) in routes {
            let allowed = methods.map(\.rawValue).joined(separator: ", ")
            for method in [HTTPRequest.Method.post, .put, .patch, .delete] where !methods.contains(method) {
                v1.on(RouterPath(path), method: method) { request, _ -> Response in
                    var error = APIError(
                        .methodNotAllowed,
                        code: "method_not_allowed",
                        "\(request.method.rawValue) is not allowed on \(request.uri.path); use \(allowed)"
                    )
                    error.headers[.allow] = allowed
                    throw error
                }
            }
        }
        // Unknown /v1 paths: 404 after the token check, so without it they too answer 401.
        for method in [HTTPRequest.Method.get, .head, .post, .put, .patch, .delete] {
            v1.on("**", method: method) { request, _ -> Response in
                throw APIError(.notFound, code: "not_found", "no route \(request.method.rawValue) \(request.uri.path)")
            }
        }
    }

    private static func id(_ context: BasicRequestContext) -> SubscriptionID {
        SubscriptionID(context.parameters.get("id") ?? "")
    }

    private static func notFound(_ id: SubscriptionID) -> APIError {
        APIError(.notFound, code: "not_found", "no subscription \(id)")
    }

    /// Runs a registry call and turns its error into the API's answer.
    private static func answering<T>(_ call: () async throws(SubscriptionError) -> T) async throws(APIError) -> T {
        do {
            return try await call()
        } catch {
            switch error.kind {
            case .invalid:
                throw APIError.invalid(error.field ?? FieldError(path: [], error.message))
            case .notFound:
                throw APIError(.notFound, code: "not_found", error.message)
            case .storage:
                var answer = APIError(.serviceUnavailable, code: "storage_unavailable", error.message)
                answer.headers[.retryAfter] = "1"
                throw answer
            }
        }
    }

    /// Reads the body, up to `bodyLimit` bytes.
    private static func body(of request: Request) async throws -> [UInt8] {
        var request = request
        do {
            return [UInt8](buffer: try await request.collectBody(upTo: bodyLimit))
        } catch is NIOTooManyBytesError {
            throw APIError.tooLarge(limit: bodyLimit)
        }
    }
}
