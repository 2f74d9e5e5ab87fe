import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The test-control API on `ucpsim serve`: create orders and apply transitions over HTTP; each accepted call
/// answers with the new snapshot and triggers its webhook.
public struct ControlAPI: Sendable {
    /// Where webhooks go; nil records the snapshot without sending.
    public let target: RequestTarget?
    /// When set, every `/testing/*` call needs `Simulation-Secret: <secret>` (403 otherwise).
    public let secret: String?
    public let book: OrderBook
    /// Delivers the webhooks, an order's snapshots in order, with retries.
    public let engine: DeliveryEngine
    public let orders: OrderStore
    /// Takes the events the API makes itself (`POST /testing/interactions`); the default drops them.
    public let publishEvents: EventPublisher

    public init(
        target: RequestTarget?,
        secret: String?,
        book: OrderBook,
        engine: DeliveryEngine,
        orders: OrderStore,
        publishEvents: @escaping EventPublisher = { _ in }
    ) {
        self.target = target
        self.secret = secret
        self.book = book
        self.engine = engine
        self.orders = orders
        self.publishEvents = publishEvents
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
            let placed: Order
            do throws(TransitionError) {
                placed = try await book.place(order.spec)
            } catch {
                if error.reason == OrderBook.existsReason {
                    throw APIError(.conflict, code: "order_exists", error.description, path: "$.id")
                }
                throw APIError(.badRequest, code: "invalid_request", error.description)
            }
            return try await self.publish(placed, status: .created, previous: nil)
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
        let changed: (order: Order, previous: OrderStateMachine)?
        do throws(TransitionError) {
            changed = try await book.change(id, by: transition)
        } catch {
            throw APIError(.conflict, code: "transition_refused", error.description)
        }
        guard let changed else { throw APIError(.notFound, code: "not_found", "no order \(id)") }
        return try await publish(changed.order, status: .ok, previous: changed.previous)
    }

    /// Queues the snapshot's webhook durably, stores the snapshot, and answers with it. When the webhook cannot be
    /// made durable (the outbox cannot be written: a full disk) the call answers 503 `outbox_unavailable`, nothing
    /// is sent for it, and the change is taken back (the order returns to `previous`, or a placement is undone), so
    /// the same call can be made again once the disk has room.
    private func publish(_ order: Order, status: HTTPResponse.Status, previous: OrderStateMachine?) async throws
        -> Response
    {
        let document = OrderDocument(order)
        let bytes = document.bytes
        let event = WebhookEvent(timestamp: Int64(Date().timeIntervalSince1970), orderID: order.id, body: bytes)
        var headers: HTTPFields = [:]
        headers[Self.webhookIDField] = event.webhookID
        if let target {
            do {
                try await engine.submit([event], to: target)
            } catch {
                let withdrawn = await book.withdraw(order, restoring: previous)
                var answer = APIError(
                    .serviceUnavailable,
                    code: "outbox_unavailable",
                    "the event could not be made durable, so nothing was sent and "
                        + (withdrawn ? "the change was not made" : "a later change has already replaced it")
                        + ": \(error.message)"
                )
                answer.headers[.retryAfter] = "1"
                throw answer
            }
        } else {
            headers[Self.webhookNoteField] = "not sent: no webhook URL configured"
        }
        await orders.put(document)
        return .json(bytes, status: status, headers: headers)
    }

    /// Hands the interaction's event to `publishEvents` (with the order's current snapshot, when the shop has one)
    /// and answers 202 with its id and type. When the event cannot be made durable the call answers 503
    /// `outbox_unavailable`, like an order change.
    private func publish(_ interaction: AgentInteraction) async throws -> Response {
        var document: OrderDocument?
        if let id = interaction.order, let bytes = await orders.get(id) {
            document = try? OrderDocument(bytes: bytes, source: "order \(id)")
        }
        let event = interaction.event(occurredAt: Int64(Date().timeIntervalSince1970), document: document)
        do {
            try await publishEvents([event])
        } catch {
            var answer = APIError(
                .serviceUnavailable,
                code: "outbox_unavailable",
                "the event could not be made durable, so nothing was sent: \((error as? UCPSimError)?.message ?? "\(error)")"
            )
            answer.headers[.retryAfter] = "1"
            throw answer
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(["id": event.id, "type": event.type.rawValue])) ?? Data()
        return .json([UInt8](body), status: .accepted)
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

    private static func field(_ name: String) -> HTTPField.Name {
        guard let field = HTTPField.Name(name) else { preconditionFailure("\(name) is not a field name") }
        return field
    }
}
