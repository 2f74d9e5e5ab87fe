import ArgumentParser
import Foundation
import Logging
import Synchronization
import UCPSimKit

extension SignatureAlgorithm: ExpressibleByArgument {}
extension UCPVersion: ExpressibleByArgument {}

/// Options for the shop's identity: keys and public URL.
struct ShopOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Directory of PEM private keys (*.pem; the file name is the kid). All are published.",
            valueName: "dir"
        )
    )
    var keys: String?

    @Option(
        name: .customLong("sign-with"),
        help: ArgumentHelp("Key id that signs (default: the newest key file).", valueName: "kid")
    )
    var signWith: String?

    @Option(
        name: .customLong("public-url"),
        help: ArgumentHelp("Base URL for UCP-Agent and permalink_url (default: http://HOST:PORT).", valueName: "url")
    )
    var publicURL: String?

    @Option(
        name: .customLong("ucp-version"),
        help: ArgumentHelp(
            "The UCP release the shop speaks: the profile's and the orders' shapes, and the signing algorithms it allows.",
            valueName: "date"
        )
    )
    var ucpVersion = UCPVersion.newest

    @Option(
        name: .customLong("supported-version"),
        help: ArgumentHelp(
            "An older release the shop also supports (repeatable): its leaf profile is served at /.well-known/ucp/DATE and listed in ucp.supported_versions.",
            valueName: "date"
        )
    )
    var supportedVersions: [UCPVersion] = []

    func validate() throws {
        for older in supportedVersions where older >= ucpVersion {
            throw ValidationError(
                "--supported-version \(older.rawValue) must be older than --ucp-version \(ucpVersion.rawValue)"
            )
        }
        if let publicURL { _ = try validatedURL(publicURL, option: "--public-url") }
    }

    /// Loads `--keys`; without it, the shop's own key kept in `stateDirectory` (made on first use), or with no state
    /// directory an ephemeral ES256 key; says which on stderr.
    func keyRing(stateDirectory: String? = nil) throws(UCPSimError) -> KeyRing {
        if let keys { return try KeyRing.load(directory: keys, signWith: signWith) }
        if let signWith { throw UCPSimError(.usage, "--sign-with \(signWith) needs --keys") }
        if let stateDirectory {
            let (ring, created) = try ShopIdentity.keyRing(directory: stateDirectory)
            stderrLine(
                "note: no --keys given; signing with the shop's \(created ? "new " : "")ES256 key "
                    + "\(ShopIdentity.keyPath(in: stateDirectory)) (kid \(ring.active.kid))"
            )
            return ring
        }
        let ring = try KeyRing.ephemeral()
        stderrLine(
            "note: no --keys given; signing with an ephemeral ES256 key (kid \(ring.active.kid)), published only while this runs"
        )
        return ring
    }
}

/// Options for outgoing HTTP.
struct ClientOptions: ParsableArguments {
    @Flag(help: "Accept a receiver's self-signed or mismatched TLS certificate (never do this in production).")
    var insecure = false

    @Option(
        name: .customLong("connect-timeout"),
        help: ArgumentHelp("Connect timeout in milliseconds (0: libcurl's default, 300 s).", valueName: "ms")
    )
    var connectTimeout = 5_000

    @Option(help: ArgumentHelp("Total timeout per request in milliseconds (0: no limit).", valueName: "ms"))
    var timeout = 15_000

    func validate() throws {
        guard connectTimeout >= 0 else {
            throw ValidationError("--connect-timeout must be 0 (libcurl's default, 300 s) or more milliseconds")
        }
        guard timeout >= 0 else { throw ValidationError("--timeout must be 0 (no limit) or more milliseconds") }
    }

    var httpOptions: HTTPClientOptions {
        var options = HTTPClientOptions()
        options.insecure = insecure
        options.connectTimeoutMilliseconds = connectTimeout
        options.totalTimeoutMilliseconds = timeout
        if insecure {
            stderrLine("WARNING: --insecure: TLS certificates of the receiver are NOT verified")
        }
        return options
    }
}

/// Says `ucpsim: warning: …` on stderr when `warning` is not nil.
func warn(_ warning: String?) {
    if let warning { stderrLine("ucpsim: warning: \(warning)") }
}

func stderrLine(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Runs `body`, turning a `UCPSimError` into one line on stderr and its documented exit code.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as UCPSimError {
        stderrLine("ucpsim: error: \(error.message)")
        throw ExitCode(error.exitCode.rawValue)
    }
}

/// Checks a URL option while arguments are parsed: a URL that ucpsim or libcurl would refuse is a usage error
/// (exit 64) before anything starts.
func validatedURL(_ url: String, option: String) throws -> RequestTarget {
    do {
        return try RequestTarget(url)
    } catch {
        throw ValidationError("\(option): \(error.message)")
    }
}

