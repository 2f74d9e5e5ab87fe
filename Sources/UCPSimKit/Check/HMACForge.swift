import Foundation

/// Builds the shared-secret dialects' catalog deliveries (`ucp-hmac`, `standard-webhooks`): the dialect's own valid
/// request, then exactly the fault a case names, made on the wire form (headers, bytes) a receiver sees.
public struct HMACForge: Sendable {
    /// The dialect's sender: every request starts as what it would send.
    public let dialect: any WebhookDialect
    /// The receiver's secret.
    public let credentials: DeliveryCredentials
    /// A secret the receiver does not have (`wrong-secret`, and the invalid half of `rotation`).
    public let otherSecret: WebhookSecret

    /// How far the signed timestamp lies behind (`stale-timestamp`) or ahead (`future-timestamp`): ten minutes,
    /// twice the five-minute tolerance.
    public static let skew: Int64 = 600
    /// How old `late-retry`'s event is when the retry is signed.
    public static let lateRetryAge: Int64 = 6 * 3600
    /// The event type of `unknown-event-type`.
    public static let unknownEventType = "ucpsim.unknown_event"

    public init(dialect: any WebhookDialect, secret: WebhookSecret, otherSecret: WebhookSecret) {
        self.dialect = dialect
        self.credentials = DeliveryCredentials(secrets: [secret])
        self.otherSecret = otherSecret
    }

    /// `whsec_` + base64 of `bytes`.
    static func secret(from bytes: [UInt8]) -> WebhookSecret {
        WebhookSecret("whsec_" + Data(bytes).base64EncodedString())
    }

    /// The message `caseID` sends: the order placed, as `order.created`, in the dialect's body; `late-retry`'s
    /// event hours old, `unknown-event-type`'s with a type no one defines.
    public func event(_ caseID: String, id: String, order: OrderDocument, occurredAt: Int64) throws -> WebhookEvent {
        let occurred = caseID == "late-retry" ? occurredAt - Self.lateRetryAge : occurredAt
        let orderEvent = OrderEvent(
            id: id,
            type: .orderCreated,
            occurredAt: occurred,
            orderID: order.id,
            document: order,
            subject: .order(status: "confirmed")
        )
        guard var body = dialect.body(for: orderEvent) else { throw NoBody(dialect: dialect.name) }
        if caseID == "unknown-event-type" {
            body = Self.replacing(EventType.orderCreated.rawValue, with: Self.unknownEventType, in: body)
        }
        return WebhookEvent(webhookID: id, timestamp: occurred, orderID: order.id, body: body)
    }

