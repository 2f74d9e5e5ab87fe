import Foundation
import Hummingbird
import Logging
import Synchronization
import UCPSimKit

/// Paths and helpers shared by the tests.
enum TestSupport {
    /// The repository root, found by walking up from this file.
    static let repoRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url = url.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    static func path(_ relative: String) -> String { repoRoot.appendingPathComponent(relative).path }

    static func read(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: repoRoot.appendingPathComponent(relative)))
    }

    static let quietLogger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    /// The RFC 9421 B.1.3 `test-key-ecc-p256`, also the UCP spec's example key.
    static let p256PEM = """
        -----BEGIN EC PRIVATE KEY-----
        MHcCAQEEIFKbhfNZfpDsW43+0+JjUr9K+bTeuxopu653+hBaXGA7oAoGCCqGSM49
        AwEHoUQDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lfw0EkjqF7xB4FivAxzic30tMM
        4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==
        -----END EC PRIVATE KEY-----
        """

    /// The RFC 9421 B.1.4 `test-key-ed25519` (PKCS#8).
    static let ed25519PEM = """
        -----BEGIN PRIVATE KEY-----
        MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
        -----END PRIVATE KEY-----
        """

    /// Runs a process (in `directory`, default the repository root) and returns exit status, stdout and stderr.
    ///
    /// The blocking waits run on a dedicated thread: blocking the cooperative pool would starve the in-process
    /// servers the child process talks to.
    static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        directory: URL? = nil
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Result {
                        try runBlocking(
                            executable,
                            arguments,
                            environment: environment,
                            directory: directory ?? repoRoot
                        )
                    }
                )
            }.start()
        }
    }

    /// Starts `process` (a `ChildProcess`: posix_spawn, never Foundation's `Process.run`, which crashed full runs in
    /// its memmove under load even with every call serialized).
    static func start(_ process: ChildProcess) throws {
        try process.run()
    }

    static let spawnLock = Mutex(())

    /// Reads `handle` to its end. Foundation's `readDataToEndOfFile` traps when a signal interrupts a read (EINTR,
    /// seen under load); this retries it.
    static func readAll(_ handle: FileHandle) -> Data {
        var data = Data()
        while true {
            let chunk = readChunk(handle)
            if chunk.isEmpty { return data }
            data.append(chunk)
        }
    }

    /// One read of what `handle` has (empty at its end), retried when a signal interrupts it: Foundation's
    /// `availableData` traps on EINTR.
    static func readChunk(_ handle: FileHandle) -> Data {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if count >= 0 { return Data(buffer.prefix(count)) }
            if errno != EINTR { return Data() }
        }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), looked up at run time: Swift's Glibc module imports
    /// `spawn.h` without `_GNU_SOURCE`, which hides it. (SwiftNIO's sockets are not close-on-exec.)
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? =
        {
            guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
            return unsafeBitCast(
                symbol,
                to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self
            )
        }()

    /// Starts `executable` with `arguments` (in `directory`, with `environment` over this process's) and answers
    /// its pid and the read ends of its stdout and stderr. The child keeps only stdin, stdout and stderr.
    ///
    /// posix_spawn directly, not Foundation's `Process.run`: that crashed the test process (a memmove past a buffer
    /// inside it) under load, in several full runs. `env -C DIR` changes the child's directory.
    static func spawn(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        directory: URL? = nil
    ) throws -> (pid: pid_t, stdout: FileHandle, stderr: FileHandle) {
        let spawnArguments = ["/usr/bin/env", "-C", (directory ?? repoRoot).path, executable] + arguments
        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0)=\($1)" }
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        let argv = spawnArguments.map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        // Under the lock every test spawn takes, so no other child inherits these pipes between their creation and
        // close-on-exec.
        let spawned: Int32 = try spawnLock.withLock { _ in
            guard pipe(&out) == 0, pipe(&err) == 0 else {
                throw UCPSimError(.unavailable, "pipe: \(String(cString: strerror(errno)))")
            }
            for descriptor in out + err { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
            return try posixSpawn(&pid, argv: argv, envp: envp, stdout: out[1], stderr: err[1])
        }
        close(out[1])
        close(err[1])
        let outHandle = FileHandle(fileDescriptor: out[0], closeOnDealloc: true)
        let errHandle = FileHandle(fileDescriptor: err[0], closeOnDealloc: true)
        guard spawned == 0 else {
            throw UCPSimError(.unavailable, "posix_spawn: \(String(cString: strerror(spawned)))")
        }
        return (pid, outHandle, errHandle)
    }

    /// posix_spawn of `/usr/bin/env` with `argv` and `envp`, its stdout and stderr dup'ed from the given
    /// descriptors; the child keeps only stdin, stdout and stderr. Call it under `spawnLock`. Answers posix_spawn's
    /// result.
    static func posixSpawn(
        _ pid: inout pid_t,
        argv: [UnsafeMutablePointer<CChar>?],
        envp: [UnsafeMutablePointer<CChar>?],
        stdout: Int32,
        stderr: Int32
    ) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // Any other descriptor the test process has open without close-on-exec (a listening socket, a lock) would
        // otherwise live on in the child and outlast its test.
        guard let closeFrom, closeFrom(&actions, 3) == 0 else {
            throw UCPSimError(
                .unavailable,
                "posix_spawn_file_actions_addclosefrom_np: missing (glibc < 2.34) or failed"
            )
        }
        return posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, envp)
    }

    private static func runBlocking(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String],
        directory: URL
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let (pid, outHandle, errHandle) = try spawn(
            executable,
            arguments,
            environment: environment,
            directory: directory
        )
        // Read stderr on its own thread so a full pipe on either side cannot stall the child.
        let errData = Mutex(Data())
        let errDone = DispatchSemaphore(value: 0)
        Thread {
            errData.withLock { $0 = TestSupport.readAll(errHandle) }
            errDone.signal()
        }.start()
        let stdout = TestSupport.readAll(outHandle)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        errDone.wait()
        let stderr = errData.withLock { $0 }
        // Exit code when it exited, else the signal's number (as `Process.terminationStatus` gives).
        let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : status & 0x7F
        return (code, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// Runs blocking work (reading a child's pipe, waiting for its exit) on a thread of its own: blocking one of the
    /// cooperative pool's few threads (two on this machine) would stall the in-process servers other tests use.
    static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    /// Reads `pipe` until its first newline (or its end), off the cooperative pool.
    static func firstLine(of pipe: Pipe) async throws -> Data {
        try await offPool {
            var first = Data()
            while !first.contains(0x0A) {
                let chunk = TestSupport.readChunk(pipe.fileHandleForReading)
                if chunk.isEmpty { break }
                first += chunk
            }
            return first
        }
    }

    /// The python3 on PATH.
    static var python: String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = "\(dir)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return "/usr/bin/python3"
    }

    /// Writes JSON to a temporary file and returns its path.
    static func temporaryJSON(_ object: Any, name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ucpsim-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: url)
        return url.path
    }

    /// A reference receiver on loopback port 0.
    static func startReceiver() async throws -> (ReferenceReceiver, RunningServer, HTTPClient) {
        let client = HTTPClient(workers: 2)
        let (receiver, server) = try await ReferenceReceiver.start(client: client, logger: quietLogger)
        return (receiver, server, client)
    }
}

