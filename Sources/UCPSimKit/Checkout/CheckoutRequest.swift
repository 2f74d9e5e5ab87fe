import Foundation

/// What a create or update request asks for, read strictly: an unknown field, a field the schema marks `omit` for
/// the operation (`ucp`, `id`, `status`, `totals`, …), a wrong type or an out-of-range value is a `FieldError` naming
/// the field (the API answers 400 `invalid_request` with its path). Kept with the session: an update replaces it.
public struct CheckoutInput: Codable, Sendable, Equatable {
    public struct Line: Codable, Sendable, Equatable {
        /// The variant id (`item.id`).
        public var itemID: String
        public var quantity: Int
        /// `item.quantity_unit` named another sale basis than the shop's (`C62`, scale 0).
        public var unitMismatch: Bool

        public init(itemID: String, quantity: Int, unitMismatch: Bool = false) {
            self.itemID = itemID
            self.quantity = quantity
            self.unitMismatch = unitMismatch
        }
    }

    /// The one fulfillment method the platform chose, with its selections.
    public struct Method: Codable, Sendable, Equatable {
        /// `shipping` or `pickup`.
        public var type: String
        /// Shipping only: the addresses the platform wrote (ids given to those without one: `dest_1`, …).
        public var destinations: [Checkout.Destination]?
        public var selectedDestinationID: String?
        public var selectedOptionID: String?

        public init(
            type: String,
            destinations: [Checkout.Destination]? = nil,
            selectedDestinationID: String? = nil,
            selectedOptionID: String? = nil
        ) {
            self.type = type
            self.destinations = destinations
            self.selectedDestinationID = selectedDestinationID
            self.selectedOptionID = selectedOptionID
        }
    }

    public var lines: [Line]
    public var buyer: Checkout.Buyer?
    public var method: Method?
    /// `discounts.codes`, as sent.
    public var codes: [String]?
    /// Create only: the cart to check out (its lines, when `line_items` is left out).
    public var cartID: String?

    public init(
        lines: [Line],
        buyer: Checkout.Buyer? = nil,
        method: Method? = nil,
        codes: [String]? = nil,
        cartID: String? = nil
    ) {
        self.lines = lines
        self.buyer = buyer
        self.method = method
        self.codes = codes
        self.cartID = cartID
    }

    /// Reads a create (`update: false`) or update request body.
    public static func decode(json bytes: [UInt8], update: Bool) throws(FieldError) -> CheckoutInput {
        update
            ? try CheckoutJSON.decode(UpdateBody.self, bytes).input
            : try CheckoutJSON.decode(CreateBody.self, bytes).input
    }

    struct CreateBody: Decodable {
        let input: CheckoutInput
        init(from decoder: any Decoder) throws { input = try CheckoutInput(request: decoder, update: false) }
    }

    struct UpdateBody: Decodable {
        let input: CheckoutInput
        init(from decoder: any Decoder) throws { input = try CheckoutInput(request: decoder, update: true) }
    }

    enum Keys: String, CodingKey, CaseIterable {
        case lineItems = "line_items"
        case buyer, context, signals, attribution, payment, fulfillment, discounts
        case cartID = "cart_id"
    }

    /// Fields the shop sets: a request must not send them (`ucp_request: omit`).
    static let shopOwned = [
        "ucp", "id", "status", "currency", "totals", "messages", "links", "expires_at", "continue_url", "order",
    ]

    init(request decoder: any Decoder, update: Bool) throws(FieldError) {
        try CheckoutJSON.refuse(Self.shopOwned, in: decoder, "is set by the shop; a request must not send it")
        if update {
            try CheckoutJSON.refuse(["cart_id"], in: decoder, "is for create only")
        }
        let fields = try StrictFields(decoder, Keys.self)
        cartID = try fields.string(.cartID)
        let lineProblem = "must be a list of {item: {id}, quantity}"
        if cartID == nil || fields.container.contains(.lineItems) {
            let items = try CheckoutJSON.list(fields, .lineItems, lineProblem) { decoder throws(FieldError) in
                try Self.line(decoder, update: update)
            }
            guard let items, !items.isEmpty else {
                throw fields.error(.lineItems, "is required and \(lineProblem) with at least one line")
            }
            guard items.count <= Limits.lines else {
                throw fields.error(.lineItems, "must hold at most \(Limits.lines) lines")
            }
            lines = items
        } else {
            lines = []
        }
        buyer = try fields.optional(BuyerInput.self, .buyer, "must be an object")?.buyer
        for key in [Keys.context, .signals, .attribution, .payment] {
            _ = try fields.optional(AnyObject.self, key, "must be an object")
        }
        method = try fields.optional(FulfillmentInput.self, .fulfillment, "must be an object")?.method
        codes = try fields.optional(DiscountsInput.self, .discounts, "must be an object")?.codes
    }

