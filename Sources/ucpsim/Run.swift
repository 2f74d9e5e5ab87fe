import ArgumentParser
import Foundation
import UCPSimKit

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run scenario scripts: orders placed and moved through their lifecycle, one signed webhook per step.",
        discussion: """
            Without --webhook-url or --platform-profile the built-in reference receiver is the target. \
            Exit codes: 0 every expectation held; 1 one failed; 64 usage; 65 a bad scenario file; 69 unreachable; \
            75 a step's deliveries still pending after --wait (they stay in the outbox).
            """
    )

    @Argument(help: ArgumentHelp("Scenario files (YAML).", valueName: "scenario"))
    var scenarios: [String]

    @OptionGroup var target: TargetOptions

    @Option(help: ArgumentHelp("Write a JUnit XML report here.", valueName: "file"))
    var report: String?

    @Flag(help: "Print machine-readable results (JSON) on stdout instead of progress lines.")
    var json = false

    @Option(
        help: ArgumentHelp("Write what was sent as replayable fixtures, DIR/<scenario>.events.json.", valueName: "dir")
    )
    var record: String?

    @Option(help: "Port for the shop's server (default: any free port).")
    var port = 0

    @OptionGroup var shop: ShopOptions
    @OptionGroup var delivery: DeliveryOptions
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await reportingErrors {
            let loaded = try scenarios.map { path throws(UCPSimError) in try Scenario.load(path: path) }
            // Engine-wide settings from the files (time scale, concurrency, ordering) apply to the whole run.
            let settings = try Scenario.EngineSettings.merged(loaded)
            let running = try await startShop(shop, delivery.applying(settings), client, port: port)
            let results = try await withTarget(target, shop: running) { destination in
                if !json { outputLine("shop \(running.profile.profileURL) -> \(destination.url)") }
                let runner = ScenarioRunner(shop: running, target: destination, wait: delivery.waitSeconds)
                var results: [StepResult] = []
                for scenario in loaded {
                    let scenarioResults = try await runner.run(scenario) { result in
                        if !json { outputLine(result.progressLine) }
                    }
                    if let record {
                        try write(
                            EventFixture(name: scenario.name, results: scenarioResults).json(),
                            to: "\(record)/\(scenario.name).events.json"
                        )
                    }
                    results += scenarioResults
                }
                return results
            }
            let summary = running.engine.metrics.summary()
            if let report { try write(Array(RunReport.junit(results).utf8), to: report) }
            let failures = results.filter { !$0.passed }
            if json {
                outputLine(String(decoding: RunReport.json(results), as: UTF8.self))
            } else {
                outputLine(
                    "\(results.count) deliveries, \(results.count - failures.count) passed, \(failures.count) failed"
                )
                outputLine(summary.description)
            }
            if !results.isEmpty, results.allSatisfy({ $0.status == nil }) {
                throw UCPSimError(.unavailable, "receiver unreachable: \(results[0].detail)")
            }
            if !failures.isEmpty { throw ExitCode(1) }
        }
    }
}

/// Writes a file, creating its directory; a readable error otherwise.
func write(_ bytes: [UInt8], to path: String) throws(UCPSimError) {
    let directory = (path as NSString).deletingLastPathComponent
    if !directory.isEmpty {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        throw UCPSimError(.cannotCreate, "cannot write \(path)")
    }
}
