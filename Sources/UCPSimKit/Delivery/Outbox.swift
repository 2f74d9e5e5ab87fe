import Foundation
import Synchronization

/// The durable outbox: an append-only JSON-lines journal, `DIR/outbox.jsonl`.
///
/// Every event is written and fsync'd before its first attempt; attempts and outcomes are appended after (a lost
/// attempt line only means the same bytes with the same `Webhook-Id` go out again). On open, a torn last line (a
/// SIGKILL mid-write) is cut off and the rest is replayed into per-event state.
///
/// One process writes a state directory at a time: `open` takes an exclusive lock (`DIR/outbox.lock`), so a second
/// `ucpsim` on the same directory gets a clear error instead of interleaving its appends. `inspect` reads without the
/// lock and without changing the file. Bodies are not loaded: they are read back from the journal when needed.
///
/// Opening also bounds the journal: it keeps every pending and dead event and the newest `keepDelivered` delivered
/// ones. When more than a quarter more than that have been delivered, the journal is rewritten without the oldest
/// delivered events (their lines copied byte for byte) and swapped in with a rename, so a crash mid-way leaves the
/// old journal whole.
public final class Outbox: Sendable {
    /// How many delivered events the journal keeps by default (for `deliveries list|show` and `redeliver`).
    public static let defaultKeepDelivered = 10_000

    /// Where an event's body sits in the journal (its base64 text), so queued bodies need not stay in memory.
    struct BodyLocation: Sendable {
        var offset: UInt64
        let length: Int
    }

    private struct Writer {
        /// nil once closed.
        var handle: FileHandle?
        /// The journal's length: the offset the next line starts at.
        var end: UInt64
        var bodies: [String: BodyLocation]
        /// The lock held on `DIR/outbox.lock` while open.
        var lock: Int32
    }

    public let path: String
    /// What opening did that a user should hear about (a compaction), one line each.
    public let notes: [String]
    private let writer: Mutex<Writer>
    /// Read with `pread` only, so it needs no lock.
    private let reader: FileHandle

    private init(
        path: String,
        handle: FileHandle,
        end: UInt64,
        bodies: [String: BodyLocation],
        lock: Int32,
        notes: [String]
    ) throws(UCPSimError) {
        guard let reader = FileHandle(forReadingAtPath: path) else {
            throw UCPSimError(.noInput, "cannot open \(path)")
        }
        self.path = path
        self.notes = notes
        self.writer = Mutex(Writer(handle: handle, end: end, bodies: bodies, lock: lock))
        self.reader = reader
    }

    deinit {
        close()
        try? reader.close()
    }

    /// Opens (or creates) the outbox in `directory` for writing and returns it with every event's restored state,
    /// in order (their bodies stay on disk: `body(of:)`). Refused while another process has the directory open.
    public static func open(directory: String, keepDelivered: Int = defaultKeepDelivered) throws(UCPSimError) -> (
        Outbox, [DeliveryState]
    ) {
        let fileManager = FileManager.default
        do {
            try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw UCPSimError(.cannotCreate, "cannot create state directory \(directory)")
        }
        let lock = try lockDirectory(directory)
        do throws(UCPSimError) {
            let path = (directory as NSString).appendingPathComponent("outbox.jsonl")
            if !fileManager.fileExists(atPath: path) {
                guard fileManager.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
                else {
                    throw UCPSimError(.cannotCreate, "cannot create \(path)")
                }
            }
            // A compaction that a crash interrupted left only its unfinished copy: the journal itself is whole.
            try? fileManager.removeItem(atPath: path + ".compacting")
            guard var handle = FileHandle(forUpdatingAtPath: path) else {
                throw UCPSimError(.noInput, "cannot open \(path)")
            }
            var scan = try JournalScan(reading: handle, path: path)
            // Keep only whole lines: a torn tail from a crash is dropped before anything is appended.
            do {
                try handle.truncate(atOffset: scan.complete)
            } catch {
                throw UCPSimError(.cannotCreate, "cannot repair \(path): \(error)")
            }
            var notes: [String] = []
            if let dropped = scan.oldestDelivered(beyond: keepDelivered) {
                // A compaction that fails leaves the journal as it was: say so, and go on with it.
                let before = scan.complete
                var compacted = false
                do throws(UCPSimError) {
                    try compact(path: path, scan: &scan, dropping: dropped)
                    compacted = true
                } catch {
                    notes.append("the outbox was not compacted (\(error.message)); it is kept whole")
                }
                if compacted {
                    // The compacted file is the journal now: appending to the old one would lose lines.
                    guard let reopened = FileHandle(forUpdatingAtPath: path) else {
                        throw UCPSimError(.noInput, "cannot open \(path) after compacting it")
                    }
                    try? handle.close()
                    handle = reopened
                    notes.append(
                        "compacted the outbox: dropped the \(dropped.count) oldest delivered events "
                            + "(\(megabytes(before)) → \(megabytes(scan.complete)); --keep-delivered \(keepDelivered))"
                    )
                }
            }
            do {
                try handle.seekToEnd()
            } catch {
                throw UCPSimError(.cannotCreate, "cannot append to \(path): \(error)")
            }
            let outbox = try Outbox(
                path: path,
                handle: handle,
                end: scan.complete,
                bodies: scan.bodies,
                lock: lock,
                notes: notes
            )
            return (outbox, scan.states)
        } catch {
            Glibc.close(lock)
            throw error
        }
    }

