import ArgumentParser
import Foundation
import UCPSimKit

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign and send recorded fixture events, in order.",
        discussion: """
            A fixture is an events file (what `run --record` writes) or a single order snapshot. Bodies are sent \
            byte for byte; ids and timestamps are fresh unless --keep-ids. Without --webhook-url or \
            --platform-profile the built-in reference receiver is the target. Exits 0 when every delivery got a \
            2xx, 1 otherwise, 65 for a bad fixture, 69 when the receiver is unreachable.
            """
    )

    @Argument(help: ArgumentHelp("Fixture files.", valueName: "fixture"))
    var fixtures: [String]

    @OptionGroup var target: TargetOptions

    @Flag(
        name: .customLong("keep-ids"),
        help: "Send the recorded Webhook-Id and Webhook-Timestamp (a redelivery, as the receiver sees it)."
    )
    var keepIDs = false

    @Option(help: "Port for the shop's server (default: any free port).")
    var port = 0

    @OptionGroup var shop: ShopOptions
    @OptionGroup var delivery: DeliveryOptions
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await reportingErrors {
            let loaded = try fixtures.map { path throws(UCPSimError) in try EventFixture.load(path: path) }
            for (path, fixture) in zip(fixtures, loaded) {
                warn(fixture.versionWarning(shop: shop.ucpVersion, source: path))
            }
            let running = try await startShop(shop, delivery, client, port: port) { state, attempt in
                outputLine(DeliveryReport.attemptLine(state, attempt))
            }
            let (outcomes, pendingStates) = try await withTarget(target, shop: running) { destination in
                let now = Int64(Date().timeIntervalSince1970)
                var events: [WebhookEvent] = []
                for fixture in loaded {
                    for event in fixture.webhookEvents(keepIDs: keepIDs, now: now) {
                        await running.orders.put(try OrderDocument(bytes: event.body, source: fixture.name))
                        events.append(event)
                    }
                }
                try await running.engine.submit(events, to: destination)
                let deadline = Date().addingTimeInterval(delivery.waitSeconds)
                var outcomes: [DeliveryEngine.Outcome?] = []
                var pending: [DeliveryState] = []
                for event in events {
                    let outcome = await running.engine.outcome(
                        of: event.webhookID,
                        timeout: deadline.timeIntervalSinceNow
                    )
                    if outcome == nil, let state = await running.engine.pendingState(of: event.webhookID) {
                        pending.append(state)
                    }
                    outcomes.append(outcome)
                }
                return (outcomes, pending)
            }
            outputLine("\(outcomes.count) events: \(running.engine.metrics.summary())")
            if !pendingStates.isEmpty {
                throw UCPSimError(
                    .tempFail,
                    "\(pendingStates.count) still pending after --wait; they stay in the outbox (`ucpsim deliveries resume`)"
                )
            }
            let finals = outcomes.compactMap { $0 }
            if !finals.isEmpty, finals.allSatisfy({ $0.attempts.allSatisfy { $0.status == nil } }) {
                throw UCPSimError(.unavailable, "receiver unreachable: \(finals[0].attempts.last?.detail ?? "")")
            }
            if finals.contains(where: { $0.phase != .delivered }) { throw ExitCode(1) }
        }
    }
}
