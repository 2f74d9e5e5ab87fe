import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The test-control API on `ucpsim serve`: create orders and apply transitions over HTTP; each accepted call
/// answers with the new snapshot and triggers its webhook. `GET /testing/orders/{id}` reads any order's latest
/// snapshot.
public struct ControlAPI: Sendable {
    /// When set, every `/testing/*` call needs `Simulation-Secret: <secret>` (403 otherwise).
    public let secret: String?
    public let book: OrderBook
    /// Publishes each change's events to every subscription that wants them (and `serve --webhook-url`).
    public let webhooks: WebhookPublisher

    public init(secret: String?, book: OrderBook, webhooks: WebhookPublisher) {
        self.secret = secret
        self.book = book
        self.webhooks = webhooks
    }

    /// The largest request body, in bytes.
    public static let bodyLimit = 1024 * 1024

    /// Registers the routes. Errors are `APIError`s: `{"code", "content", "path"?}` with the HTTP status.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/testing/orders") { request, _ in
            let bytes = try await self.body(of: request)
            let order: OrderRequest
            do throws(FieldError) {
                order = try OrderRequest.decode(json: bytes)
            } catch {
                throw APIError.invalid(error)
            }
            guard order.count == nil else {
                throw APIError.invalid(FieldError(path: [.key("count")], "is only for scenario files"))
            }
            // One order's change and its publication are one step (a generated id cannot be raced: it is new).
            return try await webhooks.serialized(order: order.spec.id) {
                let placed: Order
                do throws(TransitionError) {
                    placed = try await book.place(order.spec)
                } catch {
                    if error.reason == OrderBook.existsReason {
                        throw APIError(.conflict, code: "order_exists", error.description, path: "$.id")
                    }
                    throw APIError(.badRequest, code: "invalid_request", error.description)
                }
                return try await self.publish(placed, status: .created, previous: nil, transition: nil)
            }
        }
        router.post("/testing/orders/:id/:transition") { request, context in
            let id = context.parameters.get("id") ?? ""
            let name = context.parameters.get("transition") ?? ""
            let bytes = try await self.body(of: request)
            guard OrderTransition.names.contains(name) else {
                throw APIError(
                    .notFound,
                    code: "not_found",
                    "no transition \(name) (one of: \(OrderTransition.names.joined(separator: ", ")))"
                )
            }
            let transition: OrderTransition?
            do throws(FieldError) {
                transition = try OrderTransition.make(
                    name: name,
                    parameters: try TransitionParameters.decode(json: bytes)
                )
            } catch {
                throw APIError.invalid(error)
            }
            guard let transition else { throw APIError(.notFound, code: "not_found", "no transition \(name)") }
            return try await self.apply(transition, to: id)
        }
        // The simulator's back door: the latest snapshot of any order, whoever placed it (`GET /orders/{id}` answers
        // only the buyer and the platform that placed it).
        router.get("/testing/orders/:id") { request, context -> Response in
            let id = context.parameters.get("id") ?? ""
            _ = try await self.body(of: request)
            guard let bytes = await webhooks.orders.get(id) else {
                throw APIError(.notFound, code: "not_found", "no order \(id)")
            }
            return .json(bytes)
        }
        // The UCP conformance suite's convention: ship everything unshipped.
        router.post("/testing/simulate-shipping/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            _ = try await self.body(of: request, requireSecret: true)
            return try await self.apply(.ship(lines: nil, carrier: nil, trackingNumber: nil, trackingURL: nil), to: id)
        }
        router.post("/testing/interactions") { request, _ in
            let bytes = try await self.body(of: request)
            let interaction: AgentInteraction
            do throws(FieldError) {
                interaction = try AgentInteraction.decode(json: bytes)
            } catch {
                throw APIError.invalid(error)
            }
            return try await self.publish(interaction)
        }
        // Every control route takes POST only: other methods get 405 with `Allow`, not a bare 404.
        let paths = [
            "/testing/orders", "/testing/orders/:id/:transition", "/testing/simulate-shipping/:id",
            "/testing/interactions",
        ]
        for path in paths {
            for method in [HTTPRequest.Method.get, .put, .patch, .delete] {
                router.on(RouterPath(path), method: method) { request, _ -> Response in
                    var error = APIError(
                        .methodNotAllowed,
                        code: "method_not_allowed",
                        "\(request.method.rawValue) is not allowed on \(request.uri.path); use POST"
                    )
                    error.headers[.allow] = "POST"
                    throw error
                }
            }
        }
    }

    private func apply(_ transition: OrderTransition, to id: String) async throws -> Response {
        try await webhooks.serialized(order: id) {
            let changed: (order: Order, previous: OrderStateMachine)?
            do throws(TransitionError) {
                changed = try await book.change(id, by: transition)
            } catch {
                throw APIError(.conflict, code: "transition_refused", error.description)
            }
            guard let changed else { throw APIError(.notFound, code: "not_found", "no order \(id)") }
            return try await publish(changed.order, status: .ok, previous: changed.previous, transition: transition)
        }
    }

    /// Publishes the change's events (its deliveries durable and queued), stores the snapshot, and answers with
    /// it; `UCPSim-Webhook-Id` names the change's first event. When the deliveries cannot be made durable (the
    /// outbox cannot be written: a full disk) the call answers 503 `outbox_unavailable`, nothing is sent for it, and
    /// the change is taken back (the order returns to `previous`, or a placement is undone), so the same call can be
    /// made again once the disk has room.
    private func publish(
        _ order: Order,
        status: HTTPResponse.Status,
        previous: OrderStateMachine?,
        transition: OrderTransition?
    ) async throws -> Response {
        let events = OrderChange.events(
            before: previous?.order,
            after: order,
            transition: transition,
            occurredAt: Int64(Date().timeIntervalSince1970)
        )
        var headers: HTTPFields = [:]
        if let first = events.first { headers[Self.webhookIDField] = first.id }
        let deliveries: [Delivery]
        do {
            deliveries = try await webhooks.publish([events])
        } catch {
            let withdrawn = await book.withdraw(order, restoring: previous)
            throw Self.unavailable(
                "the event could not be made durable, so nothing was sent and "
                    + (withdrawn ? "the change was not made" : "a later change has already replaced it")
                    + ": \(error.message)"
            )
        }
        headers[Self.deliveriesField] = String(deliveries.count)
        if deliveries.isEmpty { headers[Self.webhookNoteField] = "not sent: no webhook URL or subscription wants it" }
        return .json(events.first?.document?.bytes ?? OrderDocument(order).bytes, status: status, headers: headers)
    }

    /// Publishes the interaction's event (with the order's current snapshot, when the shop has one) and answers 202
    /// with its id, type and how many deliveries it made. When they cannot be made durable the call answers 503
    /// `outbox_unavailable`, like an order change.
    private func publish(_ interaction: AgentInteraction) async throws -> Response {
        var document: OrderDocument?
        if let id = interaction.order, let bytes = await webhooks.orders.get(id) {
            document = try? OrderDocument(bytes: bytes, source: "order \(id)")
        }
        let event = interaction.event(occurredAt: Int64(Date().timeIntervalSince1970), document: document)
        let deliveries: [Delivery]
        do {
            deliveries = try await webhooks.publish([[event]])
        } catch {
            throw Self.unavailable("the event could not be made durable, so nothing was sent: \(error.message)")
        }
        struct Answer: Encodable {
            let id: String
            let type: String
            let deliveries: Int
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body =
            (try? encoder.encode(Answer(id: event.id, type: event.type.rawValue, deliveries: deliveries.count)))
            ?? Data()
        return .json([UInt8](body), status: .accepted)
    }

    private static func unavailable(_ message: String) -> APIError {
        var answer = APIError(.serviceUnavailable, code: "outbox_unavailable", message)
        answer.headers[.retryAfter] = "1"
        return answer
    }

    /// Checks `Simulation-Secret` and reads the body, up to `bodyLimit` bytes.
    private func body(of request: Request, requireSecret: Bool = false) async throws -> [UInt8] {
        if secret != nil || requireSecret {
            guard let secret, let given = request.headers[Self.secretField], given == secret else {
                throw APIError(.forbidden, code: "forbidden", "missing or wrong Simulation-Secret")
            }
        }
        var request = request
        do {
            return [UInt8](buffer: try await request.collectBody(upTo: Self.bodyLimit))
        } catch is NIOTooManyBytesError {
            throw APIError.tooLarge(limit: Self.bodyLimit)
        }
    }

    private static let secretField = field("Simulation-Secret")
    private static let webhookIDField = field("UCPSim-Webhook-Id")
    private static let webhookNoteField = field("UCPSim-Webhook")
    private static let deliveriesField = field("UCPSim-Deliveries")

    private static func field(_ name: String) -> HTTPField.Name {
        guard let field = HTTPField.Name(name) else { preconditionFailure("\(name) is not a field name") }
        return field
    }
}
