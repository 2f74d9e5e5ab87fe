import ArgumentParser
import Foundation
import UCPSimKit

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run scenario scripts: orders placed and moved through their lifecycle, one signed webhook per step.",
        discussion: """
            Without --webhook-url or --platform-profile the built-in reference receiver is the target. The scenario \
            clock starts early enough that the last event happens no later than now (or at --start). \
            Exit codes: 0 every expectation held; 1 one failed; 64 usage; 65 a bad scenario file; 69 unreachable; \
            75 a step's deliveries still pending after --wait; 130 interrupted (Ctrl-C). On 75 and 130 the position \
            is kept in the state directory: `ucpsim run --resume` plays the rest. --report and --json are written \
            on every exit.
            """
    )

    @Argument(
        help: ArgumentHelp(
            "Scenario files (YAML); with --resume, default: the interrupted run's.",
            valueName: "scenario"
        )
    )
    var scenarios: [String] = []

    @OptionGroup var target: TargetOptions

    @Option(help: ArgumentHelp("Write a JUnit XML report here.", valueName: "file"))
    var report: String?

    @Flag(help: "Print machine-readable results (JSON) on stdout instead of progress lines.")
    var json = false

    @Option(
        help: ArgumentHelp("Write what was sent as replayable fixtures, DIR/<scenario>.events.json.", valueName: "dir")
    )
    var record: String?

    @Option(
        help: ArgumentHelp(
            "Start of the scenario clock: ISO 8601 (2026-11-01T09:00:00Z) or unix seconds. Default: now minus the "
                + "scenario's total advance. Refused when the last event would lie in the future.",
            valueName: "time"
        )
    )
    var start: String?

    @Flag(
        help: "Finish the run interrupted on this --state directory: its pending deliveries, then the steps not sent."
    )
    var resume = false

    @Option(
        help: "Port for the shop's server (default: the one this --state directory's shop had, else any free port)."
    )
    var port: Port?

    @OptionGroup var shop: ShopOptions
    @OptionGroup var delivery: DeliveryOptions
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if !resume && scenarios.isEmpty { throw ValidationError("name at least one scenario file (or give --resume)") }
        if resume && start != nil { throw ValidationError("--resume keeps the interrupted run's clock; drop --start") }
        if let start, Self.parseTime(start) == nil {
            throw ValidationError("--start \"\(start)\" is not an ISO 8601 time (2026-11-01T09:00:00Z) or unix seconds")
        }
    }

    static func parseTime(_ text: String) -> Date? {
        if let seconds = Double(text), seconds.isFinite, seconds >= 0 { return Date(timeIntervalSince1970: seconds) }
        return try? Date(text, strategy: .iso8601)
    }

    func run() async throws {
        // Installed before anything starts, so that no SIGINT is lost.
        let signals = TerminationSignals.install()
        try await reportingErrors {
            let plan: RunPlan
            let running: Shop
            do {
                plan = try RunPlan(
                    scenarios: scenarios,
                    resume: resume,
                    start: start.flatMap(Self.parseTime),
                    state: delivery.state
                )
                // Engine-wide settings from the files (time scale, concurrency, ordering) apply to the whole run.
                let settings = try Scenario.EngineSettings.merged(plan.loaded)
                running = try await startShop(shop, delivery.applying(settings), client, port: port)
            } catch {
                // Stopped before anything was sent (a bad file, a busy port): the reports say so, not "0 passed".
                try writeReports([], incomplete: (error as? UCPSimError)?.message ?? "\(error)")
                throw error
            }
            // The first SIGINT or SIGTERM stops the engine: the run then ends cleanly and says what is pending (a
            // second one ends the process at once).
            let watcher = Task {
                await signals.wait()
                await running.engine.stop()
            }
            // A resumed run sends where the interrupted one did: its pending deliveries are addressed there.
            var targetOptions = target
            var builtInPort = 0
            let explicit = target.webhookURL != nil || target.platformProfile != nil
            if let saved = plan.saved {
                if let url = saved.target {
                    if !explicit { targetOptions.webhookURL = url }
                } else if explicit {
                    await running.stop()
                    throw UCPSimError(
                        .usage,
                        "--resume: the interrupted run sent to the built-in receiver; resume without --webhook-url "
                            + "or --platform-profile"
                    )
                } else {
                    builtInPort = saved.builtInPort ?? 0
                }
            }
            let usesBuiltIn = targetOptions.webhookURL == nil && targetOptions.platformProfile == nil
            var results: [StepResult] = []
            var stop: (ScenarioStopped, index: Int)?
            var sentTo: RequestTarget?
            // Fixtures are written after the position is kept: a failure to write one must not lose it.
            var recorded: [(Scenario, [StepResult])] = []
            do {
                try await withTarget(targetOptions, shop: running, builtInPort: builtInPort) { destination in
                    if let url = plan.saved?.target, destination.url != url {
                        throw UCPSimError(
                            .usage,
                            "--resume: the interrupted run sent to \(url), not \(destination.url); its pending "
                                + "deliveries go there (resume without a target, or with that one)"
                        )
                    }
                    sentTo = destination
                    if !json { outputLine("shop \(running.profile.profileURL) -> \(destination.url)") }
                    let runner = ScenarioRunner(shop: running, target: destination, wait: delivery.waitSeconds)
                    for (index, scenario) in plan.loaded.enumerated() {
                        let entry = plan.entries[index]
                        do {
                            let scenarioResults = try await runner.run(
                                scenario,
                                start: entry.start.map { Date(timeIntervalSince1970: $0) },
                                from: entry.nextStep,
                                resumed: entry.pending
                            ) { result in
                                if !json { outputLine(result.progressLine) }
                            }
                            results += scenarioResults
                            recorded.append((scenario, scenarioResults))
                        } catch let stopped as ScenarioStopped {
                            results += stopped.results
                            recorded.append((scenario, stopped.results))
                            stop = (stopped, index)
                            return
                        }
                    }
                }
            } catch {
                watcher.cancel()
                try writeReports(results, incomplete: (error as? UCPSimError)?.message ?? "\(error)")
                throw error
            }
            watcher.cancel()
            // The position first: it is what lets the rest be played, whatever happens to the reports.
            let kept = stop.map { stopped, index in
                var progress = plan.progress(stoppedAt: index, stopped)
                progress.target = usesBuiltIn ? nil : sentTo?.url
                progress.builtInPort = usesBuiltIn ? sentTo?.port : nil
                return progress
            }
            if let kept {
                try kept.save(directory: delivery.state)
            } else {
                RunProgress.remove(directory: delivery.state)
            }
            for (scenario, scenarioResults) in recorded {
                try recordFixture(scenario, scenarioResults, resumed: plan.saved != nil)
            }
            let summary = running.engine.metrics.summary()
            let incomplete = stop.map { "\($0.0.message); the rest is kept for `ucpsim run --resume`" }
            try writeReports(results, incomplete: incomplete)
            let failures = results.filter { !$0.passed }
            if !json {
                outputLine(
                    "\(results.count) deliveries, \(results.count - failures.count) passed, \(failures.count) failed"
                )
                outputLine(summary.description)
            }
            if let (stopped, _) = stop, let progress = kept {
                let pending = progress.scenarios.reduce(0) { $0 + $1.pending.count }
                let unsent = plan.unsentSteps(progress)
                let what =
                    "\(pending) deliver\(pending == 1 ? "y" : "ies") pending, \(unsent) step\(unsent == 1 ? "" : "s") not sent"
                let resumeHint = "`ucpsim run --resume --state \(delivery.state)` finishes them"
                if signals.fired {
                    stderrLine("ucpsim: interrupted: \(what); \(resumeHint)")
                    throw ExitCode(130)
                }
                throw UCPSimError(.tempFail, "\(stopped.message); \(what); \(resumeHint)")
            }
            if !results.isEmpty, results.allSatisfy({ $0.status == nil && $0.attempts > 0 }) {
                throw DeliveryReport.neverAnswered(detail: results[0].detail, target: "receiver")
            }
            if !failures.isEmpty { throw ExitCode(1) }
        }
    }

    /// `--report` and `--json`, from whatever results there are: written on every exit.
    private func writeReports(_ results: [StepResult], incomplete: String? = nil) throws(UCPSimError) {
        if let report { try write(Array(RunReport.junit(results, incomplete: incomplete).utf8), to: report) }
        if json { outputLine(String(decoding: RunReport.json(results, incomplete: incomplete), as: UTF8.self)) }
    }

    /// Writes what a scenario sent as `DIR/<name>.events.json`; a resumed run adds its events to the file the
    /// interrupted run wrote (by `Webhook-Id`), so the fixture holds the whole run.
    private func recordFixture(_ scenario: Scenario, _ results: [StepResult], resumed: Bool) throws(UCPSimError) {
        guard let record else { return }
        // The file name comes from the scenario's name: it never leaves DIR.
        let path = (record as NSString).appendingPathComponent("\(Identifier.fileName(scenario.name)).events.json")
        var fixture = EventFixture(name: scenario.name, results: results)
        if resumed, FileManager.default.fileExists(atPath: path) {
            let earlier = try EventFixture.load(path: path)
            let known = Set(earlier.events.compactMap(\.webhookID))
            fixture = EventFixture(
                name: scenario.name,
                events: earlier.events + fixture.events.filter { $0.webhookID.map { !known.contains($0) } ?? true }
            )
        }
        try write(fixture.json(), to: path)
    }
}

