import Foundation
import Synchronization

/// Fetches signers' UCP profiles over libcurl and caches their keys for the profile's `max-age`.
///
/// A forced refresh (on an unknown `keyid`) happens at most once per TTL floor per origin, as the spec's identity
/// resolution rules require: a stream of signatures under made-up key ids cannot turn the verifier into a fetcher.
///
/// The URLs come from strangers, so fetching is bounded: `ProfileFetchPolicy` decides which addresses may be
/// connected to; one fetch per profile is in flight at a time (concurrent webhooks naming it wait for that one);
/// at most `Limits.maxFetchesInFlight` fetches run at once, never more than the client has transfers, so an admitted
/// fetch starts at once and a hanging profile server can hold one transfer for at most `Limits.fetchTimeout`; a
/// fetch beyond the bound is refused at once rather than queued behind the hanging ones.
public final class ProfileCache: Sendable {
    /// How much one fetch may take.
    public struct Limits: Sendable {
        /// The largest profile read; a longer one is not a profile.
        public var maxProfileBytes = 256 * 1024
        /// Connect plus transfer, in milliseconds.
        public var fetchTimeoutMilliseconds = 5_000
        /// Fetches of different profiles running at once (also bounded by the client's transfers).
        public var maxFetchesInFlight = 16
        /// Profiles kept in the cache; beyond it the soonest to expire is dropped.
        public var maxCachedProfiles = 1_024

        public init() {}
    }

    /// Whose profiles are fetched, which decides what counts as one.
    public enum Purpose: Sendable {
        /// A webhook signer's (the reference receiver): `keys` or `signing_keys` required; any answer that is not a
        /// JSON profile reads as unreachable, so a sender cannot tell an open port from a closed one.
        case signer
        /// A platform's, fetched by the shop on a shopping request (`UCP-Agent`): keys optional (a platform may not
        /// sign); an answer that is not JSON or not a UCP profile (`FetchedProfile.shapeProblem`) is
        /// `profile_malformed` (422), as the spec's negotiation error table says.
        case platform
    }

    private struct Entry {
        let profile: FetchedProfile
        let expires: Date
    }

    /// Why the connect filter refused an address of one fetch.
    private final class Refusal: Sendable {
        let text = Mutex<String?>(nil)
    }

    private typealias Waiter = CheckedContinuation<Result<FetchedProfile, SignatureFailure>, Never>

    private struct State {
        var entries: [String: Entry] = [:]
        /// When each origin's profile was last force-refreshed.
        var forcedRefreshes: [String: Date] = [:]
        /// The profiles being fetched, and who waits for each.
        var inFlight: [String: [Waiter]] = [:]
    }

    private let client: HTTPClient
    private let state = Mutex(State())
    private let attempts = Mutex(0)
    /// Used when the profile sends no `max-age`.
    public let defaultMaxAge: TimeInterval
    /// The spec's TTL floor: the least time between two forced refreshes of one origin's profile.
    public static let ttlFloor: TimeInterval = 60
    public let policy: ProfileFetchPolicy
    public let limits: Limits
    public let purpose: Purpose
    private let now: @Sendable () -> Date

    /// - Parameter now: the clock (injected so tests can move time).
    public init(
        client: HTTPClient,
        policy: ProfileFetchPolicy = ProfileFetchPolicy(),
        limits: Limits = Limits(),
        defaultMaxAge: TimeInterval = 60,
        purpose: Purpose = .signer,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.purpose = purpose
        self.client = client
        self.policy = policy
        self.limits = limits
        self.defaultMaxAge = defaultMaxAge
        self.now = now
    }

    /// Connections the fetches asked to open so far, refused ones included: zero means nothing was sent anywhere.
    public var connectionAttempts: Int { attempts.withLock { $0 } }

