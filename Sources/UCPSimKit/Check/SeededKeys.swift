import Foundation

/// Keys and ids that follow from one seed, so `ucpsim check --export --seed N` writes the same files every time.
struct SeededKeys {
    let seed: UInt64

    /// 32 bytes for `purpose`: SHA-256 over a domain label, the seed (8 bytes, big-endian), the purpose, a counter.
    func bytes(_ purpose: String, counter: UInt8 = 0) -> [UInt8] {
        var input = Array("ucpsim check export".utf8) + [0]
        withUnsafeBytes(of: seed.bigEndian) { input += $0 }
        input += Array(purpose.utf8) + [0, counter]
        return DigestAlgorithm.sha256.hash(input)
    }

    /// The key `kid` for this seed (ES256 or Ed25519), signing deterministically.
    func key(_ algorithm: SignatureAlgorithm, kid: String) throws(CryptoError) -> SigningKey {
        var counter: UInt8 = 0
        while true {
            // An ES256 candidate is out of range with probability about 2^-32: then the next counter.
            if let key = try SigningKey.derived(algorithm, kid: kid, secret: bytes("key " + kid, counter: counter)) {
                return key
            }
            counter &+= 1
        }
    }

    /// A UUID in version-4 layout for `purpose` (the vectors' `Webhook-Id`s).
    func uuid(_ purpose: String) -> String {
        var raw = Array(bytes("webhook-id " + purpose).prefix(16))
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        let hex = raw.map { String(format: "%02x", $0) }.joined()
        let cuts = [8, 12, 16, 20]
        var parts: [Substring] = []
        var start = hex.startIndex
        for cut in cuts {
            let end = hex.index(hex.startIndex, offsetBy: cut)
            parts.append(hex[start..<end])
            start = end
        }
        parts.append(hex[start...])
        return parts.joined(separator: "-")
    }
}
