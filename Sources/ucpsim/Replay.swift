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
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await reportingErrors {
            let loaded = try fixtures.map { path throws(UCPSimError) in try EventFixture.load(path: path) }
            let running = try await Shop.start(
                keys: try shop.keyRing(),
                port: port,
                publicURL: shop.publicURL,
                version: shop.ucpVersion,
                clientOptions: client.httpOptions,
                logger: makeLogger("ucpsim.shop")
            )
            var receiverServer: RunningServer?
            var attempts: [DeliveryAttempt] = []
            do {
                let (destination, server) = try await target.resolve(client: running.client)
                receiverServer = server
                let now = Int64(Date().timeIntervalSince1970)
                for fixture in loaded {
                    for event in fixture.webhookEvents(keepIDs: keepIDs, now: now) {
                        let document = try OrderDocument(bytes: event.body, source: fixture.name)
                        await running.orders.put(document)
                        let attempt = try await running.sender.deliver(event, to: destination)
                        outputLine("\(fixture.name)  \(DeliveryReport.line(attempt))")
                        attempts.append(attempt)
                    }
                }
            } catch {
                await running.stop()
                await receiverServer?.stop()
                throw error
            }
            await running.stop()
            await receiverServer?.stop()
            let failed = attempts.filter { !$0.accepted }
            outputLine(
                "\(attempts.count) deliveries, \(attempts.count - failed.count) accepted, \(failed.count) failed"
            )
            if let first = attempts.first,
                attempts.allSatisfy({ if case .failure = $0.outcome { true } else { false } })
            {
                throw UCPSimError(.unavailable, "receiver unreachable: \(first.summary)")
            }
            if !failed.isEmpty { throw ExitCode(1) }
        }
    }
}