    /// The keys published at `url`; from cache unless expired or `refresh`. A refresh of an origin already
    /// force-refreshed within the TTL floor answers from the cache instead of fetching.
    public func keys(at url: String, refresh: Bool = false) async throws(SignatureFailure) -> [JWK] {
        try await profile(at: url, refresh: refresh).keys
    }

    /// The profile published at `url`, with the same caching and refresh rules as `keys(at:refresh:)`.
    public func profile(at url: String, refresh: Bool = false) async throws(SignatureFailure) -> FetchedProfile {
        let target: RequestTarget
        do {
            target = try RequestTarget(url)
        } catch {
            throw SignatureFailure(.invalidProfileURL, "UCP-Agent profile \(url) is not an http(s) URL")
        }
        if let refusal = policy.refusal(before: target) {
            throw SignatureFailure(.invalidProfileURL, "UCP-Agent profile \(url): \(refusal)")
        }
        // The path is fixed to /.well-known/ucp and queries are refused: origin and path name the profile.
        let key = target.origin + target.path
        let now = self.now()
        let result = await withCheckedContinuation { (waiter: Waiter) in
            enum Step {
                case answer(Result<FetchedProfile, SignatureFailure>)
                case wait
                case fetch
            }
            let step = state.withLock { state -> Step in
                if let cached = state.entries[key], cached.expires > now,
                    !refresh || !Self.claimForcedRefresh(of: target.origin, at: now, in: &state)
                {
                    return .answer(.success(cached.profile))
                }
                if state.inFlight[key] != nil {
                    state.inFlight[key, default: []].append(waiter)
                    return .wait
                }
                guard state.inFlight.count < min(limits.maxFetchesInFlight, client.concurrency) else {
                    return .answer(
                        .failure(
                            SignatureFailure(
                                .profileUnreachable,
                                "the receiver is fetching too many profiles at once; try again later"
                            )
                        )
                    )
                }
                state.inFlight[key] = [waiter]
                return .fetch
            }
            switch step {
            case .answer(let result): waiter.resume(returning: result)
            case .wait: break
            case .fetch: fetch(target, key: key, at: now)
            }
        }
        return try result.get()
    }

    /// Starts the one fetch of `key`; its end answers everyone waiting for it.
    private func fetch(_ target: RequestTarget, key: String, at now: Date) {
        let refused = Refusal()
        var options = client.options
        options.maxResponseBody = limits.maxProfileBytes
        options.connectTimeoutMilliseconds = Self.bounded(
            options.connectTimeoutMilliseconds,
            limits.fetchTimeoutMilliseconds
        )
        options.totalTimeoutMilliseconds = Self.bounded(
            options.totalTimeoutMilliseconds,
            limits.fetchTimeoutMilliseconds
        )
        options.connectFilter = { [self] address in
            attempts.withLock { $0 += 1 }
            guard let refusal = policy.refusal(of: address.bytes, for: target) else { return true }
            refused.text.withLock { $0 = refusal }
            return false
        }
        let request = OutgoingRequest(
            method: "GET",
            url: target.url,
            headers: HTTPFieldList([("Accept", "application/json")])
        )
        client.enqueue([
            HTTPClient.Job(options: options, prepare: { request }) { [self] _, result in
                let outcome = profile(from: result, url: target.url, refused: refused.text.withLock { $0 })
                let waiters = state.withLock { state -> [Waiter] in
                    if case .success(let (profile, maxAge)) = outcome {
                        store(Entry(profile: profile, expires: now.addingTimeInterval(maxAge)), at: key, in: &state)
                    }
                    return state.inFlight.removeValue(forKey: key) ?? []
                }
                let answer = outcome.map(\.profile)
                for waiter in waiters { waiter.resume(returning: answer) }
            }
        ])
    }