    /// Reads the outbox in `directory` without writing anything or taking its lock (a running `ucpsim` may be
    /// appending): the events its whole lines describe, with a way to read their bodies.
    public static func inspect(directory: String) throws(UCPSimError) -> OutboxSnapshot {
        let path = (directory as NSString).appendingPathComponent("outbox.jsonl")
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw UCPSimError(.noInput, "no outbox in \(directory) (give --state DIR)")
        }
        let scan = try JournalScan(reading: handle, path: path)
        return OutboxSnapshot(states: scan.states, bodies: scan.bodies, reader: handle)
    }

    /// Stops writing and lets another process open the directory. Appends after this fail.
    public func close() {
        writer.withLock { writer in
            try? writer.handle?.synchronize()
            try? writer.handle?.close()
            writer.handle = nil
            if writer.lock >= 0 {
                Glibc.close(writer.lock)
                writer.lock = -1
            }
        }
    }

    private static func megabytes(_ bytes: UInt64) -> String {
        String(format: "%.1f MB", Double(bytes) / 1_000_000)
    }

    /// Takes the directory's lock, or says who holds it.
    private static func lockDirectory(_ directory: String) throws(UCPSimError) -> Int32 {
        let lockPath = (directory as NSString).appendingPathComponent("outbox.lock")
        let descriptor = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw UCPSimError(.cannotCreate, "cannot create \(lockPath): \(String(cString: strerror(errno)))")
        }
        // A lock can be held for a moment after its owner lets go: a process being spawned elsewhere carries a copy
        // of every descriptor until it execs, and a ucpsim that just stopped may still be exiting. Wait that out.
        let deadline = Date().addingTimeInterval(2)
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK && Date() < deadline {
            usleep(10_000)
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var holder = [UInt8](repeating: 0, count: 32)
            let count = pread(descriptor, &holder, holder.count, 0)
            Glibc.close(descriptor)
            let pid = String(decoding: holder.prefix(max(0, count)), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw UCPSimError(
                .cannotCreate,
                "state directory \(directory) is in use by another ucpsim\(pid.isEmpty ? "" : " (pid \(pid))"); "
                    + "stop it or give another --state"
            )
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pwrite(descriptor, pid, pid.count, 0)
        return descriptor
    }

    /// Rewrites the journal without the `dropped` events: every other line is copied byte for byte, in order, to
    /// a new file that is fsync'd and renamed over the journal. Updates `scan` to describe the new file.
    private static func compact(path: String, scan: inout JournalScan, dropping dropped: Set<Int>) throws(UCPSimError) {
        let temporary = path + ".compacting"
        guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o600]),
            let output = FileHandle(forWritingAtPath: temporary), let input = FileHandle(forReadingAtPath: path)
        else {
            throw UCPSimError(.cannotCreate, "cannot create \(temporary)")
        }
        defer {
            try? input.close()
            try? output.close()
        }
        var written: UInt64 = 0
        var buffer: [UInt8] = []
        var moved: [String: BodyLocation] = [:]
        do {
            for line in scan.lines where line.event >= 0 && !dropped.contains(Int(line.event)) {
                let id = scan.states[Int(line.event)].event.webhookID
                if line.isEvent, var location = scan.bodies[id] {
                    location.offset = location.offset - line.offset + written + UInt64(buffer.count)
                    moved[id] = location
                }
                // The line and its newline.
                let start = buffer.count
                let length = line.length + 1
                buffer.append(contentsOf: repeatElement(0, count: length))
                let count = buffer.withUnsafeMutableBytes { bytes in
                    // `bytes` is non-empty here: `length` ≥ 1 bytes were just appended.
                    guard let base = bytes.baseAddress else { return -1 }
                    return pread(input.fileDescriptor, base + start, length, off_t(line.offset))
                }
                guard count == length, buffer.last == 0x0A else { throw CompactionError() }
                if buffer.count >= 1 << 22 {
                    try output.write(contentsOf: buffer)
                    written += UInt64(buffer.count)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            try output.write(contentsOf: buffer)
            written += UInt64(buffer.count)
            try output.synchronize()
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw UCPSimError(.cannotCreate, "cannot compact \(path): \(error)")
        }
        guard rename(temporary, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw UCPSimError(.cannotCreate, "cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        // The rename itself is durable once the directory is.
        let directory = Glibc.open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY)
        if directory >= 0 {
            _ = fsync(directory)
            Glibc.close(directory)
        }
        scan.keep(excluding: dropped, bodies: moved, complete: written)
    }

    private struct CompactionError: Error, CustomStringConvertible {
        var description: String { "the journal changed while it was copied" }
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
    /// outbox does not have it.
    public func body(of webhookID: String) -> [UInt8]? {
        guard let location = writer.withLock({ $0.bodies[webhookID] }) else { return nil }
        return Self.readBody(at: location, from: reader)
    }

    static func readBody(at location: BodyLocation, from reader: FileHandle) -> [UInt8]? {
        var text = Data(count: location.length)
        let count = text.withUnsafeMutableBytes { buffer in
            pread(reader.fileDescriptor, buffer.baseAddress, location.length, off_t(location.offset))
        }
        guard count == location.length else { return nil }
        return Data(base64Encoded: text).map { [UInt8]($0) }
    }

    /// A line after an event's own: an attempt with the phase it led to, or (no attempt) a phase change alone — a
    /// redelivery, or a kill after 410.
    public typealias Line = (id: String, attempt: AttemptRecord?, phase: DeliveryState.Phase)

    /// Journals a new round of attempts for final events (a redelivery or resend), with their receivers, and
    /// fsyncs: durable before anything is sent.
    public func appendRounds(_ states: [DeliveryState]) throws(UCPSimError) {
        guard !states.isEmpty else { return }
        var text = ""
        for state in states {
            text +=
                "{\"k\":\"phase\",\"id\":\(Self.quote(state.event.webhookID)),\"target\":\(Self.quote(state.target)),"
            text += "\(Self.phaseFields(state.phase))}\n"
        }
        try write(text, sync: true)
    }

    /// Whether the outbox can still read `webhookID`'s body back.
    public func hasBody(of webhookID: String) -> Bool {
        writer.withLock { $0.bodies[webhookID] != nil }
    }

    /// Appends lines in one write (the engine records what a batch of responses brought); `sync` also fsyncs.
    public func append(_ lines: [Line], sync: Bool = false) throws(UCPSimError) {
        guard !lines.isEmpty else { return }
        var text = ""
        text.reserveCapacity(lines.count * 160)
        for (id, attempt, phase) in lines {
            guard let attempt else {
                text += "{\"k\":\"phase\",\"id\":\(Self.quote(id)),\(Self.phaseFields(phase))}\n"
                continue
            }
            text += "{\"k\":\"attempt\",\"id\":\(Self.quote(id)),\"n\":\(attempt.number),"
            text += "\"at\":\(Self.decimal(attempt.at.timeIntervalSince1970)),"
            text +=
                "\"status\":\(attempt.status.map(String.init) ?? "null"),\"ms\":\(Self.decimal(attempt.milliseconds)),"
            text += "\"detail\":\(Self.quote(attempt.detail)),\(Self.phaseFields(phase))}\n"
        }
        try write(text, sync: sync)
    }

    /// Flushes appended lines to disk.
    public func sync() {
        writer.withLock { try? $0.handle?.synchronize() }
    }

    private func write(_ text: String, sync: Bool) throws(UCPSimError) {
        try write(Array(text.utf8), sync: sync)
    }

    private func write(_ bytes: [UInt8], sync: Bool, bodies: [(String, Int, Int)] = []) throws(UCPSimError) {
        let result: Result<Void, any Error> = writer.withLock { writer in
            Result {
                guard let handle = writer.handle else { throw ClosedError() }
                try handle.write(contentsOf: bytes)
                for (id, offset, length) in bodies {
                    writer.bodies[id] = BodyLocation(offset: writer.end + UInt64(offset), length: length)
                }
                writer.end += UInt64(bytes.count)
                if sync { try handle.synchronize() }
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

    private struct ClosedError: Error, CustomStringConvertible {
        var description: String { "the outbox is closed" }
    }

    static func phase(_ entry: [String: Any]) -> DeliveryState.Phase {
        switch entry["phase"] as? String {
        case "delivered": return .delivered
        case "dead": return .dead(reason: entry["reason"] as? String ?? "dead")
        default: return .pending(next: Date(timeIntervalSince1970: (entry["next"] as? NSNumber)?.doubleValue ?? 0))
        }
    }
}
