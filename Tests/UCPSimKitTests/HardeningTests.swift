import Foundation
import Synchronization
import Testing
@testable import UCPSimKit

/// Secrets and exposure: keys never readable by others, kids that can be signed with, a control API never opened to
/// the network without a word.
@Suite struct HardeningTests {
    @Test func aNewKeyFileIsNeverReadableByOthersAtAnyMoment() async throws {
        let directory = TestSupport.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let done = Atomic<Bool>(false)
        let seen = Mutex<(files: Int, exposed: [String])>((0, []))
        // A watcher looks at every file in the directory as fast as it can while keys are written.
        let watcher = Thread {
            while !done.load(ordering: .acquiring) {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                    var info = stat()
                    guard stat("\(directory)/\(name)", &info) == 0 else { continue }
                    seen.withLock { seen in
                        seen.files += 1
                        if info.st_mode & 0o077 != 0 {
                            seen.exposed.append("\(name) \(String(info.st_mode & 0o777, radix: 8))")
                        }
                    }
                }
            }
        }
        watcher.start()
        for index in 0..<200 {
            _ = try KeyRing.generateKey(.es256, kid: "k\(index)", directory: directory)
        }
        done.store(true, ordering: .releasing)
        let result = seen.withLock { $0 }
        #expect(result.files > 0, "the watcher saw no file, so it proved nothing")
        #expect(result.exposed.isEmpty, "readable by others: \(result.exposed.prefix(5))")
        let modes = try FileManager.default.contentsOfDirectory(atPath: directory).map {
            try FileManager.default.attributesOfItem(atPath: "\(directory)/\($0)")[.posixPermissions] as? NSNumber
        }
        #expect(modes.count == 200 && modes.allSatisfy { $0?.intValue == 0o600 })
    }

    @Test func aKidThatCannotGoIntoASignatureIsRefusedAtGeneration() async throws {
        let directory = TestSupport.temporaryDirectory()
        let result = try await CLITests.ucpsim(["keys", "generate", "--out", directory, "--kid", "clé-2026"])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("ASCII"))
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/clé-2026.pem"))
    }

    @Test func serveRefusesAnOpenControlAPIUnlessToldAndThenWarns() async throws {
        let refused = try await CLITests.ucpsim(["serve", "--host", "0.0.0.0", "--port", "0"])
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--simulation-secret"), "\(refused.stderr)")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLITests.binary)
        process.arguments = [
            "serve", "--host", "0.0.0.0", "--port", "0", "--allow-unauthenticated-control", "--state",
            TestSupport.temporaryDirectory(),
        ]
        let errors = Pipe()
        let output = Pipe()
        process.standardError = errors
        process.standardOutput = output
        try process.run()
        var first = Data()
        while !first.contains(0x0A) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            first += chunk
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(String(decoding: first, as: UTF8.self).contains("shop listening on"))
        #expect(stderr.contains("WARNING: --allow-unauthenticated-control"), "\(stderr)")
    }
}
