import Foundation

extension DeliveryState {
    /// The newest attempt that got as far as a request, with its header fields as sent; nil when none did (not
    /// attempted yet, or read from a journal written before ucpsim recorded them).
    public var lastSentRequest: (attempt: AttemptRecord, headers: HTTPFieldList)? {
        for attempt in attempts.reversed() {
            if let headers = attempt.sentHeaders { return (attempt, headers) }
        }
        return nil
    }
}

/// What `ucpsim deliveries show` prints about one delivery: who it is for, every attempt with its response excerpt
/// or error, and the request as sent on its newest attempt (header fields, signature base, body).
///
/// Everything that came from outside (a receiver's response, the order's bytes, ids) goes through
/// `Identifier.printable` line by line: the text's own line breaks are kept, any other control character is written
/// as `\u{…}`, so a hostile body cannot drive the terminal. Bidirectional overrides and isolates are written the
/// same way, so a body cannot make its text read in another order than it is.
public enum DeliveryDescription {
    /// `Identifier.printable`, and the bidirectional formatting characters as `\u{…}` too.
    static func terminalSafe(_ text: String) -> String {
        let printable = Identifier.printable(text)
        func isBidi(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.value {
            case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
            default: false
            }
        }
        guard printable.unicodeScalars.contains(where: isBidi) else { return printable }
        var out = ""
        for scalar in printable.unicodeScalars {
            if isBidi(scalar) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The lines for `state`, with its body as the outbox gave it back (or why it could not).
    public static func lines(_ state: DeliveryState, body: Result<[UInt8], BodyUnreadable>) -> [String] {
        var out: [String] = []
        func put(_ text: String) { out.append(terminalSafe(text)) }
        /// Each line of `text` indented, its own line breaks kept (a CRLF counts as one).
        func block(_ text: String, indent: String = "  ") {
            // Split on the bytes: as Characters, "\r\n" is one and would not split on "\n".
            var lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false)
            if lines.last?.isEmpty == true { lines.removeLast() }
            for line in lines {
                put(indent + String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self))
            }
        }

        put(
            "delivery \(state.id)  webhook-id \(state.event.webhookID)  order \(state.event.orderID)  -> \(state.target)"
        )
        put(
            "subscription \(state.subscription?.rawValue ?? "-")  dialect \(state.dialect.rawValue)  "
                + "type \(state.eventType.rawValue)"
        )
        let size: String
        switch body {
        case .success(let bytes): size = "\(bytes.count) bytes"
        case .failure(let error): size = "unreadable (\(error.description))"
        }
        put("timestamp \(state.event.timestamp)  body \(size)  state \(state.phase.name)")
        switch state.phase {
        case .pending(let next): put("next attempt \(next.formatted(.iso8601))")
        case .dead(let reason): put("dead-lettered: \(reason)")
        case .delivered: break
        }

        put(state.attempts.isEmpty ? "attempts: none yet" : "attempts:")
        for attempt in state.attempts {
            let timing = "  #\(attempt.number)  \(attempt.at.formatted(.iso8601))  "
            let took = "  \(String(format: "%.1f", attempt.milliseconds)) ms"
            if let status = attempt.status {
                put(timing + "HTTP \(status)" + took)
                // The excerpt is the receiver's text: shown as its own lines, escaped.
                if attempt.detail.isEmpty {
                    put("      response: (empty)")
                } else {
                    put("      response:")
                    block(attempt.detail, indent: "        ")
                }
            } else {
                put(timing + "no response" + took)
                put("      error: \(attempt.detail)")
            }
        }

        guard let (attempt, headers) = state.lastSentRequest else {
            put(
                "request: not recorded (no attempt built one yet, or the journal predates recorded requests)"
            )
            return out
        }
        put("request (attempt #\(attempt.number)):")
        put("  POST \(state.target)")
        for field in headers.fields { put("  \(field.name): \(field.value)") }
        guard case .success(let bytes) = body else {
            put("signature base: unknown (the body is unreadable)")
            return out
        }
        if let base = SentRequest.signatureBase(
            dialect: state.dialect,
            url: state.target,
            headers: headers,
            body: bytes
        ) {
            put("signature base:")
            block(base)
        } else {
            put("signature base: unknown (the headers do not name what was signed)")
        }
        put("body (\(bytes.count) bytes, as sent):")
        block(String(decoding: bytes, as: UTF8.self))
        return out
    }
}
