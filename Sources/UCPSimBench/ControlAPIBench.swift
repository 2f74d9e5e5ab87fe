// `UCPSimBench --control-api SINK [CALLS]`: what a long `ucpsim serve` keeps per control-API call.
//
// Starts the real `ucpsim serve` (the binary built beside this one) with its webhooks going to SINK and an outbox in a
// temporary directory, drives it over loopback with create → ship → deliver calls (8 orders at a time, each order's
// calls in sequence), and prints the serve process's resident set size after 10k, 50k and 100k calls, each read once
// the webhooks of those calls have been delivered (a queue still draining is not what serve keeps).
//
// Everything is bounded: a progress line every 10 s, a stop with exit 1 when no call has been answered for 60 s, when
// serve exits, when calls keep failing, or after BENCH_CONTROL_TIMEOUT seconds (default 1,800) in all.
import Foundation
import Synchronization
import UCPSimKit

/// A `ucpsim serve` child process with its stdout and stderr in files.
final class ServeProcess {
    let process = Process()
    let pid: Int32
    /// `http://127.0.0.1:PORT`, as serve printed it.
    let baseURL: String
    let outputPath: String
    let errorPath: String

    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts serve on a free loopback port and waits (at most `timeout` seconds) for its "shop listening" line.
    init(executable: String, sink: String, directory: String, timeout: TimeInterval = 60) throws {
        outputPath = directory + "/serve.out"
        errorPath = directory + "/serve.err"
        for path in [outputPath, errorPath] {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw StartError(description: "cannot create \(path)")
            }
        }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "serve", "--port", "0", "--webhook-url", sink, "--state", directory + "/state",
        ]
        // Files, not pipes: serve prints a line per webhook attempt, and a pipe nobody reads would stop it.
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        pid = process.processIdentifier
        let prefix = "shop listening on "
        let deadline = Date().addingTimeInterval(timeout)
        var found: String?
        while found == nil {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                found = String(line.dropFirst(prefix.count))
                break
            }
            guard process.isRunning else {
                let errors = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
                throw StartError(description: "ucpsim serve exited (\(process.terminationStatus)): \(errors)")
            }
            guard Date() < deadline else {
                process.terminate()
                throw StartError(description: "ucpsim serve did not say it was listening within \(Int(timeout)) s")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        baseURL = found ?? ""
    }

    var isRunning: Bool { process.isRunning }

    /// A field of /proc/PID/status in MB (`VmRSS:`, `VmHWM:`); 0 when it cannot be read.
    func megabytes(_ field: String) -> Double { statusMegabytes(field, path: "/proc/\(pid)/status") }

    /// User plus system CPU seconds the process has used (/proc/PID/stat).
    func cpuSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // After "pid (comm)": state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// SIGTERM, then at most `grace` seconds for serve's own orderly stop; SIGKILL after that. Returns serve's last
    /// stdout line (its delivery summary) when it stopped by itself.
    func stop(grace: TimeInterval = 30) -> String? {
        guard process.isRunning else { return nil }
        process.terminate()
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        guard !process.isRunning else {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").last.map(String.init)
    }

    /// The last `count` lines of serve's stderr.
    func errorTail(_ count: Int = 5) -> String {
        let text = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }
}

/// Drives serve's control API: `lanes` orders at a time, each order create → ship → deliver in sequence. Every call
/// is an `HTTPClient` job whose completion queues the next one, on the client's own threads (no task per call, and
/// nothing blocking Swift's cooperative pool).
final class ControlDriver: Sendable {
    struct Counts: Sendable {
        var nextOrder = 0
        var orderLimit = 0
        var activeLanes = 0
        var completed = 0
        var accepted = 0
        var failed = 0
        var firstFailures: [String] = []
    }

    let counts = Mutex(Counts())
    let client: HTTPClient
    let base: String
    let lanes: Int
    /// Signalled when the last lane has run out of orders.
    let lanesDone = DispatchSemaphore(value: 0)
    private let json = HTTPFieldList([("Content-Type", "application/json")])

    init(base: String, lanes: Int) {
        self.base = base
        self.lanes = lanes
        var options = HTTPClientOptions()
        options.totalTimeoutMilliseconds = 30_000
        client = HTTPClient(workers: lanes, options: options)
    }

