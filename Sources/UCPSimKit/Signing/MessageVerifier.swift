import Foundation
import RawStructuredFieldValues

/// Verifies a received UCP request's signature against the signer's published keys.
///
/// Follows the spec's `verify_rest_request`: parse `Signature-Input`, find the key by `keyid`, check the algorithm,
/// enforce coverage, check `Content-Digest`, rebuild the base and verify; then the signature's time parameters.
/// Profile fetching is the caller's job.
///
/// Time (RFC 9421 §3.2.1 leaves freshness to the application; UCP sets no window and keeps replay protection in the
/// business layer): a `created` more than `allowedClockSkew` ahead of `now` and an `expires` more than
/// `allowedClockSkew` behind it are refused as `signature_invalid`. There is no maximum age, and `Webhook-Timestamp`
/// is never compared with the clock: it is the event's time, identical on every retry, so an old one is legitimate.
public struct MessageVerifier: Sendable {
    /// Headers that, when present, must be covered. UCP's closed set, plus the webhook headers ucpsim also binds.
    public var requiredHeaderCoverage = [
        "ucp-agent", "idempotency-key", "signature-agent", "webhook-id", "webhook-timestamp",
    ]

    /// Seconds the signer's clock may run ahead of (for `created`) or behind (for `expires`) this verifier's.
    public var allowedClockSkew: Int64 = 60