extension ReceivedWebhook {
    /// The request in the independent verifier's REQUEST.json shape.
    var verifierRequest: [String: Any] {
        [
            "method": method,
            "url": url,
            "headers": headers.fields.map { [$0.name, $0.value] },
            "body_base64": Data(body).base64EncodedString(),
        ]
    }
}

/// A child process with the part of Foundation's `Process` API the tests use, started with posix_spawn
/// (`TestSupport.posixSpawn`): Foundation's `Process.run` crashed full test runs (a memmove past a buffer inside it)
/// under load, even with every call serialized.
final class ChildProcess: @unchecked Sendable {
    enum TerminationReason { case exit, uncaughtSignal }

    var executableURL: URL?
    var arguments: [String] = []
    var currentDirectoryURL: URL?
    /// A `Pipe` (its write end becomes the child's) or a `FileHandle`; nil: /dev/null.
    var standardOutput: Any?
    var standardError: Any?

    private(set) var processIdentifier: Int32 = 0
    /// The raw `waitpid` status, once reaped.
    private let status = Mutex<Int32?>(nil)

    func run() throws {
        guard let executableURL else { throw UCPSimError(.usage, "no executable") }
        let directory = (currentDirectoryURL ?? TestSupport.repoRoot).path
        let argv = (["/usr/bin/env", "-C", directory, executableURL.path] + arguments).map { strdup($0) } + [nil]
        let envp = ProcessInfo.processInfo.environment.map { strdup("\($0)=\($1)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { if null >= 0 { close(null) } }
        func descriptor(_ target: Any?) -> Int32 {
            switch target {
            case let pipe as Pipe: pipe.fileHandleForWriting.fileDescriptor
            // `FileHandle.nullDevice` has no descriptor (-1): /dev/null stands for it.
            case let handle as FileHandle: handle.fileDescriptor >= 0 ? handle.fileDescriptor : null
            default: null
            }
        }
        var pid: pid_t = 0
        let spawned = try TestSupport.spawnLock.withLock { _ in
            try TestSupport.posixSpawn(
                &pid,
                argv: argv,
                envp: envp,
                stdout: descriptor(standardOutput),
                stderr: descriptor(standardError)
            )
        }
        // As Foundation does: the parent's copy of a pipe's write end is closed, so its reader sees the end.
        for case let pipe as Pipe in [standardOutput, standardError] { try? pipe.fileHandleForWriting.close() }
        guard spawned == 0 else {
            throw UCPSimError(.unavailable, "posix_spawn: \(String(cString: strerror(spawned)))")
        }
        processIdentifier = pid
    }

    var isRunning: Bool {
        status.withLock { status in
            guard status == nil, processIdentifier > 0 else { return false }
            var raw: Int32 = 0
            let reaped = waitpid(processIdentifier, &raw, WNOHANG)
            if reaped == processIdentifier { status = raw }
            return reaped == 0
        }
    }

    func waitUntilExit() {
        guard processIdentifier > 0, status.withLock({ $0 }) == nil else { return }
        var raw: Int32 = 0
        while waitpid(processIdentifier, &raw, 0) < 0 && errno == EINTR {}
        status.withLock { if $0 == nil { $0 = raw } }
    }

    private var raw: Int32 { status.withLock { $0 } ?? 0 }

    var terminationReason: TerminationReason { raw & 0x7F == 0 ? .exit : .uncaughtSignal }

    /// The exit code, or the signal's number.
    var terminationStatus: Int32 { terminationReason == .exit ? (raw >> 8) & 0xFF : raw & 0x7F }
}

/// A child process (a `ChildProcess`) whose stdout and stderr are collected as they come.
final class OutputProcess: Sendable {
    /// How it ended.
    struct Exit: Sendable {
        let status: Int32
        let signalled: Bool
        /// It did not exit after the signal and was killed.
        let hung: Bool
        let stdout: String
        let stderr: String
    }

    enum Stream { case stdout, stderr }

    private let process: ChildProcess
    private let output = Mutex((stdout: Data(), stderr: Data(), closed: 0))

    private init(process: ChildProcess) { self.process = process }

    static func start(_ executable: String, _ arguments: [String]) throws -> OutputProcess {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try TestSupport.start(process)
        let started = OutputProcess(process: process)
        for (pipe, isOut) in [(out, true), (err, false)] {
            Thread {
                while true {
                    let chunk = TestSupport.readChunk(pipe.fileHandleForReading)
                    started.output.withLock {
                        if chunk.isEmpty {
                            $0.closed += 1
                        } else if isOut {
                            $0.stdout += chunk
                        } else {
                            $0.stderr += chunk
                        }
                    }
                    if chunk.isEmpty { return }
                }
            }.start()
        }
        return started
    }

    var stdout: String { String(decoding: output.withLock { $0.stdout }, as: UTF8.self) }
    var stderr: String { String(decoding: output.withLock { $0.stderr }, as: UTF8.self) }

    /// The first complete line of `stream` containing `text`; throws when the process ends without one.
    func waitForLine(in stream: Stream, containing text: String) async throws -> String {
        while true {
            let lines = (stream == .stdout ? stdout : stderr).split(separator: "\n", omittingEmptySubsequences: false)
            if let line = lines.dropLast().first(where: { $0.contains(text) }) { return String(line) }
            if output.withLock({ $0.closed }) == 2 {
                throw UCPSimError(.unavailable, "no line with \(text): \(stdout) \(stderr)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The process id (for its RSS in /proc).
    var processIdentifier: Int32 { process.processIdentifier }

    /// Waits until stdout contains `text` (or the process ends); true when it does.
    func waitForOutput(_ text: String) async throws -> Bool {
        while !stdout.contains(text) {
            if !process.isRunning && output.withLock({ $0.closed }) == 2 { return stdout.contains(text) }
            try await Task.sleep(nanoseconds: 2_000_000)
        }
        return true
    }

    /// Sends `signal` once and waits for the exit; a process still running 30 s later is killed (`hung`).
    func interrupt(_ signal: Int32) async -> Exit {
        Glibc.kill(process.processIdentifier, signal)
        let process = process
        let hung = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            Thread {
                let deadline = Date().addingTimeInterval(30)
                while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
                let hung = process.isRunning
                if hung { Glibc.kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                continuation.resume(returning: hung)
            }.start()
        }
        while output.withLock({ $0.closed }) < 2 { try? await Task.sleep(nanoseconds: 1_000_000) }
        return Exit(
            status: process.terminationStatus,
            signalled: process.terminationReason == .uncaughtSignal,
            hung: hung,
            stdout: stdout,
            stderr: stderr
        )
    }

    /// SIGKILL, then reaps it.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
