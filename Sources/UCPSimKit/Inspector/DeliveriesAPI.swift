import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The deliveries API on `ucpsim serve`, behind the same Bearer token as `/v1/webhooks`: `GET /v1/deliveries`
/// (filters, pages), `GET /v1/deliveries/{id}`, `POST /v1/deliveries/{id}/resend` and `/redeliver`, and
/// `GET /v1/events/stream` (Server-Sent Events). Answers come from the live index (`DeliveryInspector`); resends go
/// through the engine that holds the state directory.
public struct DeliveriesAPI: Sendable {
    public let inspector: DeliveryInspector
    public let engine: DeliveryEngine
    public let token: BearerToken

    public init(inspector: DeliveryInspector, engine: DeliveryEngine, token: BearerToken) {
        self.inspector = inspector
        self.engine = engine
        self.token = token
    }

    /// The largest request body, in bytes.
    public static let bodyLimit = 64 * 1024
    /// `limit`'s range and default.
    public static let limits = 1...500
    public static let defaultLimit = 50
    /// The query parameters `GET /v1/deliveries` takes.
    static let listParameters: Set<String> = ["status", "subscription", "order", "event_type", "cursor", "limit"]

    /// Registers the routes (under `/v1`, behind the token; unknown `/v1` paths stay `WebhooksAPI`'s 404).
    public func addRoutes(to router: Router<BasicRequestContext>) {
        let v1 = router.group("/v1").add(middleware: BearerTokenMiddleware(token: token))
        let api = self
        v1.get("/deliveries") { request, _ -> Response in try api.list(request) }
        v1.get("/deliveries/:id") { _, context -> Response in
            let entry = try api.entry(context)
            return .json(DeliveryJSON.encode(DeliveryJSON.detail(entry, body: inspector.body(of: entry))))
        }
        v1.post("/deliveries/:id/resend") { request, context -> Response in
            try await api.resend(request, context, redeliver: false)
        }
        v1.post("/deliveries/:id/redeliver") { request, context -> Response in
            try await api.resend(request, context, redeliver: true)
        }
        v1.get("/events/stream") { request, _ -> Response in try api.stream(request) }
        let routes: [(path: String, allowed: [HTTPRequest.Method])] = [
            ("/deliveries", [.get]), ("/deliveries/:id", [.get]), ("/deliveries/:id/resend", [.post]),
            ("/deliveries/:id/redeliver", [.post]), ("/events/stream", [.get]),
        ]
        for (path, methods) in routes {
            let allowed = methods.map(\.rawValue).joined(separator: ", ")
            for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] where !methods.contains(method) {
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
    }

    // MARK: Routes

    private func list(_ request: Request) throws -> Response {
        let query = try Self.query(request, allowed: Self.listParameters)
        let filter: DeliveryFilter
        do throws(FieldError) {
            filter = try DeliveryFilter(
                status: query["status"],
                subscription: query["subscription"],
                order: query["order"],
                eventType: query["event_type"]
            )
        } catch {
            throw APIError.invalid(error)
        }
        var limit = Self.defaultLimit
        if let text = query["limit"] {
            guard let value = Int(text), Self.limits.contains(value) else {
                throw APIError.invalid(
                    FieldError(path: [.key("limit")], "must be a whole number from 1 to \(Self.limits.upperBound)")
                )
            }
            limit = value
        }
        var cursor: UInt64?
        if let text = query["cursor"] {
            guard let value = Self.sequence(cursor: text) else {
                throw APIError.invalid(
                    FieldError(path: [.key("cursor")], "is not a next_cursor this API gave")
                )
            }
            cursor = value
        }
        let page = inspector.page(filter, after: cursor, limit: limit)
        let object: [String: Any] = [
            "deliveries": page.entries.map(DeliveryJSON.summary),
            "next_cursor": page.next.map { Self.cursor($0) as Any } ?? NSNull(),
        ]
        return .json(DeliveryJSON.encode(object))
    }

    private func entry(_ context: BasicRequestContext) throws(APIError) -> DeliveryInspector.Entry {
        let id = context.parameters.get("id") ?? ""
        guard let entry = inspector.entry(DeliveryID(id)) else {
            throw APIError(.notFound, code: "not_found", "no delivery \(id)")
        }
        return entry
    }

    private func resend(_ request: Request, _ context: BasicRequestContext, redeliver: Bool) async throws -> Response {
        var entry = try entry(context)
        let fields = try await Self.jsonObject(request, allowed: redeliver ? [] : ["webhook_url"])
        var target: RequestTarget?
        if let value = fields["webhook_url"] {
            guard let url = value as? String else {
                throw APIError.invalid(FieldError(path: [.key("webhook_url")], "must be a string"))
            }
            do {
                target = try RequestTarget(url)
            } catch {
                throw APIError.invalid(FieldError(path: [.key("webhook_url")], error.message))
            }
        }
        let id = entry.state.id
        switch entry.state.phase {
        case .pending:
            throw APIError(.conflict, code: "delivery_pending", "delivery \(id) is not final yet: it is on its way")
        case .delivered where redeliver:
            throw APIError(
                .conflict,
                code: "not_dead_letter",
                "delivery \(id) was delivered; only dead letters are redelivered (resend sends it again)"
            )
        case .delivered, .dead: break
        }
        let body: [UInt8]
        switch inspector.body(of: entry) {
        case .success(let bytes): body = bytes
        case .failure(let reason):
            throw APIError(.conflict, code: "body_unavailable", "delivery \(id) cannot be sent again: \(reason.reason)")
        }
        let queued: Int
        do {
            queued = try await engine.resend([entry.state.withBody(body)], to: target)
        } catch {
            var answer = APIError(.serviceUnavailable, code: "storage_unavailable", error.message)
            answer.headers[.retryAfter] = "1"
            throw answer
        }
        guard queued > 0 else {
            throw APIError(.conflict, code: "delivery_pending", "delivery \(id) is not final yet: it is on its way")
        }
        entry = inspector.entry(id) ?? entry
        return .json(DeliveryJSON.encode(DeliveryJSON.detail(entry, body: .success(body))), status: .accepted)
    }

    private func stream(_ request: Request) throws -> Response {
        _ = try Self.query(request, allowed: [])
        guard !inspector.events.isFinished else {
            throw APIError(.serviceUnavailable, code: "shutting_down", "the shop is stopping")
        }
        return try inspector.events.response(to: request)
    }

    // MARK: Input

    /// The query's parameters, strictly: each at most once, none but `allowed`.
    static func query(_ request: Request, allowed: Set<String>) throws(APIError) -> [String: String] {
        var parameters: [String: String] = [:]
        guard let query = request.uri.query, !query.isEmpty else { return parameters }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            }
            guard let name = decode(parts[0]), let value = parts.count > 1 ? decode(parts[1]) : "" else {
                throw APIError(.badRequest, code: "invalid_request", "the query is not percent-encoded correctly")
            }
            guard allowed.contains(name) else {
                let known = allowed.sorted().joined(separator: ", ")
                throw APIError.invalid(
                    FieldError(
                        path: [.key(name)],
                        allowed.isEmpty ? "is not a parameter here (none are)" : "is not a parameter (known: \(known))"
                    )
                )
            }
            guard parameters.updateValue(value, forKey: name) == nil else {
                throw APIError.invalid(FieldError(path: [.key(name)], "is given twice"))
            }
        }
        return parameters
    }

    /// The body as a JSON object whose keys are all in `allowed`; an empty body is an empty object.
    static func jsonObject(_ request: Request, allowed: Set<String>) async throws -> [String: Any] {
        var request = request
        let bytes: [UInt8]
        do {
            bytes = [UInt8](buffer: try await request.collectBody(upTo: bodyLimit))
        } catch is NIOTooManyBytesError {
            throw APIError.tooLarge(limit: bodyLimit)
        }
        if bytes.allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) }) { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw APIError.invalid(FieldError(path: [], "must be a JSON object"))
        }
        for key in object.keys.sorted() where !allowed.contains(key) {
            throw APIError.invalid(FieldError(path: [.key(key)], "is not a field here"))
        }
        return object
    }

    /// The opaque cursor of a listing position.
    static func cursor(_ sequence: UInt64) -> String { "c" + String(sequence, radix: 36) }

    /// The position a cursor names; nil when it is not one.
    static func sequence(cursor: String) -> UInt64? {
        guard cursor.hasPrefix("c"), cursor.count > 1, cursor.count < 16 else { return nil }
        return UInt64(cursor.dropFirst(), radix: 36)
    }
}