/// A TCP port option: 0 to 65535 (0: any free port), refused otherwise when arguments are parsed.
struct Port: ExpressibleByArgument, Sendable, CustomStringConvertible {
    let value: Int

    init(_ value: Int) { self.value = value }

    init?(argument: String) {
        guard let value = Int(argument), (0...65_535).contains(value) else { return nil }
        self.value = value
    }

    var description: String { String(value) }
    var defaultValueDescription: String { String(value) }
}

/// Parses a URL argument into a request target, or a usage error.
func parseTarget(_ url: String, option: String) throws(UCPSimError) -> RequestTarget {
    do {
        return try RequestTarget(url)
    } catch {
        throw UCPSimError(.usage, "\(option): \(error.message)")
    }
}

/// A logger on stderr, quiet unless verbose.
func makeLogger(_ label: String, verbose: Bool = false) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = verbose ? .info : .warning
    return logger
}

/// Waits until SIGINT or SIGTERM (installing the handlers first if `TerminationSignals.install()` has not run).
func waitForTermination() async {
    await TerminationSignals.install().wait()
}

/// SIGINT and SIGTERM turned into one awaitable event, robust to which thread the kernel picks.
///
/// Why not `signal(SIG_IGN)` plus a `DispatchSource`: on Linux, libdispatch reads signals with a `signalfd`, which
/// only sees a signal blocked in every thread; it blocks it in one. A signal the kernel hands to another thread is
/// then discarded by `SIG_IGN`: SIGINT was seen ignored 3 times in 45. Here a real handler (any thread may run it)
/// writes the signal number to a pipe, and a dedicated thread that unblocks both signals (a mask inherited from a
/// parent may block them everywhere else) reads the pipe. A signal that arrives before anyone waits is remembered.
/// A second signal while stopping ends the process at once (`_exit(130)`, skipping the exit-time cleanup that a
/// running transport thread would trip over).
final class TerminationSignals: Sendable {
    private struct State {
        var fired = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private static let shared = TerminationSignals()

    /// Installs the handlers (once; later calls return the same instance). Call it before serving.
    @discardableResult
    static func install() -> TerminationSignals { shared }

    private init() {
        let pipe = terminationPipe
        for sig in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(terminationPipe.write, &byte, 1)
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(sig, &action, nil)
        }
        let thread = Thread { [self] in
            var signals = sigset_t()
            sigemptyset(&signals)
            sigaddset(&signals, SIGINT)
            sigaddset(&signals, SIGTERM)
            pthread_sigmask(SIG_UNBLOCK, &signals, nil)
            var count = 0
            var byte: UInt8 = 0
            while true {
                let n = read(pipe.read, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                guard n == 1 else { return }
                count += 1
                if count > 1 { _exit(130) }
                let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                    state.fired = true
                    defer { state.waiters = [] }
                    return state.waiters
                }
                waiters.forEach { $0.resume() }
            }
        }
        thread.name = "ucpsim-signals"
        thread.start()
    }

    /// True once SIGINT or SIGTERM has arrived.
    var fired: Bool { state.withLock { $0.fired } }

    /// Returns once SIGINT or SIGTERM has arrived (at once if one already did).
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let fired = state.withLock { state -> Bool in
                if !state.fired { state.waiters.append(continuation) }
                return state.fired
            }
            if fired { continuation.resume() }
        }
    }
}

/// The self-pipe the signal handler writes to: made once, before any handler is installed, never changed (the
/// handler only reads `write`, an already-initialised constant).
private let terminationPipe: (read: Int32, write: Int32) = {
    var fds: [Int32] = [-1, -1]
    _ = pipe(&fds)
    // The handler must never block: a full pipe already says "signalled".
    _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
    return (fds[0], fds[1])
}()

/// Writes one line to stdout unbuffered, so `listen` and `serve` show each line at once even when piped.
func outputLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Where deliveries go: an explicit URL, a platform profile's advertised URL, or the built-in reference receiver.
struct TargetOptions: ParsableArguments {
    @Option(name: .customLong("webhook-url"), help: ArgumentHelp("The platform's order webhook URL.", valueName: "url"))
    var webhookURL: String?

    @Option(
        name: .customLong("platform-profile"),
        help: ArgumentHelp(
            "The platform's UCP profile URL; its order capability's config.webhook_url is the target.",
            valueName: "url"
        )
    )
    var platformProfile: String?

    func validate() throws {
        if webhookURL != nil && platformProfile != nil {
            throw ValidationError("give --webhook-url or --platform-profile, not both")
        }
        if let webhookURL { _ = try validatedURL(webhookURL, option: "--webhook-url") }
        if let platformProfile { _ = try validatedURL(platformProfile, option: "--platform-profile") }
    }

