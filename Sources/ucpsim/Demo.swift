import ArgumentParser
import Foundation
import UCPSimKit

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The whole path on loopback: a shop, the reference receiver, one signed order webhook, verified.",
        discussion: "This is what `make run` runs. Exits 0 when the receiver verified the delivery."
    )

    @Option(
        help: ArgumentHelp(
            "The order snapshot to send (default: the built-in copy of fixtures/order-created.json).",
            valueName: "file"
        )
    )
    var fixture: String?

    @Flag(name: .shortAndLong, help: "Print the signed request headers.")
    var verbose = false

    func run() async throws {
        try await reportingErrors {
            let document =
                try fixture.map { path throws(UCPSimError) in try OrderDocument.load(path: path) }
                ?? OrderDocument(bytes: DemoOrder.bytes, source: "the built-in demo order")
            warn(document.versionWarning(shop: .newest, source: fixture ?? "the built-in demo order"))
            let receiverClient = HTTPClient(workers: 2)
            let (receiver, receiverServer) = try await ReferenceReceiver.start(
                client: receiverClient,
                logger: makeLogger("ucpsim.listen")
            ) { outputLine("receiver: \($0.logLine)") }
            let ring = try KeyRing.ephemeral(kid: "demo-es256")
            let verbose = self.verbose
            var setup = DeliverySetup()
            setup.engine.policy.delays = []
            setup.onAttempt = { state, attempt in
                outputLine("shop:     \(DeliveryReport.attemptLine(state, attempt))")
                if verbose { outputLine(DeliveryReport.details(attempt)) }
            }
            let shop = try await Shop.start(keys: ring, delivery: setup, logger: makeLogger("ucpsim.shop"))
            outputLine("shop:     \(shop.profile.profileURL)  (ES256 key \(ring.active.kid))")
            outputLine("receiver: \(receiverServer.baseURL)/webhooks/ucp/orders")
            let target = try parseTarget("\(receiverServer.baseURL)/webhooks/ucp/orders", option: "receiver")
            let outcome = try await shop.send(document, to: target)
            await shop.stop()
            await receiverServer.stop()
            await receiverClient.shutdown()
            guard outcome.phase == .delivered, case .success = receiver.received.last?.verdict else {
                throw UCPSimError(.deliveryFailed, "the reference receiver did not verify the delivery")
            }
            outputLine("ok: the reference receiver verified the signed webhook")
        }
    }
}
