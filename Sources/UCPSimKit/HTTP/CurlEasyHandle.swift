import CLibCurl

/// `curl_global_init` exactly once, before any thread uses curl (a static let initialises once, thread-safely).
enum CurlGlobal {
    static let initialised: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}

/// Owns one libcurl easy handle and everything curl points into while a transfer runs.
///
/// One handle serves one thread at a time; reusing it keeps connections alive across requests.
final class CurlEasyHandle {
    private let handle: UnsafeMutableRawPointer
    /// curl writes error text here; must stay at a stable address for the handle's life.
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// The request header list curl reads during the transfer.
    private var headerList: UnsafeMutablePointer<curl_slist>?
    /// The request body curl reads during the transfer (CURLOPT_POSTFIELDS does not copy).
    private var requestBody = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
    fileprivate var responseBody: [UInt8] = []
    /// The final response's header lines, as received: parsed only if someone reads them.
    fileprivate var responseHeaders: [UInt8] = []
    fileprivate var bodyLimit = 0
    /// One request header line at a time, NUL-terminated, for `curl_slist_append`.
    private var lineBuffer: [CChar] = []
    fileprivate var truncated = false
    /// The exchange's check on each address before a socket is opened to it (nil: no check).
    fileprivate var connectFilter: (@Sendable (ConnectAddress) -> Bool)?

    init() throws(TransportError) {
        guard CurlGlobal.initialised, let handle = curl_easy_init() else {
            throw TransportError(kind: .other, curlCode: -1, message: "libcurl could not be initialised")
        }
        self.handle = handle
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        // What every exchange on this handle shares is set once; `configure` sets the rest per exchange.
        try setopt(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
        try setopt(CURLOPT_PROTOCOLS_STR, string: "http,https")
        try setopt(CURLOPT_NOSIGNAL, long: 1)
        try setopt(CURLOPT_FOLLOWLOCATION, long: 0)
        try setopt(CURLOPT_TCP_NODELAY, long: 1)
        let context = Unmanaged.passUnretained(self).toOpaque()
        try setopt(CURLOPT_WRITEDATA, pointer: context)
        try setopt(CURLOPT_HEADERDATA, pointer: context)
        try setopt(CURLOPT_OPENSOCKETDATA, pointer: context)
        try checkCode(ucpsim_curl_easy_setopt_write_function(handle, CURLOPT_WRITEFUNCTION, curlWriteBody))
        try checkCode(ucpsim_curl_easy_setopt_write_function(handle, CURLOPT_HEADERFUNCTION, curlWriteHeader))
    }

    deinit {
        curl_easy_cleanup(handle)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
        requestBody.deallocate()
    }

    /// The raw easy handle, for adding to a multi handle.
    var pointer: UnsafeMutableRawPointer { handle }

    /// Sets the handle up for one exchange, run by a multi handle. The handle is reused without `curl_easy_reset`
    /// (it keeps its connection either way): every option an exchange can change is set here each time.
    func configure(_ request: OutgoingRequest, options: HTTPClientOptions) throws(TransportError) {
        errorBuffer[0] = 0
        responseBody = []
        responseHeaders = []
        bodyLimit = options.maxResponseBody
        truncated = false
        if requestBody.count < request.body.count {
            requestBody.deallocate()
            requestBody = .allocate(byteCount: max(1, request.body.count), alignment: 1)
        }
        if !request.body.isEmpty { requestBody.copyBytes(from: request.body) }

        try setopt(CURLOPT_URL, string: request.url)
        try setopt(CURLOPT_CONNECTTIMEOUT_MS, long: options.connectTimeoutMilliseconds)
        try setopt(CURLOPT_TIMEOUT_MS, long: options.totalTimeoutMilliseconds)
        try setopt(CURLOPT_SSL_VERIFYPEER, long: options.insecure ? 0 : 1)
        try setopt(CURLOPT_SSL_VERIFYHOST, long: options.insecure ? 0 : 2)
        // A filtered exchange opens its own sockets (so the filter sees each address) and never uses a proxy from
        // the environment (the filter would see the proxy's address, not the target's).
        connectFilter = options.connectFilter
        let filtered = options.connectFilter != nil
        try checkCode(ucpsim_curl_easy_setopt_opensocket_function(handle, filtered ? curlOpenSocket : nil))
        if filtered { try setopt(CURLOPT_PROXY, string: "") } else { try setopt(CURLOPT_PROXY, pointer: nil) }

        if request.method == "GET" {
            try setopt(CURLOPT_CUSTOMREQUEST, pointer: nil)
            try setopt(CURLOPT_HTTPGET, long: 1)
        } else {
            try setopt(CURLOPT_CUSTOMREQUEST, string: request.method)
            try setopt(CURLOPT_POSTFIELDSIZE_LARGE, offset: curl_off_t(request.body.count))
            try setopt(CURLOPT_POSTFIELDS, pointer: requestBody.baseAddress)
        }
        var list: UnsafeMutablePointer<curl_slist>?
        var hasAccept = false
        var hasExpect = false
        for (name, value) in request.headers {
            hasAccept = hasAccept || HTTPFieldList.sameName(name, "Accept")
            hasExpect = hasExpect || HTTPFieldList.sameName(name, "Expect")
            // `Name: value` (or `Name;` for an empty value), built in one reused buffer: curl copies it.
            lineBuffer.removeAll(keepingCapacity: true)
            appendToLine(name)
            if value.isEmpty {
                lineBuffer.append(CChar(UInt8(ascii: ";")))
            } else {
                lineBuffer.append(CChar(UInt8(ascii: ":")))
                lineBuffer.append(CChar(UInt8(ascii: " ")))
                appendToLine(value)
            }
            lineBuffer.append(0)
            list = lineBuffer.withUnsafeBufferPointer { curl_slist_append(list, $0.baseAddress) }
        }
        // curl adds these unless told not to; neither is a part of what ucpsim signs or sends.
        if !hasAccept { list = curl_slist_append(list, "Accept:") }
        if !hasExpect { list = curl_slist_append(list, "Expect:") }
        try setopt(CURLOPT_HTTPHEADER, slist: list)
        // The previous exchange's list is no longer referenced by the handle.
        curl_slist_free_all(headerList)
        headerList = list
    }

    /// The response of the exchange `configure` set up, once curl reports `result` for it.
    func finish(_ result: CURLcode) throws(TransportError) -> ReceivedResponse {
        var seconds = 0.0
        _ = ucpsim_curl_easy_getinfo_double(handle, CURLINFO_TOTAL_TIME, &seconds)
        guard result == CURLE_OK else {
            var error = transportError(result)
            error.elapsed = seconds
            throw error
        }
        var status = 0
        _ = ucpsim_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var connects = 0
        _ = ucpsim_curl_easy_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &connects)
        let response = ReceivedResponse(
            status: status,
            rawHeaders: responseHeaders,
            body: responseBody,
            bodyTruncated: truncated,
            elapsed: seconds,
            newConnections: connects
        )
        responseBody = []
        responseHeaders = []
        return response
    }