    /// The target given by either option, or nil when neither was given.
    func explicitTarget(client: HTTPClient) async throws(UCPSimError) -> RequestTarget? {
        if let webhookURL { return try parseTarget(webhookURL, option: "--webhook-url") }
        if let platformProfile {
            return try await FetchedProfile.orderWebhookTarget(profileURL: platformProfile, client: client)
        }
        return nil
    }

    /// The target, and the built-in receiver when neither option was given (the caller stops it).
    ///
    /// The built-in receiver fetches the shop's profile with its own HTTP client: on the shop's client its fetches
    /// would wait behind the very deliveries they are needed to verify.
    func resolve(client: HTTPClient, builtInPort: Int = 0) async throws -> (RequestTarget, BuiltInReceiver?) {
        if let explicit = try await explicitTarget(client: client) { return (explicit, nil) }
        let receiverClient = HTTPClient(workers: 2)
        let (_, server) = try await ReferenceReceiver.start(
            client: receiverClient,
            port: builtInPort,
            logger: makeLogger("ucpsim.listen")
        )
        let target = try parseTarget("\(server.baseURL)/webhooks/ucp/orders", option: "receiver")
        return (target, BuiltInReceiver(server: server, client: receiverClient))
    }
}

/// Retry policy, durability, concurrency and time: how the shop delivers.
struct DeliveryOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Outbox directory: events are persisted before their first attempt; pending ones resume from here.",
            valueName: "dir"
        )
    )
    var state = ".ucpsim"

    @Option(
        name: .customLong("keep-delivered"),
        help: ArgumentHelp(
            "Delivered events the outbox keeps for `deliveries list|show` (pending and dead ones are always kept).",
            valueName: "n"
        )
    )
    var keepDelivered = Outbox.defaultKeepDelivered

    @Option(
        name: .customLong("retry-schedule"),
        help: ArgumentHelp("Delays between attempts, or `none` for one attempt.", valueName: "list")
    )
    var retrySchedule = "1s,5s,5m,30m,2h,5h,10h,10h"

    @Flag(
        name: .customLong("retry-4xx"),
        help: "Also retry 4xx answers (408, 429 are always retried; 410 stops the endpoint)."
    )
    var retry4xx = false

    @Option(help: "Relative jitter on each delay (0 to below 1).")
    var jitter = 0.2

    @Option(
        name: .customLong("time-scale"),
        help: "Run the delivery clock this much faster (3600: an hour of backoff per second). Default 1."
    )
    var timeScale: Double?

    @Option(help: "Attempts in flight at once (connections to the receiver). Default 8.")
    var concurrency: Int?

    @Flag(help: "Let a later snapshot of an order go before the earlier one is delivered.")
    var unordered = false

    @Option(
        help: ArgumentHelp(
            "How long (wall time) to wait for retries before exiting; the rest stays in the outbox.",
            valueName: "duration"
        )
    )
    var wait = "60s"

    func validate() throws {
        guard RetryPolicy.parseSchedule(retrySchedule) != nil else {
            throw ValidationError(
                "--retry-schedule \"\(retrySchedule)\" is not a list of durations like 1s,5s,5m (or none)"
            )
        }
        guard (0..<1).contains(jitter) else { throw ValidationError("--jitter must be from 0 to below 1") }
        if let timeScale, !(timeScale > 0 && timeScale.isFinite) {
            throw ValidationError("--time-scale must be positive")
        }
        guard keepDelivered >= 0 else { throw ValidationError("--keep-delivered must be 0 or more") }
        if let concurrency, !DeliveryEngine.Options.concurrencyRange.contains(concurrency) {
            throw ValidationError("--concurrency must be from 1 to 256")
        }
        guard RetryPolicy.parseDuration(wait) != nil else {
            throw ValidationError("--wait \"\(wait)\" is not a duration like 30s or 5m")
        }
    }

    var waitSeconds: TimeInterval { RetryPolicy.parseDuration(wait) ?? 60 }

    /// These options with a scenario's engine settings filling what the command line left unset.
    func applying(_ settings: Scenario.EngineSettings) -> DeliveryOptions {
        var options = self
        options.timeScale = timeScale ?? settings.timeScale
        options.concurrency = concurrency ?? settings.concurrency
        options.unordered = unordered || settings.unordered == true
        return options
    }

    /// The shop's delivery setup; `onAttempt` sees every attempt.
    func setup(onAttempt: @escaping @Sendable (DeliveryState, AttemptRecord) -> Void = { _, _ in }) -> DeliverySetup {
        var setup = DeliverySetup(stateDirectory: state)
        setup.keepDelivered = keepDelivered
        setup.engine.policy = RetryPolicy(
            delays: RetryPolicy.parseSchedule(retrySchedule) ?? [],
            jitter: jitter,
            retry4xx: retry4xx
        )
        if let concurrency { setup.engine.concurrency = concurrency }
        setup.engine.ordered = !unordered
        if let timeScale { setup.engine.clock = ScaledClock(scale: timeScale) }
        setup.onAttempt = onAttempt
        return setup
    }
}

