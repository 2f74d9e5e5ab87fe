import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization

/// The Server-Sent Events broadcaster of the inspector's live views (`serve`'s and `listen`'s `/v1/events/stream`):
/// `publish` gives each event the next sequence number; each subscriber reads them in order from a bounded queue.
///
/// Everything is bounded, in events and in bytes (an event may carry a whole webhook body): the last `Limits.replay`
/// events (at most `Limits.replayBytes` of data) are kept for `Last-Event-ID` replay, each subscriber's queue holds at
/// most `Limits.queue` events and `Limits.queueBytes` (one that falls further behind loses them and reads `reset`
/// instead: reload, then follow again), and at most `Limits.streams` subscribers exist at once.
public final class EventStream: Sendable {
    /// One published event.
    public struct Event: Sendable, Equatable {
        /// The sequence number (`id:`), from 1.
        public let id: UInt64
        /// The event type (`event:`).
        public let type: String
        /// The data, one JSON document (`data:`).
        public let data: [UInt8]
    }

    /// What a subscriber reads next.
    public enum Item: Sendable, Equatable {
        case event(Event)
        /// Events were missed (a full queue, or a `Last-Event-ID` older than the replay kept): reload. `lastID` is the
        /// newest event's id when it was read (what follows it comes next), so a client that reloads continues there.
        case reset(lastID: UInt64)
        /// Nothing happened for `Limits.keepAlive`: a comment line keeps proxies and the client's reader awake.
        case keepAlive
    }

    /// The bounds.
    public struct Limits: Sendable {
        /// How many of the newest events are kept for `Last-Event-ID` replay.
        public var replay = 1_000
        /// How many bytes of data the replay keeps at most (the oldest events go first; the newest is always kept).
        public var replayBytes = 16 * 1024 * 1024
        /// How many events a subscriber may have unread before it gets `reset` instead (more than `replay`, so a
        /// `Last-Event-ID` replay of everything kept fits).
        public var queue = 1_024
        /// How many bytes of data a subscriber may have unread before it gets `reset` instead.
        public var queueBytes = 8 * 1024 * 1024
        /// How many subscribers may exist at once.
        public var streams = 32
        /// How long a subscriber waits before it reads `keepAlive`.
        public var keepAlive: Duration = .seconds(15)
        /// The reconnection delay the stream announces (`retry:`), in milliseconds.
        public var retryMilliseconds = 2_000

        public init() {}
    }

    private struct Client {
        var queue: [Event] = []
        var queueBytes = 0
        var reset = false
        var finished = false
        var waiter: CheckedContinuation<Item?, Never>?
        var waiterNumber: UInt64 = 0
        var timer: Task<Void, Never>?
    }

    private struct State {
        var nextID: UInt64 = 1
        var kept: [Event] = []
        var keptBytes = 0
        var clients: [UInt64: Client] = [:]
        var nextClient: UInt64 = 1
        var finished = false
    }

    /// The bounds this stream keeps.
    public let limits: Limits
    private let state = Mutex(State())

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// How many subscribers exist now.
    public var subscriberCount: Int { state.withLock { $0.clients.count } }

    /// How many events are kept for `Last-Event-ID` replay now.
    public var keptCount: Int { state.withLock { $0.kept.count } }

    /// Each subscriber's queue: events waiting for its client (at most `Limits.queue`), and whether it has fallen
    /// behind and reads `reset` next.
    public var backlogs: [(queued: Int, reset: Bool)] {
        state.withLock { $0.clients.values.map { ($0.queue.count, $0.reset) } }
    }

    /// Whether `finish()` was called (the server is stopping).
    public var isFinished: Bool { state.withLock { $0.finished } }

    /// The newest event's sequence number (0 before the first).
    public var lastID: UInt64 { state.withLock { $0.nextID - 1 } }

