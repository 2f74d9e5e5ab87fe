import ArgumentParser
import Foundation
import UCPSimKit

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grade a webhook receiver: valid, forged, tampered and replayed deliveries, each against the spec.",
        discussion: """
            Runs the catalog of --dialect (see README; ucp: from a live shop on loopback). Without --webhook-url \
            the built-in reference receiver is graded (ucp dialect only). The shared-secret dialects (ucp-hmac, \
            standard-webhooks) need --secret, the receiver's secret, which is never printed or written. Exits 0 when \
            every case met its expectation, 1 otherwise. --export DIR writes each case as an offline vector instead \
            of sending anything.
            """
    )

    @OptionGroup var target: TargetOptions

    @Option(
        help: ArgumentHelp(
            "The dialect to grade: ucp (RFC 9421, the default), ucp-hmac or standard-webhooks.",
            valueName: "dialect"
        )
    )
    var dialect: CheckDialect = CheckDialect(.ucp)

    @Option(
        help: ArgumentHelp(
            "The receiver's shared secret, for --dialect ucp-hmac and standard-webhooks (never printed).",
            valueName: "secret"
        )
    )
    var secret: String?

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
            "With --export: derive keys (or the throw-away secret) and ids from this seed (same seed, same files).",
            valueName: "n"
        )
    )
    var seed: UInt64?

    @OptionGroup var client: ClientOptions

    func validate() throws {
        let name = dialect.name
        guard name != .ucp else {
            if secret != nil {
                throw ValidationError(
                    "--secret applies to --dialect ucp-hmac and standard-webhooks; ucp signs with keys"
                )
            }
            return
        }
        if export != nil {
            if secret != nil {
                throw ValidationError(
                    "--export signs with a throw-away secret derived from the seed and writes it into the vectors;"
                        + " --secret is for grading a receiver, and is never written"
                )
            }
            return
        }
        guard let secret else {
            throw ValidationError("--dialect \(name.rawValue) needs --secret: the receiver's shared secret")
        }
        do {
            var key = try WebhookSecret(secret).signingKey(for: name)
            HMACSHA256.cleanse(&key)
        } catch {
            throw ValidationError("--secret: \(error.message)")
        }
        if target.webhookURL == nil && target.platformProfile == nil {
            throw ValidationError(
                "--dialect \(name.rawValue) needs --webhook-url or --platform-profile: the built-in receiver is graded"
                    + " in the ucp dialect only"
            )
        }
    }

    /// The cases `--only` and `--skip` leave, in catalog order. Strict, so that an empty or mistyped CI variable
    /// never passes with nothing run: an option naming no id, an unknown id, or nothing left is a usage error.
    func selectedCases() throws(UCPSimError) -> [CheckCase] {
        let catalog = CheckCatalog.cases(for: dialect.name)
        let known = catalog.map(\.id)
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
        let selected = catalog.filter { (only?.contains($0.id) ?? true) && !skip.contains($0.id) }
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
                    dialect: dialect.name,
                    to: export,
                    target: try parseTarget(url, option: "--webhook-url"),
                    seed: seed
                )
                let secretNote = dialect.name == .ucp ? "" : ", signed with a throw-away secret written into each file"
                outputLine(
                    "wrote \(written.count) vectors to \(export) (seed \(seed)\(secretNote); --seed \(seed) writes them"
                        + " again)"
                )
                return
            }
            if seed != nil { throw UCPSimError(.usage, "--seed applies to --export only") }
            let results = try await grade(cases)
            let failed = results.filter { !$0.passed }
            if let report {
                let cases = results.map { result in
                    JUnitReport.Case(
                        suite: dialect.name == .ucp ? "ucpsim check" : "ucpsim check (\(dialect.name.rawValue))",
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
                let document: [String: Any] = [
                    "dialect": dialect.name.rawValue, "passed": failed.isEmpty, "cases": rows,
                ]
                let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
                outputLine(String(decoding: data, as: UTF8.self))
            } else {
                outputLine("\(results.count) cases, \(results.count - failed.count) passed, \(failed.count) failed")
            }
            if !failed.isEmpty { throw ExitCode(1) }
        }
    }

    /// Runs `cases` in the selected dialect against the target, printing each result unless `--json`.
    func grade(_ cases: [CheckCase]) async throws -> [CheckResult] {
        let columns = Self.columns(cases)
        let json = json
        func heading(_ destination: RequestTarget) {
            guard !json else { return }
            let dialect = dialect.name == .ucp ? "" : " in the \(dialect.name.rawValue) dialect"
            outputLine("grading \(destination.url)\(dialect) (\(cases.count) cases)")
        }
        let progress: @Sendable (CheckResult) -> Void = { result in
            if !json { outputLine(Self.line(result, columns: columns)) }
        }
        guard let secret, dialect.name != .ucp else {
            let session = try await CheckSession.start(
                clientOptions: client.httpOptions,
                logger: makeLogger("ucpsim.shop")
            )
            return try await withTarget(target, client: session.shop.client, stop: session.stop) { destination in
                heading(destination)
                return try await session.run(cases, target: destination, progress: progress)
            }
        }
        let session = try HMACCheckSession.start(
            dialect: dialect.name,
            secret: WebhookSecret(secret),
            clientOptions: client.httpOptions
        )
        return try await withTarget(target, client: session.client, stop: session.stop) { destination in
            heading(destination)
            return try await session.run(cases, target: destination, progress: progress)
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

/// A `--dialect` value: one of the dialect names (the help and the error list them).
struct CheckDialect: ExpressibleByArgument, Sendable {
    let name: DialectName

    init(_ name: DialectName) { self.name = name }

    init?(argument: String) {
        guard let name = DialectName(rawValue: argument) else { return nil }
        self.name = name
    }

    var defaultValueDescription: String { name.rawValue }

    static var allValueStrings: [String] { DialectName.names }
}
