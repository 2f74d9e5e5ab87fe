// The delivery benchmark: `make bench` runs it against a local nginx sink.
//
// Usage: UCPSimBench URL [COUNT] [CONCURRENCY]
// Prints deliveries per second, CPU per delivery, end-to-end latency percentiles, and peak RSS. BENCH_NO_OUTBOX=1
// measures the engine without the durable outbox; BENCH_STATE=DIR keeps the outbox in DIR.
//
// The parts alone, for comparison: `--sign-only` (headers, digest and ES256 signature on one core) and
// `--raw-jobs URL` (unsigned POSTs of the same body through the same libcurl client, 8 connections).
// BENCH_SIGNATURES=N sets how many signatures `--sign-only` makes (default 20,000).
// `--control-api URL [CALLS]`: a shop as `serve` runs it (control API on, webhooks to URL, an outbox), driven by
// CALLS control-API calls (default 100,000: a create and two transitions per order) over loopback; prints the
// resident set size after 10k, 50k and 100k calls, the curve that shows what a long `serve` keeps per call.
import Foundation
import UCPSimKit

func peakRSSMegabytes() -> Double { statusMegabytes("VmHWM:") }

/// Runs control-API calls `range` on 8 lanes, each lane an order's calls in sequence; returns how many were not 2xx.
nonisolated func controlBatch(
    _ range: Range<Int>,
    driver: HTTPClient,
    call: @escaping @Sendable (Int) -> OutgoingRequest
) async -> Int {
    await withTaskGroup(of: Int.self) { group in
        for lane in 0..<8 {
            group.addTask {
                var failed = 0
                for index in stride(from: range.lowerBound + lane * 3, to: range.upperBound, by: 24) {
                    for step in index..<min(index + 3, range.upperBound) {
                        let status = (try? await driver.send(call(step)))?.status ?? 0
                        if !(200..<300).contains(status) { failed += 1 }
                    }
                }
                return failed
            }
        }
        return await group.reduce(0, +)
    }
}

/// The resident set size now.
func rssMegabytes() -> Double { statusMegabytes("VmRSS:") }

func statusMegabytes(_ field: String) -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
        let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kilobytes / 1024
}

/// A realistic snapshot: a placed order with two lines, an expectation and totals.
func snapshot(_ index: Int) throws -> [UInt8] {
    let spec = OrderSpec(
        id: String(format: "ord_%07d", index),
        lines: [
            .init(sku: "mug-blue", title: "Blue Ceramic Mug", price: 1500, quantity: 2),
            .init(sku: "tea-sencha", title: "Sencha Green Tea", price: 900, quantity: 1),
        ],
        shipping: 499
    )
    let start = Date(timeIntervalSince1970: 1_775_913_000)
    return try OrderStateMachine(spec: spec, at: start, shopBaseURL: "https://shop.example.com").order.jsonBytes()
}

