import Foundation
import Testing
@testable import UCPSimKit

/// The delivery scheduler as a value: events in, actions out. No sockets, no wall time, no files: the time is a
/// `Date` passed in, the random source a fixed generator.
@Suite struct DeliverySchedulerTests {
    static let t0 = Date(timeIntervalSince1970: 1_775_913_000)
    static let slow = "http://127.0.0.1:1/slow"
    static let fast = "http://127.0.0.1:2/fast"

    /// Always the same 64 bits: 0 gives `Double.random(in: 0..<1)` = 0, `1 << 63` gives 0.5.
    struct FixedRandom: RandomNumberGenerator {
        let value: UInt64
        mutating func next() -> UInt64 { value }
    }

    static func scheduler(
        concurrency: Int = 8,
        delays: [TimeInterval] = [10, 60],
        jitter: Double = 0,
        limit: Int? = 100,
        journaled: Bool = false
    ) -> DeliveryScheduler {
        DeliveryScheduler(
            configuration: .init(
                concurrency: concurrency,
                ordered: true,
                policy: RetryPolicy(delays: delays, jitter: jitter, retry4xx: false),
                destinationLimit: limit,
                journaled: journaled
            )
        )
    }

    static func state(_ id: String, order: String, subscription: String? = nil, url: String = slow) -> DeliveryState {
        DeliveryState(
            id: DeliveryID(id),
            event: WebhookEvent(webhookID: "evt_\(id)", timestamp: 1, orderID: order, body: []),
            subscription: subscription.map(SubscriptionID.init),
            target: url,
            firstAttempt: t0
        )
    }

    /// The ids handed to the HTTP client by these actions, in order.
    static func sent(_ actions: [DeliveryScheduler.Action]) -> [String] {
        actions.flatMap { action -> [String] in
            if case .send(let sends) = action { return sends.map(\.state.id.rawValue) }
            return []
        }
    }

    /// The ids that became final, with their phase names.
    static func finals(_ actions: [DeliveryScheduler.Action]) -> [String] {
        actions.compactMap { action -> String? in
            if case .finished(let final) = action { return "\(final.state.id) \(final.state.phase.name)" }
            return nil
        }
    }

    static func timers(_ actions: [DeliveryScheduler.Action]) -> [Date] {
        actions.compactMap { action -> Date? in
            if case .schedule(let date) = action { return date }
            return nil
        }
    }

    /// An answer to one attempt of `id` (to `url`) at `at`.
    static func answer(_ id: String, _ status: Int?, url: String = slow, at: Date = t0) -> Completion {
        Completion(
            id: DeliveryID(id),
            target: url,
            record: AttemptRecord(number: 1, at: at, status: status, milliseconds: 1, detail: ""),
            retryAfter: nil
        )
    }

    static func complete(
        _ scheduler: inout DeliveryScheduler,
        _ completions: [Completion],
        now: Date = t0,
        random: UInt64 = 0
    ) -> [DeliveryScheduler.Action] {
        var generator = FixedRandom(value: random)
        return scheduler.completed(completions, now: now, random: &generator)
    }