    static func orderID(_ index: Int) -> String { String(format: "ord_%07d", index) }

    /// Call `step` (0 create, 1 ship, 2 deliver) of order `index`.
    func request(order index: Int, step: Int) -> OutgoingRequest {
        let order = Self.orderID(index)
        switch step {
        case 0:
            let body =
                #"{"id":"\#(order)","items":[{"sku":"mug-blue","title":"Blue Ceramic Mug","price":1500,"quantity":2}],"shipping":499}"#
            return OutgoingRequest(method: "POST", url: "\(base)/testing/orders", headers: json, body: Array(body.utf8))
        case 1:
            return OutgoingRequest(method: "POST", url: "\(base)/testing/orders/\(order)/ship", headers: json)
        default:
            return OutgoingRequest(method: "POST", url: "\(base)/testing/orders/\(order)/deliver", headers: json)
        }
    }

    /// Starts the lanes on orders up to `orders` (exclusive); `lanesDone` is signalled when all are done.
    func run(toOrder orders: Int) {
        counts.withLock {
            $0.orderLimit = orders
            $0.activeLanes = lanes
        }
        for _ in 0..<lanes { nextOrder() }
    }

    /// Stops issuing new orders; calls under way finish (or time out).
    func stopIssuing() {
        counts.withLock { $0.orderLimit = $0.nextOrder }
    }

    private func nextOrder() {
        let (index, lastLane) = counts.withLock { counts -> (Int?, Bool) in
            guard counts.nextOrder < counts.orderLimit else {
                counts.activeLanes -= 1
                return (nil, counts.activeLanes == 0)
            }
            counts.nextOrder += 1
            return (counts.nextOrder - 1, false)
        }
        if lastLane { lanesDone.signal() }
        if let index { send(order: index, step: 0) }
    }

    private func send(order index: Int, step: Int) {
        let request = request(order: index, step: step)
        client.enqueue([
            HTTPClient.Job(prepare: { request }) { [self] _, result in
                record(result, of: request)
                if step < 2 { send(order: index, step: step + 1) } else { nextOrder() }
            }
        ])
    }

    private func record(_ result: Result<ReceivedResponse, any Error>, of request: OutgoingRequest) {
        var failure: String?
        switch result {
        case .success(let response) where (200..<300).contains(response.status):
            break
        case .success(let response):
            failure = "\(request.url): HTTP \(response.status) \(response.bodyExcerpt(limit: 160))"
        case .failure(let error):
            failure = "\(request.url): \(error)"
        }
        counts.withLock { counts in
            counts.completed += 1
            guard let failure else {
                counts.accepted += 1
                return
            }
            counts.failed += 1
            if counts.firstFailures.count < 3 { counts.firstFailures.append(failure) }
        }
    }

    /// One GET, waited for on this (non-pool) thread; nil on a transport failure.
    func get(_ path: String) -> ReceivedResponse? {
        let answer = Mutex<ReceivedResponse?>(nil)
        let done = DispatchSemaphore(value: 0)
        client.enqueue([
            HTTPClient.Job(prepare: { OutgoingRequest(method: "GET", url: self.base + path) }) { _, result in
                answer.withLock { $0 = try? result.get() }
                done.signal()
            }
        ])
        done.wait()
        return answer.withLock { $0 }
    }

    /// Webhooks serve has finished with (delivered or dead-lettered), from its Prometheus metrics.
    func webhooksFinished() -> Int? {
        guard let response = get("/metrics"), response.status == 200 else { return nil }
        var total = 0
        for line in String(decoding: response.body, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2,
                parts[0] == "ucpsim_webhooks_delivered_total" || parts[0] == "ucpsim_webhooks_dead_lettered_total",
                let value = Double(parts[1])
            else { continue }
            total += Int(value)
        }
        return total
    }
}

