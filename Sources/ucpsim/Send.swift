import ArgumentParser
import Foundation
import UCPSimKit

struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one order snapshot as one signed webhook.",
        discussion: """
            Serves the shop's profile on loopback while it runs (so the receiver can fetch the keys), signs FILE's \
            exact bytes and POSTs them. Exits 0 on 2xx, 1 on any other status, 69 when the receiver is unreachable.
            """
    )

    @Argument(
        help: ArgumentHelp("An order snapshot (JSON, the shape of schemas/shopping/order.json).", valueName: "file")
    )
    var file: String

    @Option(name: .customLong("webhook-url"), help: ArgumentHelp("The platform's order webhook URL.", valueName: "url"))
    var webhookURL: String

    @Option(help: "Port for the shop's profile server (default: any free port).")
    var port = 0

    @Option(help: "Host the shop's profile server binds.")
    var host = "127.0.0.1"

    @OptionGroup var shop: ShopOptions
    @OptionGroup var client: ClientOptions

    @Flag(name: .shortAndLong, help: "Print the signed request headers and the response body.")
    var verbose = false

    func run() async throws {
        try await reportingErrors {
            let target = try parseTarget(webhookURL, option: "--webhook-url")
            let document = try OrderDocument.load(path: file)
            let ring = try shop.keyRing()
            let running = try await Shop.start(
                keys: ring,
                host: host,
                port: port,
                publicURL: shop.publicURL,
                version: shop.ucpVersion,
                clientOptions: client.httpOptions,
                logger: makeLogger("ucpsim.shop", verbose: verbose)
            )
            let attempt = try await running.send(document, to: target)
            await running.stop()
            outputLine(DeliveryReport.line(attempt))
            if verbose { outputLine(DeliveryReport.details(attempt)) }
            if case .failure(let error) = attempt.outcome {
                throw UCPSimError(.unavailable, "receiver \(webhookURL) unreachable: \(error.message)")
            }
            if !attempt.accepted { throw ExitCode(1) }
        }
    }
}

/// Human-readable delivery lines.
enum DeliveryReport {
    static func line(_ attempt: DeliveryAttempt) -> String {
        let verdict = attempt.accepted ? "delivered" : "FAILED   "
        let ms = String(format: "%.1f ms", attempt.elapsed * 1000)
        var line =
            "\(verdict)  \(attempt.summary)  order=\(attempt.event.orderID)  webhook-id=\(attempt.event.webhookID)  \(ms)"
        if case .success(let response) = attempt.outcome, !attempt.accepted {
            line += "\n           response: \(response.bodyExcerpt())"
        }
        return line
    }

    static func details(_ attempt: DeliveryAttempt) -> String {
        var lines = ["> POST \(attempt.request.url)"]
        for (name, value) in attempt.request.headers { lines.append("> \(name): \(value)") }
        lines.append("> (\(attempt.request.body.count) bytes of body)")
        if case .success(let response) = attempt.outcome {
            lines.append("< HTTP \(response.status)")
            for (name, value) in response.headers { lines.append("< \(name): \(value)") }
            lines.append("< \(response.bodyExcerpt(limit: 2000))")
        }
        return lines.joined(separator: "\n")
    }
}
