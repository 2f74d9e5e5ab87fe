import Foundation
import Testing
@testable import UCPSimKit

/// Schedule math on a virtual clock: exact attempt times, no I/O.
@Suite struct RetryPolicyTests {
    static let t0 = Date(timeIntervalSince1970: 1_775_913_000)

    func attempt(_ number: Int, at: Date, status: Int?) -> AttemptRecord {
        AttemptRecord(
            number: number,
            at: at,
            status: status,
            milliseconds: 1,
            detail: status == nil ? "connection refused" : ""
        )
    }

    @Test func defaultScheduleHasAFastFirstRetryThenStandardWebhooksDelays() {
        #expect(RetryPolicy.standard.delays == [1, 5, 300, 1800, 7200, 18000, 36000, 36000])
        #expect(RetryPolicy.standard.maxAttempts == 9)
        #expect(RetryPolicy.standard.delays[0] <= 2)
    }

    @Test func failingEventWalksTheWholeScheduleAtExactTimesThenDies() {
        let policy = RetryPolicy(delays: RetryPolicy.standard.delays, jitter: 0, retry4xx: false)
        var state = DeliveryState(event: TestSupport.event(), target: "http://x/", firstAttempt: Self.t0)
        var now = Self.t0
        var times: [TimeInterval] = []
        for number in 1...9 {
            times.append(now.timeIntervalSince(Self.t0))
            let decision = state.record(
                attempt(number, at: now, status: 503),
                retryAfter: nil,
                policy: policy,
                random: 0.5
            )
            if case .retry(let next) = decision { now = next }
        }
        #expect(times == [0, 1, 6, 306, 2106, 9306, 27306, 63306, 99306])
        #expect(state.phase == .dead(reason: "HTTP 503 after 9 attempts"))
    }

    @Test func jitterStaysWithinItsBounds() {
        let policy = RetryPolicy(delays: [100], jitter: 0.2, retry4xx: false)
        #expect(policy.delay(afterAttempt: 1, retryAfter: nil, random: 0) == 80)
        #expect(policy.delay(afterAttempt: 1, retryAfter: nil, random: 0.5) == 100)
        #expect(policy.delay(afterAttempt: 1, retryAfter: nil, random: 0.999_999)! < 120)
        #expect(policy.delay(afterAttempt: 2, retryAfter: nil, random: 0.5) == nil)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let status: Int?
        let retry4xx: Bool
        let expected: String
        var testDescription: String { "\(status.map(String.init) ?? "no response") → \(expected)" }
    }

    @Test(arguments: [
        Case(status: 200, retry4xx: false, expected: "delivered"),
        Case(status: 204, retry4xx: false, expected: "delivered"),
        Case(status: 500, retry4xx: false, expected: "retry"),
        Case(status: 503, retry4xx: false, expected: "retry"),
        Case(status: 408, retry4xx: false, expected: "retry"),
        Case(status: 429, retry4xx: false, expected: "retry"),
        Case(status: nil, retry4xx: false, expected: "retry"),
        Case(status: 301, retry4xx: false, expected: "retry"),
        Case(status: 400, retry4xx: false, expected: "dead"),
        Case(status: 401, retry4xx: false, expected: "dead"),
        Case(status: 401, retry4xx: true, expected: "retry"),
        Case(status: 410, retry4xx: false, expected: "gone"),
        Case(status: 410, retry4xx: true, expected: "gone"),
    ])
    func statusesAreClassified(_ test: Case) {
        let policy = RetryPolicy(delays: [1, 2], jitter: 0, retry4xx: test.retry4xx)
        var state = DeliveryState(event: TestSupport.event(), target: "http://x/", firstAttempt: Self.t0)
        let decision = state.record(
            attempt(1, at: Self.t0, status: test.status),
            retryAfter: nil,
            policy: policy,
            random: 0
        )
        let name: String
        switch decision {
        case .delivered: name = "delivered"
        case .retry(let at): name = at == Self.t0.addingTimeInterval(1) ? "retry" : "retry at \(at)"
        case .dead: name = "dead"
        case .endpointGone: name = "gone"
        }
        #expect(name == test.expected)
    }

    @Test func retryAfterSecondsAndDatesAreHonoured() {
        let policy = RetryPolicy(delays: [1, 1], jitter: 0, retry4xx: false)
        var state = DeliveryState(event: TestSupport.event(), target: "http://x/", firstAttempt: Self.t0)
        #expect(
            state.record(attempt(1, at: Self.t0, status: 429), retryAfter: "30", policy: policy, random: 0)
                == .retry(at: Self.t0 + 30)
        )
        let date = "Sat, 11 Apr 2026 13:12:00 GMT"  // t0 + 120 s
        let second = Self.t0 + 30
        #expect(
            state.record(attempt(2, at: second, status: 503), retryAfter: date, policy: policy, random: 0)
                == .retry(at: Self.t0 + 120)
        )
        #expect(RetryPolicy.parseRetryAfter("soon", now: Self.t0) == nil)
    }

    @Test func redeliveryReopensADeadLetterWithTheSameEvent() {
        var state = DeliveryState(event: TestSupport.event(), target: "http://x/", firstAttempt: Self.t0)
        state.record(attempt(1, at: Self.t0, status: 400), retryAfter: nil, policy: .standard, random: 0)
        #expect(state.phase == .dead(reason: "HTTP 400 (not retried)"))
        state.redeliver(at: Self.t0 + 10)
        #expect(state.phase == .pending(next: Self.t0 + 10))
        #expect(state.attempts.count == 1)
    }

    @Test func schedulesParse() {
        #expect(RetryPolicy.parseSchedule("1s,5s,5m,30m,2h,1d") == [1, 5, 300, 1800, 7200, 86400])
        #expect(RetryPolicy.parseSchedule("none") == [])
        #expect(RetryPolicy.parseSchedule("1s,soon") == nil)
    }
}