    /// The request for `caseID`'s single delivery of `message`, signed at `now`.
    public func request(_ caseID: String, message: WebhookEvent, to target: RequestTarget, now: Int64) throws
        -> OutgoingRequest
    {
        func signed(_ message: WebhookEvent = message, at time: Int64 = now, with secrets: [WebhookSecret]? = nil)
            throws -> OutgoingRequest
        {
            let credentials = secrets.map(DeliveryCredentials.init(secrets:)) ?? credentials
            return try dialect.request(for: message, to: target, credentials: credentials, now: time)
        }
        var request = try signed()
        let header = dialect.name == .standardWebhooks ? "webhook-signature" : "UCP-Signature"
        let signature = request.headers[header] ?? ""
        switch caseID {
        case "valid", "duplicate", "unknown-event-type", "late-retry":
            // Each request is valid: these cases test what is sent (twice, unknown, late), not how it is signed.
            break
        case "body-tampered":
            // The same serialization with one value changed: exactly what the sender would send for another event.
            request.body = Self.replacing(
                EventType.orderCreated.rawValue,
                with: EventType.orderUpdated.rawValue,
                in: message.body
            )
        case "wrong-secret": request = try signed(with: [otherSecret])
        case "stale-timestamp": request = try signed(at: now - Self.skew)
        case "future-timestamp": request = try signed(at: now + Self.skew)
        case "timestamp-changed":
            if dialect.name == .standardWebhooks {
                request.headers.set("webhook-timestamp", String(now - 1))
            } else {
                request.headers.set(header, signature.replacingOccurrences(of: "t=\(now),", with: "t=\(now - 1),"))
            }
        case "missing-signature": request.headers.set(header, nil)
        case "missing-id": request.headers.set("webhook-id", nil)
        case "missing-timestamp": request.headers.set("webhook-timestamp", nil)
        case "other-id":
            let other = WebhookEvent(
                webhookID: message.webhookID + "-other",
                timestamp: message.timestamp,
                orderID: message.orderID,
                body: message.body
            )
            request = try signed(other)
            request.headers.set("webhook-id", message.webhookID)
        case "signature-not-hex":
            let hex = signature.split(separator: "=").last.map(String.init) ?? ""
            let base64 = Data(Self.bytes(hex: hex)).base64EncodedString()
            request.headers.set(header, "t=\(now),v1=\(base64)")
        case "signature-without-timestamp":
            request.headers.set(header, signature.replacingOccurrences(of: "t=\(now),", with: ""))
        case "unsupported-version":
            let v2 =
                dialect.name == .standardWebhooks
                ? "v2," + signature.dropFirst("v1,".count)
                : signature.replacingOccurrences(of: ",v1=", with: ",v2=")
            request.headers.set(header, v2)
        case "signature-not-base64": request.headers.set(header, "v1,***not*base64***")
        case "signature-without-version": request.headers.set(header, String(signature.dropFirst("v1,".count)))
        case "rotation":
            request = try signed(with: [otherSecret] + credentials.secrets)
            if dialect.name == .standardWebhooks {
                // An asymmetric (`v1a`) entry between the two: a scheme the receiver does not use is skipped.
                let entries = (request.headers[header] ?? "").split(separator: " ").map(String.init)
                let v1a = "v1a," + Data(DigestAlgorithm.sha512.hash(message.body)).base64EncodedString()
                request.headers.set(header, ([entries.first ?? "", v1a] + entries.dropFirst()).joined(separator: " "))
            }
        case "reserialized":
            request.body = try Self.reserialized(message.body)
        default:
            throw RequestForge.UnknownCase(id: caseID)
        }
        return request
    }

    /// `bytes` with the first occurrence of the JSON string `"old"` replaced by `"new"` (unchanged without one).
    static func replacing(_ old: String, with new: String, in bytes: [UInt8]) -> [UInt8] {
        let needle = Array("\"\(old)\"".utf8)
        guard needle.count <= bytes.count else { return bytes }
        for start in 0...(bytes.count - needle.count) where bytes[start..<(start + needle.count)].elementsEqual(needle)
        {
            return Array(bytes[..<start]) + Array("\"\(new)\"".utf8) + Array(bytes[(start + needle.count)...])
        }
        return bytes
    }

    /// The same JSON object, pretty-printed with its top-level members in reverse order: other bytes, same data.
    static func reserialized(_ body: [UInt8]) throws -> [UInt8] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            return body + Array("\n".utf8)
        }
        let members = try object.keys.sorted(by: >).map { key in
            let name = try JSONSerialization.data(withJSONObject: key, options: .fragmentsAllowed)
            let value = try JSONSerialization.data(
                withJSONObject: object[key] ?? NSNull(),
                options: [.fragmentsAllowed, .prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            )
            return "  " + String(decoding: name, as: UTF8.self) + " : " + String(decoding: value, as: UTF8.self)
        }
        return Array(("{\n" + members.joined(separator: ",\n") + "\n}\n").utf8)
    }

    /// The bytes of lowercase or uppercase hex text (pairs that are not hex are skipped).
    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count - 1, by: 2).compactMap { index in
            UInt8(String(decoding: digits[index...(index + 1)], as: UTF8.self), radix: 16)
        }
    }

    /// The dialect had no body for the catalog's event.
    struct NoBody: Error, CustomStringConvertible {
        let dialect: DialectName
        var description: String { "the \(dialect.rawValue) dialect gave no body for the catalog's order event" }
    }
}
