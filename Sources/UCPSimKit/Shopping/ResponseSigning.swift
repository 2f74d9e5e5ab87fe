import Foundation
import HTTPTypes
import Hummingbird

/// Signs the shop's JSON answers (RFC 9421, label `sig1`): `@status`, and `content-digest` and `content-type` when
/// there is a body, as the spec's response signatures cover; `Content-Digest` (RFC 9530, SHA-256 of the exact
/// bytes) is added. `created` is the signing time; `keyid` the shop's active key.
public struct ResponseSigning: Sendable {
    public let signer: MessageSigner
    /// Unix seconds now.
    public var now: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }

    public init(signer: MessageSigner) {
        self.signer = signer
    }

    /// The components a response signature covers.
    public static func components(hasBody: Bool) -> [String] {
        hasBody ? ["@status", "content-digest", "content-type"] : ["@status"]
    }

    /// The headers of a signed JSON answer: `Content-Type`, `Content-Digest`, `Signature-Input`, `Signature`. A
    /// signing failure (the key unusable) leaves the answer unsigned rather than failing it.
    public func headers(status: HTTPResponse.Status, body: [UInt8], extra: HTTPFields = [:]) -> HTTPFields {
        var headers = extra
        headers[.contentType] = "application/json"
        var fields = HTTPFieldList([("Content-Type", "application/json")])
        if !body.isEmpty {
            let digest = ContentDigest.header(for: body)
            headers[Self.contentDigest] = digest
            fields.append("Content-Digest", digest)
        }
        // The target is not covered by a response signature; any URL does.
        guard let target = try? RequestTarget("http://localhost/") else { return headers }
        let message = SignableMessage(method: "GET", target: target, headers: fields, status: status.code)
        let parameters = SignatureParameters(
            components: Self.components(hasBody: !body.isEmpty),
            created: now(),
            keyID: signer.key.kid
        )
        guard let signed = try? signer.sign(message, parameters: parameters) else { return headers }
        headers[Self.signatureInput] = signed.signatureInput
        headers[Self.signature] = signed.signature
        return headers
    }

    /// A signed JSON response.
    public func response(status: HTTPResponse.Status, body: [UInt8], extra: HTTPFields = [:]) -> Response {
        Response(
            status: status,
            headers: headers(status: status, body: body, extra: extra),
            body: .init(byteBuffer: .init(bytes: body))
        )
    }

    static let contentDigest = field("Content-Digest")
    static let signatureInput = field("Signature-Input")
    static let signature = field("Signature")

    /// A header name known to be valid.
    static func field(_ name: String) -> HTTPField.Name {
        guard let field = HTTPField.Name(name) else { preconditionFailure("\(name) is not a field name") }
        return field
    }
}
