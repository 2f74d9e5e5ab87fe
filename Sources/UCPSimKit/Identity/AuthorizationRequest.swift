import Foundation

/// A validated authorization request (`GET /oauth/authorize`, RFC 6749 §4.1.1 with PKCE S256): what the consent page
/// shows and what the code will carry once the customer allows it.
public struct AuthorizationRequest: Sendable, Equatable {
    public var client: OAuthClient
    /// As the request gave it, byte for byte (the token request must repeat it).
    public var redirectURI: String
    /// Echoed unchanged in the response; nil when the request had none.
    public var state: String?
    /// Requested scopes, in the order requested, each once.
    public var scopes: [String]
    /// The PKCE S256 challenge.
    public var codeChallenge: String

    public init(client: OAuthClient, redirectURI: String, state: String?, scopes: [String], codeChallenge: String) {
        self.client = client
        self.redirectURI = redirectURI
        self.state = state
        self.scopes = scopes
        self.codeChallenge = codeChallenge
    }

    /// Validates the query of an authorization request, in the order that decides where an error may go: first the
    /// client and its redirect URI (a refusal there is shown on the shop's own page and never redirected: the URI
    /// cannot be trusted), then everything else (refused by a redirect to the client with `error`).
    public static func validate(query: String?, setup: IdentitySetup) -> Result<AuthorizationRequest, Refusal> {
        guard let parameters = Parameters(query ?? "") else {
            return .failure(.untrusted("The request's query is not valid application/x-www-form-urlencoded UTF-8."))
        }
        // client_id and redirect_uri first: until both are known good, nothing may be sent to the redirect URI.
        guard parameters.count("client_id") <= 1 else {
            return .failure(.untrusted("The client_id parameter is repeated."))
        }
        guard let clientID = parameters.first("client_id") else {
            return .failure(.untrusted("The client_id parameter is missing."))
        }
        guard let client = setup.client(clientID) else {
            return .failure(.untrusted("The client \"\(clientID)\" is not registered with this shop."))
        }
        guard parameters.count("redirect_uri") <= 1 else {
            return .failure(.untrusted("The redirect_uri parameter is repeated."))
        }
        guard let redirectURI = parameters.first("redirect_uri") else {
            return .failure(.untrusted("The redirect_uri parameter is missing (this shop requires it)."))
        }
        guard client.allows(redirectURI: redirectURI) else {
            return .failure(
                .untrusted(
                    "The redirect_uri \"\(redirectURI)\" is not registered for the client \"\(clientID)\"."
                )
            )
        }
        let state = parameters.first("state")
        func refuse(_ error: String, _ description: String) -> Result<AuthorizationRequest, Refusal> {
            .failure(.redirect(redirectURI: redirectURI, error: error, description: description, state: state))
        }
        if let repeated = parameters.repeatedNames.first {
            return refuse("invalid_request", "The parameter \(sanitized(repeated)) is repeated.")
        }
        guard let responseType = parameters.first("response_type") else {
            return refuse("invalid_request", "The response_type parameter is missing: it must be code.")
        }
        guard responseType == "code" else {
            return refuse("unsupported_response_type", "Only response_type=code is supported.")
        }
        guard let challenge = parameters.first("code_challenge") else {
            return refuse("invalid_request", "PKCE is required: code_challenge is missing.")
        }
        guard let method = parameters.first("code_challenge_method") else {
            return refuse(
                "invalid_request",
                "code_challenge_method is missing: it is required and must be S256 (plain is not accepted)."
            )
        }
        guard method == "S256" else {
            return refuse("invalid_request", "code_challenge_method must be S256 (plain is not accepted).")
        }
        guard isS256Challenge(challenge) else {
            return refuse(
                "invalid_request",
                "code_challenge must be 43 base64url characters (the SHA-256 of the code verifier)."
            )
        }
        guard let scope = parameters.first("scope") else {
            return refuse(
                "invalid_scope",
                "The scope parameter is missing; offered: \(setup.scopes.joined(separator: " "))."
            )
        }
        var scopes: [String] = []
        for token in scope.split(separator: " ", omittingEmptySubsequences: true).map(String.init) {
            guard setup.scopes.contains(token) else {
                return refuse(
                    "invalid_scope",
                    "The scope \(sanitized(token)) is not offered; offered: \(setup.scopes.joined(separator: " "))."
                )
            }
            if !scopes.contains(token) { scopes.append(token) }
        }
        guard !scopes.isEmpty else {
            return refuse("invalid_scope", "The scope parameter names no scope.")
        }
        return .success(
            AuthorizationRequest(
                client: client,
                redirectURI: redirectURI,
                state: state,
                scopes: scopes,
                codeChallenge: challenge
            )
        )
    }

    /// Why an authorization request is refused.
    public enum Refusal: Error, Sendable, Equatable {
        /// The client or its redirect URI is unknown or wrong: say so on the shop's page (HTTP 400), never redirect.
        case untrusted(String)
        /// Anything else: redirect to the client with `error`, `error_description`, `state` and `iss`.
        case redirect(redirectURI: String, error: String, description: String, state: String?)
    }

    /// Whether `text` is 43 base64url characters (32 bytes, no padding): the shape of an S256 challenge.
    static func isS256Challenge(_ text: String) -> Bool {
        text.utf8.count == 43 && Base64URL.decode(text)?.count == 32
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                    true
                default: false
                }
            }
    }

    /// `text` cut to what an `error_description` may hold (RFC 6749 §4.1.2.1: printable ASCII without `"` and `\`).
    static func sanitized(_ text: String) -> String {
        let kept = String(
            String.UnicodeScalarView(
                text.unicodeScalars.prefix(64).filter {
                    $0.value >= 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "\\"
                }
            )
        )
        return kept.isEmpty ? "(unprintable)" : kept
    }

    /// The parameters of a form-urlencoded query: `+` is a space, `%XX` a byte. A parameter sent without a value
    /// counts as omitted (RFC 6749 §3.1); one sent twice is remembered, to be refused.
    struct Parameters {
        private var values: [String: [String]] = [:]
        /// Names given more than once, in the order first seen.
        private(set) var repeatedNames: [String] = []

        /// nil when a `%` escape is malformed or the bytes are not UTF-8.
        init?(_ text: String) {
            for pair in Array(text.utf8).split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
                let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = Self.decode(parts[0]),
                    let value = Self.decode(parts.count > 1 ? parts[1] : ArraySlice())
                else { return nil }
                guard !value.isEmpty else { continue }
                values[name, default: []].append(value)
                if values[name]?.count == 2 { repeatedNames.append(name) }
            }
        }

        func first(_ name: String) -> String? { values[name]?.first }
        func count(_ name: String) -> Int { values[name]?.count ?? 0 }

        /// Decodes one form-urlencoded component (as the token endpoint's form does).
        static func decode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String? { OAuthForm.decode(Array(bytes)) }
    }

    /// `redirectURI` with `parameters` added to its query (after any query it has, before any fragment), each name
    /// and value percent-encoded.
    static func location(_ redirectURI: String, adding parameters: [(String, String)]) -> String {
        var base = redirectURI
        var fragment = ""
        if let hash = base.firstIndex(of: "#") {
            fragment = String(base[hash...])
            base = String(base[..<hash])
        }
        let added = parameters.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
        let separator: String
        if !base.contains("?") {
            separator = "?"
        } else if base.hasSuffix("?") || base.hasSuffix("&") {
            separator = ""
        } else {
            separator = "&"
        }
        return base + separator + added + fragment
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters.
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
