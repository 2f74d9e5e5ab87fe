// `UCPSimBench --inspector [FIRST] [MORE] [REPEATS]`: the memory the deliveries API and its event stream keep.
//
// An in-process `Shop` (an outbox in a temporary state directory, the management API on) delivering to an in-process
// sink that answers 200, with two `GET /v1/events/stream` clients over loopback: one reads everything, one never
// reads (its socket's receive buffer is small, so the server's writes back up at once). FIRST deliveries
// (default 1,000), then MORE (default 10,000) REPEATS times (default 3); after each, the shop's resident set size, the index's size (pending +
// the newest `--keep-delivered` final ones), the stream events kept for replay, and what each client got. The RSS
// should stop growing once the index is full: the index, the replay ring and each stream's queue are bounded.
import Foundation
import Hummingbird
import Logging
import Synchronization
import UCPSimKit

/// A stream client on a plain socket: connects, sends the request, and either reads (counting) or never reads.
final class BenchStreamClient: Sendable {
    private let socket: Int32
    private let counts = Mutex((bytes: 0, events: 0, resets: 0))

    init(port: Int, token: String, reads: Bool) throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw CheckoutBenchFailure(description: "no socket") }
        if !reads {
            // A small window: the server's writes to this client back up after a few KB.
            var size: Int32 = 4096
            setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw CheckoutBenchFailure(description: "cannot connect to port \(port)") }
        self.socket = socket
        let request = Array(
            "GET /v1/events/stream HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAuthorization: Bearer \(token)\r\n\r\n".utf8
        )
        _ = request.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
        guard reads else { return }
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            let event = Array("\nevent: ".utf8)
            let reset = Array("event: reset".utf8)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                if count <= 0 { return }
                let chunk = buffer[0..<count]
                // Frames are written whole, so a marker is rarely cut by a read; the counts are close enough.
                let events = Self.occurrences(of: event, in: chunk)
                let resets = Self.occurrences(of: reset, in: chunk)
                self.counts.withLock {
                    $0.bytes += count
                    $0.events += events
                    $0.resets += resets
                }
            }
        }.start()
    }

    var read: (bytes: Int, events: Int, resets: Int) { counts.withLock { $0 } }

    func close() { Glibc.close(socket) }

    private static func occurrences(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int {
        var found = 0
        var index = haystack.startIndex
        while index + needle.count <= haystack.endIndex {
            if haystack[index] == needle[0] && haystack[index..<(index + needle.count)].elementsEqual(needle) {
                found += 1
                index += needle.count
            } else {
                index += 1
            }
        }
        return found
    }
}

func runInspectorBench(first: Int, more: Int, repeats: Int) async -> Int32 {
    do {
        try await inspectorBench(first: first, more: more, repeats: repeats)
        return 0
    } catch {
        say("inspector bench: error: \(error)")
        return 1
    }
}

private func inspectorBench(first: Int, more: Int, repeats: Int) async throws {
    let sinkRouter = Router()
    sinkRouter.post("/hooks") { request, _ -> Response in
        var request = request
        _ = try await request.collectBody(upTo: 1 << 20)
        return Response(status: .ok)
    }
    let sink = try await RunningServer.start(
        router: sinkRouter,
        host: "127.0.0.1",
        port: 0,
        logger: inspectorBenchLogger
    )
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-inspector-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: state) }
    let token = "bench-\(UUID().uuidString)"
    // BENCH_NO_INSPECTOR=1: the same shop without the management API, for comparison.
    let without = ProcessInfo.processInfo.environment["BENCH_NO_INSPECTOR"] == "1"
    let shop = try await Shop.start(
        keys: try KeyRing.ephemeral(),
        delivery: DeliverySetup(stateDirectory: state.path),
        control: ControlOptions(target: nil, secret: nil),
        apiToken: without ? nil : BearerToken(token),
        logger: inspectorBenchLogger
    )
    let target = try RequestTarget(sink.baseURL + "/hooks")
    var clients: [BenchStreamClient] = []
    if let inspector = shop.inspector {
        clients = [
            try BenchStreamClient(port: shop.server.port, token: token, reads: true),
            try BenchStreamClient(port: shop.server.port, token: token, reads: false),
        ]
        while inspector.openStreams < 2 { try await Task.sleep(nanoseconds: 1_000_000) }
    }
    let body = try snapshot(0)
    func report(_ label: String) {
        let rss = "serve RSS \(String(format: "%.1f", statusMegabytes("VmRSS:"))) MB"
        guard let inspector = shop.inspector, let reader = clients.first else {
            say("inspector \(label): \(rss) (BENCH_NO_INSPECTOR=1: no deliveries API, no streams)")
            return
        }
        let read = reader.read
        let backlogs = inspector.events.backlogs.map { "\($0.queued)\($0.reset ? " + reset" : "")" }
        say(
            "inspector \(label): \(rss); index "
                + "\(inspector.count) deliveries (keep-delivered \(inspector.options.keepDelivered)); \(inspector.keptEvents) "
                + "stream events kept; reading client got \(read.events) events (\(read.bytes / 1024) KiB, "
                + "\(read.resets) resets); \(inspector.openStreams) streams open, queued per stream: "
                + backlogs.sorted().joined(separator: ", ") + " (bound \(inspector.events.limits.queue))"
        )
    }
    report("at start")
    var sent = 0
    // The later rounds show the plateau: the index is full, so it stays the same size.
    let rounds = [("after \(first)", first)] + (1...max(1, repeats)).map { ("after \(more) more (\($0))", more) }
    for (label, count) in rounds {
        var left = count
        while left > 0 {
            let batch = min(left, 1_000)
            let events = (0..<batch).map { index in
                WebhookEvent(timestamp: 1_775_913_000, orderID: String(format: "ord_%07d", sent + index), body: body)
            }
            try await shop.engine.submit(events, to: target)
            sent += batch
            left -= batch
        }
        guard await shop.engine.drain(timeout: 600) else {
            throw CheckoutBenchFailure(description: "deliveries still pending after 600 s")
        }
        report(label)
    }
    for client in clients { client.close() }
    await shop.stop()
    await sink.stop()
}

private let inspectorBenchLogger: Logger = {
    var logger = Logger(label: "ucpsim.bench")
    logger.logLevel = .critical
    return logger
}()
