import CLibCrypto
import Foundation

extension SigningKey {
    /// The P-256 group order n: a derived ES256 scalar must lie in [1, n).
    static let p256Order: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]

    /// A key made from 32 secret bytes instead of the random generator, that signs deterministically (ES256 with
    /// RFC 6979 nonces; Ed25519 always is). For reproducible test vectors only: the same bytes give the same key.
    ///
    /// ES256: the bytes are the private scalar (nil when it is not in [1, n): derive other bytes and try again).
    /// Ed25519: the bytes are the RFC 8032 private key. ES384 is not offered.
    public static func derived(_ algorithm: SignatureAlgorithm, kid: String, secret: [UInt8]) throws(CryptoError)
        -> SigningKey?
    {
        guard secret.count == 32 else { throw CryptoError.malformedKey("a derived key needs 32 secret bytes") }
        var der: [UInt8]
        let label: String
        switch algorithm {
        case .es256:
            guard secret.contains(where: { $0 != 0 }), secret.lexicographicallyPrecedes(p256Order) else { return nil }
            // SEC 1 ECPrivateKey without the public point (OpenSSL computes it): version 1, d, [0] prime256v1.
            der = [0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20] + secret
            der += [0xA0, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
            label = "EC PRIVATE KEY"
        case .ed25519:
            // PKCS#8 OneAsymmetricKey: version 0, id-Ed25519, the 32-byte private key (RFC 8410).
            der =
                [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
                + secret
            label = "PRIVATE KEY"
        case .es384:
            throw CryptoError.unsupportedKey("derived keys are ES256 or Ed25519")
        }
        var base64 = Array(Data(der).base64EncodedString().utf8)
        OPENSSL_cleanse(&der, der.count)
        var pem = Array("-----BEGIN \(label)-----\n".utf8)
        var start = 0
        while start < base64.count {
            pem += base64[start..<min(start + 64, base64.count)] + [0x0A]
            start += 64
        }
        pem += Array("-----END \(label)-----\n".utf8)
        OPENSSL_cleanse(&base64, base64.count)
        defer { OPENSSL_cleanse(&pem, pem.count) }
        return try SigningKey(pem: pem, kid: kid).deterministic()
    }
}
