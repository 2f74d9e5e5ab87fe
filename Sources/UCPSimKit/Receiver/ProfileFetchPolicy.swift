import Foundation

/// Which profile URLs the reference receiver may fetch: a webhook's `UCP-Agent` is a stranger's text, and fetching
/// it must not turn the receiver into a probe of the networks it can reach.
///
/// Decided by the address actually connected to (libcurl resolves the name once and asks `refusal(of:for:)` about
/// each address before it opens a socket to it, so a name cannot resolve one way for the check and another for the
/// connection), never by the text of the host. Literal addresses are decided before anything is sent.
public struct ProfileFetchPolicy: Sendable {
    /// Fetch `http://` profiles from loopback addresses (the spec requires HTTPS; local testing needs HTTP).
    public var allowLoopbackHTTP = true
    /// Hosts whose `http://` profiles are fetched whatever they resolve to (`--allow-http-profile`).
    public var httpHosts: Set<String> = []
    /// Hosts fetched even when they resolve to private, link-local or reserved addresses (`--allow-profile-host`).
    public var allowedHosts: Set<String> = []
    /// Fetch from private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) (`--allow-private-profiles`);
    /// link-local, metadata and reserved addresses still need `allowedHosts`.
    public var allowPrivate = false

    public init() {}

    /// What an address is, for this policy.
    public enum AddressKind: String, Sendable {
        case loopback
        case privateNetwork = "private"
        case linkLocal = "link-local"
        case reserved
        case global
    }

    /// Why `target` is refused before any name is resolved; nil when only the resolved address can decide.
    public func refusal(before target: RequestTarget) -> String? {
        if let literal = Self.literalAddress(target.host) { return refusal(of: literal, for: target) }
        if target.scheme == "http", !allowLoopbackHTTP, !httpHosts.contains(Self.normalizedHost(target.host)) {
            return "http:// profiles are not fetched (the spec requires HTTPS)"
        }
        return nil
    }

    /// Why connecting to `address` (4 or 16 bytes) for `target` is refused; nil when it is allowed.
    public func refusal(of address: [UInt8], for target: RequestTarget) -> String? {
        let host = Self.normalizedHost(target.host)
        let kind = Self.kind(of: address)
        if target.scheme == "http", !httpHosts.contains(host), !(allowLoopbackHTTP && kind == .loopback) {
            return "http:// profiles are fetched only from loopback addresses (the spec requires HTTPS)"
        }
        switch kind {
        case .loopback, .global:
            return nil
        case .privateNetwork:
            if allowPrivate || allowedHosts.contains(host) { return nil }
        case .linkLocal, .reserved:
            if allowedHosts.contains(host) { return nil }
        }
        return "\(target.host) is a \(kind.rawValue) address, and profiles are not fetched from those"
    }

    /// The address `host` spells literally (dotted IPv4, or IPv6 with or without brackets), nil for a name.
    public static func literalAddress(_ host: String) -> [UInt8]? {
        let text = normalizedHost(host)
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// Classifies an IPv4 (4 bytes) or IPv6 (16 bytes) address; IPv4 embedded in IPv6 (mapped, NAT64, 6to4) is
    /// classified as the IPv4 address it carries.
    public static func kind(of address: [UInt8]) -> AddressKind {
        if address.count == 4 { return kind(v4: address) }
        guard address.count == 16 else { return .reserved }
        let a = address
        let zeros10 = a[0..<10].allSatisfy { $0 == 0 }
        if zeros10 && a[10] == 0xFF && a[11] == 0xFF { return kind(v4: Array(a[12..<16])) }  // ::ffff:0:0/96
        if a[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] { return kind(v4: Array(a[12..<16])) }
        if a[0] == 0x20 && a[1] == 0x02 { return kind(v4: Array(a[2..<6])) }  // 2002::/16, 6to4
        if a[0..<15].allSatisfy({ $0 == 0 }) { return a[15] == 1 ? .loopback : .reserved }  // ::1, ::
        if zeros10 && a[10] == 0 && a[11] == 0 { return .reserved }  // ::/96, IPv4-compatible (deprecated)
        if a[0] & 0xFE == 0xFC { return .privateNetwork }  // fc00::/7, unique local
        if a[0] == 0xFE && a[1] & 0xC0 == 0x80 { return .linkLocal }  // fe80::/10
        if a[0] == 0xFE && a[1] & 0xC0 == 0xC0 { return .privateNetwork }  // fec0::/10, site-local (deprecated)
        if a[0] == 0xFF { return .reserved }  // multicast
        if a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8 { return .reserved }  // 2001:db8::/32
        return .global
    }

    private static func kind(v4 a: [UInt8]) -> AddressKind {
        switch (a[0], a[1], a[2]) {
        case (127, _, _): return .loopback
        case (10, _, _), (172, 16...31, _), (192, 168, _), (100, 64...127, _): return .privateNetwork
        case (169, 254, _): return .linkLocal  // includes 169.254.169.254, the cloud metadata service
        case (0, _, _), (192, 0, 0), (192, 0, 2), (198, 18...19, _), (198, 51, 100), (203, 0, 113), (224...255, _, _):
            return .reserved
        default: return .global
        }
    }

    /// The host without IPv6 brackets, lowercased.
    public static func normalizedHost(_ host: String) -> String {
        var text = host.lowercased()
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        return text
    }
}
