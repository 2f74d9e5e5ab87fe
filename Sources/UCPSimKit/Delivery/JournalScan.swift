import Foundation

/// One pass over an outbox journal: every event's state (without its body, which stays on disk), where each body
/// sits, and where each line is (for compaction).
///
/// The file is read in 4 MB chunks and split with `memchr`. An event line is parsed as JSON without its body's text
/// (only its position is kept, wherever the member sits in the line), so opening a journal neither decodes nor holds
/// the bodies. A line that is not an outbox entry is noted as damaged (with its line number) and skipped: readers go
/// on, writers refuse until `ucpsim deliveries repair` sets it aside.
struct JournalScan {
    /// A line that is not an outbox entry.
    struct Damage {
        /// 1-based.
        let number: Int
        let offset: UInt64
        let length: Int
    }

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
    /// Lines that are not outbox entries, in file order.
    private(set) var damaged: [Damage] = []
    /// The bytes after the last newline (a write cut short), if any.
    private(set) var tailLength = 0
    /// The whole lines (newlines) read, empty ones included.
    private(set) var lineCount = 0

    /// The line numbers of `damaged`.
    var damagedLines: [Int] { damaged.map(\.number) }

    private var index: [String: Int] = [:]
    private var events: [WebhookEvent] = []
    /// What each event line says about its delivery beyond the event (absent: today's defaults).
    private var routes: [Route] = []
    private var targets: [String] = []
    private var attempts: [[AttemptRecord]] = []
    private var phases: [DeliveryState.Phase] = []
    /// Attempts before each event's current round (a redelivery or resend starts a new one).
    private var rounds: [Int] = []

    private static let bodyKey = Array("\"body\":\"".utf8)
    private static let headersKey = Array("\"hdr\":[".utf8)
    /// Whether attempts keep their recorded request headers (`hdr`); without, those are skipped unparsed.
    private let keepHeaders: Bool

