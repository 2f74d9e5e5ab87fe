import Foundation
import RawStructuredFieldValues

/// Verifies a received UCP request's signature against the signer's published keys.
///
/// Follows the spec's `verify_rest_request`: parse `Signature-Input`, find the key by `keyid`, check the algorithm,
/// enforce coverage, check `Content-Digest`, rebuild the base and verify. Profile fetching is the caller's job.
public struct MessageVerifier: Sendable {
    /// Headers that, when present, must be covered. UCP's closed set, plus the webhook headers ucpsim also binds.
    public var requiredHeaderCoverage = [
        "ucp-agent", "idempotency-key", "signature-agent", "webhook-id", "webhook-timestamp",
    ]

    public init() {}

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
        let base = try message.signatureBase(parameters)
        let signature = try signatureBytes(message, label: label)
        guard publicKey.verify(signature: signature, message: Array(base.utf8)) else {
            throw SignatureFailure(
                .signatureInvalid,
                "signature does not verify with key \(keyID) (\(publicKey.algorithm.jwsName))"
            )
        }
        return keyID
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
