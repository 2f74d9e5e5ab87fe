import CLibCrypto

/// ECDSA with RFC 6979 deterministic nonces: one key and one message always give one signature.
///
/// For reproducible offline vectors (`ucpsim check --export --seed`). OpenSSL 3.0 has no deterministic ECDSA of its
/// own (3.2 added it), so the nonce is derived here (HMAC_DRBG, RFC 6979 §3.2) and the signature computed with
/// OpenSSL's big-number and curve-point functions. The signature is an ordinary ECDSA signature: any verifier
/// accepts it.
enum DeterministicECDSA {
    /// Signs `message` with the private scalar of `key`: raw `r || s`, each `algorithm.scalarLength` bytes.
    static func sign(_ message: [UInt8], key: EVPKey, algorithm: SignatureAlgorithm) throws(CryptoError) -> [UInt8] {
        let curve: Int32
        let digest: DigestAlgorithm
        switch algorithm {
        case .es256: (curve, digest) = (NID_X9_62_prime256v1, .sha256)
        case .es384: (curve, digest) = (NID_secp384r1, .sha384)
        case .ed25519: throw CryptoError.unsupportedKey("Ed25519 signatures are deterministic already")
        }
        var privateKey: OpaquePointer?
        try check(EVP_PKEY_get_bn_param(key.pointer, "priv", &privateKey), "reading the private scalar")
        guard let privateKey else { throw CryptoError.openSSL("reading the private scalar") }
        defer { BN_clear_free(privateKey) }
        return try sign(message, privateKey: privateKey, curve: curve, digest: digest, size: algorithm.scalarLength)
    }

    /// RFC 6979 §3.2 with qlen = hlen (P-256/SHA-256, P-384/SHA-384), then s = k⁻¹(z + r·d) mod n.
    static func sign(
        _ message: [UInt8],
        privateKey: OpaquePointer,
        curve: Int32,
        digest: DigestAlgorithm,
        size: Int
    ) throws(CryptoError) -> [UInt8] {
        guard let context = BN_CTX_new() else { throw CryptoError.openSSL("allocating a BN_CTX") }
        defer { BN_CTX_free(context) }
        guard let group = EC_GROUP_new_by_curve_name(curve), let order = EC_GROUP_get0_order(group) else {
            throw CryptoError.openSSL("loading the curve")
        }
        defer { EC_GROUP_free(group) }
        let h1 = digest.hash(message)
        let z = try number(h1)
        defer { BN_free(z) }
        let reduced = try number([])
        defer { BN_free(reduced) }
        try check(BN_nnmod(reduced, z, order, context), "reducing the digest")
        // The HMAC_DRBG's seed material: int2octets(d) || bits2octets(h1). Wiped when done.
        var seed = try bytes(privateKey, size) + bytes(reduced, size)
        defer { OPENSSL_cleanse(&seed, seed.count) }
        var v = [UInt8](repeating: 1, count: h1.count)
        var k = [UInt8](repeating: 0, count: h1.count)
        defer { OPENSSL_cleanse(&k, k.count) }
        k = try hmac(digest, key: k, v + [0] + seed)
        v = try hmac(digest, key: k, v)
        k = try hmac(digest, key: k, v + [1] + seed)
        v = try hmac(digest, key: k, v)
        while true {
            v = try hmac(digest, key: k, v)
            let nonce = try number(v)
            defer { BN_clear_free(nonce) }
            if BN_is_zero(nonce) == 0, BN_cmp(nonce, order) < 0,
                let signature = try signature(nonce, privateKey, z, group, order, context, size)
            {
                return signature
            }
            k = try hmac(digest, key: k, v + [0])
            v = try hmac(digest, key: k, v)
        }
    }

    /// `r || s` for the nonce, or nil when r or s is zero (then RFC 6979 draws the next nonce).
    private static func signature(
        _ nonce: OpaquePointer,
        _ privateKey: OpaquePointer,
        _ z: OpaquePointer,
        _ group: OpaquePointer,
        _ order: OpaquePointer,
        _ context: OpaquePointer,
        _ size: Int
    ) throws(CryptoError) -> [UInt8]? {
        guard let point = EC_POINT_new(group) else { throw CryptoError.openSSL("allocating a curve point") }
        defer { EC_POINT_free(point) }
        try check(EC_POINT_mul(group, point, nonce, nil, nil, context), "computing k·G")
        let x = try number([])
        defer { BN_free(x) }
        try check(EC_POINT_get_affine_coordinates(group, point, x, nil, context), "reading k·G")
        let r = try number([])
        defer { BN_free(r) }
        try check(BN_nnmod(r, x, order, context), "computing r")
        guard let inverse = BN_mod_inverse(nil, nonce, order, context) else {
            throw CryptoError.openSSL("inverting the nonce")
        }
        defer { BN_clear_free(inverse) }
        let s = try number([])
        defer { BN_clear_free(s) }
        try check(BN_mod_mul(s, r, privateKey, order, context), "computing r·d")
        try check(BN_mod_add(s, s, z, order, context), "computing z + r·d")
        try check(BN_mod_mul(s, inverse, s, order, context), "computing s")
        if BN_is_zero(r) == 1 || BN_is_zero(s) == 1 { return nil }
        return try bytes(r, size) + bytes(s, size)
    }

    private static func number(_ bytes: [UInt8]) throws(CryptoError) -> OpaquePointer {
        guard let number = BN_bin2bn(bytes, Int32(bytes.count), nil) else {
            throw CryptoError.openSSL("allocating a big number")
        }
        return number
    }

    private static func bytes(_ number: OpaquePointer, _ size: Int) throws(CryptoError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        guard BN_bn2binpad(number, &output, Int32(size)) == Int32(size) else {
            throw CryptoError.openSSL("encoding a big number")
        }
        return output
    }

    private static func hmac(_ digest: DigestAlgorithm, key: [UInt8], _ data: [UInt8]) throws(CryptoError)
        -> [UInt8]
    {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length = 0
        let name = digest == .sha384 ? "SHA2-384" : "SHA2-256"
        guard
            EVP_Q_mac(nil, "HMAC", nil, name, nil, key, key.count, data, data.count, &output, output.count, &length)
                != nil
        else { throw CryptoError.openSSL("computing HMAC") }
        return Array(output.prefix(length))
    }
}