    /// Publishes an event to every subscriber and to the replay kept; answers its sequence number.
    @discardableResult
    public func publish(_ type: String, _ data: [UInt8]) -> UInt64 {
        var wake: [(CheckedContinuation<Item?, Never>, Item)] = []
        let id = state.withLock { state in
            let event = Event(id: state.nextID, type: type, data: data)
            state.nextID += 1
            state.kept.append(event)
            state.keptBytes += data.count
            var drop = 0
            while drop < state.kept.count - 1,
                state.kept.count - drop > limits.replay || state.keptBytes > limits.replayBytes
            {
                state.keptBytes -= state.kept[drop].data.count
                drop += 1
            }
            if drop > 0 { state.kept.removeFirst(drop) }
            for key in state.clients.keys {
                guard var client = state.clients[key], !client.finished else { continue }
                if client.reset {
                    // Already told to reload: what it reloads includes this event.
                } else if client.queue.count >= limits.queue
                    || (!client.queue.isEmpty && client.queueBytes + data.count > limits.queueBytes)
                {
                    client.queue.removeAll()
                    client.queueBytes = 0
                    client.reset = true
                } else {
                    client.queue.append(event)
                    client.queueBytes += data.count
                }
                if let waiter = client.waiter, let item = Self.take(&client, lastID: event.id) {
                    client.waiter = nil
                    client.timer?.cancel()
                    client.timer = nil
                    wake.append((waiter, item))
                }
                state.clients[key] = client
            }
            return event.id
        }
        for (waiter, item) in wake { waiter.resume(returning: item) }
        return id
    }

    /// A new subscriber, after `lastEventID` (the events kept after it come first; `reset` first when some after it
    /// are no longer kept, or it is not one of this stream's ids); nil when `Limits.streams` exist already.
    public func subscribe(lastEventID: String? = nil) -> Subscription? {
        let number: UInt64? = state.withLock { state in
            guard state.clients.count < limits.streams else { return nil }
            var client = Client()
            client.finished = state.finished
            if let lastEventID {
                let last = UInt64(lastEventID.trimmingCharacters(in: .whitespaces))
                let oldestKept = state.kept.first?.id ?? state.nextID
                if let last, last < state.nextID, last + 1 >= oldestKept {
                    let missed = state.kept.filter { $0.id > last }
                    let bytes = missed.reduce(0) { $0 + $1.data.count }
                    if missed.count > limits.queue || (missed.count > 1 && bytes > limits.queueBytes) {
                        client.reset = true
                    } else {
                        client.queue = missed
                        client.queueBytes = bytes
                    }
                } else {
                    client.reset = true
                }
            }
            let number = state.nextClient
            state.nextClient += 1
            state.clients[number] = client
            return number
        }
        return number.map { Subscription(stream: self, number: $0) }
    }

