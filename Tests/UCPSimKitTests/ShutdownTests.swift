import Foundation
import Synchronization
import Testing
@testable import UCPSimKit

/// Stopping cleanly: the HTTP client joins its threads, the engine journals the answers of attempts on the wire, and
/// `ucpsim serve` honours SIGINT and SIGTERM with deliveries in flight and exits 0.
@Suite struct ShutdownTests {
    /// `shutdown(grace:)` returns only once the exchange on the wire has finished and the threads have ended.
    @Test func clientShutdownWaitsForTheExchangeOnTheWire() async throws {
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 200, delay: 0.3) }
        let client = HTTPClient(workers: 2)
        let result = Mutex<Result<ReceivedResponse, any Error>?>(nil)
        client.enqueue([
            HTTPClient.Job(prepare: { OutgoingRequest(method: "POST", url: receiver.url, body: Array("{}".utf8)) }) {
                _,
                outcome in result.withLock { $0 = outcome }
            }
        ])
        let started = Date()
        while receiver.received.isEmpty && Date().timeIntervalSince(started) < 60 {
            try await Task.sleep(nanoseconds: 2_000_000)
        }
        try #require(!receiver.received.isEmpty, "nothing reached the receiver in 60 s")
        await client.shutdown(grace: 30)
        let response = try #require(result.withLock { $0 }).get()
        #expect(response.status == 200)
        await receiver.stop()
    }

    /// Past the grace, an exchange on the wire is cut off: its caller hears `abandoned`, and shutdown still returns
    /// (after the threads end).
    @Test func clientShutdownCutsOffWhatOutlastsTheGrace() async throws {
        let (fd, port) = try TestSupport.listenOnLoopback(backlog: 8)
        defer { close(fd) }
        let client = HTTPClient(workers: 1)
        let result = Mutex<Result<ReceivedResponse, any Error>?>(nil)
        let queued = Mutex<Result<ReceivedResponse, any Error>?>(nil)
        let url = "http://127.0.0.1:\(port)/never-answers"
        client.enqueue([
            HTTPClient.Job(prepare: { OutgoingRequest(method: "GET", url: url) }) { _, outcome in
                result.withLock { $0 = outcome }
            },
            HTTPClient.Job(prepare: { OutgoingRequest(method: "GET", url: url) }) { _, outcome in
                queued.withLock { $0 = outcome }
            },
        ])
        await client.shutdown(grace: 0.05)
        for outcome in [result.withLock { $0 }, queued.withLock { $0 }] {
            let heard = try #require(outcome, "every exchange hears an answer by the time shutdown returns")
            let error = try #require(heard.failure as? TransportError)
            #expect(error.abandoned)
        }
    }

    /// A 2xx that arrives while the shop stops is journaled: the outbox says delivered, and the next start on the
    /// same state directory has nothing to resume (so sends nothing again).
    @Test func aTwoHundredReceivedWhileStoppingIsJournaled() async throws {
        let state = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 200, delay: 0.4) }
        let shop = try await TestSupport.shop(delays: [1, 1], state: state)
        let event = TestSupport.event("ord_stop")
        try await shop.engine.submit([event], to: try RequestTarget(receiver.url))
        let started = Date()
        while receiver.received.isEmpty && Date().timeIntervalSince(started) < 60 {
            try await Task.sleep(nanoseconds: 2_000_000)
        }
        try #require(!receiver.received.isEmpty, "nothing reached the receiver in 60 s")
        await shop.stop()

        let journal = try Outbox.inspect(directory: state)
        let stored = try #require(journal.states.first { $0.event.webhookID == event.webhookID })
        #expect(stored.phase == .delivered, "\(stored.phase)")
        let again = try await TestSupport.shop(delays: [1, 1], state: state)
        #expect(again.resumed == 0)
        await again.stop()
        #expect(receiver.received.count == 1)
        await receiver.stop()
    }

    /// `ucpsim serve` with webhooks in flight to a slow receiver, interrupted by SIGINT or SIGTERM as soon as the
    /// first webhook arrives: every run exits 0 on the first signal (no segfault, no lost signal), and what the
    /// receiver answered before the exit is journaled. The 200-run figure in the README comes from
    /// `UCPSIM_SHUTDOWN_RUNS=200 swift test --filter ShutdownTests` (default here: 24 runs).
    @Test func serveStopsCleanlyOnTheFirstSignalWithDeliveriesInFlight() async throws {
        let runs = Int(ProcessInfo.processInfo.environment["UCPSIM_SHUTDOWN_RUNS"] ?? "") ?? 24
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 200, delay: 0.05) }
        var failures: [String] = []
        for run in 0..<runs {
            let state = TestSupport.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: state) }
            let serve = try ServeProcess.start(["--webhook-url", receiver.url, "--state", state])
            let base = try await serve.baseURL()
            let client = HTTPClient(workers: 4)
            let before = receiver.received.count
            // A burst of orders: webhooks queued, being signed and on the wire when the signal comes.
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        let body = #"{"id":"ord_\#(index)","items":[{"sku":"mug","price":1500}]}"#
                        _ = try? await client.send(
                            OutgoingRequest(
                                method: "POST",
                                url: "\(base)/testing/orders",
                                headers: HTTPFieldList([("Content-Type", "application/json")]),
                                body: Array(body.utf8)
                            )
                        )
                    }
                }
            }
            await client.shutdown()
            let waited = Date()
            while receiver.received.count == before && Date().timeIntervalSince(waited) < 60 {
                try await Task.sleep(nanoseconds: 1_000_000)
            }
            let signal = run % 2 == 0 ? SIGINT : SIGTERM
            let exit = await serve.interrupt(signal)
            if exit.status != 0 || exit.signalled {
                failures.append(
                    "run \(run) (\(signal == SIGINT ? "SIGINT" : "SIGTERM")): "
                        + (exit.signalled ? "killed by signal \(exit.status)" : "exit \(exit.status)")
                        + (exit.hung ? " (ignored the signal; killed)" : "") + "\n\(exit.stderr)"
                )
                continue
            }
            // Every webhook id the receiver answered 2xx for before the exit is delivered in the journal.
            let answered = Set(receiver.received.dropFirst(before).map(\.webhookID))
            let journal = try Outbox.inspect(directory: state)
            let delivered = Set(journal.states.filter { $0.phase == .delivered }.map(\.event.webhookID))
            // The receiver may have logged a request whose answer never reached ucpsim (cut off after the grace);
            // with a 50 ms receiver and a 5 s grace none is.
            if !answered.isSubset(of: delivered) {
                failures.append("run \(run): answered but not journaled: \(answered.subtracting(delivered).sorted())")
            }
        }
        await receiver.stop()
        #expect(failures.isEmpty, "\(failures.count) of \(runs) runs:\n\(failures.joined(separator: "\n"))")
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// A running `ucpsim serve` process, its output collected as it comes (an `OutputProcess`).
final class ServeProcess: Sendable {
    typealias Exit = OutputProcess.Exit

