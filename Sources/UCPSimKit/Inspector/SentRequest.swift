import Foundation

/// What a webhook's signature covers, rebuilt from the request as it was sent (its URL, header fields and body), for
/// `ucpsim deliveries show`, `GET /v1/deliveries/{id}` and the inspector page.
public enum SentRequest {
    /// The signed text in the delivery's dialect:
    /// - `ucp`: the RFC 9421 signature base (§2.5) of the signature `Signature-Input` names;
    /// - `ucp-hmac`: `"<t>.<body>"`, `t` from `UCP-Signature`;
    /// - `standard-webhooks`: `"<webhook-id>.<webhook-timestamp>.<body>"`.
    ///
    /// The body is shown as UTF-8 text (invalid sequences replaced). Nil when the headers do not name what was signed
    /// (an attempt that never got as far as signing, a header missing or malformed).
    public static func signatureBase(dialect: DialectName, url: String, headers: HTTPFieldList, body: [UInt8])
        -> String?
    {
        let text = String(decoding: body, as: UTF8.self)
        switch dialect {
        case .ucp:
            guard let target = try? RequestTarget(url) else { return nil }
            let message = SignableMessage(method: "POST", target: target, headers: headers)
            guard let (_, parameters) = try? MessageVerifier().parameters(of: message) else { return nil }
            return try? message.signatureBase(parameters)
        case .ucpHMAC:
            guard let value = headers["ucp-signature"] else { return nil }
            let stamp = value.split(separator: ",").lazy.map { $0.trimmingCharacters(in: .whitespaces) }
                .first { $0.hasPrefix("t=") }.map { String($0.dropFirst(2)) }
            guard let stamp, !stamp.isEmpty else { return nil }
            return "\(stamp).\(text)"
        case .standardWebhooks:
            guard let id = headers["webhook-id"], let stamp = headers["webhook-timestamp"] else { return nil }
            return "\(id).\(stamp).\(text)"
        }
    }
}
