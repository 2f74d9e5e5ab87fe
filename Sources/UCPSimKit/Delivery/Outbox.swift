import Foundation
import Synchronization

/// The durable outbox: an append-only JSON-lines journal, `DIR/outbox.jsonl`.
///
/// Every event is written and fsync'd before its first attempt; attempts and outcomes are appended after (a lost
/// attempt line only means the same bytes with the same `Webhook-Id` go out again). On open, a torn last line (a
/// SIGKILL mid-write) is cut off and the rest is replayed into per-event state.
public final class Outbox: Sendable {
    /// Where an event's body sits in the journal (its base64 text), so queued bodies need not stay in memory.
    struct BodyLocation: Sendable {
        let offset: UInt64
        let length: Int
    }

    private struct Writer {
        let handle: FileHandle
        /// The journal's length: the offset the next line starts at.
        var end: UInt64
        var bodies: [String: BodyLocation]
    }

    public let path: String
    private let writer: Mutex<Writer>
    /// Read with `pread` only, so it needs no lock.
    private let reader: FileHandle

    private init(path: String, handle: FileHandle, end: UInt64, bodies: [String: BodyLocation], reader: FileHandle) {
        self.path = path
        self.writer = Mutex(Writer(handle: handle, end: end, bodies: bodies))
        self.reader = reader
    }

    deinit {
        writer.withLock { try? $0.handle.close() }
        try? reader.close()
    }

