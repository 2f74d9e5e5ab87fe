import Foundation

/// What the order status is derived from, read from an `Order` or, as far as it goes, from any order document's
/// JSON: one derivation for both.
struct OrderFacts: Equatable {
    struct Line: Equatable {
        var total: Int
        var fulfilled: Int
    }

    /// A parcel: its `shipped` event's id and the type of the latest carrier event about it.
    struct Parcel: Equatable {
        var id: String
        var tracking: String?
        var state: String
    }

    var lines: [Line] = []
    /// A `processing` fulfillment event exists.
    var processing = false
    /// In shipping order.
    var parcels: [Parcel] = []
    /// Units of completed `return` adjustments.
    var returnedUnits = 0
    /// A `return` adjustment is pending.
    var returnPending = false

    /// Parcel states no delivery follows.
    static let deadEnds: Set<String> = ["undeliverable", "returned_to_sender"]

    init(_ order: Order) {
        lines = order.lineItems.map { Line(total: $0.quantity.total, fulfilled: $0.quantity.fulfilled) }
        for event in order.fulfillment.events {
            take(event: event.type, id: event.id, tracking: event.trackingNumber)
        }
        for adjustment in order.adjustments {
            take(
                adjustment: adjustment.type,
                status: adjustment.status,
                quantities: adjustment.lineItems?.map(\.quantity) ?? []
            )
        }
    }

    /// Reads what it can; anything missing or of another shape is left out.
    init(json bytes: [UInt8]) {
        guard let order = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else { return }
        for case let line as [String: Any] in order["line_items"] as? [Any] ?? [] {
            if let quantity = line["quantity"] as? [String: Any], let total = Self.integer(quantity["total"]) {
                lines.append(Line(total: total, fulfilled: Self.integer(quantity["fulfilled"]) ?? 0))
            } else if let status = line["status"] as? String {
                // Only the line's derived status: one unit stands for it (a partial line, one of two).
                switch status {
                case "removed": lines.append(Line(total: 0, fulfilled: 0))
                case "fulfilled": lines.append(Line(total: 1, fulfilled: 1))
                case "partial": lines.append(Line(total: 2, fulfilled: 1))
                default: lines.append(Line(total: 1, fulfilled: 0))
                }
            }
        }
        let fulfillment = order["fulfillment"] as? [String: Any]
        for case let event as [String: Any] in fulfillment?["events"] as? [Any] ?? [] {
            guard let type = event["type"] as? String else { continue }
            take(event: type, id: event["id"] as? String ?? "", tracking: event["tracking_number"] as? String)
        }
        for case let adjustment as [String: Any] in order["adjustments"] as? [Any] ?? [] {
            guard let type = adjustment["type"] as? String, let status = adjustment["status"] as? String else {
                continue
            }
            let quantities = (adjustment["line_items"] as? [Any] ?? []).compactMap { line in
                Self.integer((line as? [String: Any])?["quantity"])
            }
            take(adjustment: type, status: status, quantities: quantities)
        }
    }

    /// A fulfillment event: `shipped` starts a parcel; a later carrier event moves the latest parcel with the same
    /// tracking number (every carrier event repeats its parcel's), or the latest parcel when it has none.
    private mutating func take(event type: String, id: String, tracking: String?) {
        switch type {
        case "processing":
            processing = true
        case "shipped":
            parcels.append(Parcel(id: id, tracking: tracking, state: type))
        default:
            if let index = Self.parcel(tracking: tracking, in: parcels) {
                parcels[index].state = type
            } else if type != "canceled" {
                // A carrier event with no shipment before it (a hand-written document): a parcel of its own.
                parcels.append(Parcel(id: id, tracking: tracking, state: type))
            }
        }
    }

    private mutating func take(adjustment type: String, status: String, quantities: [Int]) {
        guard type == "return" else { return }
        if status == "completed" { returnedUnits += quantities.reduce(0) { $0 + abs($1) } }
        if status == "pending" { returnPending = true }
    }

    /// The index of the parcel a carrier event with `tracking` is about.
    static func parcel(tracking: String?, in parcels: [Parcel]) -> Int? {
        guard let tracking else { return parcels.indices.last }
        return parcels.lastIndex { $0.tracking == tracking }
    }

    /// A number from JSON as an integer, nil for anything else.
    private static func integer(_ value: Any?) -> Int? {
        (value as? NSNumber)?.intValue
    }
}
