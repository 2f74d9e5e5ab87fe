import Foundation

/// The parts of a URL that RFC 9421 derived components cover, taken from the very string curl is given.
public struct RequestTarget: Sendable, Equatable {
    /// `http` or `https`.
    public let scheme: String
    /// Lowercase host; IPv6 literals keep their brackets.
    public let host: String
    /// The explicit port, nil when absent.
    public let port: Int?
    /// `@path`: the percent-encoded path, `/` when empty.
    public let path: String
    /// The raw query without `?`, nil when the URL has none.
    public let query: String?
    /// The URL exactly as given.
    public let url: String

    /// Parses an absolute http(s) URL. Errors name the problem for the user.
    public init(_ url: String) throws(UCPSimError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw UCPSimError.badURL(url, reason: "not an absolute URL")
        }
        guard scheme == "http" || scheme == "https" else {
            throw UCPSimError.badURL(url, reason: "unsupported scheme \(scheme)://, use http:// or https://")
        }
        guard let rawHost = components.percentEncodedHost, !rawHost.isEmpty else {
            throw UCPSimError.badURL(url, reason: "it has no host")
        }
        guard components.user == nil, components.password == nil else {
            throw UCPSimError.badURL(url, reason: "credentials in URLs are not supported")
        }
        if let port = components.port, !(1...65_535).contains(port) {
            throw UCPSimError.badURL(url, reason: "port \(port) is outside 1–65535")
        }
        if let refusal = CurlURL.refusal(of: url) { throw UCPSimError.badURL(url, reason: refusal) }
        var host = rawHost.lowercased()
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }
        self.scheme = scheme
        self.host = host
        self.port = components.port
        self.path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        self.query = components.percentEncodedQuery
        self.url = url
    }

    /// `@authority`: lowercase `host[:port]`, the scheme's default port omitted.
    public var authority: String {
        guard let port, port != defaultPort else { return host }
        return "\(host):\(port)"
    }

    /// The port a connection uses.
    public var effectivePort: Int { port ?? defaultPort }

    private var defaultPort: Int { scheme == "https" ? 443 : 80 }

    /// `scheme://authority`, the origin of the URL.
    public var origin: String { "\(scheme)://\(authority)" }
}
