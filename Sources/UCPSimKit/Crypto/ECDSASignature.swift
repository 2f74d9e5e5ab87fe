import CLibCrypto

/// Converts ECDSA signatures between OpenSSL's DER and the raw `r || s` form JOSE and UCP use.
public enum ECDSASignature {
    /// DER `SEQUENCE { r INTEGER, s INTEGER }` → `r || s`, each left-padded to `scalarLength` bytes.
    public static func raw(fromDER der: [UInt8], scalarLength: Int) throws(CryptoError) -> [UInt8] {
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let signature = parsed else {
            throw CryptoError.malformedSignature("the ECDSA signature is not valid DER")
        }
        defer { ECDSA_SIG_free(signature) }
        var r: OpaquePointer?
        var s: OpaquePointer?
        ECDSA_SIG_get0(signature, &r, &s)
        var output = [UInt8](repeating: 0, count: scalarLength * 2)
        let ok = output.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return BN_bn2binpad(r, base, Int32(scalarLength)) == Int32(scalarLength)
                && BN_bn2binpad(s, base + scalarLength, Int32(scalarLength)) == Int32(scalarLength)
        }
        guard ok else { throw CryptoError.malformedSignature("an ECDSA signature component is too large") }
        return output
    }

    /// `r || s` → DER, for OpenSSL's verifier (and for deliberately non-compliant test deliveries).
    public static func der(fromRaw raw: [UInt8], scalarLength: Int) throws(CryptoError) -> [UInt8] {
        guard raw.count == scalarLength * 2 else {
            throw CryptoError.malformedSignature(
                "expected a \(scalarLength * 2)-byte r||s signature, got \(raw.count) bytes"
            )
        }
        guard let signature = ECDSA_SIG_new() else { throw CryptoError.openSSL("allocating an ECDSA signature") }
        defer { ECDSA_SIG_free(signature) }
        let r = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32(scalarLength), nil) }
        let s = raw[scalarLength...].withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32(scalarLength), nil) }
        guard let r, let s, ECDSA_SIG_set0(signature, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            throw CryptoError.openSSL("building an ECDSA signature")
        }
        let length = i2d_ECDSA_SIG(signature, nil)
        guard length > 0 else { throw CryptoError.openSSL("encoding an ECDSA signature") }
        var output = [UInt8](repeating: 0, count: Int(length))
        let written = output.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_ECDSA_SIG(signature, &cursor)
        }
        guard written == length else { throw CryptoError.openSSL("encoding an ECDSA signature") }
        return output
    }
}
