import Foundation

/// Builds the catalog's deliveries: valid ones, and ones with exactly the fault their case names.
public struct RequestForge: Sendable {
    /// The shop's own sender (its key, its profile URL).
    public let sender: WebhookSender
    // The identities only some cases need (`ed25519-key`, `unpublished-key`, `another-shop`, `profile-unreachable`):
    // a forge without them (a scenario's `mutate:`, which offers none of those cases) refuses those cases.

    /// A published Ed25519 key of the shop's.
    public var ed25519: SigningKey? = nil
    /// A key the shop never publishes.
    public var rogue: SigningKey? = nil
    /// Another shop: its sender (own key, own profile URL).
    public var otherShop: WebhookSender? = nil
    /// A profile URL nothing answers at.
    public var unreachableProfile: String? = nil

    /// How far ahead of the receiver's clock `created-in-future` signs (an hour: far beyond any clock skew).
    public static let futureCreated: Int64 = 3600
    /// `signature-expired`: signed ten minutes ago with `expires` five minutes ago.
    public static let expiredCreated: Int64 = 600
    public static let expiredExpires: Int64 = 300
    /// How old `late-retry`'s `Webhook-Timestamp` (the event's time) is when the retry is freshly signed.
    public static let lateRetryAge: Int64 = 6 * 3600

    /// The request for `caseID`'s single delivery of `event`.
    public func request(_ caseID: String, event: WebhookEvent, to target: RequestTarget, created: Int64) throws
        -> OutgoingRequest
    {
        let headers = sender.unsignedHeaders(for: event)
        let message = SignableMessage(method: "POST", target: target, headers: headers)
        let parameters = sender.signer.webhookParameters(for: message, created: created)
        let all = parameters.components
        func sign(_ headers: HTTPFieldList, components: [String]? = nil) throws -> OutgoingRequest {
            try sender.signed(headers, body: event.body, to: target, created: created, components: components)
        }
        func signed(_ parameters: SignatureParameters) throws -> OutgoingRequest {
            let values = try sender.signer.sign(message, parameters: parameters)
            var signed = headers
            signed.append("Signature-Input", values.signatureInput)
            signed.append("Signature", values.signature)
            return OutgoingRequest(method: "POST", url: target.url, headers: signed, body: event.body)
        }
        func removing(_ name: String) throws -> OutgoingRequest {
            var request = try sign(headers)
            request.headers.set(name, nil)
            return request
        }
        let otherBody = event.body + Array(" ".utf8)
        switch caseID {
        case "body-tampered":
            var request = try sign(headers)
            request.body = otherBody
            return request
        case "digest-other-body":
            var forged = headers
            forged.set("Content-Digest", ContentDigest.header(for: otherBody))
            return try sign(forged)
        case "digest-extra-member":
            var forged = headers
            let wrong = Data(DigestAlgorithm.sha512.hash(otherBody)).base64EncodedString()
            forged.set("Content-Digest", ContentDigest.header(for: event.body) + ", sha-512=:\(wrong):")
            return try sign(forged)
        case "missing-signature": return try removing("Signature")
        case "missing-signature-input": return try removing("Signature-Input")
        case "missing-content-digest": return try removing("Content-Digest")
        case "missing-ucp-agent": return try removing("UCP-Agent")
        case "missing-webhook-id": return try removing("Webhook-Id")
        case "missing-webhook-timestamp": return try removing("Webhook-Timestamp")
        case "coverage-without-ucp-agent": return try sign(headers, components: all.filter { $0 != "ucp-agent" })
        case "coverage-without-content-digest":
            return try sign(headers, components: all.filter { $0 != "content-digest" })
        case "der-signature":
            let raw = try sender.signer.key.sign(Array(try message.signatureBase(parameters).utf8))
            let der = try ECDSASignature.der(fromRaw: raw, scalarLength: sender.signer.key.algorithm.scalarLength)
            let values = try MessageSigner.headers(parameters: parameters, signature: der)
            var signed = headers
            signed.append("Signature-Input", values.signatureInput)
            signed.append("Signature", values.signature)
            return OutgoingRequest(method: "POST", url: target.url, headers: signed, body: event.body)
        case "created-in-future":
            return try sender.signed(headers, body: event.body, to: target, created: created + Self.futureCreated)
        case "signature-expired":
            var parameters = sender.signer.webhookParameters(for: message, created: created - Self.expiredCreated)
            parameters.expires = created - Self.expiredExpires
            return try signed(parameters)
        case "late-retry":
            // A retry: the event (Webhook-Id, Webhook-Timestamp, body) as first sent hours ago, signed afresh now.
            let late = WebhookEvent(
                webhookID: event.webhookID,
                timestamp: created - Self.lateRetryAge,
                orderID: event.orderID,
                body: event.body
            )
            return try sender.signedRequest(for: late, to: target, created: created)
        case "unpublished-key":
            return try sender.with(key: needed(rogue, caseID)).signedRequest(for: event, to: target, created: created)
        case "ed25519-key":
            return try sender.with(key: needed(ed25519, caseID)).signedRequest(for: event, to: target, created: created)
        case "profile-not-well-known":
            let url = sender.profileURL.replacingOccurrences(of: "/.well-known/ucp", with: "/ucp-profile.json")
            return try sign(sender.unsignedHeaders(for: event, profileURL: url))
        case "profile-unreachable":
            return try sign(sender.unsignedHeaders(for: event, profileURL: needed(unreachableProfile, caseID)))
        case "another-shop":
            return try needed(otherShop, caseID).signedRequest(for: event, to: target, created: created)
        case "whitespace":
            let object = try JSONSerialization.jsonObject(with: Data(event.body))
            let pretty = [UInt8](
                try JSONSerialization.data(
                    withJSONObject: object,
                    options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                )
            )
            return try sender.signedRequest(for: event.with(body: pretty), to: target, created: created)
        case "valid", "duplicate", "out-of-order", "unknown-fields", "key-rotation":
            // These cases test what is sent (twice, late, with extra fields) or what the profile publishes (a
            // rotated key, which the runner sets up), not how one request is signed: each request is valid.
            return try sign(headers)
        default:
            throw UnknownCase(id: caseID)
        }
    }

