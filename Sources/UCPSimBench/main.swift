// The delivery benchmark: `make bench` runs it against a local nginx sink.
//
// Usage: UCPSimBench [--dialect NAME] URL [COUNT] [CONCURRENCY]
// Prints deliveries per second, CPU per delivery, end-to-end latency percentiles, and peak RSS. BENCH_NO_OUTBOX=1
// measures the engine without the durable outbox; BENCH_STATE=DIR keeps the outbox in DIR. Without `--dialect` (or
// with `--dialect ucp`) the deliveries are today's: `ucp` to a bare URL. `--dialect ucp-hmac` or
// `standard-webhooks` sends the same bodies as deliveries of one subscription in that dialect, with the secret the
// shop's registry generated for it (so only the signing differs).
// `--fan-out URL [EVENTS] [CONCURRENCY]`: each order event to three subscriptions, one per dialect, through
// WebhookPublisher (FanOutBench.swift).
//
// The parts alone, for comparison: `--sign-only` (headers, digest and ES256 signature on one core) and
// `--raw-jobs URL` (unsigned POSTs of the same body through the same libcurl client, 8 connections).
// BENCH_SIGNATURES=N sets how many signatures `--sign-only` makes (default 20,000). `--bodies`: each dialect's
// order.created body alone, on one core (what the publisher makes per delivery).
// `--control-api URL [CALLS]`: the real `ucpsim serve` (built beside this binary; BENCH_UCPSIM=PATH for another),
// webhooks to URL, driven by CALLS control-API calls (default 100,000: a create and two transitions per order) over
// loopback; prints serve's resident set size after 10k, 50k and 100k calls, the curve that shows what a long `serve`
// keeps per call (ControlAPIBench.swift).
// `--checkout [CHECKOUTS] [CONCURRENCY]`: completed checkouts per second (create, update, complete, the order.created
// webhook verified by a platform's receiver) against an in-process shop, with the p50/p99 of complete
// (CheckoutBench.swift).
// `--inspector [FIRST] [MORE] [REPEATS]`: an in-process shop with the deliveries API, one event-stream client that reads and one
// that never does; the shop's RSS and the index's size after FIRST (1,000) and each MORE (10,000, 3 times) deliveries
// (InspectorBench.swift).
import Foundation
import UCPSimKit

/// Prints a line and flushes it, also into a pipe (`make bench | tee`): a long phase must show its progress as it
/// goes, not when it exits. (`fflush(nil)` flushes every stream; Swift 6 refuses a reference to C's `stdout`.)
func say(_ line: String) {
    print(line)
    fflush(nil)
}

func peakRSSMegabytes() -> Double { statusMegabytes("VmHWM:") }

