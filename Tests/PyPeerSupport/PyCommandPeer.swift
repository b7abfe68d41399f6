import Foundation
import Synchronization

/// A py-libp2p 0.8.1 peer driven by one command per stdin line (`tests/python/pubsub/peer.py`),
/// shared by the gossipsub and Kademlia interop tests.
///
/// The peer answers each command with `OK <command> <json>` or `ERR <command> <text>` and prints
/// unsolicited lines (`MSG <json>`) as they happen; every line is kept, so a test can wait for one.
/// Every wait is bounded; ``stop()`` closes stdin and kills the process by pid if it lingers.
public final class PyCommandPeer: @unchecked Sendable {
    /// A failure talking to the py peer; the message names the command and includes the peer's stderr tail.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    /// The repository root (three levels above this file).
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// The interop venv's python, made by scripts/setup.
    public static let python = repoRoot.appendingPathComponent(".venv-interop/bin/python").path
    /// The peer script.
    public static let script = repoRoot.appendingPathComponent("tests/python/pubsub/peer.py").path

    let process = Process()
    let stdin = Pipe()
    let stdout = Pipe()
    let stderrFile: URL
    let lines = Mutex<[String]>([])
    let ended = Atomic<Bool>(false)
    /// The peer's full multiaddr (`/ip4/127.0.0.1/tcp/N/p2p/12D3KooW...`), printed at start.
    public private(set) var address = ""

    /// Starts the peer with `arguments` and waits (at most `timeout`) for its address.
    ///
    /// A missing venv is a failure, not a skip: the interop peers are part of the test setup.
    public init(_ arguments: [String] = [], timeout: Duration = .seconds(40)) async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            throw Failure(description: "interop venv missing at \(Self.python); run scripts/setup")
        }
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [Self.script] + arguments
        process.standardInput = stdin
        process.standardOutput = stdout
        stderrFile = FileManager.default.temporaryDirectory.appendingPathComponent("meshfl-pypubsub-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        try process.run()
        try? stdout.fileHandleForWriting.close()
        // The blocking pipe read runs on a thread of its own, never on the cooperative pool.
        let handle = stdout.fileHandleForReading
        Thread { [self] in
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...newline)
                    self.lines.withLock { $0.append(line) }
                }
            }
            self.ended.store(true, ordering: .releasing)
        }.start()
        address = String(try await line(startingWith: "ADDR ", timeout: timeout).dropFirst(5))
    }

    /// The peer id part of ``address``.
    public var peerIDText: String { String(address.split(separator: "/").last ?? "") }

    /// Every stdout line so far.
    public var output: [String] { lines.withLock { $0 } }

    /// The last part of the peer's stderr, for failure messages.
    public var stderrText: String {
        (try? String(contentsOf: stderrFile, encoding: .utf8)).map { String($0.suffix(3000)) } ?? ""
    }

    /// Waits until a line starting with `prefix` (and passing `matching`) has been printed; returns it.
    public func line(startingWith prefix: String, after skip: Int = 0, timeout: Duration,
                     matching: (String) -> Bool = { _ in true }) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let found = lines.withLock { $0.dropFirst(skip).first { $0.hasPrefix(prefix) && matching($0) } }
            if let found { return found }
            if ended.load(ordering: .acquiring) && !process.isRunning {
                throw Failure(description: "py peer exited before printing '\(prefix)'\n\(stderrText)")
            }
            if ContinuousClock.now >= deadline {
                throw Failure(description: "no '\(prefix)' from py peer within \(timeout)\n\(stderrText)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Sends one command and returns the JSON object of its `OK` answer.
    ///
    /// - Throws: ``Failure`` on an `ERR` answer or when none comes within `timeout`.
    @discardableResult
    public func command(_ words: String..., timeout: Duration = .seconds(45)) async throws -> [String: Any] {
        let name = words[0]
        let skip = lines.withLock { $0.count }
        stdin.fileHandleForWriting.write(Data((words.joined(separator: " ") + "\n").utf8))
        let answer = try await line(startingWith: "", after: skip, timeout: timeout) {
            $0.hasPrefix("OK \(name) ") || $0.hasPrefix("ERR \(name) ")
        }
        guard answer.hasPrefix("OK ") else { throw Failure(description: "py peer: \(answer)\n\(stderrText)") }
        let json = answer.dropFirst("OK \(name) ".count)
        return (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]) ?? [:]
    }

    /// The JSON objects of every `MSG` line so far.
    public var messages: [[String: Any]] {
        output.filter { $0.hasPrefix("MSG ") }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.dropFirst(4).utf8)) as? [String: Any]
        }
    }

    /// Closes stdin (the peer exits), then terminates and finally kills it by pid if it is still running.
    public func stop() async {
        try? stdin.fileHandleForWriting.close()
        for signal in [0, SIGTERM, SIGKILL] {
            if signal != 0 && process.isRunning { kill(process.processIdentifier, signal) }
            for _ in 0..<60 where process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
        }
        try? FileManager.default.removeItem(at: stderrFile)
    }
}