    enum LineKeys: String, CodingKey, CaseIterable {
        case id, item, quantity
        case parentID = "parent_id"
    }

    enum ItemKeys: String, CodingKey, CaseIterable {
        case id
        case quantityUnit = "quantity_unit"
    }

    enum UnitKeys: String, CodingKey, CaseIterable {
        case unit, scale, increment
        case displayText = "display_text"
    }

    static func line(_ decoder: any Decoder, update: Bool) throws(FieldError) -> Line {
        if !update { try CheckoutJSON.refuse(["id", "parent_id"], in: decoder, "is for update only") }
        let fields = try StrictFields(decoder, LineKeys.self)
        _ = try fields.string(.id)
        _ = try fields.string(.parentID)
        guard fields.container.contains(.item) else { throw fields.error(.item, "is required and must be {id}") }
        let item: StrictFields<ItemKeys>
        do {
            item = try StrictFields(try fields.container.superDecoder(forKey: .item), ItemKeys.self)
        } catch let error as FieldError {
            throw error
        } catch {
            throw fields.error(.item, "must be an object")
        }
        guard let id = try item.string(.id) else { throw item.error(.id, "is required and must be a variant id") }
        var mismatch = false
        if item.container.contains(.quantityUnit) {
            let unit: StrictFields<UnitKeys>
            do {
                unit = try StrictFields(try item.container.superDecoder(forKey: .quantityUnit), UnitKeys.self)
            } catch let error as FieldError {
                throw error
            } catch {
                throw item.error(.quantityUnit, "must be an object")
            }
            let code = try unit.optional(String.self, .unit, "must be a string")
            let scale = try unit.optional(Int.self, .scale, "must be an integer") ?? 0
            _ = try unit.optional(String.self, .displayText, "must be a string")
            _ = try unit.optional(Int.self, .increment, "must be an integer")
            mismatch = (code ?? "C62") != "C62" || scale != 0
        }
        let rule = "must be an integer from 1 to \(Limits.quantity)"
        guard let quantity = try fields.integer(.quantity, in: 1...Limits.quantity, rule) else {
            throw fields.error(.quantity, "is required and \(rule)")
        }
        return Line(itemID: id, quantity: quantity, unitMismatch: mismatch)
    }
}

/// `buyer`, strictly.
struct BuyerInput: Decodable {
    let buyer: Checkout.Buyer

    enum Keys: String, CodingKey, CaseIterable {
        case email
        case firstName = "first_name"
        case lastName = "last_name"
        case phoneNumber = "phone_number"
    }

    init(from decoder: any Decoder) throws {
        let fields = try StrictFields(decoder, Keys.self)
        buyer = Checkout.Buyer(
            firstName: try fields.optional(String.self, .firstName, "must be a string"),
            lastName: try fields.optional(String.self, .lastName, "must be a string"),
            email: try fields.optional(String.self, .email, "must be a string"),
            phoneNumber: try fields.optional(String.self, .phoneNumber, "must be a string")
        )
    }
}

/// `discounts` of a request: `codes` only (`applied` is the shop's).
struct DiscountsInput: Decodable {
    let codes: [String]

    enum Keys: String, CodingKey, CaseIterable {
        case codes
    }

    init(from decoder: any Decoder) throws {
        try CheckoutJSON.refuse(["applied"], in: decoder, "is set by the shop; a request must not send it")
        let fields = try StrictFields(decoder, Keys.self)
        codes = try fields.optional([String].self, .codes, "must be a list of strings") ?? []
    }
}

/// `fulfillment` of a request: one method (the shop supports one per checkout), its destination and option.
struct FulfillmentInput: Decodable {
    let method: CheckoutInput.Method?

    enum Keys: String, CodingKey, CaseIterable {
        case methods
    }

    enum MethodKeys: String, CodingKey, CaseIterable {
        case id, type, destinations, groups
        case lineItemIDs = "line_item_ids"
        case selectedDestinationID = "selected_destination_id"
    }

    enum GroupKeys: String, CodingKey, CaseIterable {
        case id
        case selectedOptionID = "selected_option_id"
    }

    enum AddressKeys: String, CodingKey, CaseIterable {
        case id, type
        case streetAddress = "street_address"
        case extendedAddress = "extended_address"
        case addressLocality = "address_locality"
        case addressRegion = "address_region"
        case postalCode = "postal_code"
        case addressCountry = "address_country"
        case firstName = "first_name"
        case lastName = "last_name"
        case phoneNumber = "phone_number"
    }

