import Foundation
import Synchronization

/// The durable outbox: an append-only JSON-lines journal, `DIR/outbox.jsonl`.
///
/// Every event is written and fsync'd before its first attempt; attempts and outcomes are appended after (a lost
/// attempt line only means the same bytes with the same `Webhook-Id` go out again). On open, a torn last line (a
/// SIGKILL mid-write) is cut off and the rest is replayed into per-event state.
///
/// A write that fails (a full disk) is never half-visible: every write goes at the journal's logical end with
/// `pwrite`, the end moves only once the whole batch is written (and fsync'd when asked), and a batch that fails is
/// cut back off the file before the error is thrown. Each event line records its body's length and SHA-256, and a
/// body read back is checked against them: a body that does not match is never signed or sent.
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

    /// Where an event's body sits in the journal (its base64 text), so queued bodies need not stay in memory, and
    /// what the body must be once decoded: its length and SHA-256 (unknown in journals written before they were
    /// recorded).
    struct BodyLocation: Sendable {
        var offset: UInt64
        let length: Int
        var check: BodyCheck?
    }

    /// The length and SHA-256 an event's body was written with.
    struct BodyCheck: Sendable, Equatable {
        let size: Int
        let digest: SIMD4<UInt64>

        init(size: Int, digest: SIMD4<UInt64>) {
            self.size = size
            self.digest = digest
        }

        /// The check for `body`, computed by OpenSSL.
        init(of body: [UInt8]) {
            self.init(size: body.count, digest: Self.words(DigestAlgorithm.sha256.hash(body)))
        }

        /// Parses the journal's fields: `len` and `sha256` (64 hex digits); nil unless both are well formed.
        init?(size: Any?, hex: Any?) {
            guard let size = (size as? NSNumber)?.intValue, size >= 0, let hex = hex as? String,
                let bytes = Self.bytes(hex: hex)
            else { return nil }
            self.init(size: size, digest: Self.words(bytes))
        }

        /// The digest as 64 lowercase hex digits.
        var hex: String {
            let digits = Array("0123456789abcdef".utf8)
            var out = [UInt8]()
            out.reserveCapacity(64)
            for index in 0..<4 {
                var word = digest[index].bigEndian
                withUnsafeBytes(of: &word) { bytes in
                    for byte in bytes {
                        out.append(digits[Int(byte >> 4)])
                        out.append(digits[Int(byte & 0x0F)])
                    }
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        private static func words(_ bytes: [UInt8]) -> SIMD4<UInt64> {
            var words = SIMD4<UInt64>()
            for index in 0..<4 {
                var word: UInt64 = 0
                for byte in bytes[(index * 8)..<(index * 8 + 8)] { word = word << 8 | UInt64(byte) }
                words[index] = word
            }
            return words
        }

        private static func bytes(hex: String) -> [UInt8]? {
            let text = Array(hex.utf8)
            guard text.count == 64 else { return nil }
            var bytes = [UInt8]()
            bytes.reserveCapacity(32)
            for index in stride(from: 0, to: 64, by: 2) {
                guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return nil }
                bytes.append(high << 4 | low)
            }
            return bytes
        }

        private static func nibble(_ digit: UInt8) -> UInt8? {
            switch digit {
            case 0x30...0x39: digit - 0x30
            case 0x61...0x66: digit - 0x61 + 10
            case 0x41...0x46: digit - 0x41 + 10
            default: nil
            }
        }
    }

    /// How the outbox writes its journal: `pwrite` at an offset and `fsync`. Tests replace them to fail the way a
    /// full disk does (part of a write, then `ENOSPC`).
    struct IO: Sendable {
        /// Writes the bytes at the offset; returns how many were written, or `-errno`.
        var write: @Sendable (_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, _ offset: UInt64) -> Int
        /// Flushes the file to disk; returns 0 or `-errno`.
        var sync: @Sendable (_ descriptor: Int32) -> Int32

        static let system = IO(
            write: { descriptor, bytes, offset in
                let count = pwrite(descriptor, bytes.baseAddress, bytes.count, off_t(offset))
                return count < 0 ? -Int(errno) : count
            },
            sync: { descriptor in fsync(descriptor) == 0 ? 0 : -errno }
        )
    }

    private struct Writer {
        /// nil once closed.
        var handle: FileHandle?
        /// The journal's logical length: the offset the next line starts at. Only whole written lines are before it.
        var end: UInt64
        /// True when a failed write may have left bytes after `end` that could not be cut off yet.
        var tail = false
        var bodies: [String: BodyLocation]
        /// The lock held on `DIR/outbox.lock` while open.
        var lock: Int32
    }

    public let path: String
    /// What opening did that a user should hear about (a compaction), one line each.
    public let notes: [String]
    private let writer: Mutex<Writer>
    private let io: IO
    /// Read with `pread` only, so it needs no lock.
    private let reader: FileHandle

    private init(
        path: String,
        handle: FileHandle,
        end: UInt64,
        bodies: [String: BodyLocation],
        lock: Int32,
        notes: [String],
        io: IO
    ) throws(UCPSimError) {
        guard let reader = FileHandle(forReadingAtPath: path) else {
            throw UCPSimError(.noInput, "cannot open \(path)")
        }
        self.path = path
        self.notes = notes
        self.writer = Mutex(Writer(handle: handle, end: end, bodies: bodies, lock: lock))
        self.io = io
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
        try open(directory: directory, keepDelivered: keepDelivered, io: .system)
    }

    /// `open`, writing through `io` (tests inject failures there).
    static func open(directory: String, keepDelivered: Int = defaultKeepDelivered, io: IO) throws(UCPSimError) -> (
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
            if !scan.damaged.isEmpty {
                throw UCPSimError(.dataError, damageMessage(path: path, directory: directory, lines: scan.damagedLines))
            }
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
            let outbox = try Outbox(
                path: path,
                handle: handle,
                end: scan.complete,
                bodies: scan.bodies,
                lock: lock,
                notes: notes,
                io: io
            )
            return (outbox, scan.states)
        } catch {
            Glibc.close(lock)
            throw error
        }
    }

    /// `inspect`, or nil when `directory` has no outbox yet.
    public static func inspectIfPresent(directory: String) throws(UCPSimError) -> OutboxSnapshot? {
        let path = (directory as NSString).appendingPathComponent("outbox.jsonl")
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try inspect(directory: directory)
    }

    /// Reads the outbox in `directory` without writing anything or taking its lock (a running `ucpsim` may be
    /// appending): the events its whole lines describe, with a way to read their bodies. `headers: false` leaves out
    /// the attempts' recorded request headers (a listing reads faster and holds less without them).
    public static func inspect(directory: String, headers: Bool = true) throws(UCPSimError) -> OutboxSnapshot {
        let path = (directory as NSString).appendingPathComponent("outbox.jsonl")
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw UCPSimError(.noInput, "no outbox in \(directory) (give --state DIR)")
        }
        let scan = try JournalScan(reading: handle, path: path, headers: headers)
        return OutboxSnapshot(
            states: scan.states,
            bodies: scan.bodies,
            reader: handle,
            damagedLines: scan.damagedLines,
            path: path
        )
    }

    /// What a writer says about a journal with damaged lines: where they are, and how to set them aside.
    public static func damageMessage(path: String, directory: String, lines: [Int]) -> String {
        "\(path) is damaged at \(lineList(lines)); `ucpsim deliveries repair --state \(directory)` sets "
            + (lines.count == 1 ? "it" : "them") + " aside and keeps every whole event"
    }

    /// What a reader says about a journal with damaged lines (it skips them).
    public static func damageNote(directory: String, lines: [Int]) -> String {
        let path = (directory as NSString).appendingPathComponent("outbox.jsonl")
        return "\(path) is damaged at \(lineList(lines)) (skipped here); `ucpsim deliveries repair --state "
            + "\(directory)` sets \(lines.count == 1 ? "it" : "them") aside and keeps every whole event"
    }

    /// "line 5" or "lines 5, 9, 12" (at most ten named).
    static func lineList(_ lines: [Int]) -> String {
        let named = lines.prefix(10).map(String.init).joined(separator: ", ")
        return (lines.count == 1 ? "line " : "lines ") + named
            + (lines.count > 10 ? " and \(lines.count - 10) more" : "")
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
    static func lockDirectory(_ directory: String) throws(UCPSimError) -> Int32 {
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
            let holder = Holder(reading: descriptor)
            Glibc.close(descriptor)
            throw UCPSimError(
                .cannotCreate,
                "state directory \(directory) is in use by another ucpsim\(holder.parenthesized); "
                    + "stop it or give another --state"
            )
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pwrite(descriptor, pid, pid.count, 0)
        return descriptor
    }

    /// Who holds a state directory, as it wrote itself into `DIR/outbox.lock`: its pid (first line) and, once its
    /// server runs, its command and base URL (second line, `serve http://127.0.0.1:8080`).
    public struct Holder: Sendable, Equatable {
        public let pid: String?
        /// The ucpsim command holding it (`serve`, `send`, …); nil when it did not say.
        public let command: String?
        /// The base URL of its HTTP server; nil when it did not say.
        public let url: String?

        init(reading descriptor: Int32) {
            var bytes = [UInt8](repeating: 0, count: 2048)
            let count = pread(descriptor, &bytes, bytes.count, 0)
            let lines = String(decoding: bytes.prefix(max(0, count)), as: UTF8.self)
                .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            pid = lines.first.flatMap { Int32($0) != nil ? $0 : nil }
            let said = lines.dropFirst().first?.split(separator: " ", maxSplits: 1).map(String.init) ?? []
            command = said.first.flatMap { $0.isEmpty ? nil : Identifier.printable($0) }
            url = said.dropFirst().first.flatMap { $0.isEmpty ? nil : Identifier.printable($0) }
        }

        /// ` (pid 123, ucpsim serve at http://…)`, or what of it is known; empty when nothing is.
        var parenthesized: String {
            var parts: [String] = []
            if let pid { parts.append("pid \(pid)") }
            if let command { parts.append("ucpsim \(command)" + (url.map { " at \($0)" } ?? "")) }
            return parts.isEmpty ? "" : " (\(parts.joined(separator: ", ")))"
        }
    }

    /// Who holds `directory`'s lock right now; nil when no process does (or there is no lock file).
    public static func holder(of directory: String) -> Holder? {
        let lockPath = (directory as NSString).appendingPathComponent("outbox.lock")
        let descriptor = Glibc.open(lockPath, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { Glibc.close(descriptor) }
        // A shared lock is refused only while a writer holds its exclusive one; when taken, it goes at once.
        if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
            _ = flock(descriptor, LOCK_UN)
            return nil
        }
        return Holder(reading: descriptor)
    }

    /// Writes who holds the directory into its lock file, after the pid: `command` (`serve`) and the base URL of
    /// its server, so a command refused the directory can say where to go instead.
    public func recordHolder(command: String, url: String) {
        writer.withLock { writer in
            guard writer.lock >= 0 else { return }
            let text = Array("\(getpid())\n\(command) \(url)\n".utf8)
            _ = ftruncate(writer.lock, 0)
            _ = pwrite(writer.lock, text, text.count, 0)
        }
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
                let id = scan.states[Int(line.event)].id.rawValue
                if line.isEvent, var location = scan.bodies[id], location.offset >= line.offset {
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

    /// Persists new events durably: written in chunks of about 1 MB, then one fsync for the batch. All or nothing:
    /// when any part fails, the whole batch is cut back off the journal and the error is thrown.
    public func appendEvents(_ states: [DeliveryState]) throws(UCPSimError) {
        let failure: String? = writer.withLock { writer in
            if let problem = Self.prepare(&writer) { return problem }
            let start = writer.end
            var text: [UInt8] = []
            text.reserveCapacity(1 << 20 + 4096)
            // id, body offset from `start`, text length, check: recorded only once the whole batch is durable.
            var located: [(String, UInt64, Int, BodyCheck)] = []
            located.reserveCapacity(states.count)
            var written: UInt64 = 0
            for state in states {
                let event = state.event
                let check = BodyCheck(of: event.body)
                text += "{\"k\":\"event\",\"id\":".utf8
                text += Self.quote(state.id.rawValue).utf8
                // What equals the defaults of journals written before subscriptions is left out: a `ucp` delivery to
                // a bare URL writes the line it always did.
                if state.id.rawValue != event.webhookID {
                    text += ",\"event\":".utf8
                    text += Self.quote(event.webhookID).utf8
                }
                text += ",\"ts\":\(event.timestamp),\"order\":".utf8
                text += Self.quote(event.orderID).utf8
                text += ",\"target\":".utf8
                text += Self.quote(state.target).utf8
                if let subscription = state.subscription {
                    text += ",\"sub\":".utf8
                    text += Self.quote(subscription.rawValue).utf8
                }
                if state.dialect != .ucp {
                    text += ",\"dialect\":".utf8
                    text += Self.quote(state.dialect.rawValue).utf8
                }
                if state.eventType != DeliveryState.defaultEventType {
                    text += ",\"type\":".utf8
                    text += Self.quote(state.eventType.rawValue).utf8
                }
                text += ",\"len\":\(check.size),\"sha256\":\"\(check.hex)\",\"body\":\"".utf8
                let body = Data(event.body).base64EncodedData()
                located.append((state.id.rawValue, written + UInt64(text.count), body.count, check))
                text += body
                text += "\"}\n".utf8
                if text.count > 1 << 20 {
                    if let problem = put(text, into: &writer) {
                        rollback(&writer, to: start)
                        return problem
                    }
                    written += UInt64(text.count)
                    text.removeAll(keepingCapacity: true)
                }
            }
            if let problem = put(text, into: &writer) ?? flush(&writer) {
                rollback(&writer, to: start)
                return problem
            }
            for (id, offset, length, check) in located {
                writer.bodies[id] = BodyLocation(offset: start + offset, length: length, check: check)
            }
            return nil
        }
        if let failure { throw UCPSimError(.cannotCreate, "cannot write \(path): \(failure)") }
    }

    /// Forgets where a delivered delivery's body is: nothing will send it again in this process.
    func forgetBody(of id: DeliveryID) {
        _ = writer.withLock { $0.bodies.removeValue(forKey: id.rawValue) }
    }

    /// A delivery's body, read back from the journal (`pread`: positional, no shared file offset); nil when the
    /// outbox does not have it or it does not match the length and SHA-256 recorded with it.
    public func body(of id: DeliveryID) -> [UInt8]? {
        try? readBody(of: id).get()
    }

    /// `body(of:)` by the delivery id's text (a delivery made by `DeliveryEngine.submit(_:to:policy:)` has its
    /// event's id).
    public func body(of id: String) -> [UInt8]? { body(of: DeliveryID(id)) }

    /// A delivery's body, checked; or why it cannot be sent.
    func readBody(of id: DeliveryID) -> Result<[UInt8], BodyUnreadable> {
        guard let location = writer.withLock({ $0.bodies[id.rawValue] }) else {
            return .failure(BodyUnreadable(path: path, problem: .missing))
        }
        return Self.readBody(at: location, from: reader, path: path)
    }

    static func readBody(at location: BodyLocation, from reader: FileHandle, path: String) -> Result<
        [UInt8], BodyUnreadable
    > {
        var text = Data(count: location.length)
        let count = text.withUnsafeMutableBytes { buffer in
            pread(reader.fileDescriptor, buffer.baseAddress, location.length, off_t(location.offset))
        }
        guard count == location.length else { return .failure(BodyUnreadable(path: path, problem: .missing)) }
        if text.contains(0x5C) {
            // A writer that escapes `/` as `\/` (JSON allows it): base64 has no other character to escape.
            text = Data(text.filter { $0 != 0x5C })
        }
        guard let decoded = Data(base64Encoded: text).map({ [UInt8]($0) }) else {
            return .failure(BodyUnreadable(path: path, problem: .notBase64))
        }
        if let check = location.check, check != BodyCheck(of: decoded) {
            return .failure(BodyUnreadable(path: path, problem: .mismatch))
        }
        return .success(decoded)
    }

    /// A line after an event's own: an attempt with the phase it led to, or (no attempt) a phase change alone — a
    /// redelivery, or a kill after 410.
    public typealias Line = (id: DeliveryID, attempt: AttemptRecord?, phase: DeliveryState.Phase)

    /// Journals a new round of attempts for final events (a redelivery or resend), with their receivers, and
    /// fsyncs: durable before anything is sent.
    public func appendRounds(_ states: [DeliveryState]) throws(UCPSimError) {
        guard !states.isEmpty else { return }
        var text = ""
        for state in states {
            text +=
                "{\"k\":\"phase\",\"id\":\(Self.quote(state.id.rawValue)),\"target\":\(Self.quote(state.target)),"
            text += "\(Self.phaseFields(state.phase))}\n"
        }
        try write(text, sync: true)
    }

    /// Where the journal holds a delivery's body, while the outbox still knows it (until it is delivered): a live
    /// view keeps it to read the body back later (`readBody(at:)`); the journal is only appended to while open.
    func bodyLocation(of id: DeliveryID) -> BodyLocation? {
        writer.withLock { $0.bodies[id.rawValue] }
    }

    /// A body read back from where `bodyLocation(of:)` said it was, checked.
    func readBody(at location: BodyLocation) -> Result<[UInt8], BodyUnreadable> {
        Self.readBody(at: location, from: reader, path: path)
    }

    /// Whether the outbox can still read the delivery's body back.
    public func hasBody(of id: DeliveryID) -> Bool {
        writer.withLock { $0.bodies[id.rawValue] != nil }
    }

    /// Appends lines in one write (the engine records what a batch of responses brought); `sync` also fsyncs. An
    /// attempt that got as far as a request also records its header fields as sent (`"hdr":[["Name","value"],…]`, in
    /// order, names as written), so `deliveries show` and the inspector can show them after a restart.
    public func append(_ lines: [Line], sync: Bool = false) throws(UCPSimError) {
        guard !lines.isEmpty else { return }
        var text = ""
        text.reserveCapacity(lines.count * 768)
        for (id, attempt, phase) in lines {
            guard let attempt else {
                text += "{\"k\":\"phase\",\"id\":\(Self.quote(id.rawValue)),\(Self.phaseFields(phase))}\n"
                continue
            }
            text += "{\"k\":\"attempt\",\"id\":\(Self.quote(id.rawValue)),\"n\":\(attempt.number),"
            text += "\"at\":\(Self.decimal(attempt.at.timeIntervalSince1970)),"
            text +=
                "\"status\":\(attempt.status.map(String.init) ?? "null"),\"ms\":\(Self.decimal(attempt.milliseconds)),"
            text += "\"detail\":\(Self.quote(attempt.detail)),"
            if let headers = attempt.sentHeaders {
                // The request's header fields as sent, in order and as written: signatures, never secrets.
                text += "\"hdr\":["
                var first = true
                for field in headers.fields {
                    text += first ? "[" : ",["
                    first = false
                    text += Self.quote(field.name)
                    text += ","
                    text += Self.quote(field.value)
                    text += "]"
                }
                text += "],"
            }
            text += "\(Self.phaseFields(phase))}\n"
        }
        try write(text, sync: sync)
    }

    /// Flushes appended lines to disk.
    public func sync() {
        writer.withLock { try? $0.handle?.synchronize() }
    }

    private func write(_ text: String, sync: Bool) throws(UCPSimError) {
        let bytes = Array(text.utf8)
        let failure: String? = writer.withLock { writer in
            if let problem = Self.prepare(&writer) { return problem }
            let start = writer.end
            if let problem = put(bytes, into: &writer) ?? (sync ? flush(&writer) : nil) {
                rollback(&writer, to: start)
                return problem
            }
            return nil
        }
        if let failure { throw UCPSimError(.cannotCreate, "cannot write \(path): \(failure)") }
    }

    /// Checks the writer can append: open, and with nothing left after its end by an earlier failure.
    private static func prepare(_ writer: inout Writer) -> String? {
        guard let handle = writer.handle else { return "the outbox is closed" }
        if writer.tail {
            guard ftruncate(handle.fileDescriptor, off_t(writer.end)) == 0 else {
                return "cannot cut off an earlier failed write: \(String(cString: strerror(errno)))"
            }
            writer.tail = false
        }
        return nil
    }

    /// Writes `bytes` at the journal's end and moves the end past them; on failure returns why (the end stays).
    private func put(_ bytes: [UInt8], into writer: inout Writer) -> String? {
        guard let descriptor = writer.handle?.fileDescriptor else { return "the outbox is closed" }
        let end = writer.end
        let io = io
        let failure: Int32 = bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let count = io.write(descriptor, UnsafeRawBufferPointer(rebasing: buffer[done...]), end + UInt64(done))
                if count == -Int(EINTR) { continue }
                // A write that takes nothing and reports no error would loop forever: call it an I/O error.
                guard count > 0 else { return count == 0 ? EIO : Int32(-count) }
                done += count
            }
            return 0
        }
        guard failure == 0 else { return String(cString: strerror(failure)) }
        writer.end += UInt64(bytes.count)
        return nil
    }

    /// fsyncs the journal; on failure returns why.
    private func flush(_ writer: inout Writer) -> String? {
        guard let descriptor = writer.handle?.fileDescriptor else { return "the outbox is closed" }
        let result = io.sync(descriptor)
        return result == 0 ? nil : "fsync: " + String(cString: strerror(-result))
    }

    /// Takes a failed batch back: the file is cut to `start` (the end of the last whole line before it), so nothing
    /// of the batch is visible to a later write, a restart or a reader. When even that fails, the next write tries
    /// again first and refuses until it succeeds.
    private func rollback(_ writer: inout Writer, to start: UInt64) {
        writer.end = start
        guard let descriptor = writer.handle?.fileDescriptor else { return }
        if ftruncate(descriptor, off_t(start)) == 0 {
            // Best effort: the cut itself durable, so a power loss cannot bring the failed lines back.
            _ = io.sync(descriptor)
        } else {
            writer.tail = true
        }
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
        // Byte by byte (a signed request's `Signature-Input` has a dozen quotes): every byte of a multi-byte UTF-8
        // sequence is ≥ 0x80, so only ASCII needs a look.
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [0x22]
        out.reserveCapacity(text.utf8.count + 16)
        for byte in text.utf8 {
            guard byte < 0x20 || byte == 0x22 || byte == 0x5C else {
                out.append(byte)
                continue
            }
            out.append(0x5C)
            switch byte {
            case 0x22, 0x5C: out.append(byte)
            case 0x0A: out.append(0x6E)
            case 0x0D: out.append(0x72)
            case 0x09: out.append(0x74)
            default: out += [0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        out.append(0x22)
        return String(decoding: out, as: UTF8.self)
    }

    static func phase(_ entry: [String: Any]) -> DeliveryState.Phase {
        switch entry["phase"] as? String {
        case "delivered": return .delivered
        case "dead": return .dead(reason: entry["reason"] as? String ?? "dead")
        default: return .pending(next: Date(timeIntervalSince1970: (entry["next"] as? NSNumber)?.doubleValue ?? 0))
        }
    }
}

/// Why an event's body cannot be sent: the outbox does not have it, or what it has is not what was written.
public struct BodyUnreadable: Error, Sendable, CustomStringConvertible {
    enum Problem: Sendable {
        /// No body is recorded for the event, or the journal is shorter than where it should be.
        case missing
        /// The recorded text is not base64.
        case notBase64
        /// The decoded body's length or SHA-256 is not the one recorded with the event.
        case mismatch
    }

    let path: String
    let problem: Problem

    public var description: String {
        switch problem {
        case .missing: "the event's body could not be read back from \(path)"
        case .notBase64, .mismatch:
            "the event's body in \(path) does not match the length and SHA-256 recorded with it (the journal is "
                + "damaged); it is not sent"
        }
    }
}