    /// Scans the journal. `headers: false` leaves the attempts' recorded request headers unparsed (a listing needs
    /// none: they are most of an attempt line).
    init(reading handle: FileHandle, path: String, headers: Bool = true) throws(UCPSimError) {
        keepHeaders = headers
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
                    let taken = buffer.withUnsafeBytes { bytes in
                        take(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), at: base + UInt64(start))
                    }
                    if !taken {
                        damaged.append(Damage(number: lineNumber, offset: base + UInt64(start), length: end - start))
                    }
                }
                start = end + 1
            }
            buffer.removeFirst(start)
            base += UInt64(start)
        }
        complete = base
        tailLength = buffer.count
        lineCount = lineNumber
        states.reserveCapacity(events.count)
        for position in events.indices {
            let route = routes[position]
            var state = DeliveryState(
                id: route.id,
                event: events[position],
                eventType: route.eventType,
                subscription: route.subscription,
                dialect: route.dialect,
                target: targets[position],
                firstAttempt: Date(timeIntervalSince1970: 0)
            )
            state.restore(attempts: attempts[position], phase: phases[position], roundStart: rounds[position])
            states.append(state)
        }
        (index, events, targets, attempts, phases, rounds, routes) = ([:], [], [], [], [], [], [])
    }

    /// An event line's delivery fields: the delivery id (`id`), its subscription (`sub`), dialect and event type.
    /// Lines written before subscriptions have none of these but `id`, which was the event's id too.
    private struct Route {
        let id: DeliveryID
        let subscription: SubscriptionID?
        let dialect: DialectName
        let eventType: EventType
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

    /// Where `key` (a member's name with its quotes, colon and the value's first byte) first occurs in `line`, from
    /// `from`. JSON escapes every quote inside a string, so a match is the member.
    private static func first(_ key: [UInt8], in line: UnsafeRawBufferPointer, from: Int = 0) -> Int? {
        guard let base = line.baseAddress else { return nil }
        var start = from
        while line.count - start >= key.count, let quote = memchr(base + start, 0x22, line.count - start) {
            let position = base.distance(to: UnsafeRawPointer(quote))
            guard line.count - position >= key.count else { return nil }
            if memcmp(base + position, key, key.count) == 0 { return position }
            start = position + 1
        }
        return nil
    }

    /// The inside of the JSON array whose `[` is just before `start`: up to its matching `]`, strings skipped.
    private static func arrayInside(_ line: UnsafeRawBufferPointer, from start: Int) -> Range<Int>? {
        var depth = 1
        var inString = false
        var position = start
        while position < line.count {
            let byte = line[position]
            if inString {
                if byte == 0x5C {
                    position += 1
                } else if byte == 0x22 {
                    inString = false
                }
            } else if byte == 0x22 {
                inString = true
            } else if byte == 0x5B {
                depth += 1
            } else if byte == 0x5D {
                depth -= 1
                if depth == 0 { return start..<position }
            }
            position += 1
        }
        return nil
    }

    /// One line parsed: its members, with an event's body text left out (an empty string in `entry`) and located
    /// instead (`body`, relative to the line's start), and likewise an attempt's recorded headers (an empty `hdr`
    /// array in `entry`, the inside located in `headers`). Nil when the line is not an outbox entry.
    static func parse(_ line: UnsafeRawBufferPointer) -> (
        entry: [String: Any], kind: String, id: String, body: Range<Int>?, headers: Range<Int>?
    )? {
        var body: Range<Int>?
        var headers: Range<Int>?
        if let found = first(bodyKey, in: line), let base = line.baseAddress {
            // Base64 has no quote: the body's text ends at the next one, wherever the member sits in the line (a
            // later version may add members after it).
            let start = found + bodyKey.count
            guard let quote = memchr(base + start, 0x22, line.count - start) else { return nil }
            body = start..<base.distance(to: UnsafeRawPointer(quote))
        }
        if let found = first(headersKey, in: line) {
            // Most of an attempt line, and read only when wanted (`headers(in:)`): an empty array in the members.
            guard let inside = arrayInside(line, from: found + headersKey.count) else { return nil }
            headers = inside
        }
        // The members without the parts located instead.
        var json = Data()
        json.reserveCapacity(min(line.count, 1024))
        var kept = 0
        for cut in [body, headers].compactMap({ $0 }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            guard cut.lowerBound >= kept else { return nil }
            json.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[kept..<cut.lowerBound]))
            kept = cut.upperBound
        }
        json.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[kept...]))
        guard let entry = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
            let kind = entry["k"] as? String, let id = entry["id"] as? String
        else { return nil }
        if kind == "event" {
            guard (entry["ts"] as? NSNumber) != nil, entry["order"] is String, entry["target"] is String, body != nil
            else { return nil }
            // A dialect or event type this version does not know is not an entry it can send.
            if let dialect = entry["dialect"], (dialect as? String).flatMap(DialectName.init(rawValue:)) == nil {
                return nil
            }
            if let type = entry["type"], (type as? String).flatMap(EventType.init(rawValue:)) == nil { return nil }
            if let event = entry["event"], !(event is String) { return nil }
            if let subscription = entry["sub"], !(subscription is String) { return nil }
        }
        return (entry, kind, id, body, headers)
    }

    /// The request headers an attempt line records, parsed from the inside of its `hdr` array (as `parse` located
    /// it); nil when they are not pairs of strings.
    static func headers(in line: UnsafeRawBufferPointer, at inside: Range<Int>) -> HTTPFieldList? {
        let array = UnsafeRawBufferPointer(rebasing: line[(inside.lowerBound - 1)...inside.upperBound])
        return headers(try? JSONSerialization.jsonObject(with: Data(array)))
    }

    /// Takes one line into the scan; false when it is not an outbox entry (damaged).
    private mutating func take(_ line: UnsafeRawBufferPointer, at offset: UInt64) -> Bool {
        guard let (entry, kind, id, bodyRange, headersRange) = Self.parse(line) else { return false }
        var position = index[id]
        switch kind {
        case "event":
            guard let timestamp = (entry["ts"] as? NSNumber)?.int64Value, let orderID = entry["order"] as? String,
                let target = entry["target"] as? String, let bodyRange
            else { return false }
            let eventID = entry["event"] as? String ?? id
            let event = WebhookEvent(webhookID: eventID, timestamp: timestamp, orderID: orderID, body: [])
            let route = Route(
                id: DeliveryID(id),
                subscription: (entry["sub"] as? String).map(SubscriptionID.init),
                dialect: (entry["dialect"] as? String).flatMap(DialectName.init(rawValue:)) ?? .ucp,
                eventType: (entry["type"] as? String).flatMap(EventType.init(rawValue:))
                    ?? DeliveryState.defaultEventType
            )
            if let position {
                events[position] = event
                targets[position] = target
                routes[position] = route
            } else {
                position = events.count
                index[id] = events.count
                events.append(event)
                targets.append(target)
                routes.append(route)
                attempts.append([])
                phases.append(.pending(next: Date(timeIntervalSince1970: 0)))
                rounds.append(0)
            }
            bodies[id] = Outbox.BodyLocation(
                offset: offset + UInt64(bodyRange.lowerBound),
                length: bodyRange.count,
                check: Outbox.BodyCheck(size: entry["len"], hex: entry["sha256"])
            )
        case "attempt", "phase":
            guard let position else { break }
            if kind == "attempt" {
                var record = AttemptRecord(
                    number: entry["n"] as? Int ?? 0,
                    at: Date(timeIntervalSince1970: (entry["at"] as? NSNumber)?.doubleValue ?? 0),
                    status: entry["status"] as? Int,
                    milliseconds: (entry["ms"] as? NSNumber)?.doubleValue ?? 0,
                    detail: entry["detail"] as? String ?? ""
                )
                if keepHeaders, let headersRange { record.sentHeaders = Self.headers(in: line, at: headersRange) }
                if record.sentHeaders != nil {
                    // Only the newest request is shown: earlier attempts' headers need not stay in memory.
                    for earlier in attempts[position].indices { attempts[position][earlier].sentHeaders = nil }
                }
                attempts[position].append(record)
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
        return true
    }
}

extension JournalScan {
    /// An attempt line's `hdr`: the request's header fields as sent, `[["Name","value"],…]`. Nil when absent (a
    /// journal written before they were recorded, an attempt that never built its request) or not that shape.
    static func headers(_ value: Any?) -> HTTPFieldList? {
        guard let pairs = value as? [Any] else { return nil }
        var fields = HTTPFieldList()
        fields.reserveCapacity(pairs.count)
        for pair in pairs {
            guard let pair = pair as? [Any], pair.count == 2, let name = pair[0] as? String,
                let value = pair[1] as? String
            else { return nil }
            fields.append(name, value)
        }
        return fields
    }
}

/// The outbox as `Outbox.inspect` read it: its events in order, and their bodies on demand.
public final class OutboxSnapshot: Sendable {
    public let states: [DeliveryState]
    private let bodies: [String: Outbox.BodyLocation]
    private let reader: FileHandle

    /// Line numbers of the journal's damaged lines (skipped: `ucpsim deliveries repair` sets them aside).
    public let damagedLines: [Int]
    private let path: String

    init(
        states: [DeliveryState],
        bodies: [String: Outbox.BodyLocation],
        reader: FileHandle,
        damagedLines: [Int],
        path: String
    ) {
        self.states = states
        self.bodies = bodies
        self.reader = reader
        self.damagedLines = damagedLines
        self.path = path
    }

    deinit {
        try? reader.close()
    }

    /// A delivery's body, byte for byte as it is sent; nil when the journal has none for it, or none that matches
    /// the length and SHA-256 recorded with it.
    public func body(of id: DeliveryID) -> [UInt8]? {
        try? readBody(of: id).get()
    }

    /// `body(of:)` by the delivery id's text (a delivery made by `DeliveryEngine.submit(_:to:policy:)` has its
    /// event's id).
    public func body(of id: String) -> [UInt8]? { body(of: DeliveryID(id)) }

    /// A delivery's body, checked; or why it cannot be sent.
    public func readBody(of id: DeliveryID) -> Result<[UInt8], BodyUnreadable> {
        guard let location = bodies[id.rawValue] else { return .failure(BodyUnreadable(path: path, problem: .missing)) }
        return Outbox.readBody(at: location, from: reader, path: path)
    }
}