    init(from decoder: any Decoder) throws {
        try CheckoutJSON.refuse(["available_methods"], in: decoder, "is set by the shop; a request must not send it")
        let fields = try StrictFields(decoder, Keys.self)
        let methods = try CheckoutJSON.list(fields, .methods, "must be a list of methods") {
            decoder throws(FieldError) in try Self.method(decoder)
        }
        guard let methods, !methods.isEmpty else {
            method = nil
            return
        }
        guard methods.count == 1 else {
            throw fields.error(.methods, "must hold one method: the shop fulfills a checkout one way")
        }
        method = methods[0]
    }

    static func method(_ decoder: any Decoder) throws(FieldError) -> CheckoutInput.Method {
        let fields = try StrictFields(decoder, MethodKeys.self)
        _ = try fields.string(.id)
        _ = try fields.optional([String].self, .lineItemIDs, "must be a list of line item ids")
        let type = try fields.string(.type) ?? "shipping"
        guard type == "shipping" || type == "pickup" else {
            throw fields.error(.type, "must be shipping or pickup (the methods this shop offers), got \"\(type)\"")
        }
        var destinations: [Checkout.Destination]?
        if fields.container.contains(.destinations) {
            guard type == "shipping" else {
                throw fields.error(.destinations, "is written by the shop for \(type); select one by its id")
            }
            destinations = try CheckoutJSON.list(fields, .destinations, "must be a list of addresses") {
                decoder throws(FieldError) in try Self.address(decoder)
            }
            for index in (destinations ?? []).indices where destinations?[index].id.isEmpty == true {
                destinations?[index].id = "dest_\(index + 1)"
            }
        }
        let selected = try fields.string(.selectedDestinationID)
        let groups = try CheckoutJSON.list(fields, .groups, "must be a list of {id, selected_option_id}") {
            decoder throws(FieldError) in
            let group = try StrictFields(decoder, GroupKeys.self)
            _ = try group.string(.id)
            return try group.string(.selectedOptionID)
        }
        guard (groups ?? []).count <= 1 else {
            throw fields.error(.groups, "must hold one group: the shop ships a checkout in one group")
        }
        return CheckoutInput.Method(
            type: type,
            destinations: destinations,
            selectedDestinationID: selected,
            selectedOptionID: groups?.first ?? nil
        )
    }

    static func address(_ decoder: any Decoder) throws(FieldError) -> Checkout.Destination {
        let fields = try StrictFields(decoder, AddressKeys.self)
        let type = try fields.string(.type) ?? "shipping_address"
        guard type == "shipping_address" else {
            throw fields.error(.type, "must be shipping_address (a platform writes addresses only)")
        }
        func text(_ key: AddressKeys) throws(FieldError) -> String? {
            try fields.optional(String.self, key, "must be a string")
        }
        let address = Checkout.PostalAddress(
            streetAddress: try text(.streetAddress),
            extendedAddress: try text(.extendedAddress),
            addressLocality: try text(.addressLocality),
            addressRegion: try text(.addressRegion),
            postalCode: try text(.postalCode),
            addressCountry: try text(.addressCountry),
            firstName: try text(.firstName),
            lastName: try text(.lastName),
            phoneNumber: try text(.phoneNumber)
        )
        return Checkout.Destination(type: type, id: try fields.string(.id) ?? "", shippingAddress: address)
    }
}

/// What a complete request carries: the instrument to pay with and its credential's token (never kept).
public struct CompleteInput: Sendable, Equatable {
    public struct Instrument: Sendable, Equatable {
        public var id: String
        public var handlerID: String
        public var type: String
        public var selected: Bool?
        /// `credential.token`; nil when the instrument has no credential.
        public var token: String?

        public init(id: String, handlerID: String, type: String, selected: Bool? = nil, token: String?) {
            self.id = id
            self.handlerID = handlerID
            self.type = type
            self.selected = selected
            self.token = token
        }

        /// As answered: no credential.
        var shown: Checkout.Instrument {
            Checkout.Instrument(id: id, handlerID: handlerID, type: type, selected: selected)
        }
    }

    public var instruments: [Instrument]

    public init(instruments: [Instrument]) {
        self.instruments = instruments
    }

    enum Keys: String, CodingKey, CaseIterable {
        case payment, signals, attribution
    }

    enum PaymentKeys: String, CodingKey, CaseIterable {
        case instruments
    }

    enum InstrumentKeys: String, CodingKey, CaseIterable {
        case id, type, credential, display, selected
        case handlerID = "handler_id"
        case billingAddress = "billing_address"
    }

