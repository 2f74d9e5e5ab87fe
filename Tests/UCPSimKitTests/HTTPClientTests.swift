import Foundation
import Synchronization
import Testing
@testable import UCPSimKit

/// The libcurl multi client against a bare keep-alive HTTP/1.1 server that counts connections and requests in flight.
@Suite struct HTTPClientTests {
    @Test func exchangesAreBoundedByTheWorkersAndReuseTheirConnections() async throws {
        let server = try KeepAliveServer(delay: 0.02)
        defer { server.stop() }
        let client = HTTPClient(workers: 3, threads: 2)
        defer { client.shutdown() }
        let results = Mutex<[Result<ReceivedResponse, any Error>]>([])
        let total = 30
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            client.enqueue(
                (0..<total).map { index in
                    HTTPClient.Job(prepare: {
                        OutgoingRequest(
                            method: "POST",
                            url: "http://127.0.0.1:\(server.port)/hook/\(index)",
                            headers: HTTPFieldList([("Content-Type", "application/json")]),
                            body: Array("{\"n\":\(index)}".utf8)
                        )
                    }) { _, result in
                        let count = results.withLock {
                            $0.append(result)
                            return $0.count
                        }
                        if count == total { done.resume() }
                    }
                }
            )
        }
        let responses = try results.withLock { $0 }.map { try $0.get() }
        #expect(responses.count == total && responses.allSatisfy { $0.status == 200 })
        #expect(responses.allSatisfy { $0.headers["x-served-by"] == "keep-alive-server" })
        // Never more than three at once, and three kept-alive connections carried all thirty.
        #expect(server.maxInFlight == 3, "\(server.maxInFlight)")
        #expect(server.connections == 3, "\(server.connections)")
        #expect(responses.map(\.newConnections).reduce(0, +) == 3)
        #expect(Set(server.paths) == Set((0..<total).map { "/hook/\($0)" }))
    }

    @Test func aPrepareThatThrowsFailsOnlyItsJobAndSendsNothing() async throws {
        let server = try KeepAliveServer(delay: 0)
        defer { server.stop() }
        let client = HTTPClient(workers: 1)
        defer { client.shutdown() }
        struct Refused: Error {}
        let failed = await withCheckedContinuation { continuation in
            client.enqueue([HTTPClient.Job(prepare: { throw Refused() }) { continuation.resume(returning: $1) }])
        }
        #expect(throws: Refused.self) { try failed.get() }
        let response = try await client.send(OutgoingRequest(method: "GET", url: "http://127.0.0.1:\(server.port)/"))
        #expect(response.status == 200)
        #expect(server.paths == ["/"])
    }
}

/// HTTP/1.1 with keep-alive on a raw socket: a thread per connection, answering each request after `delay` seconds.
final class KeepAliveServer: Sendable {
    let port: Int
    private let socket: Int32
    private struct Counts {
        var connections = 0
        var inFlight = 0
        var maxInFlight = 0
        var paths: [String] = []
    }

    private final class Tally: Sendable {
        let counts = Mutex(Counts())
    }

    private let tally = Tally()

    var connections: Int { tally.counts.withLock { $0.connections } }
    var maxInFlight: Int { tally.counts.withLock { $0.maxInFlight } }
    var paths: [String] { tally.counts.withLock { $0.paths } }

    init(delay: TimeInterval) throws {
        let (fd, port) = try TestSupport.listenOnLoopback(backlog: 16)
        socket = fd
        self.port = port
        let tally = self.tally
        Thread {
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                tally.counts.withLock { $0.connections += 1 }
                Thread { Self.serve(client, delay: delay, tally: tally) }.start()
            }
        }.start()
    }

    private static func serve(_ client: Int32, delay: TimeInterval, tally: Tally) {
        defer { close(client) }
        var pending = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            // One request: the head up to CRLFCRLF, then Content-Length bytes.
            var request: (path: String, end: Int)?
            while request == nil {
                if let head = pending.firstRange(of: Array("\r\n\r\n".utf8)) {
                    let text = String(decoding: pending[..<head.lowerBound], as: UTF8.self)
                    let lines = text.split(separator: "\r\n")
                    let path = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? ""
                    let length =
                        lines.first { $0.lowercased().hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) } ?? 0
                    if pending.count >= head.upperBound + length { request = (path, head.upperBound + length) }
                }
                if request != nil { break }
                let count = read(client, &buffer, buffer.count)
                if count <= 0 { return }
                pending += buffer.prefix(count)
            }
            guard let request else { return }
            pending.removeFirst(request.end)
            tally.counts.withLock {
                $0.inFlight += 1
                $0.maxInFlight = max($0.maxInFlight, $0.inFlight)
                $0.paths.append(request.path)
            }
            if delay > 0 { Thread.sleep(forTimeInterval: delay) }
            tally.counts.withLock { $0.inFlight -= 1 }
            let response = Array(
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Served-By: keep-alive-server\r\n\r\n{}".utf8
            )
            guard write(client, response, response.count) == response.count else { return }
        }
    }

    func stop() { shutdown(socket, Int32(SHUT_RDWR)); close(socket) }
}
