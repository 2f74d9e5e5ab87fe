import ArgumentParser
import Foundation
import UCPSimKit

struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one order snapshot as one signed webhook (retried on 5xx, 408, 429 and network failure).",
        discussion: """
            Serves the shop's profile on loopback while it runs (so the receiver can fetch the keys), signs FILE's \
            exact bytes and POSTs them. Exits 0 on 2xx, 1 when the event was dead-lettered, 69 when the receiver \
            was never reachable, 75 when retries are still pending after --wait (they stay in the outbox).
            """
    )

    @Argument(
        help: ArgumentHelp("An order snapshot (JSON, the shape of schemas/shopping/order.json).", valueName: "file")
    )
    var file: String

    @Option(name: .customLong("webhook-url"), help: ArgumentHelp("The platform's order webhook URL.", valueName: "url"))
    var webhookURL: String

    @Option(
        help:
            "Port for the shop's profile server (default: the one this --state directory's shop had, else any free port)."
    )
    var port: Port?

    @Option(help: "Host the shop's profile server binds.")
    var host = "127.0.0.1"

    @OptionGroup var shop: ShopOptions
    @OptionGroup var delivery: DeliveryOptions
    @OptionGroup var client: ClientOptions

    @Flag(name: .shortAndLong, help: "Print the signed request headers and each response.")
    var verbose = false

    func validate() throws {
        _ = try validatedURL(webhookURL, option: "--webhook-url")
    }

    func run() async throws {
        try await reportingErrors {
            let target = try parseTarget(webhookURL, option: "--webhook-url")
            let document = try OrderDocument.load(path: file)
            warn(document.versionWarning(shop: shop.ucpVersion, source: file))
            let verbose = self.verbose
            let running = try await startShop(shop, delivery, client, host: host, port: port, verbose: verbose) {
                state,
                attempt in
                outputLine(DeliveryReport.attemptLine(state, attempt))
                if verbose { outputLine(DeliveryReport.details(attempt)) }
            }
            // The order's first snapshot seen by this state directory is `order.created`, a later one `order.updated`.
            let seen = running.history.contains { $0.event.orderID == document.id }
            let event = OrderChange.event(
                document: document,
                first: !seen,
                occurredAt: Int64(Date().timeIntervalSince1970)
            )
            running.webhooks.setAudience(WebhookPublisher.Audience(registered: false, url: target))
            let deliveries = try await stoppingOnError(running) { try await running.webhooks.publish([[event]]) }
            let waited = await DeliveryReport.wait(
                for: deliveries,
                engine: running.engine,
                until: Date().addingTimeInterval(delivery.waitSeconds)
            )
            await running.stop()
            try DeliveryReport.conclude(waited, target: "receiver \(webhookURL)")
        }
    }
}

/// Human-readable delivery lines.
enum DeliveryReport {
    /// One line per attempt.
    static func attemptLine(_ state: DeliveryState, _ attempt: AttemptRecord) -> String {
        let status = attempt.status.map { "HTTP \($0)" } ?? "no response (\(attempt.detail))"
        let verdict: String
        switch state.phase {
        case .delivered: verdict = "delivered"
        case .dead(let reason): verdict = "dead-lettered (\(reason))"
        case .pending(let next):
            verdict = "retry in \(String(format: "%.1f", max(0, next.timeIntervalSince(attempt.at))))s"
        }
        // One line, whatever the receiver answered (its body excerpt is in `status` when it did not answer).
        return Identifier.printable(
            "attempt \(attempt.number)  \(status)  order=\(state.event.orderID)  webhook-id=\(state.event.webhookID)  "
                + "\(String(format: "%.1f", attempt.milliseconds)) ms  -> \(verdict)"
        )
    }

    /// The signed request and the response excerpt of one attempt.
    static func details(_ attempt: AttemptRecord) -> String {
        var lines = (attempt.requestHeaders ?? []).map { "> \($0)" }
        if let status = attempt.status { lines.append("< HTTP \(status)") }
        if !attempt.detail.isEmpty { lines.append("< \(attempt.detail)") }
        return lines.joined(separator: "\n")
    }

    /// The error for deliveries that never got an answer: the receiver was unreachable (69), or — when the request
    /// was never sent because signing it failed here — a local failure (70), not the receiver's fault.
    static func neverAnswered(detail: String, target: String) -> UCPSimError {
        if detail.hasPrefix("signing failed") {
            return UCPSimError(.software, "nothing was sent: \(detail) (a problem on this side, not the receiver's)")
        }
        return UCPSimError(.unavailable, "\(target) unreachable: \(detail)")
    }

    /// What waiting for some deliveries found: the final outcomes, and the states of those still pending.
    struct Waited {
        var outcomes: [DeliveryEngine.Outcome] = []
        var pending: [DeliveryState] = []
    }

    /// Waits for `deliveries` until `deadline` (each gets its first attempt, whatever the deadline). The one wait
    /// `send`, `replay` and `trigger` share.
    static func wait(for deliveries: [Delivery], engine: DeliveryEngine, until deadline: Date) async -> Waited {
        await wait(for: deliveries.map(\.id), engine: engine, until: deadline)
    }

    static func wait(for ids: [DeliveryID], engine: DeliveryEngine, until deadline: Date) async -> Waited {
        var waited = Waited()
        for id in ids {
            if let outcome = await engine.outcome(of: id, until: deadline) {
                waited.outcomes.append(outcome)
            } else if let state = await engine.pendingState(of: id) {
                waited.pending.append(state)
            }
        }
        return waited
    }

    /// Maps what a wait found to the documented exit codes: 75 when some are still pending, 69 when the receiver
    /// never answered, 70 when nothing could be signed here, 1 when any was dead-lettered, else 0. The one mapping
    /// `send`, `replay` and `trigger` share.
    static func conclude(_ waited: Waited, target: String) throws {
        if !waited.pending.isEmpty {
            let attempts = waited.pending.map(\.attempts.count).max() ?? 0
            let count = waited.pending.count
            throw UCPSimError(
                .tempFail,
                "\(count == 1 ? "one delivery" : "\(count) deliveries") still not delivered after \(attempts) "
                    + "attempt(s); \(count == 1 ? "it stays" : "they stay") in the outbox (`ucpsim deliveries resume` "
                    + "continues \(count == 1 ? "it" : "them"))"
            )
        }
        let failed = waited.outcomes.filter { !$0.accepted }
        guard let first = failed.first else { return }
        if waited.outcomes.allSatisfy({ $0.attempts.allSatisfy { $0.status == nil } }) {
            throw neverAnswered(detail: first.attempts.last?.detail ?? reasonOf(first), target: target)
        }
        for outcome in failed.prefix(5) {
            stderrLine(Identifier.printable("ucpsim: dead-lettered: \(reasonOf(outcome))"))
        }
        if failed.count > 5 { stderrLine("ucpsim: … and \(failed.count - 5) more dead-lettered") }
        throw ExitCode(1)
    }

    private static func reasonOf(_ outcome: DeliveryEngine.Outcome) -> String {
        if case .dead(let reason) = outcome.phase { return reason }
        return outcome.phase.name
    }
}
