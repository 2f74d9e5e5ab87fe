import Foundation

/// A recorded sequence of order events (`fixtures/*.events.json`), replayable by `ucpsim replay`.
///
/// ```json
/// {"name": "happy-path", "events": [
///   {"webhook_id": "…", "timestamp": 1775913000, "order_id": "ord_1", "transition": "place",
///    "body_text": "{\"ucp\":…}"}  // exact bytes; or "body": {…} for hand-written fixtures
/// ]}
/// ```
/// A plain order snapshot (like `fixtures/order-created.json`) is also a fixture: one event, its file's bytes.
public struct EventFixture: Sendable {
    public struct Event: Sendable {
        public var webhookID: String?
        public var timestamp: Int64?
        public var orderID: String
        public var transition: String?
        /// The exact body bytes.
        public var body: [UInt8]
    }

    public var name: String
    public var events: [Event]

    public init(name: String, events: [Event]) {
        self.name = name
        self.events = events
    }

    /// Reads a fixture file; errors name the file and the event.
    public static func load(path: String) throws(UCPSimError) -> EventFixture {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UCPSimError(.noInput, "cannot read fixture \(path)")
        }
        let name = URL(fileURLWithPath: path).lastPathComponent.replacingOccurrences(of: ".events.json", with: "")
            .replacingOccurrences(of: ".json", with: "")
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw UCPSimError(.dataError, "\(path) is not a JSON object (an event fixture or an order snapshot)")
        }
        guard let list = object["events"] else {
            let document = try OrderDocument(bytes: [UInt8](data), source: path)
            return EventFixture(
                name: name,
                events: [Event(orderID: document.id, transition: nil, body: document.bytes)]
            )
        }
        guard let entries = list as? [[String: Any]], !entries.isEmpty else {
            throw UCPSimError(.dataError, "\(path): `events` must be a non-empty list of objects")
        }
        var events: [Event] = []
        for (index, entry) in entries.enumerated() {
            let source = "\(path): event \(index + 1)"
            let bytes: [UInt8]
            if let text = entry["body_text"] as? String {
                bytes = Array(text.utf8)
            } else if let body = entry["body"] as? [String: Any] {
                let options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
                guard let encoded = try? JSONSerialization.data(withJSONObject: body, options: options) else {
                    throw UCPSimError(.dataError, "\(source): `body` cannot be serialized")
                }
                bytes = [UInt8](encoded)
            } else {
                throw UCPSimError(.dataError, "\(source): needs `body_text` (exact bytes) or `body` (an order object)")
            }
            let document = try OrderDocument(bytes: bytes, source: source)
            let id = entry["webhook_id"] as? String
            if let id, UUID(uuidString: id) == nil {
                throw UCPSimError(.dataError, "\(source): webhook_id \(id) is not a UUID")
            }
            let timestamp = (entry["timestamp"] as? NSNumber).map { $0.int64Value }
            events.append(
                Event(
                    webhookID: id,
                    timestamp: timestamp,
                    orderID: document.id,
                    transition: entry["transition"] as? String,
                    body: bytes
                )
            )
        }
        return EventFixture(name: object["name"] as? String ?? name, events: events)
    }

    /// Builds a fixture from what a run sent (an event whose bytes are no longer at hand is left out, never
    /// written empty).
    public init(name: String, results: [StepResult]) {
        self.name = name
        self.events = results.filter { !$0.event.body.isEmpty }.map { result in
            Event(
                webhookID: result.event.webhookID,
                timestamp: result.event.timestamp,
                orderID: result.orderID,
                transition: result.transition,
                body: result.event.body
            )
        }
    }

    /// The fixture as JSON; bodies as `body_text`, so replay reproduces them byte for byte.
    public func json() -> [UInt8] {
        let events: [[String: Any]] = events.map { event in
            var entry: [String: Any] = [
                "order_id": event.orderID, "body_text": String(decoding: event.body, as: UTF8.self),
            ]
            if let id = event.webhookID { entry["webhook_id"] = id }
            if let timestamp = event.timestamp { entry["timestamp"] = timestamp }
            if let transition = event.transition { entry["transition"] = transition }
            return entry
        }
        let document: [String: Any] = ["name": name, "events": events]
        let options: JSONSerialization.WritingOptions = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return [UInt8]((try? JSONSerialization.data(withJSONObject: document, options: options)) ?? Data())
    }

    /// One warning line when events declare another `ucp.version` than the shop speaks; nil when all agree.
    public func versionWarning(shop version: UCPVersion, source: String) -> String? {
        let declared = events.map { (try? OrderDocument(bytes: $0.body, source: source))?.declaredVersion }
        let others = declared.filter { $0 != version.rawValue }
        guard !others.isEmpty else { return nil }
        let what = Set(others.map { $0.map { "\"\($0)\"" } ?? "(none)" }).sorted().joined(separator: ", ")
        let count = events.count == 1 ? "" : " (\(others.count) of \(events.count) events)"
        return "\(source) declares ucp.version \(what)\(count) but the shop speaks \(version.rawValue) "
            + "(--ucp-version); sending it unchanged"
    }

    /// The events to send: recorded ids and timestamps with `keepIDs`, fresh ones otherwise.
    public func webhookEvents(keepIDs: Bool, now: Int64) -> [WebhookEvent] {
        events.map { event in
            if keepIDs, let id = event.webhookID {
                return WebhookEvent(
                    webhookID: id,
                    timestamp: event.timestamp ?? now,
                    orderID: event.orderID,
                    body: event.body
                )
            }
            return WebhookEvent(timestamp: now, orderID: event.orderID, body: event.body)
        }
    }
}
