import CLibCrypto

/// Random bytes from OpenSSL's CSPRNG (`RAND_bytes`): tokens, secrets, codes.
public enum SecureRandom {
    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var random = [UInt8](repeating: 0, count: count)
        let ok = random.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        // OpenSSL's generator failing means the process has no entropy source: nothing safe to fall back to.
        precondition(ok == 1, "RAND_bytes failed")
        return random
    }
}
