import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few POSIX file operations the stores need: durable atomic writes,
/// advisory locks between processes, reads. No policy lives here.
enum FileOps {
    /// Creates a directory and its parents; succeeds if it already exists.
    static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw StorageError(code: .io, message: "cannot create directory \(path); check permissions and free space", cause: error)
        }
    }

    /// Writes `data` to a fresh temp file in `tempDirectory`, fsyncs it (when `durability` is synced), and returns its path.
    static func writeTemp(_ data: Data, in tempDirectory: String, durability: Durability = .synced) throws -> String {
        let (path, fd) = try openTemp(in: tempDirectory)
        defer { close(fd) }
        do {
            try writeAll(fd, data)
            if durability == .synced { try sync(fd, path) }
        } catch {
            unlink(path)
            throw error
        }
        return path
    }

    /// Opens a new, exclusive temp file for writing.
    static func openTemp(in tempDirectory: String) throws -> (String, Int32) {
        let path = tempDirectory + "/" + UUID().uuidString + ".tmp"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StorageError(code: .io, message: "cannot create temp file in \(tempDirectory); check permissions and free space", cause: Errno(call: "open", value: errno))
        }
        return (path, fd)
    }

    /// Writes every byte of `data` to `fd`.
    static func writeAll(_ fd: Int32, _ data: some DataProtocol) throws {
        for region in data.regions {
            try region.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw StorageError(code: .io, message: "write failed; the disk may be full", cause: Errno(call: "write", value: errno))
                    }
                    offset += n
                }
            }
        }
    }

    /// fsyncs a descriptor.
    static func sync(_ fd: Int32, _ path: String) throws {
        guard fsync(fd) == 0 else {
            throw StorageError(code: .io, message: "fsync of \(path) failed; the data may not be on disk", cause: Errno(call: "fsync", value: errno))
        }
    }

    /// Renames `from` over `to` atomically and fsyncs the target's directory (when `durability` is synced).
    static func commit(_ from: String, to: String, durability: Durability = .synced) throws {
        guard rename(from, to) == 0 else {
            let code = errno
            unlink(from)
            throw StorageError(code: .io, message: "cannot move \(from) to \(to); both must be on one file system", cause: Errno(call: "rename", value: code))
        }
        guard durability == .synced else { return }
        let directory = (to as NSString).deletingLastPathComponent
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// Reads a whole (small) file; nil when it does not exist.
    static func read(_ path: String) throws -> Data? {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            if access(path, F_OK) != 0 { return nil }
            throw StorageError(code: .io, message: "cannot open \(path) for reading; check permissions")
        }
        defer { try? handle.close() }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw StorageError(code: .io, message: "reading \(path) failed", cause: error)
        }
    }

    /// The size of a file, or nil when it does not exist.
    static func size(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    /// Runs `body` holding an advisory `flock` on `path` (shared or exclusive);
    /// the lock is shared with other processes and released on return.
    static func withLock<T>(_ path: String, exclusive: Bool, _ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StorageError(code: .io, message: "cannot open lock file \(path); check permissions on the store directory", cause: Errno(call: "open", value: errno))
        }
        defer { close(fd) }
        while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            if errno == EINTR { continue }
            throw StorageError(code: .io, message: "cannot lock \(path)", cause: Errno(call: "flock", value: errno))
        }
        return try body()
    }

    /// The names in a directory; empty when it does not exist.
    static func list(_ path: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    }
}
