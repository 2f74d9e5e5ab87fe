import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
@testable import UCPSimKit

/// A test receiver over real HTTP whose answers are scripted per request, recording what arrived.
final class ScriptedReceiver: Sendable {
    struct Received: Sendable {
        let webhookID: String
        let timestamp: String
        let signatureInput: String
        let body: [UInt8]
        let orderID: String
        let at: Date
    }

    /// What to answer: status, extra headers, and a delay before answering (for timeouts).
    struct Answer: Sendable {
        var status: Int = 200
        var headers: [(String, String)] = []
        var delay: TimeInterval = 0
        /// The response body; nil: `{"n":<index>}`.
        var body: String? = nil
    }

    private let log = Mutex<[Received]>([])
    private let script: @Sendable (_ index: Int, _ received: Received) -> Answer
    let server: RunningServer

    var received: [Received] { log.withLock { $0 } }
    var url: String { "\(server.baseURL)/hooks" }

    private init(server: RunningServer, script: @escaping @Sendable (Int, Received) -> Answer) {
        self.server = server
        self.script = script
    }

    static func start(port: Int = 0, script: @escaping @Sendable (Int, Received) -> Answer) async throws
        -> ScriptedReceiver
    {
        let box = Mutex<ScriptedReceiver?>(nil)
        let router = Router()
        router.post("/hooks") { request, _ -> Response in
            var request = request
            let body = [UInt8](buffer: try await request.collectBody(upTo: 1 << 20))
            let headers = request.headers
            let order = (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["id"] as? String ?? ""
            let received = Received(
                webhookID: headers.value(named: "Webhook-Id") ?? "",
                timestamp: headers.value(named: "Webhook-Timestamp") ?? "",
                signatureInput: headers.value(named: "Signature-Input") ?? "",
                body: body,
                orderID: order,
                at: Date()
            )
            guard let receiver = box.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            let index = receiver.log.withLock { log in
                log.append(received)
                return log.count - 1
            }
            let answer = receiver.script(index, received)
            if answer.delay > 0 { try await Task.sleep(nanoseconds: UInt64(answer.delay * 1e9)) }
            var fields: HTTPFields = [:]
            for (name, value) in answer.headers {
                if let name = HTTPField.Name(name) { fields[name] = value }
            }
            return Response(
                status: .init(code: answer.status),
                headers: fields,
                body: .init(byteBuffer: ByteBuffer(string: answer.body ?? "{\"n\":\(index)}"))
            )
        }
        let server = try await RunningServer.start(
            router: router,
            host: "127.0.0.1",
            port: port,
            logger: TestSupport.quietLogger
        )
        let receiver = ScriptedReceiver(server: server, script: script)
        box.withLock { $0 = receiver }
        return receiver
    }

    func stop() async { await server.stop() }
}

extension TestSupport {
    /// A shop whose engine uses `policy` with no jitter and `scale` on the delivery clock.
    static func shop(
        delays: [TimeInterval],
        scale: Double = 1,
        retry4xx: Bool = false,
        concurrency: Int = 8,
        ordered: Bool = true,
        state: String? = nil,
        timeoutMilliseconds: Int = 15_000
    ) async throws -> Shop {
        var setup = DeliverySetup(stateDirectory: state)
        setup.engine.policy = RetryPolicy(delays: delays, jitter: 0, retry4xx: retry4xx)
        setup.engine.clock = ScaledClock(scale: scale)
        setup.engine.concurrency = concurrency
        setup.engine.ordered = ordered
        var client = HTTPClientOptions()
        client.totalTimeoutMilliseconds = timeoutMilliseconds
        return try await Shop.start(
            keys: try KeyRing.ephemeral(),
            clientOptions: client,
            delivery: setup,
            logger: quietLogger
        )
    }

    static func event(_ order: String = "ord_1", body: String? = nil) -> WebhookEvent {
        let text = body ?? #"{"id":"\#(order)","n":\#(Int.random(in: 0..<1_000_000))}"#
        return WebhookEvent(timestamp: 1_775_913_000, orderID: order, body: Array(text.utf8))
    }

    static func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-\(UUID().uuidString)").path
    }

    /// Sends one event through `shop` to `receiver`, waits for its outcome, then stops both.
    static func deliverOne(_ event: WebhookEvent, shop: Shop, receiver: ScriptedReceiver) async throws
        -> DeliveryEngine.Outcome
    {
        try await shop.engine.submit([event], to: try RequestTarget(receiver.url))
        let outcome = await shop.engine.outcome(of: event.webhookID)
        await shop.stop()
        await receiver.stop()
        return outcome
    }

    /// Writes a scenario file to a temporary path.
    static func scenarioFile(_ yaml: String) throws -> URL {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-\(UUID().uuidString).yaml")
        try Data(yaml.utf8).write(to: file)
        return file
    }

    /// A TCP socket listening on 127.0.0.1 at a free port, for bare test servers.
    static func listenOnLoopback(backlog: Int32) throws -> (fd: Int32, port: Int) {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else {
            close(fd)
            throw UCPSimError(.unavailable, "cannot listen on 127.0.0.1")
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}

extension HTTPFields {
    /// The value of the field called `name`, nil when absent (or when `name` is not a valid field name).
    func value(named name: String) -> String? {
        HTTPField.Name(name).flatMap { self[$0] }
    }
}
