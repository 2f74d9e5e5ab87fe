// `UCPSimBench --fan-out URL [EVENTS] [CONCURRENCY]`: each order placement published once through the shop's
// WebhookPublisher to three subscriptions on URL, one per dialect (`ucp`, `ucp-hmac`, `standard-webhooks`, each
// wanting `order.created`), through the durable outbox. Three deliveries per event, each in its dialect's body and
// signature, each subscription on its own lanes.
import Foundation
import UCPSimKit

/// Runs the fan-out bench; returns the exit status (1 when a delivery did not arrive).
func runFanOutBench(target: RequestTarget, events count: Int, concurrency: Int) async throws -> Int32 {
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-fanout-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: state) }
    var setup = DeliverySetup(stateDirectory: state)
    setup.engine.concurrency = concurrency
    setup.engine.policy = RetryPolicy(delays: [1, 5], jitter: 0.2, retry4xx: false)
    let shop = try await Shop.start(keys: try KeyRing.ephemeral(), delivery: setup)
    for dialect in DialectName.allCases {
        _ = try await shop.subscriptions.add(
            NewSubscription(url: target.url, eventTypes: [.orderCreated], dialect: dialect, description: "bench")
        )
    }
    shop.webhooks.setAudience(.init(registered: true))

    // The placements' events (order.created and payment.status_changed, the order's snapshot), made before the clock
    // starts: what is timed is the publisher (a body per dialect, the journal) and the deliveries.
    let placed = Date(timeIntervalSince1970: 1_775_913_000)
    let changes = try (0..<count).map { index in
        OrderChange.events(
            before: nil,
            after: try OrderStateMachine(
                spec: OrderSpec(
                    id: String(format: "ord_%07d", index),
                    lines: [
                        .init(sku: "mug-blue", title: "Blue Ceramic Mug", price: 1500, quantity: 2),
                        .init(sku: "tea-sencha", title: "Sencha Green Tea", price: 900, quantity: 1),
                    ],
                    shipping: 499
                ),
                at: placed,
                shopBaseURL: "https://shop.example.com"
            ).order,
            transition: nil,
            occurredAt: Int64(placed.timeIntervalSince1970)
        )
    }
    let began = Date()
    var published = 0
    var bodyBytes: [DialectName: Int] = [:]
    // About 10,000 deliveries per journal batch, as the per-dialect runs submit them.
    for start in stride(from: 0, to: count, by: 3_334) {
        let deliveries = try await shop.webhooks.publish(Array(changes[start..<min(count, start + 3_334)]))
        published += deliveries.count
        for delivery in deliveries where bodyBytes[delivery.dialect] == nil {
            bodyBytes[delivery.dialect] = delivery.event.body.count
        }
    }
    let queued = Date().timeIntervalSince(began)
    _ = await shop.engine.drain(timeout: 3600)
    let elapsed = Date().timeIntervalSince(began)
    let summary = shop.engine.metrics.summary()
    await shop.stop()
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let cpuSeconds =
        Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    let sizes = DialectName.allCases.map { "\($0.rawValue) \(bodyBytes[$0] ?? 0)" }.joined(separator: ", ")
    print(
        "fan-out:           \(count) order placements, each to 3 subscriptions (one per dialect), \(concurrency) in flight; body bytes: \(sizes)"
    )
    print("published:         \(published) deliveries journaled in \(String(format: "%.2f", queued)) s")
    print("delivered:         \(summary)")
    print(
        "throughput:        \(String(format: "%.0f", Double(count) / elapsed)) events/s, \(String(format: "%.0f", Double(summary.delivered) / elapsed)) deliveries/s in \(String(format: "%.2f", elapsed)) s"
    )
    print(
        "cpu:               \(String(format: "%.0f", cpuSeconds / Double(max(1, summary.delivered)) * 1e6)) µs of this process's CPU per delivery (event generation included)"
    )
    print(
        "RESULT fan_out events_per_second=\(String(format: "%.0f", Double(count) / elapsed)) deliveries_per_second=\(String(format: "%.0f", Double(summary.delivered) / elapsed))"
    )
    return summary.delivered == published && published == 3 * count ? 0 : 1
}