    /// Unix seconds now. Injected so tests and offline vectors can fix the instant.
    public var now: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }

    public init() {}

    /// A verifier whose clock reads `now` (unix seconds), e.g. the instant an offline vector was made for.
    public init(now: Int64) {
        self.now = { now }
    }

    /// The `Signature-Input` parameters of the first signature, for key lookup before verification.
    public func parameters(of message: SignableMessage) throws(SignatureFailure) -> (label: String, SignatureParameters)
    {
        guard let inputHeader = message.headers["signature-input"] else {
            throw SignatureFailure(.signatureMissing, "no Signature-Input header")
        }
        guard message.headers["signature"] != nil else {
            throw SignatureFailure(.signatureMissing, "no Signature header")
        }
        let inputs: OrderedMap<String, ItemOrInnerList>
        do {
            var parser = StructuredFieldValueParser(Array(inputHeader.utf8))
            inputs = try parser.parseDictionaryFieldValue()
        } catch {
            throw SignatureFailure(.signatureInvalid, "Signature-Input is not an RFC 8941 dictionary")
        }
        guard let (label, first) = inputs.first(where: { _ in true }) else {
            throw SignatureFailure(.signatureMissing, "Signature-Input is empty")
        }
        guard case .innerList(let innerList) = first else {
            throw SignatureFailure(.signatureInvalid, "Signature-Input member \(label) is not an inner list")
        }
        return (label, try SignatureParameters(innerList: innerList))
    }

    /// Verifies `message` with `body` against `keys`. Returns the verifying key id.
    public func verify(_ message: SignableMessage, body: [UInt8], keys: [JWK]) throws(SignatureFailure) -> String {
        let (label, parameters) = try parameters(of: message)
        let (keyID, publicKey) = try key(for: parameters, in: keys)
        try checkCoverage(parameters.components, message: message, hasBody: !body.isEmpty)
        if parameters.components.contains("content-digest") {
            guard let digest = message.headers["content-digest"] else {
                throw SignatureFailure(.digestMismatch, "Content-Digest is covered but absent")
            }
            do {
                try ContentDigest.verify(header: digest, body: body)
            } catch {
                throw SignatureFailure(.digestMismatch, error.description)
            }
        }
        try checkSignature(message, label: label, parameters: parameters, keyID: keyID, publicKey: publicKey)
        try checkTime(parameters)
        return keyID
    }

    /// The RFC 9421 check alone: the signature over the signature base verifies with the key `keyid` names in
    /// `keys`. No coverage, `Content-Digest` or time rules. Returns the key id.
    public func verifySignatureOnly(_ message: SignableMessage, keys: [JWK]) throws(SignatureFailure) -> String {
        let (label, parameters) = try parameters(of: message)
        let (keyID, publicKey) = try key(for: parameters, in: keys)
        try checkSignature(message, label: label, parameters: parameters, keyID: keyID, publicKey: publicKey)
        return keyID
    }

    private func key(for parameters: SignatureParameters, in keys: [JWK]) throws(SignatureFailure) -> (
        String, PublicKey
    ) {
        guard let keyID = parameters.keyID else {
            throw SignatureFailure(.signatureInvalid, "Signature-Input has no keyid")
        }
        guard let jwk = keys.first(where: { $0.kid == keyID && $0.isSignatureCapable }) else {
            throw SignatureFailure(.keyNotFound, "keyid \"\(keyID)\" is not in the signer's published keys")
        }
        let publicKey: PublicKey
        do {
            publicKey = try PublicKey(jwk: jwk)
        } catch {
            if error.isUnsupportedKey {
                throw SignatureFailure(.algorithmUnsupported, "key \(keyID): kty=\(jwk.kty) crv=\(jwk.crv ?? "none")")
            }
            throw SignatureFailure(.signatureInvalid, "key \(keyID) is unusable: \(error)")
        }
        return (keyID, publicKey)
    }

    private func checkSignature(
        _ message: SignableMessage,
        label: String,
        parameters: SignatureParameters,
        keyID: String,
        publicKey: PublicKey
    ) throws(SignatureFailure) {
        let base = try message.signatureBase(parameters)
        let signature = try signatureBytes(message, label: label)
        guard publicKey.verify(signature: signature, message: Array(base.utf8)) else {
            throw SignatureFailure(
                .signatureInvalid,
                "signature does not verify with key \(keyID) (\(publicKey.algorithm.jwsName))"
            )
        }
    }

    /// `created` not ahead of the clock, `expires` not behind it, each give or take `allowedClockSkew`.
    private func checkTime(_ parameters: SignatureParameters) throws(SignatureFailure) {
        let now = now()
        if let created = parameters.created, created > now + allowedClockSkew {
            throw SignatureFailure(
                .signatureInvalid,
                "created=\(created) is \(created - now) s ahead of this receiver's clock (allowed skew \(allowedClockSkew) s)"
            )
        }
        if let expires = parameters.expires, expires < now - allowedClockSkew {
            throw SignatureFailure(
                .signatureInvalid,
                "the signature expired \(now - expires) s ago (expires=\(expires), allowed skew \(allowedClockSkew) s)"
            )
        }
    }

    private func checkCoverage(_ components: [String], message: SignableMessage, hasBody: Bool) throws(SignatureFailure)
    {
        var required = ["@method", "@authority", "@path"]
        if message.target.query != nil { required.append("@query") }
        if hasBody { required += ["content-digest", "content-type"] }
        required += requiredHeaderCoverage.filter { message.headers[$0] != nil }
        let missing = required.filter { !components.contains($0) }
        guard missing.isEmpty else {
            throw SignatureFailure(
                .coverageInsufficient,
                "the signature does not cover \(missing.joined(separator: ", "))"
            )
        }
    }

    private func signatureBytes(_ message: SignableMessage, label: String) throws(SignatureFailure) -> [UInt8] {
        guard let header = message.headers["signature"] else {
            throw SignatureFailure(.signatureMissing, "no Signature header")
        }
        do {
            var parser = StructuredFieldValueParser(Array(header.utf8))
            let values = try parser.parseDictionaryFieldValue()
            guard case .item(let item) = values[label], case .undecodedByteSequence(let encoded) = item.rfc9651BareItem,
                let bytes = Data(base64Encoded: encoded)
            else {
                throw SignatureFailure(.signatureMissing, "Signature has no byte sequence for \(label)")
            }
            return [UInt8](bytes)
        } catch let failure as SignatureFailure {
            throw failure
        } catch {
            throw SignatureFailure(.signatureInvalid, "Signature is not an RFC 8941 dictionary")
        }
    }
}
