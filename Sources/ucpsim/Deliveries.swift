import ArgumentParser
import Foundation
import UCPSimKit

struct Deliveries: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect the outbox and resend: list, show, redeliver dead letters, resume pending deliveries.",
        subcommands: [List.self, Show.self, Redeliver.self, Resume.self]
    )

    struct StateOption: ParsableArguments {
        @Option(help: ArgumentHelp("Outbox directory.", valueName: "dir"))
        var state = ".ucpsim"

        /// The outbox as it is now, read without writing (a running `ucpsim` may hold it).
        func load() throws(UCPSimError) -> OutboxSnapshot {
            try Outbox.inspect(directory: state)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per event: id, order, state, attempts, last status."
        )

        @OptionGroup var state: StateOption

        @Option(help: "Only events in this state.")
        var only: String?

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            try await reportingErrors {
                let states = try state.load().states.filter { only == nil || $0.phase.name == only }
                if json {
                    let rows: [[String: Any]] = states.map { state in
                        [
                            "webhook_id": state.event.webhookID, "order": state.event.orderID,
                            "state": state.phase.name,
                            "attempts": state.attempts.count,
                            "last_status": state.attempts.last?.status as Any? ?? NSNull(),
                            "target": state.target,
                        ]
                    }
                    let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
                    outputLine(String(decoding: data, as: UTF8.self))
                    return
                }
                for state in states {
                    let last = state.attempts.last.map { $0.status.map { "HTTP \($0)" } ?? "no response" } ?? "-"
                    outputLine(
                        "\(state.event.webhookID)  \(state.event.orderID)  \(state.phase.name)  attempts=\(state.attempts.count)  last=\(last)  \(state.target)"
                    )
                }
                outputLine("\(states.count) event(s)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every attempt of one event: time, status, latency, response excerpt."
        )

        @OptionGroup var state: StateOption

        @Argument(help: "The Webhook-Id.")
        var webhookID: String

        func run() async throws {
            try await reportingErrors {
                let outbox = try state.load()
                guard let found = outbox.states.first(where: { $0.event.webhookID == webhookID }) else {
                    throw UCPSimError(.noInput, "no event \(webhookID) in \(state.state)")
                }
                outputLine("webhook-id \(found.event.webhookID)  order \(found.event.orderID)  -> \(found.target)")
                outputLine(
                    "timestamp \(found.event.timestamp)  body \(outbox.body(of: webhookID).map { "\($0.count) bytes" } ?? "unreadable")  state \(found.phase.name)"
                )
                if case .dead(let reason) = found.phase { outputLine("dead-lettered: \(reason)") }
                for attempt in found.attempts {
                    let status = attempt.status.map { "HTTP \($0)" } ?? "no response"
                    outputLine(
                        "  #\(attempt.number)  \(attempt.at.formatted(.iso8601))  \(status)  \(String(format: "%.1f", attempt.milliseconds)) ms  \(attempt.detail)"
                    )
                }
            }
        }
    }

    struct Redeliver: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resend dead letters: the same Webhook-Id and bytes, freshly signed, with a new round of retries."
        )

        @Argument(help: "Webhook-Ids to resend (default with --all: every dead letter).")
        var webhookIDs: [String] = []

        @Flag(help: "Resend every dead letter.")
        var all = false

        @OptionGroup var shop: ShopOptions
        @OptionGroup var delivery: DeliveryOptions
        @OptionGroup var client: ClientOptions

        func validate() throws {
            if webhookIDs.isEmpty != all {
                throw ValidationError("name Webhook-Ids or give --all, not both or neither")
            }
        }

        func run() async throws {
            try await reportingErrors {
                let running = try await startShop(shop, delivery, client) { state, attempt in
                    outputLine(DeliveryReport.attemptLine(state, attempt))
                }
                let dead = running.history.filter {
                    if case .dead = $0.phase { return all || webhookIDs.contains($0.event.webhookID) }
                    return false
                }
                let missing = Set(webhookIDs).subtracting(dead.map(\.event.webhookID))
                guard missing.isEmpty else {
                    await running.stop()
                    throw UCPSimError(
                        .noInput,
                        "not dead letters in \(delivery.state): \(missing.sorted().joined(separator: ", "))"
                    )
                }
                let count = try await running.engine.redeliver(dead)
                outputLine("redelivering \(count) event(s)")
                try await finish(running, ids: dead.map(\.event.webhookID), wait: delivery.waitSeconds)
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Continue every pending delivery in the outbox (after a crash, or a command that stopped waiting)."
        )

        @OptionGroup var shop: ShopOptions
        @OptionGroup var delivery: DeliveryOptions
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await reportingErrors {
                let running = try await startShop(shop, delivery, client) { state, attempt in
                    outputLine(DeliveryReport.attemptLine(state, attempt))
                }
                let pending = running.history.filter { !$0.phase.isFinal }
                outputLine("resuming \(pending.count) pending event(s)")
                try await finish(running, ids: pending.map(\.event.webhookID), wait: delivery.waitSeconds)
            }
        }
    }
}

/// Waits for `ids`, stops the shop, prints the summary, and maps the result to an exit code.
private func finish(_ shop: Shop, ids: [String], wait: TimeInterval) async throws {
    let deadline = Date().addingTimeInterval(wait)
    var outcomes: [DeliveryEngine.Outcome] = []
    var stillPending = 0
    for id in ids {
        if let outcome = await shop.engine.outcome(of: id, timeout: deadline.timeIntervalSinceNow) {
            outcomes.append(outcome)
        } else {
            stillPending += 1
        }
    }
    let summary = shop.engine.metrics.summary()
    await shop.stop()
    outputLine(summary.description)
    if stillPending > 0 {
        throw UCPSimError(.tempFail, "\(stillPending) still pending after --wait; they stay in the outbox")
    }
    if outcomes.contains(where: { $0.phase != .delivered }) { throw ExitCode(1) }
}
