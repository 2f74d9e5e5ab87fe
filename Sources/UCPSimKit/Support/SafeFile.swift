import Foundation

/// Replaces small files whole: the bytes go to a temporary file beside the target, are fsync'd, and the temporary
/// is renamed over the target, so a reader (or a crash) sees the old file or the new one, never half of either.
/// The one way ucpsim writes its state files (run progress, shop identity), reports and exported vectors.
public enum SafeFile {
    /// Writes `bytes` to `path` (mode `mode` for a new file). A failure removes the temporary and says why.
    public static func replace(_ bytes: [UInt8], at path: String, mode: mode_t = 0o644) throws(UCPSimError) {
        let temporary = path + ".tmp-\(getpid())"
        func failure() -> UCPSimError {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            return UCPSimError(.cannotCreate, "cannot write \(path): \(reason)")
        }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw failure() }
        let complete = bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let count = write(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if count <= 0 { return false }
                offset += count
            }
            return true
        }
        let synced = complete && fsync(descriptor) == 0
        // Closed exactly once, whatever happened above.
        let closed = close(descriptor) == 0
        guard synced, closed, rename(temporary, path) == 0 else { throw failure() }
    }
}
