import Foundation

/// A platform registered with the shop's authorization server: the shop file's `oauth_clients:` entries and
/// `serve --oauth-client ID[:SECRET]:REDIRECT_URI`.
public struct OAuthClient: Sendable, Equatable {
    /// How the client authenticates at the token and revocation endpoints (RFC 8414
    /// `token_endpoint_auth_methods_supported`). A client is registered with one and must use it.
    public enum AuthMethod: String, Sendable, CaseIterable {
        /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1).
        case clientSecretBasic = "client_secret_basic"
        /// `client_id` and `client_secret` in the form body.
        case clientSecretPost = "client_secret_post"
        /// A public client (native app, on-device agent): no secret; PKCE S256 authenticates the grant.
        case none
    }

    public var id: String
    /// nil for a public client.
    public var secret: String?
    /// The exact redirect URIs it may use (loopback ones match on any port).
    public var redirectURIs: [String]
    public var authMethod: AuthMethod
    /// Its display name on the consent page.
    public var name: String
    /// The platform's UCP profile URL, when the client is bound to one: its access tokens are then accepted only on
    /// requests that platform signed (RFC 9421, verified against that profile's keys), the spec's check that a token
    /// "was issued to the authenticated platform client". nil: any request may present its tokens.
    public var profile: String?

    public init(
        id: String,
        secret: String? = nil,
        redirectURIs: [String],
        authMethod: AuthMethod? = nil,
        name: String? = nil,
        profile: String? = nil
    ) {
        self.id = id
        self.secret = secret
        self.redirectURIs = redirectURIs
        self.authMethod = authMethod ?? (secret == nil ? .none : .clientSecretBasic)
        self.name = name ?? id
        self.profile = profile
    }

    /// Whether `uri` is one of the registered redirect URIs: an exact string match, except that a loopback URI
    /// (`http://127.0.0.1…`, `http://[::1]…`) matches on scheme, host and path whatever its port (RFC 8252 §7.3, as
    /// the UCP spec asks).
    public func allows(redirectURI uri: String) -> Bool {
        redirectURIs.contains { registered in
            if registered == uri { return true }
            guard let a = Self.loopbackParts(registered), let b = Self.loopbackParts(uri) else { return false }
            return a == b
        }
    }

    /// Scheme, host, path and query of a loopback URI with no user info or fragment; nil for other URIs.
    private static func loopbackParts(_ uri: String) -> [String]? {
        guard let components = URLComponents(string: uri), let scheme = components.scheme,
            let host = components.host, components.user == nil, components.password == nil, components.fragment == nil
        else { return nil }
        guard host == "127.0.0.1" || host == "::1" || host == "[::1]" else { return nil }
        return [scheme, host, components.percentEncodedPath, components.percentEncodedQuery ?? ""]
    }

    /// Parses `ID[:SECRET]:REDIRECT_URI` (`serve --oauth-client`). The redirect URI is an absolute URI; a secret
    /// cannot contain `:`. Without a secret the client is public (`none`); with one it uses `client_secret_basic`.
    public static func parse(_ text: String) throws(FieldError) -> OAuthClient {
        let usage = "must be ID[:SECRET]:REDIRECT_URI, e.g. agent:s3cret:http://127.0.0.1/callback"
        guard let colon = text.firstIndex(of: ":") else { throw FieldError(path: [], usage) }
        let id = String(text[..<colon])
        var rest = String(text[text.index(after: colon)...])
        var secret: String?
        if !Self.startsWithScheme(rest), let next = rest.firstIndex(of: ":") {
            secret = String(rest[..<next])
            rest = String(rest[rest.index(after: next)...])
        }
        guard Self.isToken(id) else {
            throw FieldError(path: [], "client id \"\(id)\" must be 1–128 printable ASCII characters without spaces")
        }
        if let secret, secret.isEmpty || !Self.isToken(secret) {
            throw FieldError(
                path: [],
                "the client secret must be 1–128 printable ASCII characters without spaces or ':'"
            )
        }
        if let problem = Self.redirectProblem(rest) { throw FieldError(path: [], "redirect URI \(problem)") }
        return OAuthClient(id: id, secret: secret, redirectURIs: [rest])
    }

    /// Why `uri` cannot be a redirect URI (RFC 6749 §3.1.2: absolute, no fragment); nil when it can be.
    public static func redirectProblem(_ uri: String) -> String? {
        guard let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased(),
            components.host.map({ !$0.isEmpty }) ?? false
        else { return "\"\(uri)\" is not an absolute URI such as https://platform.example/callback" }
        guard scheme == "https" || scheme == "http" else { return "\"\(uri)\" must be http or https" }
        guard components.fragment == nil else { return "\"\(uri)\" must not have a fragment" }
        return nil
    }

    private static func startsWithScheme(_ text: String) -> Bool {
        text.hasPrefix("http://") || text.hasPrefix("https://")
    }

    private static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128
            && text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && $0 != ":" }
    }
}
