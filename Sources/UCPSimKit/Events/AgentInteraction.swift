import Foundation

/// Something an agent did on the buyer's behalf: the body of `POST /testing/interactions` and a scenario's
/// `interaction:` step. One type reads both (JSON through `JSONDecoder`, YAML through `YAMLDecoder`), strictly: an
/// unknown field, a wrong type or a value out of bounds is a `FieldError` naming the field.
public struct AgentInteraction: Decodable, Sendable, Equatable {
    /// The agent's id: an identifier (`Identifier.rule`).
    public var agent: String
    /// What it did, free text such as `search`, `add_to_cart`, `message`: 1 to `maximumKindLength` printable
    /// characters.
    public var kind: String
    /// Free details: at most `maximumDetails` entries, keys of 1 to `maximumKeyLength` printable characters, values
    /// strings of at most `maximumValueLength` characters.
    public var details: [String: String]
    /// The order it is about, when it is about one: an identifier.
    public var order: String?

    /// The longest `kind`, in characters.
    public static let maximumKindLength = 64
    /// The most `details` entries.
    public static let maximumDetails = 32
    /// The longest `details` key, in characters.
    public static let maximumKeyLength = 64
    /// The longest `details` value, in characters.
    public static let maximumValueLength = 256

    enum CodingKeys: String, CodingKey, CaseIterable {
        case agent, kind, details, order
    }

    public init(agent: String, kind: String, details: [String: String] = [:], order: String? = nil) {
        self.agent = agent
        self.kind = kind
        self.details = details
        self.order = order
    }

    public init(from decoder: any Decoder) throws {
        let fields = try StrictFields(decoder, CodingKeys.self)
        guard let agent = try fields.optional(String.self, .agent, "must be a string") else {
            throw fields.error(.agent, "is required and must be an agent id (\(Identifier.rule))")
        }
        if let problem = Identifier.problem(agent) { throw fields.error(.agent, problem) }
        self.agent = agent
        guard let kind = try fields.optional(String.self, .kind, "must be a string") else {
            throw fields.error(.kind, "is required and must be a string such as search, add_to_cart or message")
        }
        if let problem = Self.textProblem(kind, maximum: Self.maximumKindLength) { throw fields.error(.kind, problem) }
        self.kind = kind
        let detailsRule = "must be a map of at most \(Self.maximumDetails) strings"
        let details = try fields.optional([String: String].self, .details, detailsRule) ?? [:]
        guard details.count <= Self.maximumDetails else {
            throw fields.error(.details, "\(detailsRule), got \(details.count) entries")
        }
        for (key, value) in details.sorted(by: { $0.key < $1.key }) {
            if let problem = Self.textProblem(key, maximum: Self.maximumKeyLength) {
                throw fields.error(.details, "keys \(problem)")
            }
            guard value.count <= Self.maximumValueLength else {
                throw FieldError(
                    codingPath: fields.codingPath + [CodingKeys.details, AnyCodingKey(stringValue: key)],
                    "must be at most \(Self.maximumValueLength) characters, got \(value.count)"
                )
            }
        }
        self.details = details
        order = try fields.optional(String.self, .order, "must be an order id")
        if let order, let problem = Identifier.problem(order) { throw fields.error(.order, problem) }
    }

    /// Why `text` is not 1 to `maximum` printable characters (no control, format or line-separator characters, which
    /// could break or disguise a line of output), nil when it is.
    static func textProblem(_ text: String, maximum: Int) -> String? {
        guard !text.isEmpty else { return "must not be empty" }
        guard text.count <= maximum else { return "must be at most \(maximum) characters, got \(text.count)" }
        let unprintable = text.unicodeScalars.first { scalar in
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned: true
            default: false
            }
        }
        if let unprintable {
            // The character is named, not shown: it is the one that would break or disguise the line.
            return "must be printable, got U+\(String(format: "%04X", unprintable.value))"
        }
        return nil
    }

    /// Reads a JSON body.
    public static func decode(json bytes: [UInt8]) throws(FieldError) -> AgentInteraction {
        guard !bytes.isEmpty else { throw FieldError(path: [], "is empty; an interaction needs `agent` and `kind`") }
        return try JSONInput.decode(AgentInteraction.self, from: bytes)
    }

    /// The `agent.interaction_event`; `document` is the order's snapshot when there is one.
    public func event(occurredAt: Int64, document: OrderDocument? = nil, id: String = OrderChange.newID())
        -> OrderEvent
    {
        OrderEvent(
            id: id,
            type: .agentInteraction,
            occurredAt: occurredAt,
            orderID: order,
            document: document,
            subject: .interaction(agentID: agent, kind: kind, details: details)
        )
    }
}

/// Where events go once made: the publish path that hands them to every matching subscription. Throws when they
/// cannot be made durable.
public typealias EventPublisher = @Sendable ([OrderEvent]) async throws -> Void
