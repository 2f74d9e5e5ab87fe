import Foundation

/// The pieces the HMAC dialects build their bodies from: an event's `data` object, read tolerantly from the order
/// snapshot (a fixture may be any valid order: what it lacks is null, never a crash), and the deterministic JSON,
/// time and money text they are written in.
enum EventPayload {
    /// The `data` object of the `ucp-hmac` envelope (and of `standard-webhooks` for events other than the order's).
    ///
    /// - `order.created` / `order.updated`: `order_id`, `status`, `customer_info`, `items`, `total_amount`,
    ///   `shipping_address`;
    /// - `fulfillment.status_changed`: `fulfillment_id`, `order_id`, `new_status`;
    /// - `payment.status_changed`: `order_id`, `new_status`;
    /// - `agent.interaction_event`: `agent_id`, `kind`, `details`, and `order_id` when there is an order.
    static func data(for event: OrderEvent) -> [String: Any] {
        let order = event.document.flatMap(Self.object(of:)) ?? [:]
        let orderID: Any = event.orderID ?? event.document?.id ?? NSNull()
        switch event.type {
        case .orderCreated, .orderUpdated:
            let status: String? =
                if case .order(let status) = event.subject { status } else { nil }
            return orderSummary(order, orderID: orderID, status: status)
        case .fulfillmentStatusChanged:
            guard case .fulfillment(let id, let status) = event.subject else {
                return ["fulfillment_id": NSNull(), "order_id": orderID, "new_status": NSNull()]
            }
            return ["fulfillment_id": id, "order_id": orderID, "new_status": status]
        case .paymentStatusChanged:
            let status: Any =
                if case .payment(let status) = event.subject { status } else { NSNull() }
            return ["order_id": orderID, "new_status": status]
        case .agentInteraction:
            var data: [String: Any] = ["agent_id": NSNull(), "kind": NSNull(), "details": [String: String]()]
            if case .interaction(let agentID, let kind, let details) = event.subject {
                data = ["agent_id": agentID, "kind": kind, "details": details]
            }
            if let id = event.orderID ?? event.document?.id { data["order_id"] = id }
            return data
        }
    }

    /// The order's JSON object, or nil when the bytes are not one.
    static func object(of document: OrderDocument) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(document.bytes))) as? [String: Any]
    }

    /// An order event's summary: the line items and total as decimal money, the buyer, the first destination.
    private static func orderSummary(_ order: [String: Any], orderID: Any, status: String?) -> [String: Any] {
        let currency = order["currency"] as? String
        let items: [[String: Any]] = (order["line_items"] as? [Any] ?? []).compactMap { entry in
            guard let line = entry as? [String: Any] else { return nil }
            let item = line["item"] as? [String: Any] ?? [:]
            let quantity = (line["quantity"] as? [String: Any])?["total"] ?? line["quantity"]
            return [
                "item_id": item["id"] as? String ?? NSNull(),
                "name": item["title"] as? String ?? NSNull(),
                "quantity": integer(quantity) ?? NSNull(),
                "price": money(item["price"], currency: currency),
            ]
        }
        let total = (order["totals"] as? [Any] ?? []).lazy
            .compactMap { $0 as? [String: Any] }
            .first { $0["type"] as? String == "total" }?["amount"]
        return [
            "order_id": orderID,
            "status": status ?? NSNull(),
            "customer_info": customerInfo(order["buyer"]),
            "items": items,
            "total_amount": money(total, currency: currency),
            "shipping_address": shippingAddress(order),
        ]
    }

    /// `{user_id, email}` from the order's `buyer` (the checkout's buyer shape, `types/buyer.json`; the order schema
    /// has no buyer member, so a shop adds it as an extension): `user_id` is the buyer's `id` when it has one, else
    /// its email. Null without a buyer.
    private static func customerInfo(_ buyer: Any?) -> Any {
        guard let buyer = buyer as? [String: Any] else { return NSNull() }
        let email = buyer["email"] as? String
        let userID = buyer["id"] as? String ?? email
        return ["user_id": userID ?? NSNull(), "email": email ?? NSNull()] as [String: Any]
    }

    /// `{line1, city, state, zip, country}` from the first fulfillment expectation's destination; null without one.
    private static func shippingAddress(_ order: [String: Any]) -> Any {
        let expectations = (order["fulfillment"] as? [String: Any])?["expectations"] as? [Any]
        guard let first = expectations?.first as? [String: Any],
            let destination = first["destination"] as? [String: Any]
        else { return NSNull() }
        let fields = [
            ("line1", "street_address"), ("city", "address_locality"), ("state", "address_region"),
            ("zip", "postal_code"), ("country", "address_country"),
        ]
        var address: [String: Any] = [:]
        for (name, source) in fields { address[name] = destination[source] as? String ?? NSNull() }
        return address
    }

    /// `{amount, currency}` with the amount a decimal string; null when the amount is not an integer.
    private static func money(_ minorUnits: Any?, currency: String?) -> Any {
        guard let amount = integer(minorUnits) else { return NSNull() }
        return ["amount": decimal(amount, currency: currency), "currency": currency ?? NSNull()] as [String: Any]
    }

    /// A JSON integer (a whole number, not a boolean), or nil.
    private static func integer(_ value: Any?) -> Int? {
        // JSONSerialization's numbers all cast to Int when whole, true and false included: tell booleans by type.
        guard let value, ObjectIdentifier(type(of: value)) != booleanType else { return nil }
        return value as? Int
    }

    private static let booleanType = ObjectIdentifier(type(of: NSNumber(value: true)))

    /// Minor units as a decimal string with the currency's ISO 4217 exponent: 1250 USD is "12.50", 1250 JPY "1250",
    /// 1250 KWD "1.250". A currency without one (unknown, or N.A. in ISO 4217) is taken to have 2.
    static func decimal(_ minorUnits: Int, currency: String?) -> String {
        let exponent = currency.flatMap(ISO4217.minorUnit(of:)) ?? 2
        guard exponent > 0 else { return String(minorUnits) }
        var digits = String(minorUnits.magnitude)
        if digits.count <= exponent {
            digits = String(repeating: "0", count: exponent + 1 - digits.count) + digits
        }
        let point = digits.index(digits.endIndex, offsetBy: -exponent)
        return (minorUnits < 0 ? "-" : "") + digits[..<point] + "." + digits[point...]
    }

    /// RFC 3339 in UTC, whole seconds: `2026-11-30T00:00:00Z` (proleptic Gregorian; years 0000–9999).
    static func timestamp(_ unixSeconds: Int64) -> String {
        let seconds = min(max(unixSeconds, -62_167_219_200), 253_402_300_799)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Days to civil date (H. Hinnant's algorithm), counted from 0000-03-01.
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(secondOfDay / 3600, 2) + ":"
            + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2) + "Z"
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    /// Deterministic JSON: sorted keys, slashes unescaped, no whitespace. The same object gives the same bytes.
    static func json(_ object: [String: Any]) -> [UInt8]? {
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return data.map { [UInt8]($0) }
    }
}
