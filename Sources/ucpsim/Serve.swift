import ArgumentParser
import UCPSimKit

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the shop: its UCP profile at /.well-known/ucp and orders at /orders/{id}.",
        discussion: "Runs until interrupted (Ctrl-C)."
    )

    @Option(help: "Port to listen on.")
    var port = 8080

    @Option(help: "Host to bind.")
    var host = "127.0.0.1"

    @OptionGroup var shop: ShopOptions

    func run() async throws {
        try await reportingErrors {
            let ring = try shop.keyRing()
            let running = try await Shop.start(
                keys: ring,
                host: host,
                port: port,
                publicURL: shop.publicURL,
                version: shop.ucpVersion,
                logger: makeLogger("ucpsim.shop")
            )
            outputLine("shop listening on \(running.server.baseURL)")
            outputLine(
                "profile: \(running.profile.profileURL)  (keys: \(ring.keys.map(\.kid).joined(separator: ", ")); signing with \(ring.active.kid))"
            )
            await waitForTermination()
            await running.stop()
        }
    }
}
