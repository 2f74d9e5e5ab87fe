/// An outgoing HTTP request, as the libcurl client sends it.
public struct OutgoingRequest: Sendable {
    public var method: String
    /// The URL exactly as curl is given it (and as `@authority`/`@path` were derived from).
    public var url: String
    public var headers: HTTPFieldList
    public var body: [UInt8]

    public init(method: String, url: String, headers: HTTPFieldList = HTTPFieldList(), body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// What came back.
public struct ReceivedResponse: Sendable {
    public var status: Int
    /// The header section as received (after the status line), CRLF-terminated lines.
    public var rawHeaders: [UInt8]
    /// The header fields, parsed from `rawHeaders` on each read: a webhook delivery that got a 2xx never needs them.
    public var headers: HTTPFieldList {
        var fields = HTTPFieldList()
        for line in rawHeaders.split(separator: 0x0A) {
            var end = line.endIndex
            while end > line.startIndex, line[end - 1] == 0x0D { end -= 1 }
            guard let colon = line[..<end].firstIndex(of: UInt8(ascii: ":")) else { continue }
            var start = colon + 1
            while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
            fields.append(
                String(decoding: line[line.startIndex..<colon], as: UTF8.self),
                String(decoding: line[start..<end], as: UTF8.self)
            )
        }
        return fields
    }
    /// The body, capped at the client's limit.
    public var body: [UInt8]
    /// True when the body was longer than the cap.
    public var bodyTruncated: Bool
    /// Wall time of the exchange in seconds.
    public var elapsed: Double
    /// New connections opened for this exchange (0 when a kept-alive one was reused).
    public var newConnections: Int

    /// The body as text, for reports; at most `limit` characters.
    public func bodyExcerpt(limit: Int = 200) -> String {
        // At most `limit` bytes cannot be more than `limit` characters.
        if body.count <= limit { return String(decoding: body, as: UTF8.self) }
        let text = String(decoding: body.prefix(limit * 4), as: UTF8.self)
        return text.count > limit ? String(text.prefix(limit)) + "…" : text
    }
}

/// Client-side options for one exchange.
public struct HTTPClientOptions: Sendable {
    public var connectTimeoutMilliseconds = 5_000
    public var totalTimeoutMilliseconds = 15_000
    /// Allow self-signed or mismatched TLS certificates on the receiver.
    public var insecure = false
    /// How many response-body bytes to keep.
    public var maxResponseBody = 64 * 1024
    /// Asked for each address libcurl is about to connect to, before a socket exists; false refuses it (the exchange
    /// then fails as a connection failure). Set, it also turns proxies from the environment off.
    public var connectFilter: (@Sendable (ConnectAddress) -> Bool)? = nil

    public init() {}
}

/// An address libcurl is about to connect to: the one the name resolved to, checked before any packet is sent.
public struct ConnectAddress: Sendable, Equatable {
    /// 4 bytes (IPv4) or 16 (IPv6), network order.
    public let bytes: [UInt8]
    public let port: Int

    public init(bytes: [UInt8], port: Int) {
        self.bytes = bytes
        self.port = port
    }
}

/// A transport failure: the request did not produce an HTTP response.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, coarsely, for retry decisions and exit codes.
    public enum Kind: Sendable {
        case connectionFailed
        case timedOut
        case tls
        case badURL
        case other
    }

    public let kind: Kind
    /// The libcurl result code.
    public let curlCode: Int
    public let message: String
    /// Seconds from the start of the exchange to the failure (0 when it never started).
    public var elapsed: Double = 0
    /// True when the client shut down before this exchange finished: it was never sent, or it was cut off and the
    /// receiver may or may not have got it. Not a verdict on the receiver.
    public var abandoned = false

    public var description: String { message }

    static func shutDown(sent: Bool) -> TransportError {
        var error = TransportError(
            kind: .other,
            curlCode: -1,
            message: sent
                ? "the HTTP client shut down before the response came back" : "the HTTP client is shut down"
        )
        error.abandoned = true
        return error
    }
}
