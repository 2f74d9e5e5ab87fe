import Foundation
import Testing
@testable import UCPSimKit

/// Item 1 for real: the state directory on a 2 MB tmpfs that fills while the shop's control API takes calls.
@Suite(.serialized) struct FullDiskTests {
    /// Runs `mount`/`umount` (or anything) and returns its exit status.
    @discardableResult
    static func system(_ executable: String, _ arguments: [String]) -> Int32 {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? TestSupport.start(process)) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Mounts a 2 MB tmpfs on a new directory; nil where mounting is not permitted.
    static func mountSmallDisk() -> String? {
        let directory = TestSupport.temporaryDirectory()
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard system("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", directory]) == 0 else { return nil }
        return directory
    }

    static let canMount: Bool = {
        guard let directory = mountSmallDisk() else { return false }
        system("/bin/umount", [directory])
        return true
    }()

    /// Writes a file until the disk refuses another byte.
    static func fill(_ path: String) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { return }
        let chunk = [UInt8](repeating: 0x66, count: 65_536)
        for size in [65_536, 4096, 1] {
            while write(descriptor, chunk, size) > 0 {}
        }
        close(descriptor)
    }

    /// Every call the control API acknowledged (201/200) has its webhook delivered, with the acknowledged bytes;
    /// every call made while the disk is full whose event could not be made durable answers 503
    /// `outbox_unavailable`, sends nothing, and changes nothing (the same placement succeeds once space returns). A
    /// command on the full disk exits 73 with one line. The journal stays whole: no damaged line, every acknowledged
    /// event in it, delivered.
    @Test(
        .enabled(if: FullDiskTests.canMount, "skipped: mounting a tmpfs is not permitted here (the test needs root)")
    )
    func aDiskThatFillsDuringARunLosesNothingAcknowledged() async throws {
        let disk = try #require(Self.mountSmallDisk())
        defer {
            Self.system("/bin/umount", ["-l", disk])
        }
        let state = "\(disk)/state"
        let spare = "\(disk)/spare"
        try FileManager.default.createDirectory(atPath: spare, withIntermediateDirectories: true)
        for name in ["outbox.jsonl", "outbox.lock"] {
            #expect(FileManager.default.createFile(atPath: "\(spare)/\(name)", contents: nil))
        }
        let receiver = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        var setup = DeliverySetup(stateDirectory: state)
        setup.engine.policy = RetryPolicy(delays: [0.05, 0.05, 0.05], jitter: 0, retry4xx: false)
        let shop = try await Shop.start(
            keys: try KeyRing.ephemeral(),
            delivery: setup,
            control: ControlOptions(target: try RequestTarget(receiver.url), secret: nil),
            logger: TestSupport.quietLogger
        )
        func place(_ id: String) async throws -> ReceivedResponse {
            try await shop.client.send(
                OutgoingRequest(
                    method: "POST",
                    url: "\(shop.server.baseURL)/testing/orders",
                    headers: HTTPFieldList([("Content-Type", "application/json")]),
                    body: Array(#"{"id":"\#(id)","items":[{"sku":"mug","price":1500,"quantity":2}]}"#.utf8)
                )
            )
        }
        var acknowledged: [String: [UInt8]] = [:]
        func take(_ response: ReceivedResponse) {
            if let id = response.headers["ucpsim-webhook-id"] { acknowledged[id] = response.body }
        }
        for index in 0..<3 {
            let answer = try await place("ord_before_\(index)")
            #expect(answer.status == 201)
            take(answer)
        }

        Self.fill("\(disk)/filler")
        var refused: [String] = []
        for index in 0..<12 {
            let answer = try await place("ord_full_\(index)")
            if answer.status == 201 {
                take(answer)
                continue
            }
            #expect(answer.status == 503, "\(answer.status) \(String(decoding: answer.body, as: UTF8.self))")
            let error = try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
            #expect(error?["code"] as? String == "outbox_unavailable")
            #expect((error?["content"] as? String)?.contains("nothing was sent") == true)
            refused.append("ord_full_\(index)")
        }
        #expect(refused.count >= 1, "a full disk refuses at least one event")
        let sent = try await CLITests.ucpsim([
            "send", "fixtures/order-created.json", "--webhook-url", receiver.url, "--state", spare,
        ])
        #expect(sent.status == 73, "\(sent.stdout)\(sent.stderr)")
        #expect(sent.stderr.split(separator: "\n").count == 1 && sent.stderr.hasPrefix("ucpsim: error: cannot write"))

        try FileManager.default.removeItem(atPath: "\(disk)/filler")
        for id in refused {
            let answer = try await place(id)
            #expect(answer.status == 201, "a refused placement was taken back, so it can be made again")
            take(answer)
        }
        for id in acknowledged.keys {
            let outcome = await shop.engine.outcome(of: id)
            #expect(outcome.accepted, "\(outcome)")
        }
        await shop.stop()
        await receiver.stop()

        let arrivals = receiver.received
        #expect(Set(arrivals.map(\.webhookID)) == Set(acknowledged.keys), "only acknowledged events were sent")
        #expect(!arrivals.contains { $0.orderID == "ord_7Kq2mX9pLw4R" }, "the refused command sent nothing")
        for arrival in arrivals {
            #expect(arrival.body == acknowledged[arrival.webhookID], "sent with the acknowledged bytes")
        }
        let snapshot = try Outbox.inspect(directory: state)
        #expect(snapshot.damagedLines.isEmpty)
        #expect(Set(snapshot.states.map(\.event.webhookID)) == Set(acknowledged.keys))
        #expect(snapshot.states.allSatisfy { $0.phase == .delivered }, "attempt lines held while full were written")
        let listed = try await CLITests.ucpsim(["deliveries", "list", "--state", state])
        #expect(listed.status == 0 && listed.stderr.isEmpty, "\(listed.stderr)")
    }
}