    private func appendToLine(_ text: String) {
        var text = text
        text.withUTF8 { lineBuffer.append(contentsOf: UnsafeRawBufferPointer($0).bindMemory(to: CChar.self)) }
    }

    fileprivate func appendBody(_ bytes: UnsafeRawBufferPointer) {
        let room = Swift.max(0, bodyLimit - responseBody.count)
        if bytes.count > room { truncated = true }
        responseBody.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[..<Swift.min(room, bytes.count)]))
    }

    fileprivate func appendHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        if bytes.starts(with: "HTTP/".utf8) {
            responseHeaders.removeAll(keepingCapacity: true)  // a new response (after 1xx): start over
        } else {
            responseHeaders.append(contentsOf: bytes)
        }
    }

    private func transportError(_ code: CURLcode) -> TransportError {
        let detail = String(cString: errorBuffer)
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        let kind: TransportError.Kind =
            switch code {
            case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_GOT_NOTHING,
                CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE:
                .connectionFailed
            case CURLE_OPERATION_TIMEDOUT: .timedOut
            case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE: .tls
            case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: .badURL
            default: .other
            }
        return TransportError(kind: kind, curlCode: Int(code.rawValue), message: message)
    }

    private func checkCode(_ code: CURLcode) throws(TransportError) {
        guard code == CURLE_OK else { throw transportError(code) }
    }

    private func setopt(_ option: CURLoption, long value: Int) throws(TransportError) {
        try checkCode(ucpsim_curl_easy_setopt_long(handle, option, value))
    }

    private func setopt(_ option: CURLoption, string value: String) throws(TransportError) {
        // curl copies string options.
        try checkCode(ucpsim_curl_easy_setopt_string(handle, option, value))
    }

    private func setopt(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) throws(TransportError) {
        try checkCode(ucpsim_curl_easy_setopt_pointer(handle, option, value))
    }

    private func setopt(_ option: CURLoption, slist value: UnsafeMutablePointer<curl_slist>?) throws(TransportError) {
        try checkCode(ucpsim_curl_easy_setopt_slist(handle, option, value))
    }

    private func setopt(_ option: CURLoption, offset value: curl_off_t) throws(TransportError) {
        try checkCode(ucpsim_curl_easy_setopt_off_t(handle, option, value))
    }
}

private func curlWriteBody(
    _ data: UnsafeMutablePointer<CChar>?,
    _ size: Int,
    _ count: Int,
    _ context: UnsafeMutableRawPointer?
) -> Int {
    forward(data, size * count, context) { $0.appendBody($1) }
}

private func curlWriteHeader(
    _ data: UnsafeMutablePointer<CChar>?,
    _ size: Int,
    _ count: Int,
    _ context: UnsafeMutableRawPointer?
) -> Int {
    forward(data, size * count, context) { $0.appendHeaderLine($1) }
}

/// Opens a socket for curl unless the exchange's filter refuses the address (curl then reports it could not connect).
private func curlOpenSocket(
    _ context: UnsafeMutableRawPointer?,
    _ purpose: curlsocktype,
    _ address: UnsafeMutablePointer<curl_sockaddr>?
) -> curl_socket_t {
    guard let context, let address else { return ucpsim_curl_socket_bad() }
    let handle = Unmanaged<CurlEasyHandle>.fromOpaque(context).takeUnretainedValue()
    if let filter = handle.connectFilter {
        var bytes = [UInt8](repeating: 0, count: 16)
        var port: Int32 = 0
        let count = Int(ucpsim_curl_sockaddr_ip(address, &bytes, &port))
        guard count > 0, filter(ConnectAddress(bytes: Array(bytes.prefix(count)), port: Int(port))) else {
            return ucpsim_curl_socket_bad()
        }
    }
    return ucpsim_curl_open_socket(address)
}

/// Hands curl's bytes to the handle behind `context`; returning fewer bytes than given makes curl abort.
private func forward(
    _ data: UnsafeMutablePointer<CChar>?,
    _ length: Int,
    _ context: UnsafeMutableRawPointer?,
    _ body: (CurlEasyHandle, UnsafeRawBufferPointer) -> Void
) -> Int {
    guard let data, let context else { return 0 }
    body(
        Unmanaged<CurlEasyHandle>.fromOpaque(context).takeUnretainedValue(),
        UnsafeRawBufferPointer(start: data, count: length)
    )
    return length
}
