import Foundation

extension Outbox {
    /// What `repair` did, for the one or two lines `ucpsim deliveries repair` prints.
    public struct RepairReport: Sendable {
        /// Line numbers of the lines set aside (a cut-off last line included).
        public let damagedLines: [Int]
        /// Entries found whole inside damaged lines (a line that a failed write ran into) and kept.
        public let recovered: Int
        /// Events in the repaired journal.
        public let events: Int
        /// Where the damaged lines went, and the copy of the journal as it was; nil when nothing was damaged.
        public let sideFile: String?
        public let backup: String?

        /// One or two lines for people.
        public var summary: [String] {
            guard let sideFile, let backup else {
                return ["the outbox has no damaged lines; nothing changed (\(events) events)"]
            }
            let count = damagedLines.count
            return [
                "set aside \(count) damaged line\(count == 1 ? "" : "s") (\(Outbox.lineList(damagedLines))) in "
                    + "\(sideFile); kept \(events) events"
                    + (recovered > 0
                        ? " (\(recovered) whole entr\(recovered == 1 ? "y" : "ies") recovered from inside them)" : ""),
                "the journal as it was: \(backup)",
            ]
        }
    }

    /// Repairs the outbox in `directory`: every whole entry is kept, byte for byte and in order; each damaged line
    /// (and a cut-off last line) is set aside in `outbox.damaged.jsonl` with its line number, and whole entries found
    /// inside a damaged line (the next line, run into by a write that failed part-way) are kept too. The journal as
    /// it was stays beside it as `outbox.jsonl.<time>.bak`. Takes the directory's lock like every writer; the new
    /// journal is written aside, fsync'd and renamed over the old one, so a crash leaves one or the other whole.
    public static func repair(directory: String, now: Date = Date()) throws(UCPSimError) -> RepairReport {
        let path = (directory as NSString).appendingPathComponent("outbox.jsonl")
        guard FileManager.default.fileExists(atPath: path) else {
            throw UCPSimError(.noInput, "no outbox in \(directory) (give --state DIR)")
        }
        let lock = try lockDirectory(directory)
        defer { Glibc.close(lock) }
        guard let input = FileHandle(forReadingAtPath: path) else { throw UCPSimError(.noInput, "cannot open \(path)") }
        defer { try? input.close() }
        let scan = try JournalScan(reading: input, path: path, headers: false)
        var damage = scan.damaged
        if scan.tailLength > 0 {
            damage.append(
                JournalScan.Damage(
                    number: scan.lineCount + 1,
                    offset: scan.complete,
                    length: scan.tailLength
                )
            )
        }
        guard !damage.isEmpty else {
            return RepairReport(damagedLines: [], recovered: 0, events: scan.states.count, sideFile: nil, backup: nil)
        }

        // The kept lines and the damaged ones, in file order.
        var pieces: [(offset: UInt64, length: Int, damaged: Int?)] = scan.lines.map { ($0.offset, $0.length, nil) }
        pieces += damage.map { ($0.offset, $0.length, $0.number) }
        pieces.sort { $0.offset < $1.offset }

        let stamp = ISO8601DateFormatter.string(from: now, timeZone: .gmt, formatOptions: [.withInternetDateTime])
            .replacingOccurrences(of: ":", with: "")
        let backup = "\(path).\(stamp).bak"
        let sideFile = (directory as NSString).appendingPathComponent("outbox.damaged.jsonl")
        let temporary = path + ".repairing"
        var output: [UInt8] = []
        var aside: [UInt8] = []
        var recovered = 0
        for piece in pieces {
            let bytes = try read(input, at: piece.offset, count: piece.length, path: path)
            guard let number = piece.damaged else {
                output += bytes
                output.append(0x0A)
                continue
            }
            aside += sideLine(bytes, number: number, offset: piece.offset, cut: piece.offset == scan.complete)
            for entry in wholeEntries(in: bytes) {
                output += entry
                output.append(0x0A)
                recovered += 1
            }
        }

        // The old journal stays whole under its backup name (a hard link: no copy, no space), then the new one is
        // written aside and renamed over it.
        if link(path, backup) != 0 {
            do {
                try FileManager.default.copyItem(atPath: path, toPath: backup)
            } catch {
                throw UCPSimError(.cannotCreate, "cannot keep a backup of \(path) at \(backup): \(error)")
            }
        }
        do throws(UCPSimError) {
            try writeDurably(output, to: temporary, appending: false)
            try writeDurably(aside, to: sideFile, appending: true)
            guard rename(temporary, path) == 0 else {
                throw UCPSimError(.cannotCreate, "cannot replace \(path): \(String(cString: strerror(errno)))")
            }
        } catch {
            // The journal is as it was: no backup of it is needed, and no half-written copy stays.
            try? FileManager.default.removeItem(atPath: temporary)
            try? FileManager.default.removeItem(atPath: backup)
            throw error
        }
        let directoryHandle = Glibc.open(directory, O_RDONLY | O_DIRECTORY)
        if directoryHandle >= 0 {
            _ = fsync(directoryHandle)
            Glibc.close(directoryHandle)
        }
        // Count what the repaired journal holds, as the next writer will read it.
        guard let check = FileHandle(forReadingAtPath: path) else { throw UCPSimError(.noInput, "cannot open \(path)") }
        defer { try? check.close() }
        let events = try JournalScan(reading: check, path: path, headers: false).states.count
        return RepairReport(
            damagedLines: damage.map(\.number),
            recovered: recovered,
            events: events,
            sideFile: sideFile,
            backup: backup
        )
    }

