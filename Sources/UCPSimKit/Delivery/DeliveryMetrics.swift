import Foundation
import Prometheus
import Synchronization

/// Delivery counters and latency histograms, exported in Prometheus text format, plus a run summary.
public final class DeliveryMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let delivered: Counter
    private let retried: Counter
    private let failedAttempts: Counter
    private let deadLettered: Counter
    private let droppedGone: Counter
    private let attemptLatency: DurationHistogram
    private let endToEnd: DurationHistogram
    /// The latency samples the summary's percentiles come from: the latest ones only, so a long `serve` holds a
    /// fixed amount (the Prometheus histograms count everything).
    public static let latencySamples = 100_000

    private struct Samples {
        /// A ring of the latest `latencySamples` submitted-to-2xx latencies.
        var endToEnd: [Double] = []
        var next = 0
        var attemptCount = 0
        var failedAttempts = 0
        var retried = 0
        var delivered = 0
        var deadLettered = 0
        var droppedEndpointGone = 0
    }

    private let samples = Mutex(Samples())

    /// `ucpsim_<name>_<unit>`, with its help text.
    private static func name(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ucpsim", metricName: name, unitName: unit, helpText: help)
    }

    public init() {
        let buckets: [Duration] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        ]
        delivered = registry.makeCounter(
            descriptor: Self.name("webhooks_delivered", unit: "total", help: "Events answered with a 2xx.")
        )
        retried = registry.makeCounter(
            descriptor: Self.name("webhook_retries", unit: "total", help: "Attempts scheduled again after a failure.")
        )
        failedAttempts = registry.makeCounter(
            descriptor: Self.name("webhook_failed_attempts", unit: "total", help: "Attempts without a 2xx.")
        )
        deadLettered = registry.makeCounter(
            descriptor: Self.name(
                "webhooks_dead_lettered",
                unit: "total",
                help: "Events that ran out of attempts or were refused."
            )
        )
        droppedGone = registry.makeCounter(
            descriptor: Self.name(
                "webhooks_dropped_endpoint_gone",
                unit: "total",
                help:
                    "Events dropped without an attempt because their endpoint had answered HTTP 410 Gone (also dead-lettered)."
            )
        )
        attemptLatency = registry.makeDurationHistogram(
            descriptor: Self.name(
                "webhook_attempt_duration",
                unit: "seconds",
                help: "One attempt, request to response."
            ),
            buckets: buckets
        )
        endToEnd = registry.makeDurationHistogram(
            descriptor: Self.name(
                "webhook_delivery_latency",
                unit: "seconds",
                help: "Event submitted to 2xx received."
            ),
            buckets: buckets
        )
    }

    func attempt(seconds: Double, ok: Bool) {
        attemptLatency.recordNanoseconds(Int64(seconds * 1e9))
        if !ok { failedAttempts.increment() }
        samples.withLock {
            $0.attemptCount += 1
            if !ok { $0.failedAttempts += 1 }
        }
    }

    func retry() {
        retried.increment()
        samples.withLock { $0.retried += 1 }
    }

    func deliveredEvent(endToEnd seconds: Double) {
        delivered.increment()
        endToEnd.recordNanoseconds(Int64(seconds * 1e9))
        samples.withLock {
            if $0.endToEnd.count < Self.latencySamples {
                $0.endToEnd.append(seconds)
            } else {
                $0.endToEnd[$0.next] = seconds
                $0.next = ($0.next + 1) % Self.latencySamples
            }
            $0.delivered += 1
        }
    }

    func deadLetter() {
        deadLettered.increment()
        samples.withLock { $0.deadLettered += 1 }
    }

    func droppedEndpointGone() {
        droppedGone.increment()
        samples.withLock { $0.droppedEndpointGone += 1 }
    }

    /// The Prometheus exposition text.
    public func prometheusText() -> String { registry.emitToString() }

    /// Counts and latency percentiles so far.
    public struct Summary: Sendable, CustomStringConvertible {
        public let delivered: Int
        public let retried: Int
        public let failedAttempts: Int
        public let deadLettered: Int
        /// Of the dead-lettered, those dropped unsent because their endpoint had answered 410.
        public let droppedEndpointGone: Int
        public let attempts: Int
        /// Submitted-to-2xx latency percentiles, in milliseconds.
        public let p50: Double
        public let p99: Double

        public var description: String {
            "delivered \(delivered), retried \(retried), failed attempts \(failedAttempts), dead-lettered \(deadLettered)"
                + (droppedEndpointGone > 0 ? " (\(droppedEndpointGone) dropped after HTTP 410 Gone)" : "") + "; "
                + "delivery latency p50 \(String(format: "%.1f", p50)) ms, p99 \(String(format: "%.1f", p99)) ms"
        }
    }

    public func summary() -> Summary {
        samples.withLock { samples in
            let sorted = samples.endToEnd.sorted()
            func percentile(_ p: Double) -> Double {
                sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000
            }
            return Summary(
                delivered: samples.delivered,
                retried: samples.retried,
                failedAttempts: samples.failedAttempts,
                deadLettered: samples.deadLettered,
                droppedEndpointGone: samples.droppedEndpointGone,
                attempts: samples.attemptCount,
                p50: percentile(0.5),
                p99: percentile(0.99)
            )
        }
    }
}