    /// A lane's deliveries go out one at a time, in order, retries included; other orders are not held up.
    @Test func aLanesDeliveriesGoOutOneAtATimeInOrder() {
        var scheduler = Self.scheduler()
        let lane = ["a1", "a2", "a3"].map { Self.state($0, order: "ord_a") }
        var actions = scheduler.submit(
            lane + [Self.state("b1", order: "ord_b")],
            submitted: Self.t0,
            policy: nil,
            now: Self.t0
        )
        #expect(Self.sent(actions) == ["a1", "b1"])
        #expect(scheduler.isWaitingInLane(DeliveryID("a2")) && scheduler.isWaitingInLane(DeliveryID("a3")))

        actions = Self.complete(&scheduler, [Self.answer("a1", 200)])
        #expect(Self.finals(actions) == ["a1 delivered"] && Self.sent(actions) == ["a2"])
        // a2 fails: it is retried at its time, and a3 keeps waiting behind it.
        actions = Self.complete(&scheduler, [Self.answer("a2", 503)])
        #expect(Self.sent(actions).isEmpty && Self.timers(actions) == [Self.t0.addingTimeInterval(10)])
        #expect(
            Self.sent(scheduler.timerFired(at: Self.t0.addingTimeInterval(10), now: Self.t0.addingTimeInterval(10)))
                == ["a2"]
        )
        actions = Self.complete(
            &scheduler,
            [Self.answer("a2", 200, at: Self.t0.addingTimeInterval(10))],
            now: Self.t0.addingTimeInterval(10)
        )
        #expect(Self.sent(actions) == ["a3"])
    }

    /// Two subscriptions on one URL are two lanes: the same order goes out to both at once.
    @Test func twoSubscriptionsOnOneURLAreTwoLanes() {
        var scheduler = Self.scheduler()
        let states = [
            Self.state("s1-1", order: "ord", subscription: "sub_1"),
            Self.state("s1-2", order: "ord", subscription: "sub_1"),
            Self.state("s2-1", order: "ord", subscription: "sub_2"),
            Self.state("s2-2", order: "ord", subscription: "sub_2"),
        ]
        let actions = scheduler.submit(states, submitted: Self.t0, policy: nil, now: Self.t0)
        #expect(Self.sent(actions) == ["s1-1", "s2-1"])
    }

    /// A retry is due at the attempt's time plus the schedule's delay, jittered by the injected random value: 10 s
    /// with ±20 % jitter is 8 s at the lowest draw, more at another.
    @Test(arguments: [UInt64(0), UInt64.max])
    func retryTimingFollowsTheInjectedRandom(_ random: UInt64) {
        var scheduler = Self.scheduler(jitter: 0.2)
        _ = scheduler.submit([Self.state("r", order: "o")], submitted: Self.t0, policy: nil, now: Self.t0)
        let actions = Self.complete(&scheduler, [Self.answer("r", 500)], random: random)
        var generator = FixedRandom(value: random)
        let delay = 10 * (1 + 0.2 * (2 * Double.random(in: 0..<1, using: &generator) - 1))
        #expect(random == 0 ? delay == 8 : delay > 8 && delay <= 12, "\(delay)")
        let due = Self.t0.addingTimeInterval(delay)
        #expect(Self.timers(actions) == [due])
        #expect(scheduler.state(of: DeliveryID("r"))?.phase == .pending(next: due))
        #expect(Self.sent(scheduler.timerFired(at: due, now: due.addingTimeInterval(-0.001))).isEmpty)
        #expect(Self.sent(scheduler.timerFired(at: due, now: due)) == ["r"])
    }

    /// A 410 stops that subscription only: its pending deliveries are dead-lettered unsent, later ones at once;
    /// another subscription and bare-URL deliveries to the same URL go on.
    @Test func goneStopsOneSubscriptionOnly() {
        var scheduler = Self.scheduler()
        let states = [
            Self.state("g1", order: "o1", subscription: "sub_gone"),
            Self.state("g2", order: "o1", subscription: "sub_gone"),
            Self.state("k1", order: "o1", subscription: "sub_kept"),
            Self.state("u1", order: "o1"),
        ]
        #expect(
            Self.sent(scheduler.submit(states, submitted: Self.t0, policy: nil, now: Self.t0)) == ["g1", "k1", "u1"]
        )
        let actions = Self.complete(&scheduler, [Self.answer("g1", 410)])
        let stopped = actions.compactMap { action -> DeliveryDestination? in
            if case .stopped(let destination, _) = action { return destination }
            return nil
        }
        #expect(stopped == [.subscription(SubscriptionID("sub_gone"))])
        #expect(Self.finals(actions) == ["g1 dead", "g2 dead"])
        #expect(scheduler.state(of: DeliveryID("k1")) != nil && scheduler.state(of: DeliveryID("u1")) != nil)

        let later = scheduler.submit(
            [
                Self.state("g3", order: "o2", subscription: "sub_gone"),
                Self.state("k2", order: "o2", subscription: "sub_kept"),
            ],
            submitted: Self.t0,
            policy: nil,
            now: Self.t0
        )
        #expect(Self.finals(later) == ["g3 dead"] && Self.sent(later) == ["k2"])
        // A resend to the subscription starts it again.
        var again = Self.state("g3", order: "o2", subscription: "sub_gone")
        again.kill(reason: "x")
        again.resend(at: Self.t0)
        #expect(Self.sent(scheduler.resend([again], submitted: Self.t0, now: Self.t0)) == ["g3"])
    }

    /// At most twice the connections are handed to the HTTP client; each answer lets the next one go.
    @Test func theWindowBoundsWhatIsHandedToTheClient() {
        // One receiver URL alone: no per-destination limit, the whole window is its.
        var scheduler = Self.scheduler(concurrency: 2, limit: nil)
        let states = (0..<10).map { Self.state("w\($0)", order: "o\($0)") }
        #expect(
            Self.sent(scheduler.submit(states, submitted: Self.t0, policy: nil, now: Self.t0)) == [
                "w0", "w1", "w2", "w3",
            ]
        )
        #expect(scheduler.inFlight == 4)
        #expect(Self.sent(Self.complete(&scheduler, [Self.answer("w0", 200)])) == ["w4"])
    }

    /// One receiver URL gets at most its limit of attempts: the rest of its due deliveries wait, other URLs use the
    /// room, and each answer from it lets its next one go.
    @Test func aDestinationGetsAtMostItsLimit() {
        var scheduler = Self.scheduler(concurrency: 4, limit: nil)
        #expect(scheduler.configuration.perDestination == 2)
        let slow = (0..<5).map { Self.state("slow\($0)", order: "o\($0)") }
        let fast = (0..<3).map { Self.state("fast\($0)", order: "o\($0)", url: Self.fast) }
        let actions = scheduler.submit(slow + fast, submitted: Self.t0, policy: nil, now: Self.t0)
        #expect(Self.sent(actions) == ["slow0", "slow1", "fast0", "fast1"])
        // A fast answer lets the fast URL's next one go; the slow URL is still at its limit.
        #expect(Self.sent(Self.complete(&scheduler, [Self.answer("fast0", 200, url: Self.fast)])) == ["fast2"])
        #expect(Self.sent(Self.complete(&scheduler, [Self.answer("slow0", 200)])) == ["slow2"])
        #expect(Self.sent(Self.complete(&scheduler, [Self.answer("slow1", 503)])) == ["slow3"])
        #expect(Self.sent(Self.complete(&scheduler, [Self.answer("slow2", 200)])) == ["slow4"])
    }

    /// The limit binds only while several URLs have pending deliveries: once the other URL's are done, the parked
    /// ones of the first get the whole window again.
    @Test func aDestinationLeftAloneGetsTheWholeWindow() {
        var scheduler = Self.scheduler(concurrency: 2, limit: nil)
        let slow = (0..<5).map { Self.state("slow\($0)", order: "o\($0)") }
        let fast = [Self.state("fast0", order: "o0", url: Self.fast)]
        #expect(
            Self.sent(scheduler.submit(slow + fast, submitted: Self.t0, policy: nil, now: Self.t0)) == [
                "slow0", "fast0",
            ]
        )
        let actions = Self.complete(&scheduler, [Self.answer("fast0", 200, url: Self.fast)])
        #expect(Self.sent(actions) == ["slow1", "slow2", "slow3"])
    }

    /// A lone receiver whose attempts got no answer (timeouts) is limited on its retry round, so deliveries to
    /// another receiver that arrive meanwhile find room; its first answer lifts the limit.
    @Test func aReceiverThatStoppedAnsweringIsLimitedWhenAlone() {
        var scheduler = Self.scheduler(concurrency: 2, limit: nil)
        let states = (0..<4).map { Self.state("h\($0)", order: "o\($0)") }
        #expect(Self.sent(scheduler.submit(states, submitted: Self.t0, policy: nil, now: Self.t0)).count == 4)
        let timeouts = Self.complete(&scheduler, (0..<4).map { Self.answer("h\($0)", nil) })
        let retry = Self.t0.addingTimeInterval(10)
        #expect(Self.timers(timeouts) == [retry])
        #expect(Self.sent(scheduler.timerFired(at: retry, now: retry)) == ["h0"])
        let answered = Self.complete(&scheduler, [Self.answer("h0", 200, at: retry)], now: retry)
        #expect(Self.sent(answered) == ["h1", "h2", "h3"])
    }

    /// A delivery killed while it waited for its URL's room (its subscription answered 410) does not take that
    /// room: the URL's next waiting delivery goes.
    @Test func aKilledWaitingDeliveryLeavesItsRoomToTheNext() {
        var scheduler = Self.scheduler(concurrency: 2, limit: nil)
        let states = [
            Self.state("a0", order: "o0", subscription: "sub_a"),
            Self.state("a1", order: "o1", subscription: "sub_a"),
            Self.state("b1", order: "o1", subscription: "sub_b"),
            Self.state("f0", order: "o0", url: Self.fast),
        ]
        #expect(Self.sent(scheduler.submit(states, submitted: Self.t0, policy: nil, now: Self.t0)) == ["a0", "f0"])
        let actions = Self.complete(&scheduler, [Self.answer("a0", 410)])
        #expect(Self.finals(actions) == ["a0 dead", "a1 dead"])
        #expect(Self.sent(actions) == ["b1"])
    }

    /// Journal lines gather and go out after a short wait, or at once when 256 are waiting; lines the disk refused
    /// stay first, in order, and are tried again a second later.
    @Test func journalLinesAreBatchedAndKeptWhenRefused() {
        var scheduler = Self.scheduler(concurrency: 256, journaled: true)
        let states = (0..<300).map { Self.state("j\($0)", order: "o\($0)") }
        _ = scheduler.submit(states, submitted: Self.t0, policy: nil, now: Self.t0)
        var actions = Self.complete(&scheduler, [Self.answer("j0", 200)])
        #expect(actions.contains { if case .flushJournal(0.02) = $0 { true } else { false } })
        #expect(!actions.contains { if case .journal = $0 { true } else { false } })
        let flushed = scheduler.journalTimerFired()
        guard case .journal(let first)? = flushed.first else {
            Issue.record("no journal write: \(flushed)")
            return
        }
        #expect(first.map(\.id) == [DeliveryID("j0")])
        actions = scheduler.journalFailed(first)
        #expect(actions.contains { if case .flushJournal(1) = $0 { true } else { false } })

        actions = Self.complete(&scheduler, (1..<256).map { Self.answer("j\($0)", 200) })
        // Stalled: nothing is written at 256 lines; the retry a second later takes them all, the refused one first.
        #expect(!actions.contains { if case .journal = $0 { true } else { false } })
        guard case .journal(let all)? = scheduler.journalTimerFired().first else {
            Issue.record("no journal write")
            return
        }
        #expect(all.map(\.id) == (0..<256).map { DeliveryID("j\($0)") })
        scheduler.journalWritten()
        actions = Self.complete(&scheduler, (256..<300).map { Self.answer("j\($0)", 200) })
        #expect(actions.contains { if case .flushJournal(0.02) = $0 { true } else { false } })
    }

    /// Once stopped nothing is sent; an attempt cut off by the stop stays pending as it was.
    @Test func stoppingSendsNothingAndKeepsCutOffAttemptsPending() {
        var scheduler = Self.scheduler()
        _ = scheduler.submit(
            [Self.state("s", order: "o"), Self.state("t", order: "p")],
            submitted: Self.t0,
            policy: nil,
            now: Self.t0
        )
        scheduler.stop()
        var cut = Self.answer("s", nil)
        cut.abandoned = true
        let actions = Self.complete(&scheduler, [cut])
        #expect(actions.isEmpty && scheduler.inFlight == 1)
        #expect(scheduler.state(of: DeliveryID("s"))?.attempts.isEmpty == true)
        #expect(
            Self.sent(scheduler.submit([Self.state("u", order: "q")], submitted: Self.t0, policy: nil, now: Self.t0))
                .isEmpty
        )
    }
}