let arguments = CommandLine.arguments
if arguments.dropFirst().first == "--dump-body" {
    FileHandle.standardOutput.write(Data(try snapshot(0)))
    exit(0)
}
if arguments.dropFirst().first == "--sign-only" {
    // Signing alone, one core: digest, base, ES256, headers.
    let client = HTTPClient(workers: 1)
    let sender = WebhookSender(
        client: client,
        signer: MessageSigner(key: try SigningKey.generate(.es256, kid: "k")),
        profileURL: "https://shop.example.com/.well-known/ucp"
    )
    let body = try snapshot(0)
    let target = try RequestTarget("http://127.0.0.1:8080/x")
    let plan = try sender.plan(for: target)
    let event = WebhookEvent(timestamp: 1, orderID: "o", body: body)
    let started = Date()
    let signatures = Int(ProcessInfo.processInfo.environment["BENCH_SIGNATURES"] ?? "") ?? 20_000
    for _ in 0..<signatures {
        _ = try sender.signedRequest(for: event, to: target, created: 1, plan: plan)
    }
    print(
        "signing alone:     \(String(format: "%.0f", Double(signatures) / Date().timeIntervalSince(started))) signed requests/s on one core (digest, base, ES256, headers)"
    )
    exit(0)
}
if arguments.dropFirst().first == "--raw-jobs", arguments.count >= 3 {
    // The transport alone, as the engine uses it: queued jobs, 8 connections, no signing.
    let client = HTTPClient(workers: 8)
    let request = OutgoingRequest(
        method: "POST",
        url: arguments[2],
        headers: HTTPFieldList([("Content-Type", "application/json")]),
        body: try snapshot(0)
    )
    let total = 50_000
    let done = DispatchSemaphore(value: 0)
    let started = Date()
    client.enqueue(
        (0..<total).map { index in
            HTTPClient.Job(prepare: { request }) { _, _ in if index == total - 1 { done.signal() } }
        }
    )
    done.wait()
    print(
        "transport alone:   \(String(format: "%.0f", Double(total) / Date().timeIntervalSince(started))) unsigned POST/s through ucpsim's libcurl client, 8 connections"
    )
    exit(0)
}
if arguments.dropFirst().first == "--control-api", arguments.count >= 3 {
    let sink = try RequestTarget(arguments[2])
    // Whole orders: three calls each.
    let calls = max(3, (arguments.count > 3 ? Int(arguments[3]) ?? 100_000 : 100_000) / 3 * 3)
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-bench-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: state) }
    let shop = try await Shop.start(
        keys: try KeyRing.ephemeral(),
        delivery: DeliverySetup(stateDirectory: state.path),
        control: ControlOptions(target: sink, secret: nil)
    )
    let base = shop.server.baseURL
    let driver = HTTPClient(workers: 8)
    let json = HTTPFieldList([("Content-Type", "application/json")])
    // Order n: create, ship, deliver: three calls, each a snapshot and a signed webhook.
    let call: @Sendable (Int) -> OutgoingRequest = { index in
        let order = String(format: "ord_%07d", index / 3)
        switch index % 3 {
        case 0:
            let body =
                #"{"id":"\#(order)","items":[{"sku":"mug-blue","title":"Blue Ceramic Mug","price":1500,"quantity":2}],"shipping":499}"#
            return OutgoingRequest(method: "POST", url: "\(base)/testing/orders", headers: json, body: Array(body.utf8))
        case 1:
            return OutgoingRequest(method: "POST", url: "\(base)/testing/orders/\(order)/ship", headers: json, body: [])
        default:
            return OutgoingRequest(
                method: "POST",
                url: "\(base)/testing/orders/\(order)/deliver",
                headers: json,
                body: []
            )
        }
    }
    print("== serve's memory: \(calls) control-API calls (create, ship, deliver per order), webhooks to \(sink.url)")
    print("RSS at start:      \(String(format: "%.1f", rssMegabytes())) MB")
    let began = Date()
    var done = 0
    var failures = 0
    for checkpoint in [10_000, 50_000, 100_000, 200_000, 500_000] {
        // An order's calls go in sequence (ship after create); orders run 8 at a time.
        while done < min(checkpoint, calls) {
            let (start, end) = (done, done + min(calls - done, 3 * 64))
            failures += await controlBatch(start..<end, driver: driver, call: call)
            done = end
        }
        _ = await shop.engine.drain(timeout: 60)
        print(
            "RSS after \(String(format: "%6d", done)) calls: \(String(format: "%.1f", rssMegabytes())) MB  (\(String(format: "%.0f", Double(done) / Date().timeIntervalSince(began))) calls/s so far, \(failures) not 2xx)"
        )
        if done >= calls { break }
    }
    let kept = await (shop.book.count, shop.orders.count, shop.engine.retainedOutcomeCount)
    print("kept in memory:    \(kept.0) orders, \(kept.1) snapshots, \(kept.2) delivery outcomes")
    driver.shutdown()
    await shop.stop()
    exit(failures == 0 ? 0 : 1)
}
guard arguments.count >= 2, let target = try? RequestTarget(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: ucpsim-bench URL [COUNT] [CONCURRENCY]\n".utf8))
    exit(64)
}
let count = arguments.count > 2 ? Int(arguments[2]) ?? 100_000 : 100_000
let concurrency = arguments.count > 3 ? Int(arguments[3]) ?? 8 : 8

