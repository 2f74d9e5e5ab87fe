import Foundation
import Testing

@testable import UCPSimKit

/// The SSE broadcaster's bounds, as a value driven directly: replay, a slow subscriber's `reset`, the stream cap,
/// keep-alives, and the end.
@Suite struct EventStreamTests {
    static func data(_ n: Int) -> [UInt8] { Array(#"{"n":\#(n)}"#.utf8) }

    static func ids(_ items: [EventStream.Item?]) -> [String] {
        items.map { item in
            switch item {
            case .event(let event): "\(event.id)"
            case .reset: "reset"
            case .keepAlive: "keep-alive"
            case nil: "end"
            }
        }
    }

    /// Reads `subscription` to its end (the stream must be finished first).
    static func drain(_ subscription: EventStream.Subscription) async -> [EventStream.Item?] {
        var items: [EventStream.Item?] = []
        while let item = await subscription.next() { items.append(item) }
        return items + [nil]
    }

    @Test func aSubscriberReadsEveryEventInOrderThenTheEnd() async throws {
        let stream = EventStream()
        let subscription = try #require(stream.subscribe())
        #expect(stream.publish("received", Self.data(1)) == 1)
        #expect(stream.publish("received", Self.data(2)) == 2)
        stream.finish()
        let items = await Self.drain(subscription)
        #expect(Self.ids(items) == ["1", "2", "end"])
        #expect(items.first == .event(EventStream.Event(id: 1, type: "received", data: Self.data(1))))
    }

    @Test func lastEventIDReplaysWhatIsKeptAfterItOrSaysReset() async throws {
        var limits = EventStream.Limits()
        limits.replay = 3
        let stream = EventStream(limits: limits)
        for n in 1...5 { stream.publish("received", Self.data(n)) }
        stream.finish()
        var replays: [String: [String]] = [:]
        for last in ["2", "3", "5", "1", "6", "abc"] {
            replays[last] = Self.ids(await Self.drain(try #require(stream.subscribe(lastEventID: last))))
        }
        #expect(replays["2"] == ["3", "4", "5", "end"], "3 to 5 are kept: nothing missed")
        #expect(replays["3"] == ["4", "5", "end"])
        #expect(replays["5"] == ["end"])
        #expect(replays["1"] == ["reset", "end"], "2 is no longer kept")
        #expect(replays["6"] == ["reset", "end"], "not an id of this stream (a previous run's)")
        #expect(replays["abc"] == ["reset", "end"])
    }

    @Test func aSubscriberThatFallsBehindGetsResetNotUnboundedMemory() async throws {
        var limits = EventStream.Limits()
        limits.queue = 4
        let stream = EventStream(limits: limits)
        let slow = try #require(stream.subscribe())
        let keeping = try #require(stream.subscribe())
        for n in 1...3 { stream.publish("received", Self.data(n)) }
        #expect(await keeping.next() == .event(EventStream.Event(id: 1, type: "received", data: Self.data(1))))
        for n in 4...10 { stream.publish("received", Self.data(n)) }
        #expect(await slow.next() == .reset(lastID: 10), "4 unread, then 5: its queue was dropped; 10 is the newest")
        // After its reset, the slow one follows again from the next event.
        let afterReset = stream.publish("received", Self.data(11))
        stream.finish()
        #expect(Self.ids(await Self.drain(slow)) == ["\(afterReset)", "end"])
        #expect(Self.ids(await Self.drain(keeping)).first == "reset", "it too fell 4 behind")
    }

    /// An event may carry a whole webhook body: the replay and each queue are bounded in bytes too.
    @Test func largeEventsAreBoundedInBytesNotOnlyInNumber() async throws {
        var limits = EventStream.Limits()
        limits.replayBytes = 2_500
        limits.queueBytes = 2_500
        let stream = EventStream(limits: limits)
        let slow = try #require(stream.subscribe())
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000)
        for _ in 1...2 { stream.publish("received", big) }
        stream.publish("received", big)
        let afterReset = stream.publish("received", big)
        stream.finish()
        #expect(Self.ids(await Self.drain(slow)) == ["reset", "end"], "3 KB unread is over 2.5 KB: reset")
        // The replay keeps the 2 newest (2 KB); an id before them is answered reset.
        #expect(
            Self.ids(await Self.drain(try #require(stream.subscribe(lastEventID: "2")))) == [
                "3", "\(afterReset)", "end",
            ]
        )
        #expect(Self.ids(await Self.drain(try #require(stream.subscribe(lastEventID: "1")))) == ["reset", "end"])
    }

    @Test func atMostTheStreamLimitSubscribeAtOnceAndClosingFreesASlot() throws {
        var limits = EventStream.Limits()
        limits.streams = 2
        let stream = EventStream(limits: limits)
        let first = try #require(stream.subscribe())
        let second = try #require(stream.subscribe())
        #expect(stream.subscribe() == nil)
        first.close()
        #expect(stream.subscriberCount == 1)
        let third = stream.subscribe()
        #expect(third != nil)
        second.close()
        third?.close()
        #expect(stream.subscriberCount == 0)
    }

    @Test func anIdleSubscriberReadsKeepAlivesAndAWaitingOneWakesForAnEvent() async throws {
        var limits = EventStream.Limits()
        limits.keepAlive = .milliseconds(20)
        let stream = EventStream(limits: limits)
        let subscription = try #require(stream.subscribe())
        #expect(await subscription.next() == .keepAlive)
        let waiting = Task { await subscription.next() }
        stream.publish("received", Self.data(1))
        var woke = await waiting.value
        // A keep-alive may win the race with the publish: the event is next then.
        if woke == .keepAlive { woke = await subscription.next() }
        #expect(woke == .event(EventStream.Event(id: 1, type: "received", data: Self.data(1))))
        #expect(String(decoding: stream.text(of: .keepAlive), as: UTF8.self) == ": keep-alive\n\n")
        #expect(
            String(decoding: stream.text(of: .reset(lastID: 7)), as: UTF8.self) == "id: 7\nevent: reset\ndata: {}\n\n"
        )
        #expect(
            String(decoding: stream.text(of: try #require(woke)), as: UTF8.self)
                == "id: 1\nevent: received\ndata: {\"n\":1}\n\n"
        )
    }

    /// Over real HTTP: the 33rd stream of a receiver is 503 `too_many_streams`; the 32 open ones end when the
    /// stream is finished.
    @Test func theThirtyThirdStreamIsRefused() async throws {
        let (receiver, server, client) = try await ListenInspectorTests.start()
        let streamClient = HTTPClient(workers: 33)
        let url = "\(server.baseURL)/v1/events/stream"
        let open = (0..<32).map { _ in Task { try await ListenInspectorTests.get(streamClient, url) } }
        while receiver.events.subscriberCount < 32 { try await Task.sleep(for: .milliseconds(5)) }
        let refused = try await ListenInspectorTests.get(client, url)
        receiver.events.finish()
        var statuses: [Int] = []
        for task in open { statuses.append(try await task.value.status) }
        await server.stop()
        await streamClient.shutdown()
        await client.shutdown()

        #expect(refused.status == 503)
        #expect(try ListenInspectorTests.object(refused)["code"] as? String == "too_many_streams")
        #expect(statuses == Array(repeating: 200, count: 32))
    }
}
