import CLibCrypto
import Foundation
import HTTPTypes
import Hummingbird

/// The Bearer token the shop's management API (`/v1/*`) requires: `Authorization: Bearer <token>`.
public struct BearerToken: Sendable {
    let bytes: [UInt8]

    public init(_ text: String) { bytes = Array(text.utf8) }

    /// The token's text.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// A new token: `ucpsim_` + base64url of 32 random bytes (OpenSSL `RAND_bytes`).
    public static func generate() -> BearerToken {
        BearerToken("ucpsim_" + Base64URL.encode(SecureRandom.bytes(32)))
    }

    /// True when `authorization` (the header's value) is `Bearer <this token>`; the token is compared in constant
    /// time, so the answer's timing says nothing about how much of a guess was right.
    public func accepts(_ authorization: String?) -> Bool {
        guard let authorization else { return false }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return HMACSHA256.constantTimeEqual(Array(parts[1].trimmingCharacters(in: .whitespaces).utf8), bytes)
    }
}

/// Answers 401 with `WWW-Authenticate: Bearer` (and the one JSON error shape) to any request without the token.
public struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: BearerToken
    /// Where the token comes from, for the refusal's sentence.
    let source: String

    /// - Parameter source: the option that gives the token, named in the answer to a request without one.
    public init(token: BearerToken, source: String = "serve --api-token") {
        self.token = token
        self.source = source
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard token.accepts(request.headers[.authorization]) else {
            let given = request.headers[.authorization] != nil
            var error = APIError(
                .unauthorized,
                code: "unauthorized",
                given ? "the Bearer token is wrong" : "this API needs Authorization: Bearer <token> (\(source))"
            )
            error.headers[.wwwAuthenticate] = given ? #"Bearer error="invalid_token""# : "Bearer"
            throw error
        }
        return try await next(request, context)
    }
}
