import ArgumentParser
import Foundation
import Hummingbird
import UCPSimKit

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run scenario scripts: orders placed and moved through their lifecycle, one signed webhook per step.",
        discussion: """
            Without --webhook-url or --platform-profile the built-in reference receiver is the target. \
            Exit codes: 0 every expectation held; 1 one failed; 64 usage; 65 a bad scenario file; 69 unreachable.
            """
    )

    @Argument(help: ArgumentHelp("Scenario files (YAML).", valueName: "scenario"))
    var scenarios: [String]

    @Option(name: .customLong("webhook-url"), help: ArgumentHelp("The platform's order webhook URL.", valueName: "url"))
    var webhookURL: String?

    @Option(
        name: .customLong("platform-profile"),
        help: ArgumentHelp("The platform's UCP profile URL; its order capability's config.webhook_url is the target.", valueName: "url")
    )
    var platformProfile: String?

    @Option(help: ArgumentHelp("Write a JUnit XML report here.", valueName: "file"))
    var report: String?

    @Flag(help: "Print machine-readable results (JSON) on stdout instead of progress lines.")
    var json = false

    @Option(help: "Port for the shop's server (default: any free port).")
    var port = 0

    @OptionGroup var shop: ShopOptions
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if webhookURL != nil && platformProfile != nil {
            throw ValidationError("give --webhook-url or --platform-profile, not both")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let loaded = try scenarios.map { path throws(UCPSimError) in try Scenario.load(path: path) }
            let ring = try shop.keyRing()
            let running = try await Shop.start(
                keys: ring, port: port, publicURL: shop.publicURL, version: shop.ucpVersion,
                clientOptions: client.httpOptions, logger: makeLogger("ucpsim.shop")
            )
            var receiverServer: RunningServer?
            let target: RequestTarget
            if let webhookURL {
                target = try parseTarget(webhookURL, option: "--webhook-url")
            } else if let platformProfile {
                target = try await FetchedProfile.orderWebhookTarget(profileURL: platformProfile, client: running.client)
            } else {
                let receiver = ReferenceReceiver(client: running.client)
                let router = Router()
                receiver.addRoutes(to: router)
                let server = try await RunningServer.start(router: router, host: "127.0.0.1", port: 0, logger: makeLogger("ucpsim.listen"))
                receiverServer = server
                target = try parseTarget("\(server.baseURL)/webhooks/ucp/orders", option: "receiver")
            }
            if !json { outputLine("shop \(running.profile.profileURL) -> \(target.url)") }
            let runner = ScenarioRunner(shop: running, target: target)
            var results: [StepResult] = []
            do {
                for scenario in loaded {
                    results += try await runner.run(scenario) { result in
                        if !json { outputLine(result.progressLine) }
                    }
                }
            } catch {
                await running.stop()
                await receiverServer?.stop()
                throw error
            }
            await running.stop()
            await receiverServer?.stop()
            if let report {
                guard FileManager.default.createFile(atPath: report, contents: Data(RunReport.junit(results).utf8)) else {
                    throw UCPSimError(.cannotCreate, "cannot write report \(report)")
                }
            }
            let failures = results.filter { !$0.passed }
            if json {
                outputLine(String(decoding: RunReport.json(results), as: UTF8.self))
            } else {
                outputLine("\(results.count) deliveries, \(results.count - failures.count) passed, \(failures.count) failed")
            }
            if results.contains(where: { $0.status == nil }) && results.allSatisfy({ $0.status == nil }) {
                throw UCPSimError(.unavailable, "receiver \(target.url) unreachable: \(results.first?.detail ?? "")")
            }
            if !failures.isEmpty { throw ExitCode(1) }
        }
    }
}
