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

    @Option(
        help: "Port for the shop's server (default: the one this --state directory's shop had, else any free port)."
    )
    var port: Port?

    @OptionGroup var shop: ShopOptions
    @OptionGroup var delivery: DeliveryOptions
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await reportingErrors {
            let loaded = try fixtures.map { path throws(UCPSimError) in try EventFixture.load(path: path) }
            for (path, fixture) in zip(fixtures, loaded) {
                warn(fixture.versionWarning(shop: shop.ucpVersion, source: path))
            }
            // Everything that can refuse the replay is checked before the shop starts (and resumes what its outbox
            // has pending): the documents, and recorded ids against the outbox, read without writing.
            let now = Int64(Date().timeIntervalSince1970)
            var events: [WebhookEvent] = []
            var documents: [OrderDocument] = []
            for fixture in loaded {
                for event in fixture.webhookEvents(keepIDs: keepIDs, now: now) {
                    documents.append(try OrderDocument(bytes: event.body, source: fixture.name))
                    events.append(event)
                }
            }
            let existing = try Outbox.inspectIfPresent(directory: delivery.state)
            // A recorded id the outbox already has is a redelivery: a new round of attempts on that entry.
            let plan = try ReplayPlan(
                events: events,
                history: existing?.states ?? [],
                body: { existing?.body(of: $0) }
            )
            let running = try await startShop(shop, delivery, client, port: port) { state, attempt in
                outputLine(DeliveryReport.attemptLine(state, attempt))
            }
            let waited = try await withTarget(target, shop: running) { destination in
                if !plan.resent.isEmpty {
                    stderrLine(
                        "note: \(plan.resent.count) recorded Webhook-Id(s) already in \(delivery.state): sent again as "
                            + "redeliveries of those entries"
                    )
                }
                // Each recorded snapshot is its order's event: `order.created` for the first of an order the outbox
                // and this replay have seen, `order.updated` after it.
                var seen = Set(existing?.states.map(\.event.orderID) ?? [])
                let documentOf = Dictionary(
                    zip(events.map(\.webhookID), documents),
                    uniquingKeysWith: { first, _ in first }
                )
                let changes = plan.new.compactMap { event in
                    documentOf[event.webhookID].map { (event, $0) }
                }.map { event, document in
                    OrderChange.event(
                        document: document,
                        first: seen.insert(event.orderID).inserted,
                        occurredAt: event.timestamp,
                        id: event.webhookID
                    )
                }
                running.webhooks.setAudience(WebhookPublisher.Audience(registered: false, url: destination))
                let deliveries = try await running.webhooks.publish(changes.map { [$0] })
                for document in documents { await running.orders.put(document) }
                try await running.engine.resend(plan.resent, to: destination)
                let ids = deliveries.map(\.id) + plan.resent.map(\.id)
                return await DeliveryReport.wait(
                    for: ids,
                    engine: running.engine,
                    until: Date().addingTimeInterval(delivery.waitSeconds)
                )
            }
            outputLine("\(waited.outcomes.count + waited.pending.count) events: \(running.engine.metrics.summary())")
            try DeliveryReport.conclude(waited, target: "receiver")
        }
    }
}

/// What a replay sends: events the outbox has never seen are submitted; recorded ids it already holds (`--keep-ids`
/// twice) are resent as new rounds on their entries. The same id with other bytes is refused: it would be a lie.
struct ReplayPlan {
    var new: [WebhookEvent] = []
    var resent: [DeliveryState] = []

    init(events: [WebhookEvent], history: [DeliveryState], body: (String) -> [UInt8]?) throws(UCPSimError) {
        let known = Dictionary(history.map { ($0.event.webhookID, $0) }, uniquingKeysWith: { _, last in last })
        var seen: Set<String> = []
        var repeated: [String] = []
        var conflicting: [String] = []
        for event in events {
            guard seen.insert(event.webhookID).inserted else {
                repeated.append(event.webhookID)
                continue
            }
            guard let state = known[event.webhookID] else {
                new.append(event)
                continue
            }
            if let stored = body(event.webhookID), stored != event.body {
                conflicting.append(event.webhookID)
                continue
            }
            // Pending entries are already on their way (resumed at start).
            if state.phase.isFinal { resent.append(state.withBody(event.body)) }
        }
        if !repeated.isEmpty {
            throw UCPSimError(
                .dataError,
                "the fixtures give the same Webhook-Id more than once: \(repeated.joined(separator: ", "))"
            )
        }
        if !conflicting.isEmpty {
            throw UCPSimError(
                .dataError,
                "the outbox already has these Webhook-Ids with other bytes; refusing to send different bodies under "
                    + "them: \(conflicting.joined(separator: ", ")) (give another --state, or replay without --keep-ids)"
            )
        }
    }
}
