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

    public init(target: RequestTarget?, secret: String?, book: OrderBook, engine: DeliveryEngine, orders: OrderStore) {
        self.target = target
        self.secret = secret
        self.book = book
        self.engine = engine
        self.orders = orders
    }

    /// Registers the routes.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/testing/orders") { request, _ in
            try await self.guarded(request) { body in
                let spec = try Self.orderSpec(body)
                let order: Order
                do {
                    order = try await book.place(spec)
                } catch let error as TransitionError {
                    return Self.error(error.reason.contains("exists") ? .conflict : .badRequest, error.description)
                }
                return await self.publish(order, status: .created)
            }
        }
        router.post("/testing/orders/:id/:transition") { request, context in
            let id = context.parameters.get("id") ?? ""
            let name = context.parameters.get("transition") ?? ""
            return try await self.guarded(request) { body in
                let transition: OrderTransition
                do {
                    transition = try OrderTransition.make(name: name, parameters: body)
                } catch let error as ParameterError {
                    return Self.error(OrderTransition.names.contains(name) ? .badRequest : .notFound, error.description)
                }
                return await self.apply(transition, to: id)
            }
        }
        // The UCP conformance suite's convention: ship everything unshipped.
        router.post("/testing/simulate-shipping/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await self.guarded(request, requireSecret: true) { _ in
                await self.apply(.ship(lines: nil, carrier: nil, trackingNumber: nil, trackingURL: nil), to: id)
            }
        }
    }

    private func apply(_ transition: OrderTransition, to id: String) async -> Response {
        do {
            guard let order = try await book.apply(transition, to: id) else {
                return Self.error(.notFound, "no order \(id)")
            }
            return await publish(order, status: .ok)
        } catch {
            return Self.error(.conflict, error.description)
        }
    }

    /// Stores the snapshot, queues its webhook durably, and answers with the snapshot.
    private func publish(_ order: Order, status: HTTPResponse.Status) async -> Response {
        let document = OrderDocument(order)
        let bytes = document.bytes
        await orders.put(document)
        let event = WebhookEvent(timestamp: Int64(Date().timeIntervalSince1970), orderID: order.id, body: bytes)
        var headers: HTTPFields = [:]
        headers[HTTPField.Name("UCPSim-Webhook-Id")!] = event.webhookID
        if let target {
            do {
                try await engine.submit([event], to: target)
            } catch {
                return Self.error(.internalServerError, "the event could not be queued: \(error.message)")
            }
        } else {
            headers[HTTPField.Name("UCPSim-Webhook")!] = "not sent: no webhook URL configured"
        }
        return .json(bytes, status: status, headers: headers)
    }

    private func guarded(
        _ request: Request,
        requireSecret: Bool = false,
        _ body: ([String: Any]) async throws -> Response
    ) async throws -> Response {
        if secret != nil || requireSecret {
            guard let secret, let given = request.headers[HTTPField.Name("Simulation-Secret")!], given == secret else {
                return Self.error(.forbidden, "missing or wrong Simulation-Secret")
            }
        }
        var request = request
        let buffer = try await request.collectBody(upTo: 1024 * 1024)
        let bytes = [UInt8](buffer: buffer)
        if bytes.isEmpty { return try await body([:]) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            return Self.error(.badRequest, "the body must be a JSON object")
        }
        return try await body(object)
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let bytes = (try? JSONSerialization.data(withJSONObject: ["error": message], options: [.sortedKeys])) ?? Data()
        return .json([UInt8](bytes), status: status)
    }

    /// An order spec from a control-API body (the same fields as a scenario's `orders` entry).
    static func orderSpec(_ body: [String: Any]) throws -> OrderSpec {
        guard let items = body["items"] as? [[String: Any]], !items.isEmpty else {
            throw HTTPError(.badRequest, message: "`items` must be a non-empty list of {sku, title, price, quantity}")
        }
        var lines: [OrderSpec.Line] = []
        for item in items {
            guard let sku = item["sku"] as? String, let price = item["price"] as? Int else {
                throw HTTPError(
                    .badRequest,
                    message: "each item needs a string `sku` and an integer `price` (minor units)"
                )
            }
            lines.append(
                .init(
                    id: item["id"] as? String,
                    sku: sku,
                    title: item["title"] as? String ?? sku,
                    price: price,
                    quantity: item["quantity"] as? Int ?? 1
                )
            )
        }
        var destination = OrderSpec.defaultDestination
        if let address = body["destination"] as? [String: String] {
            destination = .init(
                streetAddress: address["street_address"],
                addressLocality: address["address_locality"],
                addressRegion: address["address_region"],
                postalCode: address["postal_code"],
                addressCountry: address["address_country"]
            )
        }
        return OrderSpec(
            id: body["id"] as? String ?? "",
            label: body["label"] as? String,
            currency: body["currency"] as? String ?? "USD",
            lines: lines,
            destination: destination,
            shipping: body["shipping"] as? Int ?? 0
        )
    }
}
