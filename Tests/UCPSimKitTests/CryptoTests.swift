import Foundation
import Testing
@testable import UCPSimKit

@Suite struct CryptoTests {
    @Test func rfc9530VectorDigestsHelloWorld() {
        #expect(
            ContentDigest.header(for: Array(#"{"hello": "world"}"#.utf8))
                == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        )
    }

    @Test func p256TestKeyExportsTheSpecJWK() throws {
        let key = try SigningKey(pem: Array(TestSupport.p256PEM.utf8), kid: "test-key-ecc-p256")
        let jwk = try key.publicJWK()
        #expect(key.algorithm == .es256)
        #expect(jwk.kty == "EC" && jwk.crv == "P-256" && jwk.use == "sig" && jwk.alg == "ES256")
        #expect(jwk.x == "qIVYZVLCrPZHGHjP17CTW0_-D9Lfw0EkjqF7xB4FivA")
        #expect(jwk.y == "Mc4nN9LTDOBhfoUeg8Ye9WedFRhnZXZJA12Qp0zZ6F0")
        let encoded = String(decoding: try JSONEncoder().encode(jwk), as: UTF8.self)
        #expect(!encoded.contains("\"d\""))
    }

    @Test func rfc9421B24ResponseSignatureVerifies() throws {
        let base = """
            "@status": 200
            "content-type": application/json
            "content-digest": sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:
            "content-length": 23
            "@signature-params": ("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"
            """
        let signature = [UInt8](
            Data(
                base64Encoded:
                    "wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAUy5eCdlYUEkLIj+32oiasw=="
            )!
        )
        let key = try SigningKey(pem: Array(TestSupport.p256PEM.utf8), kid: "test-key-ecc-p256").publicKey()
        #expect(key.verify(signature: signature, message: Array(base.utf8)))
        #expect(!key.verify(signature: signature, message: Array((base + " ").utf8)))
    }

    @Test func ed25519B26SignsByteExactly() throws {
        let key = try SigningKey(pem: Array(TestSupport.ed25519PEM.utf8), kid: "test-key-ed25519")
        #expect(key.algorithm == .ed25519)
        let base = """
            "date": Tue, 20 Apr 2021 02:07:55 GMT
            "@method": POST
            "@path": /foo
            "@authority": example.com
            "content-type": application/json
            "content-length": 18
            "@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"
            """
        let signature = try key.sign(Array(base.utf8))
        #expect(
            Data(signature).base64EncodedString()
                == "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
        )
        let jwk = try key.publicJWK()
        #expect(jwk.kty == "OKP" && jwk.crv == "Ed25519" && jwk.y == nil)
        #expect(try PublicKey(jwk: jwk).verify(signature: signature, message: Array(base.utf8)))
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func generatedKeysRoundTripThroughPEMAndJWK(_ algorithm: SignatureAlgorithm) async throws {
        let key = try SigningKey.generate(algorithm, kid: "k")
        let reloaded = try SigningKey(pem: Array(try key.privateKeyPEM().utf8), kid: "k")
        #expect(reloaded.algorithm == algorithm)
        #expect(try reloaded.publicJWK() == key.publicJWK())
        let message = Array("hello".utf8)
        let signature = try reloaded.sign(message)
        #expect(signature.count == algorithm.signatureLength)
        let verifier = try PublicKey(jwk: try key.publicJWK())
        #expect(verifier.verify(signature: signature, message: message))
        #expect(!verifier.verify(signature: signature, message: Array("hellO".utf8)))
    }

    /// About 3 in 1,000 ES256 signatures have an r or s shorter than 32 bytes: DER drops the leading zero, raw must not.
    @Test(arguments: [SignatureAlgorithm.es256, .es384])
    func manySignaturesConvertToFixedLengthRawIncludingShortScalars(_ algorithm: SignatureAlgorithm) async throws {
        let key = try SigningKey.generate(algorithm, kid: "k")
        let publicKey = try key.publicKey()
        var shortScalars = 0
        for index in 0..<3000 {
            let message = Array("message \(index)".utf8)
            let raw = try key.sign(message)
            #expect(raw.count == algorithm.signatureLength)
            if raw[0] == 0 || raw[algorithm.signatureLength / 2] == 0 { shortScalars += 1 }
            #expect(publicKey.verify(signature: raw, message: message))
            let der = try ECDSASignature.der(fromRaw: raw, scalarLength: algorithm.signatureLength / 2)
            #expect(try ECDSASignature.raw(fromDER: der, scalarLength: algorithm.signatureLength / 2) == raw)
        }
        #expect(shortScalars > 0, "3,000 signatures should include one with a leading zero byte")
    }

    @Test func rawConversionKeepsLeadingZeroBytes() throws {
        var raw = [UInt8](repeating: 0, count: 64)
        raw[2] = 0x7f  // r = 0x00 0x00 0x7f ..., 30 significant bytes
        raw[31] = 1
        raw[63] = 5  // s = 5
        let der = try ECDSASignature.der(fromRaw: raw, scalarLength: 32)
        #expect(der.count < 70)
        #expect(try ECDSASignature.raw(fromDER: der, scalarLength: 32) == raw)
        #expect(throws: CryptoError.self) { try ECDSASignature.raw(fromDER: [0x30, 0x01], scalarLength: 32) }
        #expect(throws: CryptoError.self) { try ECDSASignature.der(fromRaw: [1, 2, 3], scalarLength: 32) }
    }

    @Test func badKeyMaterialIsRefusedWithAReadableError() throws {
        #expect(throws: CryptoError.self) { try SigningKey(pem: Array("not a key".utf8), kid: "x") }
        let badPoint = JWK(
            kid: "x",
            kty: "EC",
            crv: "P-256",
            x: Base64URL.encode([UInt8](repeating: 1, count: 32)),
            y: Base64URL.encode([UInt8](repeating: 2, count: 32))
        )
        #expect(throws: CryptoError.self) { try PublicKey(jwk: badPoint) }
        let rsa = JWK(kid: "r", kty: "RSA")
        #expect { try PublicKey(jwk: rsa) } throws: { ($0 as? CryptoError)?.isUnsupportedKey == true }
    }

    /// RFC 4231 test cases 2 and 6 (a key longer than the block), and the comparison a receiver uses.
    @Test func hmacSHA256MatchesRFC4231() {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        let jefe = HMACSHA256.mac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(hex(jefe) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let parts = HMACSHA256.mac(
            key: Array("Jefe".utf8),
            parts: [Array("what do ya ".utf8), Array("want for nothing?".utf8)]
        )
        #expect(parts == jefe)
        let long = HMACSHA256.mac(
            key: [UInt8](repeating: 0xAA, count: 131),
            message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)
        )
        #expect(hex(long) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        #expect(HMACSHA256.constantTimeEqual(jefe, parts))
        #expect(!HMACSHA256.constantTimeEqual(jefe, long))
        #expect(!HMACSHA256.constantTimeEqual(jefe, Array(jefe.dropLast())))
    }
}
