import Foundation
import Synchronization

@testable import UCPSimKit

/// A Server-Sent Events client over a plain loopback socket (the tests' HTTP client waits for whole responses):
/// sends one GET, decodes the chunked body as it comes, and hands out whole events.
final class EventStreamClient: Sendable {
    struct Event: Sendable {
        let id: String?
        let name: String
        let data: String

        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:]
        }
    }

    private struct Buffer {
        var raw: [UInt8] = []
        var body: [UInt8] = []
        var head: String?
        var ended = false
    }

    private let socket: Int32
    private let buffer = Mutex(Buffer())

    /// The status line and header section, once read.
    var head: String? { buffer.withLock { $0.head } }

    /// Connects to `base` (`http://127.0.0.1:PORT`) and sends `GET path` with `headers`.
    init(base: String, path: String = "/v1/events/stream", headers: [(String, String)]) throws {
        guard let url = URL(string: base), let port = url.port else { throw UCPSimError(.usage, "bad base \(base)") }
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw UCPSimError(.unavailable, "no socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            Glibc.close(socket)
            throw UCPSimError(.unavailable, "cannot connect to \(base)")
        }
        self.socket = socket
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
    }

    deinit { Glibc.close(socket) }

    /// Hangs up (the server notices at its next write).
    func close() { shutdown(socket, Int32(SHUT_RDWR)) }

    /// Reads until the response head has come; returns it.
    func readHead() async throws -> String {
        while true {
            if let head { return head }
            guard try await readMore() else { return head ?? "" }
        }
    }

    /// Reads until `enough` holds for the events received so far (or the stream ends); returns them all.
    func events(until enough: @Sendable ([Event]) -> Bool) async throws -> [Event] {
        while true {
            let events = parsed()
            if enough(events) || buffer.withLock({ $0.ended }) { return events }
            guard try await readMore() else { return parsed() }
        }
    }

    /// Reads until the server ends the response; true when it did (the terminating chunk came, or the connection
    /// closed).
    func readToEnd() async throws -> Bool {
        while try await readMore() {}
        return true
    }

    /// The events in the body so far, comments and `retry:` left out.
    func parsed() -> [Event] {
        let text = String(decoding: buffer.withLock { $0.body }, as: UTF8.self)
        var events: [Event] = []
        for block in text.components(separatedBy: "\n\n").dropLast() {
            var id: String?
            var name = "message"
            var data: [String] = []
            for line in block.split(separator: "\n", omittingEmptySubsequences: true) {
                if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
            }
            if !data.isEmpty { events.append(Event(id: id, name: name, data: data.joined(separator: "\n"))) }
        }
        return events
    }

    /// The raw body text so far (comments included).
    var bodyText: String { String(decoding: buffer.withLock { $0.body }, as: UTF8.self) }

    /// One blocking read off the cooperative pool; false once the stream ended.
    private func readMore() async throws -> Bool {
        if buffer.withLock({ $0.ended }) { return false }
        let socket = self.socket
        let chunk = try await TestSupport.offPool { () -> [UInt8] in
            var bytes = [UInt8](repeating: 0, count: 64 * 1024)
            let count = bytes.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            return count > 0 ? Array(bytes.prefix(count)) : []
        }
        buffer.withLock { buffer in
            if chunk.isEmpty {
                buffer.ended = true
                return
            }
            buffer.raw += chunk
            Self.decode(&buffer)
        }
        return !buffer.withLock { $0.ended }
    }

    /// Moves what `raw` holds into `head` and `body` (chunked transfer coding, or an unchunked body).
    private static func decode(_ buffer: inout Buffer) {
        let separator: [UInt8] = Array("\r\n".utf8)
        if buffer.head == nil {
            guard let end = find(Array("\r\n\r\n".utf8), in: buffer.raw) else { return }
            buffer.head = String(decoding: buffer.raw[..<end], as: UTF8.self)
            buffer.raw.removeFirst(end + 4)
        }
        let head = buffer.head?.lowercased() ?? ""
        guard head.contains("transfer-encoding: chunked") else {
            buffer.body += buffer.raw
            buffer.raw = []
            // A whole body of known length ends the response (the connection may stay open).
            let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
            if let length, buffer.body.count >= length { buffer.ended = true }
            return
        }
        while let lineEnd = find(separator, in: buffer.raw) {
            let sizeText = String(decoding: buffer.raw[..<lineEnd], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else { return }
            if size == 0 {
                buffer.ended = true
                return
            }
            guard buffer.raw.count >= lineEnd + 2 + size + 2 else { return }
            buffer.body += buffer.raw[(lineEnd + 2)..<(lineEnd + 2 + size)]
            buffer.raw.removeFirst(lineEnd + 2 + size + 2)
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index] == needle[0] {
            if Array(haystack[index..<(index + needle.count)]) == needle { return index }
        }
        return nil
    }
}