// One real snapshot as a template; each event is the same order under its own id, written over the template's
// fixed-width id in place (same size, distinct bytes, and cheap enough not to compete with the deliveries).
let template = try snapshot(0)
let bodySize = template.count
let placeholder = Array("ord_0000000".utf8)
let idOffsets = template.indices.filter { template[$0...].starts(with: placeholder) }
func events(_ range: Range<Int>) -> [WebhookEvent] {
    range.map { index in
        let id = String(format: "ord_%07d", index)
        var body = template
        for offset in idOffsets { body.replaceSubrange(offset..<offset + placeholder.count, with: id.utf8) }
        return WebhookEvent(timestamp: 1_775_913_000, orderID: id, body: body)
    }
}
// BENCH_STATE=DIR keeps the outbox there afterwards (to inspect it, or to time opening a large one).
let keptState = ProcessInfo.processInfo.environment["BENCH_STATE"]
let state =
    keptState
    ?? FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-bench-\(UUID().uuidString)").path

var setup = DeliverySetup(stateDirectory: ProcessInfo.processInfo.environment["BENCH_NO_OUTBOX"] == nil ? state : nil)
setup.engine.concurrency = concurrency
setup.engine.policy = RetryPolicy(delays: [1, 5], jitter: 0.2, retry4xx: false)
let shop = try await Shop.start(keys: try KeyRing.ephemeral(), delivery: setup)
let rssBefore = peakRSSMegabytes()
let began = Date()
// Submitted in batches, as a shop's transitions would arrive; each batch is persisted (one fsync) before sending.
for start in stride(from: 0, to: count, by: 10_000) {
    try await shop.engine.submit(events(start..<min(count, start + 10_000)), to: target)
}
let queuedAt = Date()
let queuedRSS = peakRSSMegabytes()
_ = await shop.engine.drain(timeout: 3600)
let elapsed = Date().timeIntervalSince(began)
let summary = shop.engine.metrics.summary()
let delivered = summary.delivered
await shop.stop()
let peakRSS = peakRSSMegabytes()
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
let cpuSeconds =
    Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
    + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
// Reading the journal back, as `deliveries list` does (and a restart does before it compacts).
var reread = ""
if setup.stateDirectory != nil {
    let started = Date()
    let snapshot = try Outbox.inspect(directory: state)
    let size = (try? FileManager.default.attributesOfItem(atPath: "\(state)/outbox.jsonl")[.size] as? Int) ?? 0
    reread =
        "outbox read back:  \(snapshot.states.count) events, \(size / 1_000_000) MB journal in \(String(format: "%.2f", Date().timeIntervalSince(started))) s"
}
if keptState == nil { try? FileManager.default.removeItem(atPath: state) }

print(
    "events:            \(count) signed ES256 deliveries of \(bodySize)-byte order snapshots, \(concurrency) in flight"
)
print(
    "queued (durable):  \(String(format: "%.2f", queuedAt.timeIntervalSince(began))) s to persist and fsync the outbox"
)
print("delivered:         \(delivered) in \(String(format: "%.2f", elapsed)) s")
print(
    "cpu:               \(String(format: "%.0f", cpuSeconds / Double(max(1, delivered)) * 1e6)) µs of this process's CPU per delivery (event generation, journal, signing, HTTP)"
)
print("throughput:        \(String(format: "%.0f", Double(delivered) / elapsed)) deliveries/s")
print(
    "latency:           submitted-to-2xx p50 \(String(format: "%.1f", summary.p50)) ms, p99 \(String(format: "%.1f", summary.p99)) ms"
)
print(
    "peak RSS:          \(String(format: "%.1f", peakRSS)) MB (after queueing \(count): \(String(format: "%.1f", queuedRSS)) MB; at start \(String(format: "%.1f", rssBefore)) MB)"
)
if !reread.isEmpty { print(reread) }
print(
    "RESULT deliveries_per_second=\(String(format: "%.0f", Double(delivered) / elapsed)) peak_rss_mb=\(String(format: "%.1f", peakRSS))"
)
