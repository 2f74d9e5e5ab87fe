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

    @Option(
        help: ArgumentHelp(
            "With --export: derive keys and Webhook-Ids from this seed (same seed, byte-identical files).",
            valueName: "n"
        )
    )
    var seed: UInt64?

    @OptionGroup var client: ClientOptions

    /// The cases `--only` and `--skip` leave, in catalog order. Strict, so that an empty or mistyped CI variable
    /// never passes with nothing run: an option naming no id, an unknown id, or nothing left is a usage error.
    func selectedCases() throws(UCPSimError) -> [CheckCase] {
        let known = CheckCatalog.cases.map(\.id)
        func ids(_ text: String?, option: String) throws(UCPSimError) -> Set<String>? {
            guard let text else { return nil }
            let named = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
            guard !named.isEmpty else {
                throw UCPSimError(
                    .usage,
                    "\(option) \"\(text)\" names no case id; the ids: \(known.joined(separator: ", "))"
                )
            }
            let unknown = named.filter { !known.contains($0) }
            guard unknown.isEmpty else {
                throw UCPSimError(
                    .usage,
                    "\(option): unknown case id(s) \(unknown.joined(separator: ", ")); the ids: \(known.joined(separator: ", "))"
                )
            }
            return Set(named)
        }
        let only = try ids(only, option: "--only")
        let skip = try ids(skip, option: "--skip") ?? []
        let selected = CheckCatalog.cases.filter { (only?.contains($0.id) ?? true) && !skip.contains($0.id) }
        guard !selected.isEmpty else {
            let named = (only.map { Array($0) } ?? known).filter { skip.contains($0) }
            throw UCPSimError(
                .usage,
                "--skip removes every case --only selects (\(named.sorted().joined(separator: ", "))): nothing to run"
            )
        }
        return selected
    }

    func run() async throws {
        try await reportingErrors {
            let cases = try selectedCases()
            if let export {
                let url = target.webhookURL ?? "https://platform.example.com/webhooks/ucp/orders"
                let seed = seed ?? CheckExport.randomSeed()
                let written = try CheckExport.write(
                    cases,
                    to: export,
                    target: try parseTarget(url, option: "--webhook-url"),
                    seed: seed
                )
                outputLine(
                    "wrote \(written.count) vectors to \(export) (seed \(seed); --seed \(seed) writes them again)"
                )
                return
            }
            if seed != nil { throw UCPSimError(.usage, "--seed applies to --export only") }
            let columns = Self.columns(cases)
            let session = try await CheckSession.start(
                clientOptions: client.httpOptions,
                logger: makeLogger("ucpsim.shop")
            )
            let results = try await withTarget(target, client: session.shop.client, stop: session.stop) { destination in
                if !json { outputLine("grading \(destination.url) (\(cases.count) cases)") }
                return try await session.run(cases, target: destination) { result in
                    if !json { outputLine(Self.line(result, columns: columns)) }
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
                        "codes": result.codes.map { $0 as Any? ?? NSNull() },
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

    /// The widths of the id and expected columns: the longest of each among `cases`, plus two spaces.
    static func columns(_ cases: [CheckCase]) -> (id: Int, expected: Int) {
        (
            (cases.map(\.id.count).max() ?? 0) + 2,
            (cases.map { $0.expected.description.count }.max() ?? 0) + 2
        )
    }

    /// `PASS  id  expected  note`, columns padded to `columns` so they never run into each other.
    static func line(_ result: CheckResult, columns: (id: Int, expected: Int)) -> String {
        let verdict = result.passed ? "PASS" : "FAIL"
        let id = result.checkCase.id.padding(toLength: columns.id, withPad: " ", startingAt: 0)
        let expected = result.checkCase.expected.description.padding(
            toLength: columns.expected,
            withPad: " ",
            startingAt: 0
        )
        var line = "\(verdict)  \(id)\(expected)\(result.note)"
        if !result.passed {
            line += "\n      \(result.checkCase.summary) — \(result.checkCase.spec); body: \(result.excerpt)"
        }
        return line
    }
}
