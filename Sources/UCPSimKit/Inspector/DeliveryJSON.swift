import Foundation

/// The JSON of `GET /v1/deliveries` and the event stream: a delivery's Summary, its Detail, an Attempt.
enum DeliveryJSON {
    /// A delivery in a listing or a stream event: what it is, where it goes, how it stands, its last attempt.
    static func summary(_ entry: DeliveryInspector.Entry) -> [String: Any] {
        let state = entry.state
        var object: [String: Any] = [
            "id": state.id.rawValue,
            "event_id": state.event.webhookID,
            "event_type": state.eventType.rawValue,
            "order_id": state.event.orderID,
            "subscription": state.subscription.map { $0.rawValue as Any } ?? NSNull(),
            "dialect": state.dialect.rawValue,
            "url": state.target,
            "status": state.phase.name,
            "occurred_at": timestamp(
                Date(timeIntervalSince1970: TimeInterval(state.event.timestamp)),
                milliseconds: false
            ),
            "attempt_count": state.attempts.count,
            "last_attempt": state.attempts.last.map { attempt($0) as Any } ?? NSNull(),
        ]
        switch state.phase {
        case .pending(let next): object["next_attempt_at"] = timestamp(next)
        case .dead(let reason): object["dead_reason"] = reason
        case .delivered: break
        }
        return object
    }

    /// One attempt: when, how long, the response's status and excerpt, or the error when no response came.
    static func attempt(_ record: AttemptRecord) -> [String: Any] {
        var object: [String: Any] = [
            "number": record.number,
            "at": timestamp(record.at),
            "duration_ms": (record.milliseconds * 10).rounded() / 10,
            "response_status": record.status.map { $0 as Any } ?? NSNull(),
        ]
        if record.status != nil {
            object["response_excerpt"] = record.detail
        } else {
            object["error"] = record.detail
        }
        return object
    }

    /// The Summary plus every attempt, the request as last sent (headers, body, signature base) and the order the
    /// body carries.
    static func detail(_ entry: DeliveryInspector.Entry, body: Result<[UInt8], DeliveryInspector.BodyUnavailable>)
        -> [String: Any]
    {
        let state = entry.state
        var object = summary(entry)
        object["attempts"] = state.attempts.map(attempt)
        // The request as last sent: its URL is where that attempt went (a resend may since name another).
        let url = entry.sentTo ?? state.target
        var request: [String: Any] = [
            "method": "POST",
            "url": url,
            "headers": entry.headers.map { headers in
                headers.fields.map { ["name": $0.name, "value": $0.value] } as Any
            } ?? NSNull(),
        ]
        var snapshot: Any = NSNull()
        switch body {
        case .success(let bytes):
            request["body"] = String(decoding: bytes, as: UTF8.self)
            request["body_base64"] = Data(bytes).base64EncodedString()
            request["body_size"] = bytes.count
            request["signature_base"] =
                entry.headers.flatMap {
                    SentRequest.signatureBase(dialect: state.dialect, url: url, headers: $0, body: bytes)
                } ?? NSNull()
            snapshot = orderSnapshot(bytes, dialect: state.dialect) ?? NSNull()
        case .failure(let reason):
            request["body"] = NSNull()
            request["body_base64"] = NSNull()
            request["body_size"] = NSNull()
            request["body_unavailable"] = reason.reason
            request["signature_base"] = NSNull()
        }
        object["request"] = request
        object["order_snapshot"] = snapshot
        return object
    }

    /// The order object a body carries: `ucp` sends the order itself; `ucp-hmac` an envelope whose `data.order` (or
    /// `data`) is it; `standard-webhooks` an envelope whose `data` is it. Nil when the body is not that shape.
    static func orderSnapshot(_ body: [UInt8], dialect: DialectName) -> [String: Any]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        switch dialect {
        case .ucp: return object
        case .ucpHMAC:
            guard let data = object["data"] as? [String: Any] else { return nil }
            return data["order"] as? [String: Any] ?? data
        case .standardWebhooks: return object["data"] as? [String: Any]
        }
    }

    /// Compact JSON, keys sorted, `/` not escaped.
    static func encode(_ object: [String: Any]) -> [UInt8] {
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return data.map { [UInt8]($0) } ?? Array("{}".utf8)
    }

    /// RFC 3339 in UTC, with milliseconds unless `milliseconds` is false: `2026-11-30T09:12:03.456Z`.
    static func timestamp(_ date: Date, milliseconds: Bool = true) -> String {
        let interval = date.timeIntervalSince1970
        let whole = interval.rounded(.down)
        // A time read from a damaged or edited journal may be anything: years 0…9999 only, else the number itself.
        guard whole.isFinite, whole >= -62_167_219_200, whole < 253_402_300_800, var seconds = time_t(exactly: whole)
        else { return interval.isFinite ? String(interval) : "0" }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let text = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d",
            Int(parts.tm_year) + 1900,
            Int(parts.tm_mon) + 1,
            Int(parts.tm_mday),
            Int(parts.tm_hour),
            Int(parts.tm_min),
            Int(parts.tm_sec)
        )
        guard milliseconds else { return text + "Z" }
        let millis = min(999, max(0, Int(((interval - whole) * 1000).rounded(.down))))
        return text + String(format: ".%03dZ", millis)
    }
}