    /// Opens (or creates) the outbox in `directory` and returns it with every event's restored state, in order.
    public static func open(directory: String) throws(UCPSimError) -> (Outbox, [DeliveryState]) {
        let fileManager = FileManager.default
        do {
            try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw UCPSimError(.cannotCreate, "cannot create state directory \(directory)")
        }
        let path = (directory as NSString).appendingPathComponent("outbox.jsonl")
        if !fileManager.fileExists(atPath: path) {
            guard fileManager.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw UCPSimError(.cannotCreate, "cannot create \(path)")
            }
        }
        guard let data = fileManager.contents(atPath: path), let handle = FileHandle(forUpdatingAtPath: path),
            let reader = FileHandle(forReadingAtPath: path)
        else {
            throw UCPSimError(.noInput, "cannot open \(path)")
        }
        // Keep only whole lines: a torn tail from a crash is dropped before anything is appended.
        let complete = data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        do {
            if complete < data.count { try handle.truncate(atOffset: UInt64(complete)) }
            try handle.seekToEnd()
        } catch {
            throw UCPSimError(.cannotCreate, "cannot repair \(path): \(error)")
        }
        let (states, bodies) = try replay(data.prefix(complete), path: path)
        return (Outbox(path: path, handle: handle, end: UInt64(complete), bodies: bodies, reader: reader), states)
    }

    /// Persists new events durably: written in chunks of about 1 MB, then one fsync for the batch.
    public func appendEvents(_ states: [DeliveryState]) throws(UCPSimError) {
        var text: [UInt8] = []
        text.reserveCapacity(1 << 20 + 4096)
        var located: [(String, Int, Int)] = []  // id, body offset within `text`, body length
        for state in states {
            let event = state.event
            text += "{\"k\":\"event\",\"id\":".utf8
            text += Self.quote(event.webhookID).utf8
            text += ",\"ts\":\(event.timestamp),\"order\":".utf8
            text += Self.quote(event.orderID).utf8
            text += ",\"target\":".utf8
            text += Self.quote(state.target).utf8
            text += ",\"body\":\"".utf8
            let body = Data(event.body).base64EncodedData()
            located.append((event.webhookID, text.count, body.count))
            text += body
            text += "\"}\n".utf8
            if text.count > 1 << 20 {
                try write(text, sync: false, bodies: located)
                text.removeAll(keepingCapacity: true)
                located.removeAll(keepingCapacity: true)
            }
        }
        try write(text, sync: true, bodies: located)
    }

    /// Forgets where a delivered event's body is: nothing will send it again in this process.
    func forgetBody(of webhookID: String) {
        _ = writer.withLock { $0.bodies.removeValue(forKey: webhookID) }
    }

    /// An event's body, read back from the journal (`pread`: positional, no shared file offset); nil when the
    /// outbox never saw the event.
    func body(of webhookID: String) -> [UInt8]? {
        guard let location = writer.withLock({ $0.bodies[webhookID] }) else { return nil }
        var text = Data(count: location.length)
        let count = text.withUnsafeMutableBytes { buffer in
            pread(reader.fileDescriptor, buffer.baseAddress, location.length, off_t(location.offset))
        }
        guard count == location.length else { return nil }
        return Data(base64Encoded: text).map { [UInt8]($0) }
    }

    /// Appends several attempts in one write (the engine records what a batch of responses brought).
    public func appendAttempts(_ entries: [(id: String, attempt: AttemptRecord, phase: DeliveryState.Phase)])
        throws(UCPSimError)
    {
        guard !entries.isEmpty else { return }
        var text = ""
        text.reserveCapacity(entries.count * 160)
        for (id, attempt, phase) in entries {
            text += "{\"k\":\"attempt\",\"id\":\(Self.quote(id)),\"n\":\(attempt.number),"
            text += "\"at\":\(Self.decimal(attempt.at.timeIntervalSince1970)),"
            text +=
                "\"status\":\(attempt.status.map(String.init) ?? "null"),\"ms\":\(Self.decimal(attempt.milliseconds)),"
            text += "\"detail\":\(Self.quote(attempt.detail)),\(Self.phaseFields(phase))}\n"
        }
        try write(text, sync: false)
    }

    /// Appends a phase change without an attempt (a redelivery, or a kill after 410).
    public func appendPhase(id: String, phase: DeliveryState.Phase) throws(UCPSimError) {
        try write("{\"k\":\"phase\",\"id\":\(Self.quote(id)),\(Self.phaseFields(phase))}\n", sync: true)
    }

    /// Flushes appended lines to disk.
    public func sync() {
        writer.withLock { try? $0.handle.synchronize() }
    }

    private func write(_ text: String, sync: Bool) throws(UCPSimError) {
        try write(Array(text.utf8), sync: sync)
    }

    private func write(_ bytes: [UInt8], sync: Bool, bodies: [(String, Int, Int)] = []) throws(UCPSimError) {
        let result: Result<Void, any Error> = writer.withLock { writer in
            Result {
                try writer.handle.write(contentsOf: bytes)
                for (id, offset, length) in bodies {
                    writer.bodies[id] = BodyLocation(offset: writer.end + UInt64(offset), length: length)
                }
                writer.end += UInt64(bytes.count)
                if sync { try writer.handle.synchronize() }
            }
        }
        if case .failure(let error) = result { throw UCPSimError(.cannotCreate, "cannot write \(path): \(error)") }
    }

    private static func phaseFields(_ phase: DeliveryState.Phase) -> String {
        switch phase {
        case .pending(let next): "\"phase\":\"pending\",\"next\":\(decimal(next.timeIntervalSince1970))"
        case .delivered: "\"phase\":\"delivered\""
        case .dead(let reason): "\"phase\":\"dead\",\"reason\":\(quote(reason))"
        }
    }

    /// A JSON number with three decimals (milliseconds of a time, microseconds of a duration), formatted with
    /// integer arithmetic: `Double.description` was a visible cost at thousands of lines a second.
    static func decimal(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 9e12 else { return "0" }
        let thousandths = Int64((value * 1000).rounded())
        let magnitude = thousandths.magnitude
        let fraction = String(magnitude % 1000)
        return (thousandths < 0 ? "-" : "") + String(magnitude / 1000) + "."
            + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        // Most text (ids, URLs, short response bodies) needs no escaping.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C }) { return "\"" + text + "\"" }
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func replay(_ data: Data, path: String) throws(UCPSimError) -> (
        [DeliveryState], [String: BodyLocation]
    ) {
        var order: [String] = []
        var states: [String: DeliveryState] = [:]
        var attempts: [String: [AttemptRecord]] = [:]
        var bodies: [String: BodyLocation] = [:]
        var lineNumber = 0
        let bodyKey = Array("\"body\":\"".utf8)
        for line in data.split(separator: UInt8(ascii: "\n")) {
            lineNumber += 1
            guard let entry = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                let kind = entry["k"] as? String, let id = entry["id"] as? String
            else {
                throw UCPSimError(.dataError, "\(path):\(lineNumber): not an outbox entry (the journal is damaged)")
            }
            switch kind {
            case "event":
                guard let timestamp = (entry["ts"] as? NSNumber)?.int64Value, let orderID = entry["order"] as? String,
                    let target = entry["target"] as? String,
                    let body = (entry["body"] as? String).flatMap({ Data(base64Encoded: $0) })
                else { throw UCPSimError(.dataError, "\(path):\(lineNumber): malformed event entry") }
                if states[id] == nil { order.append(id) }
                if let range = line.firstRange(of: bodyKey) {
                    let start = range.upperBound - data.startIndex
                    bodies[id] = BodyLocation(offset: UInt64(start), length: line.endIndex - 2 - range.upperBound)
                }
                let event = WebhookEvent(webhookID: id, timestamp: timestamp, orderID: orderID, body: [UInt8](body))
                states[id] = DeliveryState(event: event, target: target, firstAttempt: Date(timeIntervalSince1970: 0))
            case "attempt", "phase":
                guard var state = states[id] else { continue }
                if kind == "attempt" {
                    attempts[id, default: []].append(
                        AttemptRecord(
                            number: entry["n"] as? Int ?? 0,
                            at: Date(timeIntervalSince1970: (entry["at"] as? NSNumber)?.doubleValue ?? 0),
                            status: entry["status"] as? Int,
                            milliseconds: (entry["ms"] as? NSNumber)?.doubleValue ?? 0,
                            detail: entry["detail"] as? String ?? ""
                        )
                    )
                }
                state.restore(attempts: attempts[id] ?? [], phase: phase(entry))
                states[id] = state
            default:
                continue
            }
        }
        return (order.compactMap { states[$0] }, bodies)
    }

    private static func phase(_ entry: [String: Any]) -> DeliveryState.Phase {
        switch entry["phase"] as? String {
        case "delivered": return .delivered
        case "dead": return .dead(reason: entry["reason"] as? String ?? "dead")
        default: return .pending(next: Date(timeIntervalSince1970: (entry["next"] as? NSNumber)?.doubleValue ?? 0))
        }
    }
}
