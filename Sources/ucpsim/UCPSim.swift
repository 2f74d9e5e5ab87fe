import ArgumentParser
import UCPSimKit

@main
struct UCPSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ucpsim",
        abstract: "Play the shop in the Universal Commerce Protocol: signed order webhooks for platform receivers.",
        discussion: """
            ucpsim serves a UCP business profile with its public keys and sends RFC 9421-signed order webhooks \
            (ES256 by default) to a platform's receiver.

            Exit codes: 0 success; 1 a delivery was not accepted; 64 usage; 65 bad data (not JSON, not an order); \
            66 unreadable input; 69 receiver or port unavailable; 70 internal error; 73 cannot write output; \
            75 deliveries still pending when --wait ran out (they stay in the outbox); 78 bad key; \
            130 interrupted (run keeps its position: run --resume).
            """,
        version: "0.1.0",
        subcommands: [
            Demo.self, Send.self, Run.self, Replay.self, Check.self, Serve.self, Listen.self, Deliveries.self,
            Subscriptions.self, Trigger.self, Keys.self,
        ]
    )
}
