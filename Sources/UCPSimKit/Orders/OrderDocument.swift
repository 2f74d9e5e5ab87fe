import Foundation

/// A JSON order snapshot as bytes, checked to be an order. The bytes are what gets signed and sent, unchanged.
public struct OrderDocument: Sendable {
    /// The order id.
    public let id: String
    /// The exact bytes.
    public let bytes: [UInt8]
    /// The document's `ucp.version`, whatever it says (nil when it is not a string).
    public let declaredVersion: String?

    /// The fields `schemas/shopping/order.json` requires.
    static let requiredFields = [
        "ucp", "id", "checkout_id", "permalink_url", "line_items", "fulfillment", "currency", "totals",
    ]

    /// Checks that `bytes` hold a JSON object shaped like a UCP order; `source` names it in errors.
    public init(bytes: [UInt8], source: String) throws(UCPSimError) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            throw UCPSimError(.dataError, "\(source) is not JSON: \(Self.reason(error))")
        }
        guard let order = object as? [String: Any] else {
            throw UCPSimError(.dataError, "\(source) is not an order: the top level is not a JSON object")
        }
        let missing = Self.requiredFields.filter { order[$0] == nil }
        guard missing.isEmpty else {
            throw UCPSimError(.dataError, "\(source) is not an order: missing \(missing.joined(separator: ", "))")
        }
        if let id = order["id"] as? String, let problem = Identifier.problem(id) {
            throw UCPSimError(.dataError, "\(source): the order's id \(problem)")
        }
        guard let id = order["id"] as? String, !id.isEmpty else {
            throw UCPSimError(.dataError, "\(source) is not an order: id is not a non-empty string")
        }
        guard order["line_items"] is [Any], order["totals"] is [Any], order["ucp"] is [String: Any] else {
            throw UCPSimError(
                .dataError,
                "\(source) is not an order: line_items and totals must be arrays, ucp an object"
            )
        }
        self.id = id
        self.bytes = bytes
        self.declaredVersion = (order["ucp"] as? [String: Any])?["version"] as? String
    }

    /// A snapshot from the state machine: an order by construction, so it is serialized once and not re-checked.
    public init(_ order: Order) {
        self.id = order.id
        self.bytes = order.jsonBytes()
        self.declaredVersion = order.ucp.version
    }

    /// A one-line warning when the document declares another release than the shop speaks; nil when they agree.
    /// The document is still sent as it is: a fixture's bytes are never rewritten.
    public func versionWarning(shop version: UCPVersion, source: String) -> String? {
        guard declaredVersion != version.rawValue else { return nil }
        return "\(source) declares ucp.version \(declaredVersion.map { "\"\($0)\"" } ?? "(none)") but the shop "
            + "speaks \(version.rawValue) (--ucp-version); sending it unchanged"
    }

    /// Reads and checks a file.
    public static func load(path: String) throws(UCPSimError) -> OrderDocument {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UCPSimError(.noInput, "cannot read \(path)")
        }
        return try OrderDocument(bytes: [UInt8](data), source: path)
    }

    private static func reason(_ error: any Error) -> String {
        let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        return text ?? "malformed JSON"
    }
}

/// The shop's current order snapshots, served at `GET /orders/{id}`: the latest snapshot per order, for at most
/// `limit` orders (the oldest first seen are forgotten first).
public actor OrderStore {
    private var snapshots: [String: [UInt8]] = [:]
    private var seen = InsertionOrder<String>()
    /// The most orders kept; nil keeps all.
    public let limit: Int?

    public init(limit: Int? = nil) {
        self.limit = limit
    }

    /// Orders with a snapshot kept now.
    public var count: Int { snapshots.count }

    /// Records the latest snapshot of an order.
    public func put(_ document: OrderDocument) {
        if snapshots.updateValue(document.bytes, forKey: document.id) == nil { seen.append(document.id) }
        if let limit {
            while snapshots.count > max(1, limit), let oldest = seen.popFirst() { snapshots[oldest] = nil }
        }
    }

    /// The latest snapshot, or nil.
    public func get(_ id: String) -> [UInt8]? {
        snapshots[id]
    }
}
