/// The receiving side of the `ucp-hmac` dialect: `UCP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
/// `"<t>.<raw body>"`, keyed with the secret's UTF-8 text; the body is the event envelope, whose `event_id` is the id
/// duplicates are detected by.
///
/// With no secret configured it is refused at once (`secret_not_configured`). Parsing: comma-separated `key=value` items (spaces around them ignored); exactly one `t`, of ASCII digits; one or
/// more `v1` (several during a secret rotation: any one matching is enough), each 64 hex digits; items with other
/// keys are ignored (a later version may add some). Then the timestamp (within 5 minutes either way), then the MAC.
enum UCPHMACVerifier: HMACWebhookVerifier {
    static let dialect = DialectName.ucpHMAC
    static let header = "UCP-Signature"

    static func claimedEvent(headers: HTTPFieldList, body: [UInt8]) -> ClaimedEvent {
        ClaimedEvent(id: ClaimedEvent.string("event_id", in: body), type: ClaimedEvent.string("event_type", in: body))
    }

    static func verify(headers: HTTPFieldList, body: [UInt8], keys: [ReceiverSecrets.Key], now: Int64)
        throws(SignatureFailure) -> HMACVerification
    {
        guard !keys.isEmpty else {
            throw SignatureFailure(.secretNotConfigured, "no secret is configured to check ucp-hmac signatures")
        }
        guard let value = headers[header] else { throw SignatureFailure(.headerMissing, "no \(header) header") }
        var timestamp: Substring?
        var signatures: [[UInt8]] = []
        for item in value.split(separator: ",", omittingEmptySubsequences: false) {
            let item = item.trimmingSpaces
            guard let equals = item.firstIndex(of: "=") else {
                throw SignatureFailure(
                    .headerMalformed,
                    "\(header) item \(Identifier.quoted(String(item))) is not key=value"
                )
            }
            let key = item[..<equals]
            let text = item[item.index(after: equals)...]
            switch key {
            case "t":
                guard timestamp == nil else {
                    throw SignatureFailure(.headerMalformed, "\(header) has more than one t")
                }
                timestamp = text
            case "v1":
                guard let bytes = hexBytes(text), bytes.count == 32 else {
                    throw SignatureFailure(
                        .headerMalformed,
                        "\(header) v1 is not 64 hex digits: \(Identifier.quoted(String(text)))"
                    )
                }
                signatures.append(bytes)
            default:
                continue
            }
        }
        guard let timestamp else { throw SignatureFailure(.headerMalformed, "\(header) has no t=<unix seconds>") }
        guard !signatures.isEmpty else { throw SignatureFailure(.headerMalformed, "\(header) has no v1=<hex>") }
        let seconds = try HMACTimestamp.parse(timestamp, header: "\(header) t")
        try HMACTimestamp.check(seconds, now: now, header: "\(header) t")
        guard
            let secret = matchingSecret(
                parts: [Array("\(timestamp).".utf8), body],
                candidates: signatures,
                keys: keys
            )
        else {
            throw mismatch(signatures.count, keys: keys.count)
        }
        guard let eventID = ClaimedEvent.string("event_id", in: body), !eventID.isEmpty else {
            throw SignatureFailure(.envelopeMalformed, "the body is not an event envelope with an event_id string")
        }
        return HMACVerification(secret: secret, eventID: eventID)
    }

    /// The bytes of an even-length hex string (either case), nil for anything else.
    private static func hexBytes(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