/// A field of a /proc status file (`VmRSS:`, `VmHWM:`) in MB; 0 when it cannot be read.
func statusMegabytes(_ field: String, path: String = "/proc/self/status") -> Double {
    guard let status = try? String(contentsOfFile: path, encoding: .utf8),
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
if arguments.dropFirst().first == "--bodies" {
    // Each dialect's body for an order.created event alone, one core: what the publisher does per delivery before
    // the journal (BENCH_SIGNATURES=N events, default 20,000).
    let sender = WebhookSender(
        client: HTTPClient(workers: 1),
        signer: MessageSigner(key: try SigningKey.generate(.es256, kid: "k")),
        profileURL: "https://shop.example.com/.well-known/ucp"
    )
    let dialects = Dialects.standard(sender: sender)
    let order = try OrderStateMachine(
        spec: OrderSpec(
            id: "ord_0000000",
            lines: [
                .init(sku: "mug-blue", title: "Blue Ceramic Mug", price: 1500, quantity: 2),
                .init(sku: "tea-sencha", title: "Sencha Green Tea", price: 900, quantity: 1),
            ],
            shipping: 499
        ),
        at: Date(timeIntervalSince1970: 1_775_913_000),
        shopBaseURL: "https://shop.example.com"
    ).order
    let events = OrderChange.events(before: nil, after: order, transition: nil, occurredAt: 1_775_913_000)
    let repeats = Int(ProcessInfo.processInfo.environment["BENCH_SIGNATURES"] ?? "") ?? 20_000
    for name in DialectName.allCases {
        guard let dialect = dialects[name], let event = events.first else { continue }
        let started = Date()
        var bytes = 0
        for _ in 0..<repeats { bytes = dialect.body(for: event)?.count ?? 0 }
        let seconds = Date().timeIntervalSince(started)
        say(
            "bodies alone:      \(name.rawValue): \(String(format: "%.0f", Double(repeats) / seconds)) order.created bodies/s on one core (\(String(format: "%.1f", seconds / Double(repeats) * 1e6)) µs each, \(bytes) bytes)"
        )
    }
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
    exit(runControlAPIBench(sink: arguments[2], calls: arguments.count > 3 ? Int(arguments[3]) ?? 100_000 : 100_000))
}
if arguments.dropFirst().first == "--inspector" {
    exit(
        await runInspectorBench(
            first: arguments.count > 2 ? Int(arguments[2]) ?? 1_000 : 1_000,
            more: arguments.count > 3 ? Int(arguments[3]) ?? 10_000 : 10_000,
            repeats: arguments.count > 4 ? Int(arguments[4]) ?? 3 : 3
        )
    )
}
if arguments.dropFirst().first == "--checkout" {
    exit(
        await runCheckoutBench(
            checkouts: arguments.count > 2 ? Int(arguments[2]) ?? 2_000 : 2_000,
            concurrency: arguments.count > 3 ? Int(arguments[3]) ?? 8 : 8
        )
    )
}
if arguments.dropFirst().first == "--fan-out", arguments.count >= 3, let target = try? RequestTarget(arguments[2]) {
    exit(
        try await runFanOutBench(
            target: target,
            events: arguments.count > 3 ? Int(arguments[3]) ?? 30_000 : 30_000,
            concurrency: arguments.count > 4 ? Int(arguments[4]) ?? 8 : 8
        )
    )
}
// `--dialect NAME` first, then today's arguments.
var positional = Array(arguments.dropFirst())
var dialect = DialectName.ucp
if positional.first == "--dialect" {
    guard positional.count >= 2, let name = DialectName(rawValue: positional[1]) else {
        FileHandle.standardError.write(
            Data("ucpsim-bench: error: --dialect takes one of \(DialectName.names.joined(separator: ", "))\n".utf8)
        )
        exit(64)
    }
    dialect = name
    positional.removeFirst(2)
}
guard let url = positional.first, let target = try? RequestTarget(url) else {
    FileHandle.standardError.write(Data("usage: ucpsim-bench [--dialect NAME] URL [COUNT] [CONCURRENCY]\n".utf8))
    exit(64)
}
let count = positional.count > 1 ? Int(positional[1]) ?? 100_000 : 100_000
let concurrency = positional.count > 2 ? Int(positional[2]) ?? 8 : 8

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
// An HMAC dialect signs with a subscription's secret: one subscription, its secret generated by the registry (the
// shop's credentials lookup reads it there at each attempt). The shop publishes nothing by itself (no audience).
var subscription: SubscriptionID?
if dialect != .ucp {
    subscription =
        try await shop.subscriptions.add(
            NewSubscription(url: target.url, eventTypes: [.orderCreated], dialect: dialect, description: "bench")
        ).subscription.id
}
let rssBefore = peakRSSMegabytes()
let began = Date()
// Submitted in batches, as a shop's transitions would arrive; each batch is persisted (one fsync) before sending.
for start in stride(from: 0, to: count, by: 10_000) {
    let batch = events(start..<min(count, start + 10_000))
    if let subscription {
        try await shop.engine.submit(
            batch.map {
                Delivery(
                    event: $0,
                    eventType: .orderCreated,
                    subscription: subscription,
                    dialect: dialect,
                    target: target
                )
            }
        )
    } else {
        try await shop.engine.submit(batch, to: target)
    }
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

let signature = dialect == .ucp ? "ES256 (RFC 9421)" : "HMAC-SHA256"
print(
    "events:            \(count) \(dialect.rawValue) deliveries signed \(signature) of \(bodySize)-byte order snapshots, \(concurrency) in flight"
)
print(
    "queued (durable):  \(String(format: "%.2f", queuedAt.timeIntervalSince(began))) s to persist and fsync the outbox"
)
if delivered != count { print("not delivered:     \(summary)") }
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
    "RESULT dialect=\(dialect.rawValue) deliveries_per_second=\(String(format: "%.0f", Double(delivered) / elapsed)) peak_rss_mb=\(String(format: "%.1f", peakRSS))"
)
