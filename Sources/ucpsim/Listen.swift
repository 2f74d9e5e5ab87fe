import ArgumentParser
import UCPSimKit

struct Listen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the reference platform receiver: verify every webhook POSTed to any path.",
        discussion: """
            Takes the shop's profile URL from UCP-Agent, fetches and caches its keys, checks Content-Digest, the \
            covered components and the signature, and answers 200, or 400/401/424 with the spec's error code. \
            Prints one line per delivery. Accepts http:// profile URLs only on loopback. Runs until interrupted.
            """
    )

    @Option(help: "Port to listen on.")
    var port = Port(8081)

    @Option(help: "Host to bind.")
    var host = "127.0.0.1"

    @OptionGroup var client: ClientOptions

    func run() async throws {
        // Before serving: a signal that arrives while starting is not lost.
        TerminationSignals.install()
        try await reportingErrors {
            let httpClient = HTTPClient(workers: 4, options: client.httpOptions)
            let (_, server) = try await ReferenceReceiver.start(
                client: httpClient,
                host: host,
                port: port.value,
                logger: makeLogger("ucpsim.listen")
            ) { outputLine($0.logLine) }
            outputLine("receiver listening on \(server.baseURL) (POST any path)")
            await waitForTermination()
            await server.stop()
            httpClient.shutdown()
        }
    }
}