    /// Ends every subscription (each reads what it has queued, then its end) and every later one at once: the
    /// server is stopping.
    public func finish() {
        let waiters: [CheckedContinuation<Item?, Never>] = state.withLock { state in
            state.finished = true
            var waiters: [CheckedContinuation<Item?, Never>] = []
            for key in state.clients.keys {
                guard var client = state.clients[key] else { continue }
                client.finished = true
                if let waiter = client.waiter {
                    waiters.append(waiter)
                    client.waiter = nil
                    client.timer?.cancel()
                    client.timer = nil
                }
                state.clients[key] = client
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    /// The next item of a client: `reset` first, then its queue in order; nil when there is none now. `lastID` is
    /// the newest event's id.
    private static func take(_ client: inout Client, lastID: UInt64) -> Item? {
        if client.reset {
            client.reset = false
            return .reset(lastID: lastID)
        }
        if !client.queue.isEmpty {
            let event = client.queue.removeFirst()
            client.queueBytes -= event.data.count
            return .event(event)
        }
        return nil
    }

    /// What a subscriber reads next, or nil at the end.
    fileprivate func next(_ number: UInt64) async -> Item? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Item?, Never>) in
                enum Now {
                    case answer(Item?)
                    case wait(UInt64)
                }
                let now: Now = state.withLock { state in
                    guard var client = state.clients[number] else { return .answer(nil) }
                    if let item = Self.take(&client, lastID: state.nextID - 1) {
                        state.clients[number] = client
                        return .answer(item)
                    }
                    if client.finished { return .answer(nil) }
                    client.waiterNumber += 1
                    client.waiter = continuation
                    state.clients[number] = client
                    return .wait(client.waiterNumber)
                }
                switch now {
                case .answer(let item):
                    continuation.resume(returning: item)
                case .wait(let waiterNumber):
                    let timer = Task { [limits] in
                        try? await Task.sleep(for: limits.keepAlive)
                        guard !Task.isCancelled else { return }
                        self.wake(number, waiterNumber, with: .keepAlive)
                    }
                    let stale = state.withLock { state -> Bool in
                        guard var client = state.clients[number], client.waiter != nil,
                            client.waiterNumber == waiterNumber
                        else { return true }
                        client.timer = timer
                        state.clients[number] = client
                        return false
                    }
                    if stale { timer.cancel() }
                }
            }
        } onCancel: {
            self.close(number)
        }
    }

    /// Resumes a waiting subscriber with `item`, if it still waits in the same `next` call.
    private func wake(_ number: UInt64, _ waiterNumber: UInt64, with item: Item) {
        let waiter: CheckedContinuation<Item?, Never>? = state.withLock { state in
            guard var client = state.clients[number], client.waiterNumber == waiterNumber,
                let waiter = client.waiter
            else { return nil }
            client.waiter = nil
            client.timer = nil
            state.clients[number] = client
            return waiter
        }
        waiter?.resume(returning: item)
    }

    /// Removes a subscriber (its slot is free again); a `next` it waits in ends.
    fileprivate func close(_ number: UInt64) {
        let client = state.withLock { $0.clients.removeValue(forKey: number) }
        client?.timer?.cancel()
        client?.waiter?.resume(returning: nil)
    }

    /// One subscriber: read it with `next()` until nil; `close()` it when done (a cancelled `next` closes it too).
    public final class Subscription: Sendable {
        private let stream: EventStream
        private let number: UInt64

        fileprivate init(stream: EventStream, number: UInt64) {
            self.stream = stream
            self.number = number
        }

        /// The next item, waiting for one (at most `Limits.keepAlive`, then `keepAlive`); nil at the end.
        public func next() async -> Item? { await stream.next(number) }

        /// Ends this subscription and frees its slot.
        public func close() { stream.close(number) }

        deinit { stream.close(number) }
    }

    /// The SSE text of one item.
    public func text(of item: Item) -> [UInt8] {
        switch item {
        case .keepAlive:
            return Array(": keep-alive\n\n".utf8)
        case .reset(let lastID):
            return Array("id: \(lastID)\nevent: reset\ndata: {}\n\n".utf8)
        case .event(let event):
            var text = "id: \(event.id)\nevent: \(event.type)\n"
            for line in String(decoding: event.data, as: UTF8.self).split(
                separator: "\n",
                omittingEmptySubsequences: false
            ) {
                text += "data: \(line)\n"
            }
            return Array((text + "\n").utf8)
        }
    }

    /// The answer to `GET …/events/stream`: `text/event-stream`, starting with `retry:`, then the subscriber's items
    /// until the stream is finished, the client goes away, or the server shuts down gracefully. Throws 503
    /// `too_many_streams` when `Limits.streams` exist already (`Retry-After: 2`). Once finished, a new one reads its
    /// replay, then its end.
    public func response(to request: Request) throws(APIError) -> Response {
        let last = HTTPField.Name("Last-Event-ID").flatMap { request.headers[$0] }
        guard let subscription = subscribe(lastEventID: last) else {
            var error = APIError(
                .serviceUnavailable,
                code: "too_many_streams",
                "\(limits.streams) event streams are open already; close one or try again later"
            )
            error.headers[.retryAfter] = "2"
            throw error
        }
        var headers: HTTPFields = [:]
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        let retry = limits.retryMilliseconds
        let body = ResponseBody { [self] writer in
            do {
                try await withGracefulShutdownHandler {
                    try await writer.write(ByteBuffer(string: "retry: \(retry)\n\n"))
                    while let item = await subscription.next() {
                        try await writer.write(ByteBuffer(bytes: text(of: item)))
                    }
                } onGracefulShutdown: {
                    subscription.close()
                }
            } catch {
                subscription.close()
                throw error
            }
            subscription.close()
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}
