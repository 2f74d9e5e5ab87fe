import Foundation

/// One pass over an outbox journal: every event's state (without its body, which stays on disk), where each body
/// sits, and where each line is (for compaction).
///
/// The file is read in 4 MB chunks and split with `memchr`. An event line is parsed as JSON without its body (the
/// last member: only its position is kept), so opening a journal neither decodes nor holds the bodies.
struct JournalScan {
    /// One whole line of the journal.
    struct Line {
        let offset: UInt64
        let length: Int
        /// The event it belongs to (an index into `states`), or -1 for a line about no known event.
        let event: Int32
        let isEvent: Bool
    }

    private(set) var states: [DeliveryState] = []
    private(set) var bodies: [String: Outbox.BodyLocation] = [:]
    private(set) var lines: [Line] = []
    /// The length of the whole lines: a torn tail starts here.
    private(set) var complete: UInt64 = 0

    private var index: [String: Int] = [:]
    private var events: [WebhookEvent] = []
    private var targets: [String] = []
    private var attempts: [[AttemptRecord]] = []
    private var phases: [DeliveryState.Phase] = []
    /// Attempts before each event's current round (a redelivery or resend starts a new one).
    private var rounds: [Int] = []

    private static let bodyKey = Array("\"body\":\"".utf8)
    private static let bodyEnd = Array("\"}".utf8)