    private static func read(_ handle: FileHandle, at offset: UInt64, count: Int, path: String) throws(UCPSimError)
        -> [UInt8]
    {
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { buffer in
            pread(handle.fileDescriptor, buffer.baseAddress, count, off_t(offset))
        }
        guard read == count else { throw UCPSimError(.noInput, "cannot read \(path): it changed while it was read") }
        return bytes
    }

    /// The whole outbox entries inside a damaged line: each part that starts where an entry starts (`{"k":"`, which
    /// cannot occur inside a JSON string or base64) and parses whole. The part before the first such start is the
    /// damage itself.
    static func wholeEntries(in line: [UInt8]) -> [[UInt8]] {
        let marker = Array(#"{"k":""#.utf8)
        var starts: [Int] = []
        var position = 1
        while position + marker.count <= line.count {
            if line[position] == marker[0], Array(line[position..<(position + marker.count)]) == marker {
                starts.append(position)
            }
            position += 1
        }
        var entries: [[UInt8]] = []
        for (index, start) in starts.enumerated() {
            let end = index + 1 < starts.count ? starts[index + 1] : line.count
            let part = Array(line[start..<end])
            let whole = part.withUnsafeBytes { JournalScan.parse($0) != nil }
            if whole { entries.append(part) }
        }
        return entries
    }

    /// The side file's record of one damaged line: its number, offset and text (base64 when it is not UTF-8).
    private static func sideLine(_ bytes: [UInt8], number: Int, offset: UInt64, cut: Bool) -> [UInt8] {
        var object: [String: Any] = ["line": number, "offset": offset, "length": bytes.count]
        if cut { object["cut_off"] = true }
        if let text = String(validating: bytes, as: UTF8.self) {
            object["text"] = text
        } else {
            object["base64"] = Data(bytes).base64EncodedString()
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return [UInt8](data) + [0x0A]
    }

    private static func writeDurably(_ bytes: [UInt8], to path: String, appending: Bool) throws(UCPSimError) {
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (appending ? O_APPEND : O_TRUNC), 0o600)
        guard descriptor >= 0 else {
            throw UCPSimError(.cannotCreate, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { Glibc.close(descriptor) }
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                Glibc.write(descriptor, buffer.baseAddress.map { $0 + done }, bytes.count - done)
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw UCPSimError(.cannotCreate, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            done += count
        }
        guard fsync(descriptor) == 0 else {
            throw UCPSimError(.cannotCreate, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