    /// The keys and cache lifetime of a fetched profile. Every way of not getting a UCP profile (refused or timed-out
    /// connection, an HTTP error, a non-profile answer) reads the same to the sender: the answer must not tell it an
    /// open port from a closed one. The operator's log gets the reason.
    private func profile(from result: Result<ReceivedResponse, any Error>, url: String, refused: String?)
        -> Result<(profile: FetchedProfile, maxAge: TimeInterval), SignatureFailure>
    {
        if let refused { return .failure(SignatureFailure(.invalidProfileURL, "UCP-Agent profile \(url): \(refused)")) }
        func unreachable(_ why: String) -> Result<(profile: FetchedProfile, maxAge: TimeInterval), SignatureFailure> {
            .failure(
                SignatureFailure(.profileUnreachable, "no UCP profile could be fetched from \(url)", diagnostic: why)
            )
        }
        let response: ReceivedResponse
        switch result {
        case .success(let received): response = received
        case .failure(let error): return unreachable("\(error)")
        }
        guard (200..<300).contains(response.status) else { return unreachable("HTTP \(response.status)") }
        guard !response.bodyTruncated else { return unreachable("larger than \(limits.maxProfileBytes) bytes") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            object["ucp"] is [String: Any], let profile = FetchedProfile(json: response.body)
        else {
            if purpose == .platform {
                return .failure(
                    SignatureFailure(.profileMalformed, "\(url) is not a JSON object with a ucp object")
                )
            }
            return unreachable("the answer is not a JSON object with a ucp object")
        }
        if purpose == .platform {
            if let problem = profile.shapeProblem {
                return .failure(SignatureFailure(.profileMalformed, "\(url) is not a UCP profile: \(problem)"))
            }
        } else if !(object["keys"] is [Any] || object["signing_keys"] is [Any]) {
            return .failure(SignatureFailure(.profileMalformed, "\(url) publishes neither keys nor signing_keys"))
        }
        // The TTL floor bounds caching too: a profile saying `max-age=0` (or `no-store`) must not make every webhook
        // a fetch.
        let maxAge = Self.maxAge(response.headers["cache-control"]) ?? defaultMaxAge
        return .success((profile, max(Self.ttlFloor, maxAge)))
    }

    /// Caches `entry`, dropping expired entries, then the soonest to expire, when the cache is full.
    private func store(_ entry: Entry, at key: String, in state: inout State) {
        if state.entries[key] == nil, state.entries.count >= limits.maxCachedProfiles {
            let now = self.now()
            state.entries = state.entries.filter { $0.value.expires > now }
            state.forcedRefreshes = state.forcedRefreshes.filter { now.timeIntervalSince($0.value) < Self.ttlFloor }
            if state.entries.count >= limits.maxCachedProfiles,
                let soonest = state.entries.min(by: { $0.value.expires < $1.value.expires })?.key
            {
                state.entries.removeValue(forKey: soonest)
            }
        }
        state.entries[key] = entry
    }

    /// Records a forced refresh of `origin` at `now`; false when one happened within the TTL floor.
    private static func claimForcedRefresh(of origin: String, at now: Date, in state: inout State) -> Bool {
        if let previous = state.forcedRefreshes[origin], now.timeIntervalSince(previous) < ttlFloor { return false }
        state.forcedRefreshes[origin] = now
        return true
    }

    /// `limit`, or `configured` when that is smaller and not 0 (libcurl's "no limit").
    private static func bounded(_ configured: Int, _ limit: Int) -> Int {
        configured > 0 ? min(configured, limit) : limit
    }

    /// Forgets every cached profile.
    public func clear() {
        state.withLock {
            $0.entries.removeAll()
            $0.forcedRefreshes.removeAll()
        }
    }

    static func maxAge(_ cacheControl: String?) -> TimeInterval? {
        guard let cacheControl else { return nil }
        for directive in cacheControl.split(separator: ",") {
            let parts = directive.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "max-age", let seconds = Int(parts[1]), seconds >= 0 {
                return TimeInterval(seconds)
            }
            if parts.first?.lowercased() == "no-store" || parts.first?.lowercased() == "no-cache" { return 0 }
        }
        return nil
    }
}
