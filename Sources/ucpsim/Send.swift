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
            await running.orders.put(document)
            let event = WebhookEvent(
                timestamp: Int64(Date().timeIntervalSince1970),
                orderID: document.id,
                body: document.bytes
            )
            try await stoppingOnError(running) { try await running.engine.submit([event], to: target) }
            let deadline = Date().addingTimeInterval(delivery.waitSeconds)
            let outcome = await running.engine.outcome(of: event.webhookID, until: deadline)
            let pending = await running.engine.pendingState(of: event.webhookID)
            await running.stop()
            try DeliveryReport.conclude(outcome, pending: pending, target: webhookURL)
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

    /// Maps a final outcome (or a timeout) to the documented exit codes.
    static func conclude(_ outcome: DeliveryEngine.Outcome?, pending: DeliveryState?, target: String) throws {
        guard let outcome else {
            throw UCPSimError(
                .tempFail,
                "still not delivered after \(pending?.attempts.count ?? 0) attempt(s); it stays in the outbox (`ucpsim deliveries resume` continues it)"
            )
        }
        switch outcome.phase {
        case .delivered:
            return
        case .dead(let reason):
            if outcome.attempts.allSatisfy({ $0.status == nil }) {
                throw neverAnswered(detail: outcome.attempts.last?.detail ?? reason, target: "receiver \(target)")
            }
            stderrLine("ucpsim: dead-lettered: \(reason)")
            throw ExitCode(1)
        case .pending:
            throw UCPSimError(.tempFail, "still pending; it stays in the outbox")
        }
    }
}
