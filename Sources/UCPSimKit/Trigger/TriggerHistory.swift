import Foundation

/// The smallest order history that produces an event of a type (`ucpsim trigger`): the order is placed, and changed
/// once more when the type needs it; the events of the last change that have the type are the ones delivered.
public enum TriggerHistory {
    /// The order `trigger` places: two lines, a shipping fee, the default destination.
    public static func spec(id: String) -> OrderSpec {
        OrderSpec(
            id: id,
            lines: [
                .init(sku: "mug-blue", title: "Blue Ceramic Mug", price: 1500, quantity: 2),
                .init(sku: "tea-sencha", title: "Sencha Green Tea", price: 900, quantity: 1),
            ],
            shipping: 499
        )
    }

    /// Plays the history for `type` on `book` (a new order `id`) at `now` and returns the events to deliver: those
    /// of `type` from the last change.
    public static func events(for type: EventType, orderID id: String, book: OrderBook, now: Int64)
        async throws(UCPSimError) -> [OrderEvent]
    {
        let placed: Order
        do {
            placed = try await book.place(spec(id: id))
        } catch {
            throw UCPSimError(.software, "the trigger's order could not be placed: \(error.description)")
        }
        switch type {
        case .orderCreated, .paymentStatusChanged:
            // A placement is `order.created`, and `payment.status_changed` to AUTHORIZED.
            return OrderChange.events(before: nil, after: placed, transition: nil, occurredAt: now).filter {
                $0.type == type
            }
        case .orderUpdated, .fulfillmentStatusChanged:
            // Processing is the first change after it: `order.updated`, and the fulfillment to PROCESSING.
            let changed: (order: Order, previous: OrderStateMachine)?
            do {
                changed = try await book.change(id, by: .process)
            } catch {
                throw UCPSimError(.software, "the trigger's order could not be processed: \(error.description)")
            }
            guard let changed else { throw UCPSimError(.software, "the trigger's order is gone") }
            return OrderChange.events(
                before: placed,
                after: changed.order,
                transition: .process,
                occurredAt: now
            ).filter { $0.type == type }
        case .agentInteraction:
            let interaction = AgentInteraction(
                agent: "ucpsim-trigger",
                kind: "message",
                details: ["text": "sent by ucpsim trigger"],
                order: id
            )
            return [interaction.event(occurredAt: now, document: OrderDocument(placed))]
        }
    }
}
