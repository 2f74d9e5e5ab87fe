import Foundation
import HTTPTypes

/// A shopping handler's answer: a status and JSON bytes. The gateway adds headers, keeps it for its
/// `Idempotency-Key`, and signs it.
public struct ShoppingReply: Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var body: [UInt8]

    public init(status: HTTPResponse.Status = .ok, body: [UInt8]) {
        self.status = status
        self.body = body
    }

    /// `value` as JSON, keys sorted, slashes unescaped: the same value always gives the same bytes.
    public static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> ShoppingReply {
        ShoppingReply(status: status, body: ShoppingJSON.encode(value))
    }

    /// The spec's `error_response` (HTTP 200: a business outcome with no resource to show, e.g. `not_found`).
    public static func error(
        _ call: ShoppingCall,
        code: String,
        _ content: String,
        severity: Message.Severity = .unrecoverable,
        continueURL: String? = nil
    ) -> ShoppingReply {
        json(
            ErrorResponse(
                ucp: call.envelope(status: .error),
                messages: [Message.error(code: code, content, severity: severity)],
                continueURL: continueURL
            )
        )
    }
}

/// The spec's `error_response`.
public struct ErrorResponse: Encodable, Sendable {
    public var ucp: ResponseEnvelope
    public var messages: [Message]
    public var continueURL: String?

    enum CodingKeys: String, CodingKey {
        case ucp, messages
        case continueURL = "continue_url"
    }
}

/// One entry of a response's `messages[]`.
public struct Message: Encodable, Sendable, Equatable {
    public enum Kind: String, Encodable, Sendable {
        case error, warning, info
    }

    public enum Severity: String, Encodable, Sendable {
        case recoverable
        case requiresBuyerInput = "requires_buyer_input"
        case requiresBuyerReview = "requires_buyer_review"
        case unrecoverable
    }

    public var type: Kind
    public var code: String?
    public var content: String
    /// Errors only.
    public var severity: Severity?
    /// RFC 9535 JSONPath into the response (e.g. `$.line_items[0].quantity`).
    public var path: String?

    public static func error(code: String, _ content: String, severity: Severity, path: String? = nil) -> Message {
        Message(type: .error, code: code, content: content, severity: severity, path: path)
    }

    public static func warning(code: String, _ content: String, path: String? = nil) -> Message {
        Message(type: .warning, code: code, content: content, severity: nil, path: path)
    }

    public static func info(code: String? = nil, _ content: String, path: String? = nil) -> Message {
        Message(type: .info, code: code, content: content, severity: nil, path: path)
    }
}

/// The one JSON encoding of shopping answers.
public enum ShoppingJSON {
    public static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The answer types are plain strings, integers and arrays: encoding them cannot fail.
        return [UInt8]((try? encoder.encode(value)) ?? Data("{}".utf8))
    }
}
