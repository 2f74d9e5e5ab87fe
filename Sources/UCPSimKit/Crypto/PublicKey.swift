import CLibCrypto

/// A public verification key, built from a JWK or from a `SigningKey`.
public struct PublicKey: Sendable {
    public let kid: String
    public let algorithm: SignatureAlgorithm
    /// `04 || X || Y` for EC, the 32-byte key for Ed25519.
    public let rawPublicKey: [UInt8]
    let key: EVPKey

    init(kid: String, algorithm: SignatureAlgorithm, rawPublicKey: [UInt8]) throws(CryptoError) {
        self.kid = kid
        self.algorithm = algorithm
        self.rawPublicKey = rawPublicKey
        self.key = try Self.importKey(algorithm: algorithm, raw: rawPublicKey)
    }

    /// Imports a public JWK; the algorithm comes from `kty`/`crv`, never from `alg`.
    public init(jwk: JWK) throws(CryptoError) {
        guard let algorithm = jwk.algorithm else {
            throw CryptoError.unsupportedKey(
                "key \(jwk.kid) has kty=\(jwk.kty) crv=\(jwk.crv ?? "none"), which ucpsim does not verify"
            )
        }
        guard let x = jwk.x.flatMap(Base64URL.decode), x.count == algorithm.scalarLength else {
            throw CryptoError.malformedKey(
                "key \(jwk.kid): x is missing or not \(algorithm.scalarLength) base64url bytes"
            )
        }
        var raw = x
        if algorithm != .ed25519 {
            guard let y = jwk.y.flatMap(Base64URL.decode), y.count == algorithm.scalarLength else {
                throw CryptoError.malformedKey(
                    "key \(jwk.kid): y is missing or not \(algorithm.scalarLength) base64url bytes"
                )
            }
            raw = [0x04] + x + y
        }
        try self.init(kid: jwk.kid, algorithm: algorithm, rawPublicKey: raw)
    }

    /// The JWK for this key (`use: "sig"`, `alg` set).
    public var jwk: JWK {
        if algorithm == .ed25519 {
            return JWK(kid: kid, kty: "OKP", crv: "Ed25519", x: Base64URL.encode(rawPublicKey), alg: algorithm.jwsName)
        }
        let n = algorithm.scalarLength
        return JWK(
            kid: kid,
            kty: "EC",
            crv: algorithm.curve,
            x: Base64URL.encode(rawPublicKey[1...n]),
            y: Base64URL.encode(rawPublicKey[(n + 1)...]),
            alg: algorithm.jwsName
        )
    }

    /// Verifies a wire signature (raw `r || s` for ECDSA) over `message`. False on any mismatch or bad length.
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        guard signature.count == algorithm.signatureLength else { return false }
        let native: [UInt8]
        if algorithm == .ed25519 {
            native = signature
        } else {
            guard let der = try? ECDSASignature.der(fromRaw: signature, scalarLength: algorithm.scalarLength) else {
                return false
            }
            native = der
        }
        let result = try? withDigestContext { context throws(CryptoError) -> Bool in
            try check(
                EVP_DigestVerifyInit(context, nil, algorithm.digest?.evpMD, nil, key.pointer),
                "initialising verification"
            )
            return EVP_DigestVerify(context, native, native.count, message, message.count) == 1
        }
        _ = drainOpenSSLErrors()
        return result ?? false
    }

    private static func importKey(algorithm: SignatureAlgorithm, raw: [UInt8]) throws(CryptoError) -> EVPKey {
        if algorithm == .ed25519 {
            guard let key = EVP_PKEY_new_raw_public_key(Int32(UCPSIM_EVP_PKEY_ED25519), nil, raw, raw.count) else {
                throw CryptoError.malformedKey("not a valid Ed25519 public key")
            }
            return EVPKey(taking: key)
        }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
            throw CryptoError.openSSL("creating an EC key importer")
        }
        defer { EVP_PKEY_CTX_free(context) }
        try check(EVP_PKEY_fromdata_init(context), "initialising EC key import")
        var imported: OpaquePointer?
        // OSSL_PARAM keeps raw pointers: the group name and point buffer are pinned for the whole call.
        let status = algorithm.curve.withCString { group in
            raw.withUnsafeBytes { point in
                var params = [
                    OSSL_PARAM_construct_utf8_string(
                        ucpsim_param_group_name(),
                        UnsafeMutablePointer(mutating: group),
                        0
                    ),
                    OSSL_PARAM_construct_octet_string(
                        ucpsim_param_pub_key(),
                        UnsafeMutableRawPointer(mutating: point.baseAddress),
                        point.count
                    ),
                    OSSL_PARAM_construct_end(),
                ]
                return EVP_PKEY_fromdata(context, &imported, Int32(UCPSIM_EVP_PKEY_PUBLIC_KEY), &params)
            }
        }
        guard status == 1, let imported else {
            throw CryptoError.malformedKey("not a valid \(algorithm.curve) public point")
        }
        return EVPKey(taking: imported)
    }
}
