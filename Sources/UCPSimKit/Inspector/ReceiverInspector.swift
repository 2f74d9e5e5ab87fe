import Foundation
import HTTPTypes
import Hummingbird

/// `ucpsim listen`'s inspector: the receiver-side simulator view. The page at `GET /` (`ReceiverPage`), and behind
/// the Bearer token the JSON API it reads: `GET /v1/received` (newest first, `verdict`, `cursor`, `limit`),
/// `GET /v1/received/{id}`, and `GET /v1/events/stream` (Server-Sent Events, one `received` per webhook).
///
/// Every POST still goes to the verifier, on these paths too: a webhook URL may be anything.
public struct ReceiverInspector: Sendable {
    public let receiver: ReferenceReceiver
    public let token: BearerToken

    public init(receiver: ReferenceReceiver, token: BearerToken) {
        self.receiver = receiver
        self.token = token
    }

    /// The most records one page of `GET /v1/received` holds, and how many it holds by default.
    public static let maxLimit = 500
    public static let defaultLimit = 50

    /// Registers the page and the API on a router the receiver's own routes (`ReferenceReceiver.addRoutes`) are on.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        let page = ReceiverPage.page
        router.get("/") { _, _ in page.response() }
        let v1 = router.group("/v1").add(middleware: BearerTokenMiddleware(token: token, source: "listen --api-token"))
        v1.get("/received") { request, _ -> Response in
            try list(request)
        }
        v1.get("/received/:id") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            guard let record = receiver.record(id: id) else {
                throw APIError(
                    .notFound,
                    code: "not_found",
                    "no received webhook \(id) (the log keeps the last \(receiver.logCapacity))"
                )
            }
            return .json(record.inspectorJSON)
        }
        v1.get("/events/stream") { request, _ -> Response in
            try receiver.events.response(to: request)
        }
        for path in ["/received", "/received/:id", "/events/stream"] {
            for method in [HTTPRequest.Method.put, .patch, .delete] {
                v1.on(RouterPath(path), method: method) { request, _ -> Response in
                    var error = APIError(
                        .methodNotAllowed,
                        code: "method_not_allowed",
                        "\(request.method.rawValue) is not allowed on \(request.uri.path); use GET"
                    )
                    error.headers[.allow] = "GET"
                    throw error
                }
            }
        }
        // Unknown /v1 paths: 404 after the token check, so without the token they too answer 401.
        for method in [HTTPRequest.Method.get, .head, .put, .patch, .delete] {
            v1.on("**", method: method) { request, _ -> Response in
                throw APIError(.notFound, code: "not_found", "no route \(request.method.rawValue) \(request.uri.path)")
            }
        }
        // Hummingbird's router does not fall back from a path it knows to `/**`: POST goes to the verifier on these
        // paths too, without the token (webhook senders have none).
        for path in ["/v1/received", "/v1/received/:id", "/v1/events/stream", "/v1/**"] {
            router.post(RouterPath(path), use: receiver.webhookHandler)
        }
    }

    /// `GET /v1/received`: strict query (`verdict`, `cursor`, `limit`; anything else is 400).
    private func list(_ request: Request) throws(APIError) -> Response {
        var verdict: Bool?
        var before: Int?
        var limit = Self.defaultLimit
        var seen: Set<String> = []
        for (name, value) in request.uri.queryParameters {
            let name = String(name)
            let value = String(value)
            guard seen.insert(name).inserted else { throw Self.invalid(name, "is given more than once") }
            switch name {
            case "verdict":
                switch value {
                case "verified": verdict = true
                case "rejected": verdict = false
                default: throw Self.invalid(name, "must be verified or rejected, got \(Identifier.quoted(value))")
                }
            case "cursor":
                guard value.hasPrefix("c"), let sequence = Int(value.dropFirst()), sequence > 0 else {
                    throw Self.invalid(name, "is not a cursor this API gave (next_cursor of the previous page)")
                }
                before = sequence
            case "limit":
                guard let number = Int(value), (1...Self.maxLimit).contains(number) else {
                    throw Self.invalid(name, "must be a whole number from 1 to \(Self.maxLimit)")
                }
                limit = number
            default:
                throw Self.invalid(name, "is not a parameter of this API (verdict, cursor, limit)")
            }
        }
        let page = receiver.page(before: before, limit: limit) { record in
            verdict.map { $0 == record.verified } ?? true
        }
        let next: Any = page.more ? "c\(page.records.last?.sequence ?? 0)" : NSNull()
        let object: [String: Any] = ["received": page.records.map(\.inspectorObject), "next_cursor": next]
        return .json(ReceivedWebhook.json(object))
    }

    private static func invalid(_ name: String, _ problem: String) -> APIError {
        APIError(.badRequest, code: "invalid_request", "query parameter \(name) \(problem)", path: "$.\(name)")
    }
}

extension ReceivedWebhook {
    /// True when the webhook verified.
    public var verified: Bool {
        if case .success = verdict { return true }
        return false
    }

    /// The key that verified it: `{"kid", "profile"}` (`ucp`) or `{"secret": "#2"}` (HMAC dialects, the matching
    /// secret's position: never the secret); nil when it did not verify.
    public var key: [String: String]? {
        guard case .success(let value) = verdict else { return nil }
        if dialect == .ucp { return ["kid": value, "profile": profile ?? ""] }
        return ["secret": value]
    }

    /// The record as the inspector's API shows it (`Received`).
    public var inspectorObject: [String: Any] {
        func orNull(_ value: Any?) -> Any { value ?? NSNull() }
        var failure: Any = NSNull()
        if case .failure(let reason) = verdict {
            failure = [
                "reason": reason.reason.rawValue,
                "code": reason.reason.errorCode,
                "detail": reason.detail,
                "diagnostic": orNull(reason.diagnostic),
            ]
        }
        return [
            "id": id,
            "received_at": receivedAt.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)),
            "method": method,
            "url": url,
            "dialect": orNull(dialect?.rawValue),
            "event_id": orNull(eventID),
            "event_type": orNull(eventType),
            "order_id": orNull(orderID),
            "verified": verified,
            "status": status,
            "duplicate": duplicate,
            "key": orNull(key),
            "failure": failure,
            "headers": headers.fields.map { ["name": $0.name, "value": $0.value] },
            "body": String(decoding: body, as: UTF8.self),
            "body_size": bodyLength,
            "body_truncated": bodyTruncated,
        ]
    }

    /// `inspectorObject` as JSON bytes (the API's answer and the `received` event's data).
    public var inspectorJSON: [UInt8] { Self.json(inspectorObject) }

    static func json(_ object: Any) -> [UInt8] {
        [UInt8](
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
                ?? Data()
        )
    }
}
