/// Building transitions from loosely typed parameters (scenario steps, control-API JSON bodies).
extension OrderTransition {
    /// The parameter names any transition accepts.
    public static let parameterNames: Set<String> = [
        "lines", "carrier", "tracking_number", "tracking_url", "shipment", "adjustment", "amount", "completed",
    ]

    /// Makes the transition `name` from `parameters` (JSON-like values). Errors are one readable sentence.
    public static func make(name: String, parameters: [String: Any]) throws(ParameterError) -> OrderTransition {
        for key in parameters.keys where !parameterNames.contains(key) {
            throw ParameterError(
                "unknown parameter `\(key)` (allowed: \(parameterNames.sorted().joined(separator: ", ")))"
            )
        }
        let shipment = try string(parameters, "shipment")
        let adjustment = try string(parameters, "adjustment")
        switch name {
        case "process": return .process
        case "ship":
            return .ship(
                lines: try lines(parameters["lines"]),
                carrier: try string(parameters, "carrier"),
                trackingNumber: try string(parameters, "tracking_number"),
                trackingURL: try string(parameters, "tracking_url")
            )
        case "in_transit": return .inTransit(shipment: shipment)
        case "deliver": return .deliver(shipment: shipment)
        case "failed_attempt": return .failedAttempt(shipment: shipment)
        case "undeliverable": return .undeliverable(shipment: shipment)
        case "returned_to_sender": return .returnedToSender(shipment: shipment)
        case "cancel": return .cancel(lines: try lines(parameters["lines"]))
        case "return":
            guard let lines = try lines(parameters["lines"]) else { throw ParameterError("`return` needs `lines`") }
            return .requestReturn(lines: lines)
        case "complete_return": return .completeReturn(adjustment: adjustment)
        case "refund":
            guard let completed = parameters["completed"] as? Bool ?? (parameters["completed"] == nil ? true : nil)
            else {
                throw ParameterError("`completed` must be true or false")
            }
            return .refund(amount: try integer(parameters, "amount"), completed: completed)
        case "complete_refund": return .completeRefund(adjustment: adjustment)
        case "fail_refund": return .failRefund(adjustment: adjustment)
        case "credit", "price_adjustment":
            guard let amount = try integer(parameters, "amount") else {
                throw ParameterError("`\(name)` needs `amount`")
            }
            return name == "credit" ? .credit(amount: amount) : .priceAdjustment(amount: amount)
        default:
            throw ParameterError("unknown transition `\(name)` (one of: \(names.joined(separator: ", ")))")
        }
    }

    private static func string(_ parameters: [String: Any], _ key: String) throws(ParameterError) -> String? {
        guard let value = parameters[key] else { return nil }
        guard let text = value as? String else { throw ParameterError("`\(key)` must be a string") }
        return text
    }

    private static func integer(_ parameters: [String: Any], _ key: String) throws(ParameterError) -> Int? {
        guard let value = parameters[key] else { return nil }
        guard let number = value as? Int, !(value is Bool) else {
            throw ParameterError("`\(key)` must be an integer (minor units for money)")
        }
        return number
    }

    private static func lines(_ value: Any?) throws(ParameterError) -> [Order.LineQuantity]? {
        guard let value else { return nil }
        guard let list = value as? [[String: Any]] else {
            throw ParameterError("`lines` must be a list of {id, quantity}")
        }
        var result: [Order.LineQuantity] = []
        for entry in list {
            guard let id = entry["id"] as? String else {
                throw ParameterError("each `lines` entry needs a string `id`")
            }
            guard let quantity = entry["quantity"] as? Int ?? (entry["quantity"] == nil ? 1 : nil) else {
                throw ParameterError("`quantity` of \(id) must be an integer")
            }
            result.append(.init(id: id, quantity: quantity))
        }
        return result
    }
}

/// A transition parameter that is missing or of the wrong type.
public struct ParameterError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