    let child: OutputProcess

    private init(child: OutputProcess) {
        self.child = child
    }

    /// Starts `ucpsim serve --port 0 ARGUMENTS` (a `ChildProcess`: posix_spawn).
    static func start(_ arguments: [String]) throws -> ServeProcess {
        ServeProcess(child: try OutputProcess.start(CLITests.binary, ["serve", "--port", "0"] + arguments))
    }

    /// The process id (for its RSS in /proc).
    var processIdentifier: Int32 { child.processIdentifier }
    var stdout: String { child.stdout }
    var stderr: String { child.stderr }

    /// Waits until stdout contains `text` (or the process ends); true when it does.
    func waitForOutput(_ text: String) async throws -> Bool { try await child.waitForOutput(text) }

    /// The shop's base URL, once it says it listens.
    func baseURL() async throws -> String {
        guard try await waitForOutput("shop listening on "),
            let line = stdout.split(separator: "\n").first(where: {
                $0.hasPrefix("shop listening on ")
            })
        else {
            child.kill()
            throw UCPSimError(.unavailable, "serve did not start: \(stderr)")
        }
        return String(line.dropFirst("shop listening on ".count))
    }

    /// Sends `signal` once and waits for the exit; a process still running 30 s later is killed (`hung`).
    func interrupt(_ signal: Int32) async -> Exit { await child.interrupt(signal) }
}