/// The scenarios a run plays and where each begins: from the start, or where an interrupted run stopped.
struct RunPlan {
    let loaded: [Scenario]
    let entries: [RunProgress.Entry]
    /// The interrupted run's progress, when this run resumes it.
    var saved: RunProgress?

    init(scenarios given: [String], resume: Bool, start: Date?, state: String) throws(UCPSimError) {
        // Kept absolute, so that a resume from another directory finds the same files; shown as given.
        let paths = given.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if resume {
            guard let saved = try RunProgress.load(directory: state) else {
                throw UCPSimError(.noInput, "no interrupted run in \(state) (\(RunProgress.path(in: state)))")
            }
            if !paths.isEmpty && paths != saved.scenarios.map(\.path) {
                throw UCPSimError(
                    .usage,
                    "--resume: the interrupted run played \(saved.scenarios.map(\.path).joined(separator: " ")); "
                        + "give those files, or none"
                )
            }
            for entry in saved.scenarios where RunProgress.digest(ofFile: entry.path) != entry.sha256 {
                throw UCPSimError(
                    .dataError,
                    "\(entry.path) changed (or is gone) since the interrupted run; it cannot be resumed "
                        + "(delete \(RunProgress.path(in: state)) to start afresh)"
                )
            }
            loaded = try saved.scenarios.map { entry throws(UCPSimError) in try Scenario.load(path: entry.path) }
            entries = saved.scenarios
            self.saved = saved
            return
        }
        if FileManager.default.fileExists(atPath: RunProgress.path(in: state)) {
            stderrLine(
                "note: \(RunProgress.path(in: state)) held an interrupted run; this run replaces it "
                    + "(its pending deliveries still resume from the outbox)"
            )
        }
        let loaded = try given.map { path throws(UCPSimError) in try Scenario.load(path: path) }
        let now = Date()
        for scenario in loaded {
            if let start, start.addingTimeInterval(scenario.totalAdvance) > now {
                throw UCPSimError(
                    .usage,
                    "--start: \(scenario.file) advances its clock by \(Int(scenario.totalAdvance)) s, so its last "
                        + "event would lie in the future; start at \(Int(now.timeIntervalSince1970 - scenario.totalAdvance)) or earlier"
                )
            }
        }
        self.loaded = loaded
        self.entries = zip(paths, loaded).map { path, scenario in
            RunProgress.Entry(
                path: path,
                sha256: RunProgress.digest(ofFile: path) ?? "",
                start: (start ?? scenario.anchoredStart(now: now)).timeIntervalSince1970,
                nextStep: 0,
                pending: []
            )
        }
    }

    /// The progress to keep when scenario `index` stopped: it resumes where it stopped, later ones from the start.
    func progress(stoppedAt index: Int, _ stopped: ScenarioStopped) -> RunProgress {
        var scenarios = Array(entries[index...])
        scenarios[0].nextStep = stopped.nextStep
        scenarios[0].pending = stopped.pending
        for later in scenarios.indices.dropFirst() {
            scenarios[later].nextStep = 0
            scenarios[later].pending = []
        }
        return RunProgress(scenarios: scenarios)
    }

    /// Steps with deliveries that `progress` has not sent yet.
    func unsentSteps(_ progress: RunProgress) -> Int {
        let offset = entries.count - progress.scenarios.count
        return progress.scenarios.enumerated().reduce(0) { total, pair in
            let steps = loaded[offset + pair.offset].steps
            return total
                + steps[min(pair.element.nextStep, steps.count)...].filter { Scenario.transitionName($0) != nil }.count
        }
    }
}

/// Writes a file, creating its directory; a readable error otherwise.
func write(_ bytes: [UInt8], to path: String) throws(UCPSimError) {
    let directory = (path as NSString).deletingLastPathComponent
    if !directory.isEmpty {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    try SafeFile.replace(bytes, at: path)
}