    init(reading handle: FileHandle, path: String) throws(UCPSimError) {
        var buffer: [UInt8] = []
        var base: UInt64 = 0
        var lineNumber = 0
        while true {
            let chunk: Data?
            do {
                chunk = try handle.read(upToCount: 1 << 22)
            } catch {
                throw UCPSimError(.noInput, "cannot read \(path): \(error)")
            }
            guard let chunk, !chunk.isEmpty else { break }
            buffer.append(contentsOf: chunk)
            let ends = Self.lineEnds(buffer)
            var start = 0
            for end in ends {
                lineNumber += 1
                if end > start {
                    let failure = buffer.withUnsafeBytes { bytes in
                        take(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), at: base + UInt64(start))
                    }
                    if let failure { throw UCPSimError(.dataError, "\(path):\(lineNumber): \(failure)") }
                }
                start = end + 1
            }
            buffer.removeFirst(start)
            base += UInt64(start)
        }
        complete = base
        states.reserveCapacity(events.count)
        for position in events.indices {
            var state = DeliveryState(
                event: events[position],
                target: targets[position],
                firstAttempt: Date(timeIntervalSince1970: 0)
            )
            state.restore(attempts: attempts[position], phase: phases[position], roundStart: rounds[position])
            states.append(state)
        }
        (index, events, targets, attempts, phases, rounds) = ([:], [], [], [], [], [])
    }

    /// The delivered events to drop so that `keep` remain, oldest first; nil until they are more than a quarter
    /// over `keep` (so a journal near the limit is not rewritten at every start).
    func oldestDelivered(beyond keep: Int) -> Set<Int>? {
        let delivered = states.indices.filter { states[$0].phase == .delivered }
        guard delivered.count > keep + keep / 4 else { return nil }
        return Set(delivered.prefix(delivered.count - max(0, keep)))
    }

    /// What remains after compaction dropped `dropped`: their states go, the bodies are where `moved` says.
    mutating func keep(excluding dropped: Set<Int>, bodies moved: [String: Outbox.BodyLocation], complete: UInt64) {
        states = states.indices.filter { !dropped.contains($0) }.map { states[$0] }
        bodies = moved
        lines = []
        self.complete = complete
    }

    /// Offsets of every `\n` in `buffer`.
    private static func lineEnds(_ buffer: [UInt8]) -> [Int] {
        buffer.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return [] }
            var ends: [Int] = []
            var start = 0
            while start < bytes.count, let found = memchr(base + start, 0x0A, bytes.count - start) {
                let end = base.distance(to: UnsafeRawPointer(found))
                ends.append(end)
                start = end + 1
            }
            return ends
        }
    }

    /// Where `"body":"` first occurs in `line`. JSON escapes every quote inside a string, so this is the key.
    private static func firstBodyKey(in line: UnsafeRawBufferPointer) -> Int? {
        guard let base = line.baseAddress else { return nil }
        var start = 0
        while line.count - start >= bodyKey.count, let quote = memchr(base + start, 0x22, line.count - start) {
            let position = base.distance(to: UnsafeRawPointer(quote))
            guard line.count - position >= bodyKey.count else { return nil }
            if memcmp(base + position, bodyKey, bodyKey.count) == 0 { return position }
            start = position + 1
        }
        return nil
    }

    /// Takes one line into the scan; returns what is wrong with it, if something is.
    private mutating func take(_ line: UnsafeRawBufferPointer, at offset: UInt64) -> String? {
        // An event line ends with its body: parse what comes before it, and only note where the body is.
        var json = Data(line)
        var body: Outbox.BodyLocation?
        if let found = Self.firstBodyKey(in: line), line.count >= 2, line[line.count - 2] == Self.bodyEnd[0],
            line[line.count - 1] == Self.bodyEnd[1]
        {
            let start = found + Self.bodyKey.count
            body = Outbox.BodyLocation(offset: offset + UInt64(start), length: line.count - 2 - start)
            json = Data(UnsafeRawBufferPointer(rebasing: line[..<start])) + Self.bodyEnd
        }
        guard let entry = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
            let kind = entry["k"] as? String, let id = entry["id"] as? String
        else {
            return "not an outbox entry (the journal is damaged)"
        }
        var position = index[id]
        switch kind {
        case "event":
            guard let timestamp = (entry["ts"] as? NSNumber)?.int64Value, let orderID = entry["order"] as? String,
                let target = entry["target"] as? String, let body
            else { return "malformed event entry" }
            let event = WebhookEvent(webhookID: id, timestamp: timestamp, orderID: orderID, body: [])
            if let position {
                events[position] = event
                targets[position] = target
            } else {
                position = events.count
                index[id] = events.count
                events.append(event)
                targets.append(target)
                attempts.append([])
                phases.append(.pending(next: Date(timeIntervalSince1970: 0)))
                rounds.append(0)
            }
            bodies[id] = body
        case "attempt", "phase":
            guard let position else { break }
            if kind == "attempt" {
                attempts[position].append(
                    AttemptRecord(
                        number: entry["n"] as? Int ?? 0,
                        at: Date(timeIntervalSince1970: (entry["at"] as? NSNumber)?.doubleValue ?? 0),
                        status: entry["status"] as? Int,
                        milliseconds: (entry["ms"] as? NSNumber)?.doubleValue ?? 0,
                        detail: entry["detail"] as? String ?? ""
                    )
                )
            }
            phases[position] = Outbox.phase(entry)
            if kind == "phase", case .pending = phases[position] {
                // A redelivery or resend: a new round of attempts, perhaps to another receiver.
                rounds[position] = attempts[position].count
                if let target = entry["target"] as? String { targets[position] = target }
            }
        default:
            break
        }
        lines.append(
            Line(offset: offset, length: line.count, event: Int32(position ?? -1), isEvent: kind == "event")
        )
        return nil
    }
}

/// The outbox as `Outbox.inspect` read it: its events in order, and their bodies on demand.
public final class OutboxSnapshot: Sendable {
    public let states: [DeliveryState]
    private let bodies: [String: Outbox.BodyLocation]
    private let reader: FileHandle

    init(states: [DeliveryState], bodies: [String: Outbox.BodyLocation], reader: FileHandle) {
        self.states = states
        self.bodies = bodies
        self.reader = reader
    }

    deinit {
        try? reader.close()
    }

    /// An event's body, byte for byte as it is sent; nil when the journal has none for it.
    public func body(of webhookID: String) -> [UInt8]? {
        bodies[webhookID].flatMap { Outbox.readBody(at: $0, from: reader) }
    }
}
