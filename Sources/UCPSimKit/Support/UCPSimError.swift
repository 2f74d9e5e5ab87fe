/// A user-facing ucpsim error: one readable line and the process exit code it maps to.
public struct UCPSimError: Error, Sendable, CustomStringConvertible {
    /// The documented exit codes (sysexits where one fits).
    public enum ExitCode: Int32, Sendable {
        /// A delivery was made but not accepted (non-2xx), or an expectation failed.
        case deliveryFailed = 1
        /// Bad command-line usage.
        case usage = 64
        /// Bad input data: a fixture that is not JSON or not an order, a malformed scenario.
        case dataError = 65
        /// A file could not be read.
        case noInput = 66
        /// The receiver (or a profile) could not be reached.
        case unavailable = 69
        /// An internal error.
        case software = 70
        /// A file could not be written.
        case cannotCreate = 73
        /// Deliveries still pending when the command stopped waiting; they stay in the outbox.
        case tempFail = 75
        /// A key problem: unreadable, malformed or of an unsupported type.
        case config = 78
    }

    public let exitCode: ExitCode
    public let message: String

    public init(_ exitCode: ExitCode, _ message: String) {
        self.exitCode = exitCode
        self.message = message
    }

    public var description: String { message }

    static func badURL(_ url: String, reason: String) -> UCPSimError {
        UCPSimError(.usage, "malformed URL \"\(url)\": \(reason)")
    }
}