    /// Reads a complete request body.
    public static func decode(json bytes: [UInt8]) throws(FieldError) -> CompleteInput {
        try CheckoutJSON.decode(Body.self, bytes).input
    }

    struct Body: Decodable {
        let input: CompleteInput
        init(from decoder: any Decoder) throws { input = try CompleteInput(request: decoder) }
    }

    init(request decoder: any Decoder) throws(FieldError) {
        try CheckoutJSON.refuse(
            CheckoutInput.shopOwned + ["line_items", "buyer", "context", "fulfillment", "discounts"],
            in: decoder,
            "must not be sent on complete (update the checkout first)"
        )
        let fields = try StrictFields(decoder, Keys.self)
        _ = try fields.optional(AnyObject.self, .signals, "must be an object")
        _ = try fields.optional(AnyObject.self, .attribution, "must be an object")
        guard fields.container.contains(.payment) else {
            throw fields.error(.payment, "is required and must be {instruments: [...]}")
        }
        let payment: StrictFields<PaymentKeys>
        do {
            payment = try StrictFields(try fields.container.superDecoder(forKey: .payment), PaymentKeys.self)
        } catch let error as FieldError {
            throw error
        } catch {
            throw fields.error(.payment, "must be an object")
        }
        let instruments =
            try CheckoutJSON.list(payment, .instruments, "must be a list of payment instruments") {
                decoder throws(FieldError) in try Self.instrument(decoder)
            } ?? []
        self.instruments = instruments
    }

    static func instrument(_ decoder: any Decoder) throws(FieldError) -> Instrument {
        let fields = try StrictFields(decoder, InstrumentKeys.self)
        guard let id = try fields.string(.id) else { throw fields.error(.id, "is required and must be a string") }
        guard let handler = try fields.string(.handlerID) else {
            throw fields.error(.handlerID, "is required and must be a payment handler id")
        }
        guard let type = try fields.string(.type) else {
            throw fields.error(.type, "is required and must be a string (e.g. card)")
        }
        _ = try fields.optional(AnyObject.self, .display, "must be an object")
        _ = try fields.optional(AnyObject.self, .billingAddress, "must be an object")
        let selected = try fields.optional(Bool.self, .selected, "must be true or false")
        let credential = try fields.optional(Credential.self, .credential, "must be an object {type, token}")
        return Instrument(id: id, handlerID: handler, type: type, selected: selected, token: credential?.token)
    }

    /// `credential`: `type` and, for the token form, `token`; other fields of other forms are accepted unread.
    struct Credential: Decodable {
        let token: String?

        enum Keys: String, CodingKey {
            case type, token
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            guard (try? container.decode(String.self, forKey: .type)) != nil else {
                throw FieldError(codingPath: decoder.codingPath + [Keys.type], "is required and must be a string")
            }
            token = try? container.decodeIfPresent(String.self, forKey: .token)
        }
    }
}

/// Any JSON object, read and dropped (`context`, `signals`, `attribution`: accepted, not used by the simulator).
struct AnyObject: Decodable {
    init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: AnyCodingKey.self)
    }
}

/// The strict reading helpers the checkout bodies share.
enum CheckoutJSON {
    /// Decodes `bytes` (a JSON object) as `Body`; every failure is a `FieldError`.
    static func decode<Body: Decodable>(_ type: Body.Type, _ bytes: [UInt8]) throws(FieldError) -> Body {
        guard !bytes.isEmpty else { throw FieldError(path: [], "is empty; it must be a JSON object") }
        return try JSONInput.decode(Body.self, from: bytes)
    }

    /// Throws for the first of `keys` the object holds.
    static func refuse(_ keys: [String], in decoder: any Decoder, _ problem: String) throws(FieldError) {
        guard let container = try? decoder.container(keyedBy: AnyCodingKey.self) else { return }
        for key in container.allKeys where keys.contains(key.stringValue) {
            throw FieldError(codingPath: decoder.codingPath + [key], problem)
        }
    }

    /// A list field whose entries `read` decodes (with their index in the path); nil when absent.
    static func list<Key, Value>(
        _ fields: StrictFields<Key>,
        _ key: Key,
        _ problem: String,
        _ read: (any Decoder) throws(FieldError) -> Value
    ) throws(FieldError) -> [Value]? {
        guard fields.container.contains(key) else { return nil }
        do {
            var entries = try fields.container.nestedUnkeyedContainer(forKey: key)
            var values: [Value] = []
            while !entries.isAtEnd {
                values.append(try read(try entries.superDecoder()))
            }
            return values
        } catch let error as FieldError {
            throw error
        } catch {
            throw fields.error(key, problem)
        }
    }
}
