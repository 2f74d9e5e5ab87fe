/// The parameters of a transition: the body of `POST /testing/orders/{id}/{transition}` and the keys beside a
/// scenario step's action. One type reads both (JSON through `JSONDecoder`, YAML through `YAMLDecoder`), strictly.
public struct TransitionParameters: Decodable, Sendable, Equatable {
    /// Line quantities (`lines`): nil when not given.
    public var lines: [Order.LineQuantity]?
    public var carrier: String?
    public var trackingNumber: String?
    public var trackingURL: String?
    public var shipment: String?
    public var adjustment: String?
    /// Minor units.
    public var amount: Int?
    public var completed: Bool?
    /// The parameters given, by name, to refuse those the transition does not take.
    public private(set) var given: Set<String> = []

    enum CodingKeys: String, CodingKey, CaseIterable {
        case lines, carrier, shipment, adjustment, amount, completed
        case trackingNumber = "tracking_number"
        case trackingURL = "tracking_url"
    }

    /// One `lines` entry: `{id, quantity}`, quantity 1 when left out.
    struct Line: Decodable {
        let value: Order.LineQuantity

        enum CodingKeys: String, CodingKey, CaseIterable {
            case id, quantity
        }

        init(from decoder: any Decoder) throws {
            let fields = try StrictFields(decoder, CodingKeys.self)
            guard let id = try fields.string(.id) else {
                throw fields.error(.id, "is required and must be a line item id")
            }
            let quantity =
                try fields.integer(
                    .quantity,
                    in: 1...Limits.quantity,
                    "must be an integer from 1 to \(Limits.quantity)"
                ) ?? 1
            value = .init(id: id, quantity: quantity)
        }
    }

    /// No parameters.
    public init() {}

    public init(from decoder: any Decoder) throws {
        let fields = try StrictFields(decoder, CodingKeys.self)
        let problem = "must be a non-empty list of {id, quantity}"
        if let lines = try fields.optional([Line].self, .lines, problem) {
            guard !lines.isEmpty else { throw fields.error(.lines, problem) }
            self.lines = lines.map(\.value)
        }
        carrier = try fields.string(.carrier)
        trackingNumber = try fields.string(.trackingNumber)
        trackingURL = try fields.string(.trackingURL)
        shipment = try fields.string(.shipment)
        adjustment = try fields.string(.adjustment)
        amount = try fields.integer(
            .amount,
            in: -Limits.amount...Limits.amount,
            "must be an integer (minor units) from -\(Limits.amount) to \(Limits.amount)"
        )
        completed = try fields.optional(Bool.self, .completed, "must be true or false")
        given = Set(fields.container.allKeys.map(\.stringValue))
    }

    /// Reads a JSON body; an empty body is no parameters.
    public static func decode(json bytes: [UInt8]) throws(FieldError) -> TransitionParameters {
        bytes.isEmpty ? TransitionParameters() : try JSONInput.decode(TransitionParameters.self, from: bytes)
    }
}

/// Building transitions from their name and parameters (scenario steps, control-API bodies).
extension OrderTransition {
    /// The parameter names any transition accepts.
    public static let parameterNames = Set(TransitionParameters.CodingKeys.allCases.map(\.stringValue))

    /// The parameters each transition takes.
    static let parametersByName: [String: [String]] = [
        "process": [],
        "ship": ["lines", "carrier", "tracking_number", "tracking_url"],
        "in_transit": ["shipment"], "deliver": ["shipment"], "failed_attempt": ["shipment"],
        "undeliverable": ["shipment"], "returned_to_sender": ["shipment"],
        "cancel": ["lines"], "return": ["lines"], "complete_return": ["adjustment"],
        "refund": ["amount", "completed"], "complete_refund": ["adjustment"], "fail_refund": ["adjustment"],
        "credit": ["amount"], "price_adjustment": ["amount"],
    ]

    /// Makes the transition `name` from `parameters`; nil when there is no transition of that name. A parameter the
    /// transition does not take, or a missing required one, is a `FieldError`.
    public static func make(name: String, parameters: TransitionParameters) throws(FieldError) -> OrderTransition? {
        guard let accepted = parametersByName[name] else { return nil }
        for key in parameters.given.sorted() where !accepted.contains(key) {
            let takes = accepted.isEmpty ? "no parameters" : accepted.joined(separator: ", ")
            throw FieldError(path: [.key(key)], "is not a parameter of \(name) (\(name) takes \(takes))")
        }
        func required<Value>(_ value: Value?, _ key: String, _ problem: String) throws(FieldError) -> Value {
            guard let value else { throw FieldError(path: [.key(key)], "is required for \(name) and \(problem)") }
            return value
        }
        let shipment = parameters.shipment
        let adjustment = parameters.adjustment
        switch name {
        case "process": return .process
        case "ship":
            return .ship(
                lines: parameters.lines,
                carrier: parameters.carrier,
                trackingNumber: parameters.trackingNumber,
                trackingURL: parameters.trackingURL
            )
        case "in_transit": return .inTransit(shipment: shipment)
        case "deliver": return .deliver(shipment: shipment)
        case "failed_attempt": return .failedAttempt(shipment: shipment)
        case "undeliverable": return .undeliverable(shipment: shipment)
        case "returned_to_sender": return .returnedToSender(shipment: shipment)
        case "cancel": return .cancel(lines: parameters.lines)
        case "return":
            return .requestReturn(lines: try required(parameters.lines, "lines", "must be a list of {id, quantity}"))
        case "complete_return": return .completeReturn(adjustment: adjustment)
        case "refund": return .refund(amount: parameters.amount, completed: parameters.completed ?? true)
        case "complete_refund": return .completeRefund(adjustment: adjustment)
        case "fail_refund": return .failRefund(adjustment: adjustment)
        case "credit": return .credit(amount: try required(parameters.amount, "amount", "must be an integer"))
        case "price_adjustment":
            return .priceAdjustment(amount: try required(parameters.amount, "amount", "must be an integer"))
        default: return nil
        }
    }
}
