import Foundation

/// Where an interrupted `ucpsim run` stopped, kept in the state directory (`DIR/run.json`) so that
/// `ucpsim run --resume` plays the rest: per scenario, its file (and a digest, so an edited file is noticed), the
/// start of its clock, the first step not yet sent, and the deliveries that were still pending.
public struct RunProgress: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        /// The scenario file, as given on the command line.
        public var path: String
        /// SHA-256 of the file's bytes (hex).
        public var sha256: String
        /// The scenario clock's start (unix seconds); nil when the scenario had not started.
        public var start: Double?
        /// Index into the scenario's steps of the first step not yet sent.
        public var nextStep: Int
        /// Deliveries sent but not final when the run stopped: they resume from the outbox.
        public var pending: [PendingDelivery]

        public init(path: String, sha256: String, start: Double?, nextStep: Int, pending: [PendingDelivery]) {
            self.path = path
            self.sha256 = sha256
            self.start = start
            self.nextStep = nextStep
            self.pending = pending
        }

        enum CodingKeys: String, CodingKey {
            case path, sha256, start, pending
            case nextStep = "next_step"
        }
    }

    /// A delivery of a step that was still pending, so the resumed run reports it under its step.
    public struct PendingDelivery: Codable, Sendable, Equatable {
        public var webhookID: String
        /// Index into the scenario's steps.
        public var step: Int

        public init(webhookID: String, step: Int) {
            self.webhookID = webhookID
            self.step = step
        }

        enum CodingKeys: String, CodingKey {
            case step
            case webhookID = "webhook_id"
        }
    }

    public var scenarios: [Entry]
    /// Where the run sent its webhooks; nil for the built-in reference receiver.
    public var target: String?
    /// The built-in receiver's port, when the run used it: a resume binds it again, so the pending deliveries'
    /// URL reaches a receiver.
    public var builtInPort: Int?

    public init(scenarios: [Entry], target: String? = nil, builtInPort: Int? = nil) {
        self.scenarios = scenarios
        self.target = target
        self.builtInPort = builtInPort
    }

    enum CodingKeys: String, CodingKey {
        case scenarios, target
        case builtInPort = "built_in_port"
    }

    /// `DIR/run.json`.
    public static func path(in directory: String) -> String {
        (directory as NSString).appendingPathComponent("run.json")
    }

    /// The progress an interrupted run left in `directory`, nil when there is none.
    public static func load(directory: String) throws(UCPSimError) -> RunProgress? {
        let path = path(in: directory)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try JSONDecoder().decode(RunProgress.self, from: data)
        } catch {
            throw UCPSimError(.dataError, "\(path) is not a ucpsim run's progress (delete it to start afresh)")
        }
    }

    /// Writes the progress whole (`SafeFile`): `run.json` is never half-written.
    public func save(directory: String) throws(UCPSimError) {
        let path = Self.path(in: directory)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(self) else {
            throw UCPSimError(.software, "cannot encode the run's progress")
        }
        try SafeFile.replace([UInt8](data), at: path)
    }

    /// Removes the progress file: the run finished.
    public static func remove(directory: String) {
        unlink(path(in: directory))
    }

    /// SHA-256 (hex) of a file's bytes, nil when it cannot be read.
    public static func digest(ofFile path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return DigestAlgorithm.sha256.hash([UInt8](data)).map { String(format: "%02x", $0) }.joined()
    }
}
