import ArgumentParser
import UCPSimKit

struct Listen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the reference platform receiver: verify every webhook POSTed to any path.",
        discussion: """
            The dialect is picked by the headers: Signature-Input/Signature (ucp), UCP-Signature (ucp-hmac), \
            webhook-signature (standard-webhooks). ucp: takes the shop's profile URL from UCP-Agent, fetches and \
            caches its keys, checks Content-Digest, the covered components and the signature. ucp-hmac and \
            standard-webhooks: checks the timestamp (5 minutes either way) and the HMAC with each --secret. Answers \
            200, or 400/401/413/424 with the spec's error code. Prints one line per delivery (secrets never). \
            Runs until interrupted. Profile URLs come from strangers: http:// ones \
            are fetched only from loopback addresses, and no profile from a private, link-local or reserved address, \
            unless allowed below; no redirect is followed, a profile is at most 256 KiB and 5 s. \
            The inspector: GET / is a page showing each webhook live with its verdict, key, headers and body; \
            GET /v1/received, /v1/received/{id} and /v1/events/stream (Server-Sent Events) are its JSON API, with \
            Authorization: Bearer <token>, the token given with --api-token or generated and printed once on \
            stderr (in the page's URL, after #token=).
            """
    )

    @Option(
        name: .customLong("api-token"),
        help: ArgumentHelp(
            "Bearer token the inspector's API (/v1/*) requires; default: a new one, printed once on stderr.",
            valueName: "token"
        )
    )
    var apiToken: String?

    @Option(help: "Port to listen on.")
    var port = Port(8081)

    @Option(help: "Host to bind.")
    var host = "127.0.0.1"

    @OptionGroup var profiles: ProfilePolicyOptions

    @Option(
        help: ArgumentHelp("The largest webhook body read, in bytes; a longer one is answered 413.", valueName: "bytes")
    )
    var maxBody = 1024 * 1024

    @Option(
        name: .customLong("secret"),
        help: ArgumentHelp(
            "A shared secret to check ucp-hmac and standard-webhooks signatures with (repeatable: during a rotation, "
                + "any one matching is enough). ucp-hmac keys with its UTF-8 text, standard-webhooks with the base64 "
                + "after whsec_; 24 to 64 key bytes.",
            valueName: "secret"
        )
    )
    var secrets: [String] = []

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let apiToken,
            apiToken.isEmpty || apiToken.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F })
        {
            throw ValidationError("--api-token must be non-empty printable ASCII without spaces")
        }
        guard maxBody > 0 else { throw ValidationError("--max-body must be 1 or more bytes") }
        for (index, secret) in secrets.enumerated() {
            if let problem = ReceiverSecrets.problem(with: WebhookSecret(secret)) {
                throw ValidationError("--secret #\(index + 1): \(problem)")
            }
        }
    }

    func run() async throws {
        // Before serving: a signal that arrives while starting is not lost.
        TerminationSignals.install()
        try await reportingErrors {
            var options = ReferenceReceiver.Options()
            options.maxBodyBytes = maxBody
            options.secrets = secrets.map(WebhookSecret.init)
            options.profilePolicy = profiles.policy
            // As many transfers as profile fetches may run at once: an admitted fetch never waits for a transfer.
            let httpClient = HTTPClient(workers: options.profileLimits.maxFetchesInFlight, options: client.httpOptions)
            let token = apiToken.map(BearerToken.init) ?? BearerToken.generate()
            let (receiver, server) = try await ReferenceReceiver.start(
                client: httpClient,
                host: host,
                port: port.value,
                options: options,
                apiToken: token,
                logger: makeLogger("ucpsim.listen")
            ) { outputLine($0.logLine) }
            outputLine("receiver listening on \(server.baseURL) (POST any path; platform profile: /.well-known/ucp)")
            outputLine(
                "inspector: \(server.baseURL)/  (API: /v1/received, /v1/events/stream; Authorization: Bearer <api token>)"
            )
            if apiToken == nil {
                // Once, on stderr only: stdout is often logged or shared.
                stderrLine(
                    "api token: \(token.text)  (generated for this run; --api-token TOKEN fixes one); "
                        + "inspector: \(server.baseURL)/#token=\(token.text)"
                )
            }
            await waitForTermination()
            // Open event streams end first: a graceful stop waits for every response to finish.
            receiver.events.finish()
            await server.stop()
            await httpClient.shutdown()
        }
    }
}

/// Which profile URLs may be fetched (`listen`: webhook signers'; `serve`: platforms'). Loopback `http://` is always
/// allowed (local development); everything else follows `ProfileFetchPolicy`.
struct ProfilePolicyOptions: ParsableArguments {
    @Option(
        name: .customLong("allow-http-profile"),
        help: ArgumentHelp(
            "Also fetch http:// profiles from HOST, whatever it resolves to (repeatable).",
            valueName: "host"
        )
    )
    var httpProfileHosts: [String] = []

    @Option(
        name: .customLong("allow-profile-host"),
        help: ArgumentHelp(
            "Fetch profiles from HOST even when it resolves to a private, link-local or reserved address (repeatable).",
            valueName: "host"
        )
    )
    var allowedProfileHosts: [String] = []

    @Flag(help: "Fetch profiles from private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7).")
    var allowPrivateProfiles = false

    func validate() throws {
        for host in httpProfileHosts + allowedProfileHosts where host.isEmpty || host.contains("/") {
            throw ValidationError(
                "a host for --allow-http-profile or --allow-profile-host is a name or an address, got '\(host)'"
            )
        }
    }

    var policy: ProfileFetchPolicy {
        var policy = ProfileFetchPolicy()
        policy.httpHosts = Set(httpProfileHosts.map(ProfileFetchPolicy.normalizedHost))
        policy.allowedHosts = Set(allowedProfileHosts.map(ProfileFetchPolicy.normalizedHost))
        policy.allowPrivate = allowPrivateProfiles
        return policy
    }
}
