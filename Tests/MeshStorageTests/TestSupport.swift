import Foundation
import Testing

/// Paths and processes the MeshStorage tests share.
enum TestSupport {
    /// The package root (…/Tests/MeshStorageTests/TestSupport.swift → …).
    static let repoRoot: URL = URL(filePath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A fresh empty directory under the system temp directory.
    static func temporaryDirectory(_ label: String = "meshfl-storage") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appending(path: "\(label)-\(UUID().uuidString)", directoryHint: .isDirectory)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs a program to completion with `input` on stdin; returns (status, stdout, stderr).
    /// Killed (by its pid) after `timeout` seconds.
    static func run(_ executable: String, _ arguments: [String], input: Data = Data(), timeout: Double = 60) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(filePath: executable)
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let pid = process.processIdentifier
        let killer = DispatchWorkItem { if process.isRunning { kill(pid, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        killer.cancel()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// Deterministic pseudo-random bytes (xorshift), for test payloads.
    static func bytes(_ count: Int, seed: UInt64 = 0x9E3779B97F4A7C15) -> Data {
        var state = seed &* 0x9E3779B97F4A7C15 &+ 0x632BE59BD9B4E019
        if state == 0 { state = 1 }
        var bytes = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            bytes[i] = UInt8(truncatingIfNeeded: state)
        }
        return Data(bytes)
    }
}

