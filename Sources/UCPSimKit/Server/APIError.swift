import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An error answer of the shop's server, in the one shape every error there takes: UCP's REST transport error
/// (`{"code": "...", "content": "..."}`, the spec's discovery-failure example), plus `path`, a JSONPath to the
/// field at fault, when one is (as in UCP's `message_error`).
public struct APIError: HTTPResponseError, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    /// A snake_case code a client can switch on.
    public let code: String
    /// A sentence for people.
    public let content: String
    /// RFC 9535 JSONPath of the request field at fault.
    public let path: String?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, _ content: String, path: String? = nil) {
        self.status = status
        self.code = code
        self.content = content
        self.path = path
    }

    public var description: String { "\(status.code) \(code): \(content)" }

    /// The request body (or a field of it) is wrong.
    static func invalid(_ error: FieldError) -> APIError {
        APIError(
            .badRequest,
            code: "invalid_request",
            "\(error.field(top: "the body")) \(error.problem)",
            path: error.path.isEmpty ? nil : error.jsonPath
        )
    }

    /// The body is over the limit.
    static func tooLarge(limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "body_too_large", "the body is larger than \(limit) bytes")
    }

    /// The answer to any other error, in the same shape; `HTTPError`s (no route: 404) keep their status.
    static func from(_ error: any Error, request: Request) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case is NIOTooManyBytesError:
            return APIError(.contentTooLarge, code: "body_too_large", "the body is too large")
        case let error as HTTPError:
            var answer = APIError(
                error.status,
                code: code(for: error.status),
                error.body ?? sentence(for: error.status, request: request)
            )
            answer.headers = error.headers
            return answer
        case let error as any HTTPResponseError:
            return APIError(error.status, code: code(for: error.status), sentence(for: error.status, request: request))
        default:
            return APIError(.internalServerError, code: "internal_error", "internal error: \(error)")
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "invalid_request"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 413: "body_too_large"
        case 500: "internal_error"
        default: status.reasonPhrase.lowercased().split(whereSeparator: { !$0.isLetter }).joined(separator: "_")
        }
    }

    private static func sentence(for status: HTTPResponse.Status, request: Request) -> String {
        switch status.code {
        case 404: "no route \(request.method.rawValue) \(request.uri.path)"
        default: status.reasonPhrase
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        .json(body, status: status, headers: headers)
    }

    /// The JSON body: `{"code", "content"}` (+ `path`), keys sorted.
    public var body: [UInt8] {
        var object: [String: String] = ["code": code, "content": content]
        if let path { object["path"] = path }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [UInt8]((try? encoder.encode(object)) ?? Data())
    }
}

/// Answers every error of the routes after it (and "no route") with an `APIError` body, Hummingbird's own errors
/// included: without it a 404 or a 413 would have an empty body, and a thrown `HTTPError` a different shape.
public struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return try APIError.from(error, request: request).response(from: request, context: context)
        }
    }
}
