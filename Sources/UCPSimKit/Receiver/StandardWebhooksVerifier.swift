import Foundation

/// The receiving side of the `standard-webhooks` dialect (https://www.standardwebhooks.com): `webhook-id`,
/// `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256>` over `"<id>.<timestamp>.<raw body>"`, keyed
/// with the base64-decoded bytes after `whsec_`. `webhook-id` is the id duplicates are detected by.
///
/// With no secret configured it is refused at once (`secret_not_configured`). `webhook-signature` is a
/// space-separated list of `<version>,<signature>` (several during a rotation, in one field or several): any `v1`
/// matching is enough; other versions (`v1a`, Ed25519) are skipped, as the spec allows. Then the timestamp (within
/// 5 minutes either way, the spec's tolerance), then the MAC.
enum StandardWebhooksVerifier: HMACWebhookVerifier {
    static let dialect = DialectName.standardWebhooks

    static func claimedEvent(headers: HTTPFieldList, body: [UInt8]) -> ClaimedEvent {
        ClaimedEvent(
            id: headers["webhook-id"],
            type: ClaimedEvent.string("type", in: body) ?? ClaimedEvent.string("event_type", in: body)
        )
    }

    static func verify(headers: HTTPFieldList, body: [UInt8], keys: [ReceiverSecrets.Key], now: Int64)
        throws(SignatureFailure) -> HMACVerification
    {
        guard !keys.isEmpty else {
            throw SignatureFailure(
                .secretNotConfigured,
                "no secret is configured to check standard-webhooks signatures"
            )
        }
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] where headers[name] == nil {
            throw SignatureFailure(.headerMissing, "no \(name) header")
        }
        guard let id = headers["webhook-id"], !id.isEmpty else {
            throw SignatureFailure(.headerMalformed, "webhook-id is empty")
        }
        let timestampText = Substring(headers["webhook-timestamp"] ?? "")
        let seconds = try HMACTimestamp.parse(timestampText, header: "webhook-timestamp")
        var signatures: [[UInt8]] = []
        var entries = 0
        for field in headers.fields where HTTPFieldList.sameName(field.name, "webhook-signature") {
            for entry in field.value.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                entries += 1
                guard let comma = entry.firstIndex(of: ",") else {
                    throw SignatureFailure(
                        .headerMalformed,
                        "webhook-signature entry \(Identifier.quoted(String(entry))) is not <version>,<signature>"
                    )
                }
                guard entry[..<comma] == "v1" else { continue }
                let encoded = String(entry[entry.index(after: comma)...])
                guard let bytes = Data(base64Encoded: encoded), bytes.count == 32 else {
                    throw SignatureFailure(
                        .headerMalformed,
                        "webhook-signature v1 is not the base64 of 32 bytes: \(Identifier.quoted(encoded))"
                    )
                }
                signatures.append([UInt8](bytes))
            }
        }
        guard entries > 0 else { throw SignatureFailure(.headerMalformed, "webhook-signature is empty") }
        try HMACTimestamp.check(seconds, now: now, header: "webhook-timestamp")
        guard !signatures.isEmpty else {
            throw SignatureFailure(
                .signatureMismatch,
                "no v1 signature among the \(entries) given (ucpsim checks v1 only; v1a, Ed25519, is not implemented)"
            )
        }
        guard
            let secret = matchingSecret(
                parts: [Array("\(id).\(timestampText).".utf8), body],
                candidates: signatures,
                keys: keys
            )
        else {
            throw mismatch(signatures.count, keys: keys.count)
        }
        return HMACVerification(secret: secret, eventID: id)
    }
}
