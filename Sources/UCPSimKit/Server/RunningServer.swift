import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A Hummingbird server started in the background, with the port it really bound (port 0 picks a free one).
public final class RunningServer: Sendable {
    /// The bound host.
    public let host: String
    /// The bound port.
    public let port: Int
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    private init(host: String, port: Int, task: Task<Void, any Error>, group: ServiceGroup) {
        self.host = host
        self.port = port
        self.task = task
        self.group = group
    }

    /// How long a graceful stop waits for responses in progress before it cancels them (and as long again for
    /// the cancellation).
    public static let gracefulShutdownLimit: Duration = .seconds(5)

    /// `http://host:port`.
    public var baseURL: String {
        host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
    }

    /// Binds and starts serving `router`; returns once the socket is listening.
    public static func start(
        router: Router<BasicRequestContext>,
        host: String,
        port: Int,
        logger: Logger
    ) async throws(UCPSimError) -> RunningServer {
        let started = Mutex<CheckedContinuation<Int, any Error>?>(nil)
        let resume: @Sendable (Result<Int, any Error>) -> Void = { result in
            started.withLock { continuation in
                continuation?.resume(with: result)
                continuation = nil
            }
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "ucpsim"),
            onServerRunning: { channel in resume(.success(channel.localAddress?.port ?? port)) },
            logger: logger
        )
        var configuration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [], logger: logger)
        // A graceful stop waits for responses in progress; one that cannot end (an event stream whose client stopped
        // reading, its write waiting on a full socket) is cancelled after this, so stopping never hangs on a client.
        configuration.maximumGracefulShutdownDuration = Self.gracefulShutdownLimit
        configuration.maximumCancellationDuration = Self.gracefulShutdownLimit
        let group = ServiceGroup(configuration: configuration)
        do {
            var task: Task<Void, any Error>?
            let boundPort = try await withCheckedThrowingContinuation { continuation in
                started.withLock { $0 = continuation }
                task = Task {
                    do {
                        try await group.run()
                        resume(
                            .failure(UCPSimError(.unavailable, "server on \(host):\(port) stopped before it started"))
                        )
                    } catch {
                        resume(.failure(error))
                        throw error
                    }
                }
            }
            // The continuation resumes only from inside the task, so the task is set by now.
            guard let task else { throw UCPSimError(.software, "server on \(host):\(port) started without its task") }
            return RunningServer(host: host, port: boundPort, task: task, group: group)
        } catch let error as UCPSimError {
            throw error
        } catch {
            throw UCPSimError(.unavailable, "cannot listen on \(host):\(port): \(error)")
        }
    }

    /// Stops the server gracefully and waits for it.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// Waits until the server stops (for foreground `serve`/`listen`).
    public func wait() async throws {
        try await task.value
    }
}

extension Response {
    /// A JSON response from raw bytes.
    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