    /// A case id the forge has no delivery for: a catalog entry without one here would otherwise go out valid.
    struct UnknownCase: Error, CustomStringConvertible {
        let id: String
        var description: String { "no delivery is defined for check case \(id)" }
    }

    /// A case whose identity this forge was not given.
    struct MissingIdentity: Error, CustomStringConvertible {
        let id: String
        var description: String { "check case \(id) needs an identity this forge was not given" }
    }

    private func needed<T>(_ value: T?, _ caseID: String) throws -> T {
        guard let value else { throw MissingIdentity(id: caseID) }
        return value
    }

    /// Adds fields no schema knows and a fulfillment event type the spec does not list.
    public static func withUnknownFields(_ body: [UInt8]) throws -> [UInt8] {
        guard var order = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return body }
        order["x_ucpsim_extension"] = ["loyalty_points": 120, "note": "fields a receiver must ignore"]
        var fulfillment = order["fulfillment"] as? [String: Any] ?? [:]
        var events = fulfillment["events"] as? [[String: Any]] ?? []
        let line = (order["line_items"] as? [[String: Any]])?.first?["id"] as? String ?? "li_1"
        events.append([
            "id": "evt_drone", "type": "drone_dropoff", "occurred_at": "2026-04-11T12:00:00Z",
            "line_items": [["id": line, "quantity": 1]], "x_altitude_m": 30,
        ])
        fulfillment["events"] = events
        order["fulfillment"] = fulfillment
        return [UInt8](
            try JSONSerialization.data(withJSONObject: order, options: [.sortedKeys, .withoutEscapingSlashes])
        )
    }
}
