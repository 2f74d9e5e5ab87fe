import CLibCurl

/// libcurl's own URL parser (`curl_url`), so a URL it would refuse is refused when it is given, not retried later.
enum CurlURL {
    /// Why libcurl refuses `url` as a request URL, nil when it accepts it.
    static func refusal(of url: String) -> String? {
        guard let handle = curl_url() else { return "libcurl could not allocate a URL handle" }
        defer { curl_url_cleanup(handle) }
        // No flags: no guessing of schemes, no spaces, no non-ASCII bytes left unencoded.
        let code = curl_url_set(handle, CURLUPART_URL, url, 0)
        guard code != CURLUE_OK else { return nil }
        guard let text = curl_url_strerror(code) else { return "libcurl refuses it (error \(code.rawValue))" }
        return "libcurl refuses it: \(String(cString: text))"
    }
}
