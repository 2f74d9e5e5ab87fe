/// The message an RFC 9421 signature is computed over, and the component values it draws from.
public struct SignableMessage: Sendable {
    /// The request method (`POST`).
    public var method: String
    /// The target URL.
    public var target: RequestTarget
    /// The header fields.
    public var headers: HTTPFieldList
    /// A response's status code (`@status`); nil for a request.
    public var status: Int?

    public init(method: String, target: RequestTarget, headers: HTTPFieldList, status: Int? = nil) {
        self.method = method
        self.target = target
        self.headers = headers
        self.status = status
    }

    /// The value of one covered component, or nil when the message does not have it.
    public func componentValue(_ name: String) -> String? {
        switch name {
        case "@method": method.uppercased()
        case "@authority": target.authority
        case "@path": target.path
        case "@query": "?" + (target.query ?? "")
        case "@target-uri": target.url
        case "@scheme": target.scheme
        case "@request-target": target.path + (target.query.map { "?" + $0 } ?? "")
        case "@status": status.map(String.init)
        default: name.hasPrefix("@") ? nil : headers[name]
        }
    }

    /// Builds the signature base (RFC 9421 §2.5): one `"name": value` line per component, then
    /// `"@signature-params": …`, joined by `\n` with no trailing newline.
    public func signatureBase(_ parameters: SignatureParameters) throws(SignatureFailure) -> String {
        var lines: [String] = []
        for component in parameters.components {
            guard component == component.lowercased() else {
                throw SignatureFailure(.signatureInvalid, "component \"\(component)\" is not lowercase")
            }
            guard let value = componentValue(component) else {
                throw SignatureFailure(
                    .signatureInvalid,
                    "covered component \"\(component)\" is absent from the message"
                )
            }
            lines.append("\"\(component)\": \(value)")
        }
        guard let serialized = try? parameters.serialized() else {
            throw SignatureFailure(.signatureInvalid, "signature parameters cannot be serialized")
        }
        lines.append("\"@signature-params\": \(serialized)")
        return lines.joined(separator: "\n")
    }
}