/// Says on stderr what opening the outbox did (a compaction) and how many deliveries it had pending at start.
func reportResumed(_ shop: Shop) {
    for note in shop.outbox?.notes ?? [] { stderrLine("note: \(note)") }
    if shop.resumed > 0 {
        stderrLine("note: resuming \(shop.resumed) pending deliver\(shop.resumed == 1 ? "y" : "ies") from the outbox")
    }
}

/// Starts the shop the way every delivering command does: keys, URL, version, delivery and client options, and a
/// note when the outbox had pending deliveries to resume.
func startShop(
    _ shop: ShopOptions,
    _ delivery: DeliveryOptions,
    _ client: ClientOptions,
    host: String = "127.0.0.1",
    port: Port? = nil,
    control: ControlOptions? = nil,
    apiToken: BearerToken? = nil,
    shopFile: ShopFile = .embedded,
    frozenAt: Date? = nil,
    verbose: Bool = false,
    shopping: ShoppingSetup = ShoppingSetup(),
    onAttempt: @escaping @Sendable (DeliveryState, AttemptRecord) -> Void = { _, _ in }
) async throws(UCPSimError) -> Shop {
    // Without --port, the shop binds the port it had last time on this state directory: the same profile URL,
    // so a receiver that saw it before recognises it.
    var identity = try ShopIdentity.load(directory: delivery.state)
    let keys = try shop.keyRing(stateDirectory: delivery.state)
    let chosen = port?.value ?? identity.port ?? 0
    // `serve --fixed-time`: the shop's clock stands at that instant.
    let clock: @Sendable () -> Date
    if let frozenAt { clock = { frozenAt } } else { clock = { Date() } }
    let running: Shop
    do {
        running = try await Shop.start(
            keys: keys,
            host: host,
            port: chosen,
            publicURL: shop.publicURL,
            version: shop.ucpVersion,
            olderVersions: shop.supportedVersions,
            clientOptions: client.httpOptions,
            delivery: delivery.setup(onAttempt: onAttempt),
            control: control,
            apiToken: apiToken,
            shop: shopFile,
            clock: clock,
            shopping: shopping,
            logger: makeLogger("ucpsim.shop", verbose: verbose)
        )
    } catch  where port == nil && identity.port != nil && error.exitCode == .unavailable {
        throw UCPSimError(
            .unavailable,
            "\(error.message); it is the shop's port kept in \(identity.path) (the same profile URL for every command "
                + "on \(delivery.state)): free it, or give --port"
        )
    }
    if port?.value != 0 || identity.port == nil {
        do {
            try identity.remember(port: running.server.port)
        } catch {
            await running.stop()
            throw error
        }
    }
    // Said in the lock file, so a command refused this directory meanwhile can name where to go instead.
    let command = CommandLine.arguments.dropFirst().first { !$0.hasPrefix("-") } ?? "ucpsim"
    running.outbox?.recordHolder(command: command, url: running.server.baseURL)
    reportResumed(running)
    return running
}

/// Resolves the target and runs `body`; the shop and any built-in receiver are stopped however it ends.
func withTarget<T>(
    _ target: TargetOptions,
    shop: Shop,
    builtInPort: Int = 0,
    _ body: (RequestTarget) async throws -> T
) async throws -> T {
    try await withTarget(target, client: shop.client, stop: shop.stop, builtInPort: builtInPort, body)
}

/// Resolves the target (with `client`, for a platform profile) and runs `body`; `stop` and any built-in receiver's
/// stop run however it ends.
func withTarget<T>(
    _ target: TargetOptions,
    client: HTTPClient,
    stop: () async -> Void,
    builtInPort: Int = 0,
    _ body: (RequestTarget) async throws -> T
) async throws -> T {
    var receiver: BuiltInReceiver?
    do {
        let (destination, builtIn) = try await target.resolve(client: client, builtInPort: builtInPort)
        receiver = builtIn
        let result = try await body(destination)
        await stop()
        await receiver?.stop()
        return result
    } catch {
        await stop()
        await receiver?.stop()
        throw error
    }
}

/// Runs `body` with a started shop and stops the shop if it throws (the shop's own success path stops it): an
/// error never leaves transport threads running or answers in flight unjournaled at exit.
func stoppingOnError<T>(_ shop: Shop, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        await shop.stop()
        throw error
    }
}

/// The reference receiver `run`, `replay` and `check` grade against when no target is given.
struct BuiltInReceiver {
    let server: RunningServer
    let client: HTTPClient

    func stop() async {
        await server.stop()
        await client.shutdown()
    }
}
