import Foundation
import Synchronization

/// The event stream's side of the inspector: events rendered once into a bounded ring, and a bounded queue per open
/// stream. A stream that falls `streamQueueLimit` events behind loses its queue and gets `reset` (reload the list)
/// instead: a client that never reads costs at most that many shared frames.
extension DeliveryInspector {
    /// Why a stream cannot be opened.
    enum StreamRefusal: Error {
        case tooMany(Int)
        case closed
    }

    /// What a stream writes next: frames, and whether it ends after them.
    struct StreamWork: Sendable {
        var frames: [UInt8] = []
        var done = false
    }

    /// Renders an event, keeps it for replay and queues it to every open stream. Called with the lock held.
    func broadcast(_ name: String, _ data: [String: Any], into state: inout State) {
        state.lastEvent += 1
        let id = state.lastEvent
        var frame = Array("id: \(id)\nevent: \(name)\ndata: ".utf8)
        frame += DeliveryJSON.encode(data)
        frame += Array("\n\n".utf8)
        let event = Event(id: id, frame: frame)
        state.ring.append(event)
        if state.ring.count - state.ringHead > options.replayLimit {
            state.ringHead += 1
            if state.ringHead > 1024 && state.ringHead * 2 > state.ring.count {
                state.ring.removeFirst(state.ringHead)
                state.ringHead = 0
            }
        }
        for key in state.clients.keys {
            guard var client = state.clients[key], !client.closed else { continue }
            if !client.reset {
                if client.events.count >= options.streamQueueLimit {
                    client.events = []
                    client.reset = true
                } else {
                    client.events.append(event)
                }
            }
            state.clients[key] = client
            client.wake.yield()
        }
    }

    /// Opens a stream: its id, and the stream of wake-ups its writer waits on. `lastEventID` (the header's text)
    /// queues the kept events after it, or `reset` when they are not all kept any more (or it is not one of ours).
    func openStream(lastEventID: String?) throws(StreamRefusal) -> (id: Int, wakes: AsyncStream<Void>) {
        let (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let opened: Result<Int, StreamRefusal> = state.withLock { state in
            if state.closed { return .failure(.closed) }
            if state.clients.count >= options.maxStreams { return .failure(.tooMany(options.maxStreams)) }
            var client = Client(wake: wake)
            if let lastEventID {
                let kept = state.ring[state.ringHead...]
                let oldest = kept.first?.id ?? state.lastEvent + 1
                if let seen = UInt64(lastEventID.trimmingCharacters(in: .whitespaces)), seen <= state.lastEvent,
                    seen + 1 >= oldest
                {
                    client.events = kept.filter { $0.id > seen }
                } else {
                    client.reset = true
                }
            }
            state.nextClient += 1
            state.clients[state.nextClient] = client
            return .success(state.nextClient)
        }
        let id = try opened.get()
        wake.yield()
        return (id, wakes)
    }

    /// What stream `id` writes now (its queued frames, `reset`, a keep-alive comment), emptying its queue.
    func take(_ id: Int) -> StreamWork {
        state.withLock { state in
            guard var client = state.clients[id] else { return StreamWork(done: true) }
            var work = StreamWork()
            if client.reset {
                work.frames += Array("id: \(state.lastEvent)\nevent: reset\ndata: {}\n\n".utf8)
                client.reset = false
            }
            for event in client.events { work.frames += event.frame }
            client.events = []
            if client.keepAlive && work.frames.isEmpty { work.frames += Array(": keep-alive\n\n".utf8) }
            client.keepAlive = false
            work.done = client.closed
            state.clients[id] = client
            return work
        }
    }

    /// Asks stream `id` to write a keep-alive comment (when it has nothing else to write).
    func keepAlive(_ id: Int) {
        state.withLock { state in
            guard state.clients[id] != nil else { return }
            state.clients[id]?.keepAlive = true
            state.clients[id]?.wake.yield()
        }
    }

    /// Forgets stream `id` (its client went, or it ended).
    func closeStream(_ id: Int) {
        let client = state.withLock { $0.clients.removeValue(forKey: id) }
        client?.wake.finish()
    }

    /// Ends every open stream (after what is queued) and refuses new ones: the server can then stop without
    /// waiting for clients that never hang up.
    public func closeStreams() {
        let wakes = state.withLock { state in
            state.closed = true
            for key in state.clients.keys { state.clients[key]?.closed = true }
            return state.clients.values.map(\.wake)
        }
        for wake in wakes { wake.yield() }
    }
}
