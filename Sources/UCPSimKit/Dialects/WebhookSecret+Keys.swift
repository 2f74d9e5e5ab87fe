import Foundation

extension WebhookSecret {
    /// The fewest and most key bytes a secret may give (a generated secret gives 32).
    public static let keyBytes = 24...64

    /// The `whsec_` prefix generated secrets carry.
    public static let prefix = "whsec_"

    /// The HMAC key `dialect` signs with, checked to be 24–64 bytes:
    /// - `standard-webhooks`: the base64 after the `whsec_` prefix, decoded (Standard Webhooks). Like the
    ///   `standardwebhooks` libraries, the prefix is optional and base64 padding may be left out; unlike Python's
    ///   `b64decode`, characters outside the standard base64 alphabet are an error, not silently dropped.
    /// - `ucp-hmac` (and `ucp`, which signs with the shop's key and ignores secrets): the secret's UTF-8 text, whole,
    ///   prefix included.
    public func signingKey(for dialect: DialectName) throws(DialectError) -> [UInt8] {
        let key: [UInt8]
        switch dialect {
        case .ucp, .ucpHMAC:
            key = Array(text.utf8)
        case .standardWebhooks:
            let encoded = text.hasPrefix(Self.prefix) ? String(text.dropFirst(Self.prefix.count)) : text
            guard let decoded = Self.decodeBase64(encoded) else {
                throw .malformedSecret(dialect, "it is not \(Self.prefix) followed by base64")
            }
            key = decoded
        }
        guard Self.keyBytes.contains(key.count) else {
            throw .malformedSecret(
                dialect,
                "it gives \(key.count) key bytes; \(Self.keyBytes.lowerBound)–\(Self.keyBytes.upperBound) are needed"
            )
        }
        return key
    }

    /// Standard base64, padding optional; nil for anything else (base64url included).
    private static func decodeBase64(_ text: String) -> [UInt8]? {
        var unpadded = Substring(text)
        while unpadded.hasSuffix("=") { unpadded = unpadded.dropLast() }
        guard !unpadded.isEmpty, text.count - unpadded.count <= 2, unpadded.count % 4 != 1 else { return nil }
        let alphabet = unpadded.utf8.allSatisfy { byte in
            (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2B || byte == 0x2F
        }
        guard alphabet else { return nil }
        let padded = String(unpadded) + String(repeating: "=", count: (4 - unpadded.count % 4) % 4)
        return Data(base64Encoded: padded).map { [UInt8]($0) }
    }
}