/// A bench stopped by a signal (Ctrl-C, a closed terminal) stops its serve first and removes its directory; a closed
/// pipe on stdout (`| head`) does not stop the run. Returns the sources, which must stay alive.
func stopOnSignals(serve pid: Int32, directory: String) -> [any DispatchSourceSignal] {
    signal(SIGPIPE, SIG_IGN)
    return [SIGINT, SIGTERM, SIGHUP].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler {
            kill(pid, SIGTERM)
            // Ended when reaped here (its pid) or by Foundation's Process already (-1): only a live serve is killed.
            var status: Int32 = 0
            var ended = false
            for _ in 0..<100 where !ended {
                ended = waitpid(pid, &status, WNOHANG) != 0
                if !ended { usleep(50_000) }
            }
            if !ended { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: directory)
            exit(128 + number)
        }
        source.resume()
        return source
    }
}

/// The control-API phase; returns the exit status.
func runControlAPIBench(sink: String, calls requested: Int) -> Int32 {
    let environment = ProcessInfo.processInfo.environment
    let lanes = 8
    let stallLimit: TimeInterval = 60
    let drainLimit: TimeInterval = 120
    let timeLimit = TimeInterval(environment["BENCH_CONTROL_TIMEOUT"] ?? "") ?? 1_800
    // Whole orders of three calls; the checkpoints are the first order boundaries at or past 10k, 50k and 100k.
    let orders = max(1, (requested + 2) / 3)
    let checkpoints = (Set([10_000, 50_000, 100_000].filter { $0 < orders * 3 }.map { ($0 + 2) / 3 }).union([orders]))
        .sorted()

    // Beside this binary, as it was invoked (`.build/release/ucpsim` from `make bench`).
    let invoked = CommandLine.arguments[0]
    let directoryOfThis =
        invoked.contains("/")
        ? URL(fileURLWithPath: invoked).deletingLastPathComponent().relativePath
        : Bundle.main.executableURL?.deletingLastPathComponent().path ?? "."
    let executable = environment["BENCH_UCPSIM"] ?? directoryOfThis + "/ucpsim"
    guard FileManager.default.isExecutableFile(atPath: executable) else {
        FileHandle.standardError.write(
            Data(
                "UCPSimBench: no ucpsim at \(executable): build it (swift build -c release --product ucpsim) or set BENCH_UCPSIM\n"
                    .utf8
            )
        )
        return 69
    }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-bench-\(UUID().uuidString)")
        .path
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let serve: ServeProcess
    do {
        serve = try ServeProcess(executable: executable, sink: sink, directory: directory)
    } catch {
        FileHandle.standardError.write(Data("UCPSimBench: \(error)\n".utf8))
        return 69
    }
    let signalSources = stopOnSignals(serve: serve.pid, directory: directory)
    defer { signalSources.forEach { $0.cancel() } }
    let driver = ControlDriver(base: serve.baseURL, lanes: lanes)
    defer { driver.client.shutdown() }

    say(
        "== serve's memory: \(orders * 3) control-API calls to \(executable) serve (create, ship, deliver per order, \(lanes) orders at a time), webhooks to \(sink)"
    )
    let startRSS = serve.megabytes("VmRSS:")
    say("serve RSS at start: \(String(format: "%6.1f", startRSS)) MB")
    let began = Date()
    let startCPU = serve.cpuSeconds()
    var lastAccepted = 0
    var lastAnswerAt = Date()
    var lastProgressAt = Date()
    var problem: String?
    var curve: [(calls: Int, rss: Double)] = []

    checkpointLoop: for checkpoint in checkpoints {
        driver.run(toOrder: checkpoint)
        while driver.lanesDone.wait(timeout: .now() + 1) == .timedOut {
            let counts = driver.counts.withLock { $0 }
            let now = Date()
            // Progress is a 2xx: calls that time out also complete, and would hide a serve that answers nothing.
            if counts.accepted > lastAccepted {
                lastAccepted = counts.accepted
                lastAnswerAt = now
            }
            if !serve.isRunning {
                problem = "ucpsim serve exited (status \(serve.process.terminationStatus)): \(serve.errorTail())"
            } else if now.timeIntervalSince(lastAnswerAt) > stallLimit {
                problem = "stuck: no control-API call answered with a 2xx for \(Int(stallLimit)) s"
            } else if counts.failed > 100 {
                problem = "\(counts.failed) calls failed"
            } else if now.timeIntervalSince(began) > timeLimit {
                problem = "out of time: BENCH_CONTROL_TIMEOUT=\(Int(timeLimit)) s reached"
            }
            if problem != nil {
                driver.stopIssuing()
                // The calls in flight end within the client's timeout.
                _ = driver.lanesDone.wait(timeout: .now() + 35)
                break checkpointLoop
            }
            if now.timeIntervalSince(lastProgressAt) >= 10 {
                lastProgressAt = now
                let elapsed = now.timeIntervalSince(began)
                // Webhooks queued in serve and not yet finished: a backlog is memory too, until it drains.
                let behind = driver.webhooksFinished().map { "\(max(0, counts.accepted - $0))" } ?? "?"
                say(
                    "  … \(counts.completed) calls in \(String(format: "%.0f", elapsed)) s (\(String(format: "%.0f", Double(counts.completed) / elapsed)) calls/s, \(counts.failed) not 2xx), serve RSS \(String(format: "%.1f", serve.megabytes("VmRSS:"))) MB, \(behind) webhooks behind"
                )
            }
        }
        let callsDone = Date()
        // The webhooks of the accepted calls, each queued by its call: wait until serve has finished them.
        let accepted = driver.counts.withLock { $0.accepted }
        var finished = driver.webhooksFinished() ?? 0
        let drainDeadline = Date().addingTimeInterval(drainLimit)
        while finished < accepted && Date() < drainDeadline && serve.isRunning {
            Thread.sleep(forTimeInterval: 0.25)
            finished = driver.webhooksFinished() ?? finished
        }
        let counts = driver.counts.withLock { $0 }
        let rss = serve.megabytes("VmRSS:")
        curve.append((counts.completed, rss))
        let elapsed = callsDone.timeIntervalSince(began)
        let cpu = (serve.cpuSeconds() - startCPU) / Double(max(1, counts.completed)) * 1e6
        say(
            "serve RSS after \(String(format: "%6d", counts.completed)) calls: \(String(format: "%6.1f", rss)) MB  (\(String(format: "%.0f", Double(counts.completed) / elapsed)) calls/s, \(String(format: "%.0f", cpu)) µs serve CPU per call; webhooks done \(finished) of \(accepted)\(finished < accepted ? " after \(Int(drainLimit)) s: still draining" : ""); \(counts.failed) calls not 2xx)"
        )
        lastAnswerAt = Date()
    }

    // The bounds at work: the first order is long gone from a serve that keeps the latest 10,000 (read through the
    // control API: `GET /orders/{id}` answers only the buyer and the platform that placed an order).
    let firstOrder =
        serve.isRunning && problem == nil ? driver.get("/testing/orders/\(ControlDriver.orderID(0))") : nil
    let counts = driver.counts.withLock { $0 }
    if let firstOrder, counts.nextOrder > 10_000 {
        let gone = String(decoding: firstOrder.body, as: UTF8.self).contains("not_found")
        say(
            "GET /testing/orders/\(ControlDriver.orderID(0)) after \(counts.nextOrder) orders: \(gone ? "not_found (serve keeps the latest 10,000 orders)" : "still there (HTTP \(firstOrder.status))")"
        )
    }
    // Growth between readings: serve's bounds fill at 10,000 orders (30,000 calls); past that it should be ~0.
    let segments = zip(curve, curve.dropFirst()).map { earlier, later in
        let perThousand = (later.rss - earlier.rss) / Double(max(1, later.calls - earlier.calls)) * 1000
        return "\(earlier.calls / 1000)k → \(later.calls / 1000)k \(String(format: "%+.3f", perThousand))"
    }
    if !segments.isEmpty {
        say("RSS growth:         MB per 1,000 calls: \(segments.joined(separator: ", "))")
    }
    say("serve peak RSS:     \(String(format: "%.1f", serve.megabytes("VmHWM:"))) MB")
    let summary = serve.stop()
    say("serve stopped:      \(summary ?? "killed after 30 s without stopping")")
    for failure in counts.firstFailures { say("  not 2xx: \(failure)") }
    if let problem {
        say("control-API bench stopped: \(problem)")
        return 1
    }
    return counts.failed == 0 && summary != nil ? 0 : 1
}
