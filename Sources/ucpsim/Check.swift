import ArgumentParser
import Foundation
import UCPSimKit

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grade a webhook receiver: valid, forged, tampered and replayed deliveries, each against the spec.",
        discussion: """
            Runs the catalog (see README) from a live shop on loopback. Without --webhook-url the built-in reference \
            receiver is graded. Exits 0 when every case met its expectation, 1 otherwise. --export DIR writes each \
            case as an offline vector instead of sending anything.
            """
    )

    @OptionGroup var target: TargetOptions

    @Option(help: ArgumentHelp("Only these case ids (comma-separated).", valueName: "ids"))
    var only: String?

    @Option(help: ArgumentHelp("Skip these case ids (comma-separated).", valueName: "ids"))
    var skip: String?

    @Option(help: ArgumentHelp("Write a JUnit XML report here.", valueName: "file"))
    var report: String?

    @Flag(help: "Print machine-readable results (JSON) on stdout.")
    var json = false

    @Option(help: ArgumentHelp("Write every selected case as a vector file into DIR and exit.", valueName: "dir"))
    var export: String?

    @OptionGroup var client: ClientOptions

    func selectedCases() throws(UCPSimError) -> [CheckCase] {
        let known = Set(CheckCatalog.cases.map(\.id))
        func ids(_ text: String?) throws(UCPSimError) -> Set<String>? {
            guard let text else { return nil }
            let set = Set(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            let unknown = set.subtracting(known)
            guard unknown.isEmpty else {
                throw UCPSimError(
                    .usage,
                    "unknown case id(s) \(unknown.sorted().joined(separator: ", ")); see `ucpsim check --help` and the README"
                )
            }
            return set
        }
        let only = try ids(only)
        let skip = try ids(skip) ?? []
        return CheckCatalog.cases.filter { (only?.contains($0.id) ?? true) && !skip.contains($0.id) }
    }

    func run() async throws {
        try await reportingErrors {
            let cases = try selectedCases()
            if let export {
                let url = target.webhookURL ?? "https://platform.example.com/webhooks/ucp/orders"
                let written = try CheckExport.write(
                    cases,
                    to: export,
                    target: try parseTarget(url, option: "--webhook-url")
                )
                outputLine("wrote \(written.count) vectors to \(export)")
                return
            }
            let session = try await CheckSession.start(
                clientOptions: client.httpOptions,
                logger: makeLogger("ucpsim.shop")
            )
            let results = try await withTarget(target, client: session.shop.client, stop: session.stop) { destination in
                if !json { outputLine("grading \(destination.url) (\(cases.count) cases)") }
                return try await session.run(cases, target: destination) { result in
                    if !json { outputLine(Self.line(result)) }
                }
            }
            let failed = results.filter { !$0.passed }
            if let report {
                let cases = results.map { result in
                    JUnitReport.Case(
                        suite: "ucpsim check",
                        name: "\(result.checkCase.id): \(result.checkCase.summary)",
                        seconds: result.seconds,
                        failure: result.passed
                            ? nil
                            : (
                                "expected \(result.checkCase.expected), \(result.note)",
                                "\(result.checkCase.spec)\n\(result.excerpt)"
                            )
                    )
                }
                try write(Array(JUnitReport.render(cases).utf8), to: report)
            }
            if json {
                let rows: [[String: Any]] = results.map { result in
                    [
                        "id": result.checkCase.id, "summary": result.checkCase.summary, "spec": result.checkCase.spec,
                        "expected": result.checkCase.expected.description, "passed": result.passed,
                        "statuses": result.statuses.map { $0 as Any? ?? NSNull() },
                        "code": result.code as Any? ?? NSNull(),
                        "note": result.note, "excerpt": result.excerpt,
                    ]
                }
                let document: [String: Any] = ["passed": failed.isEmpty, "cases": rows]
                let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
                outputLine(String(decoding: data, as: UTF8.self))
            } else {
                outputLine("\(results.count) cases, \(results.count - failed.count) passed, \(failed.count) failed")
            }
            if !failed.isEmpty { throw ExitCode(1) }
        }
    }

    static func line(_ result: CheckResult) -> String {
        let verdict = result.passed ? "PASS" : "FAIL"
        let id = result.checkCase.id.padding(toLength: 33, withPad: " ", startingAt: 0)
        let expected = result.checkCase.expected.description.padding(toLength: 32, withPad: " ", startingAt: 0)
        var line = "\(verdict)  \(id)\(expected)\(result.note)"
        if !result.passed {
            line += "\n      \(result.checkCase.summary) — \(result.checkCase.spec); body: \(result.excerpt)"
        }
        return line
    }
}
