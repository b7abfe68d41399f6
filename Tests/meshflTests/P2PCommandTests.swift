import Foundation
import Synchronization
import Testing

/// `meshfl p2p pubsub` and `meshfl p2p dht` as a user runs them: separate `meshfl` processes talking over
/// TCP on 127.0.0.1.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct P2PCommandTests {
    /// A running `meshfl` process whose stdout and stderr lines are collected as they come.
    final class Running: @unchecked Sendable {
        let process = Process()
        let stdin = Pipe()
        let out = Mutex<[String]>([])
        let err = Mutex<[String]>([])

        init(_ arguments: [String]) throws {
            process.executableURL = try TrainCommandTests.binary
            process.arguments = arguments
            process.standardInput = stdin
            let stdout = Pipe(), stderr = Pipe()
            process.standardOutput = stdout
            process.standardError = stderr
            try process.run()
            collect(stdout, isStderr: false)
            collect(stderr, isStderr: true)
        }

        func collect(_ pipe: Pipe, isStderr: Bool) {
            let handle = pipe.fileHandleForReading
            Thread { [self] in
                var buffer = Data()
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    buffer.append(chunk)
                    while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                        buffer.removeSubrange(buffer.startIndex...newline)
                        if isStderr { self.err.withLock { $0.append(line) } } else { self.out.withLock { $0.append(line) } }
                    }
                }
            }.start()
        }

        var stdoutLines: [String] { out.withLock { $0 } }
        var stderrLines: [String] { err.withLock { $0 } }

        /// Waits (at most `timeout`) for a line of stdout or stderr passing `matching`.
        func line(stderr: Bool = false, timeout: Duration = .seconds(30), _ matching: (String) -> Bool) async throws -> String {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let found = (stderr ? stderrLines : stdoutLines).first(where: matching) { return found }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw TrainCommandTests.CLIFailure("no matching line within \(timeout); stdout: \(stdoutLines) stderr: \(stderrLines)")
        }

        func write(_ line: String) { stdin.fileHandleForWriting.write(Data((line + "\n").utf8)) }

        /// Closes stdin and waits for the exit (killing the process by pid after `timeout`).
        func finish(timeout: Duration = .seconds(20)) async -> Int32 {
            try? stdin.fileHandleForWriting.close()
            let deadline = ContinuousClock.now + timeout
            while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return -1
            }
            return process.terminationStatus
        }
    }

    static func keyFile() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("meshfl-p2p-\(UUID().uuidString).key").path
    }

    @Test func pubsubBetweenTwoProcesses() async throws {
        let a = try Running(["p2p", "pubsub", "--topic", "chat", "--listen", "/ip4/127.0.0.1/tcp/0", "--key", Self.keyFile(),
                             "--json"])
        let listening = try await a.line(stderr: true) { $0.hasPrefix("listening ") }
        let address = String(listening.dropFirst("listening ".count))
        let b = try Running(["p2p", "pubsub", "--topic", "chat", "--listen", "/ip4/127.0.0.1/tcp/0", "--key", Self.keyFile(),
                             "--bootstrap", address])
        _ = try await b.line(stderr: true) { $0 == "joined chat" }
        _ = try await a.line(stderr: true) { $0 == "joined chat" }
        b.write("hello from b")
        let received = try await a.line { $0.contains("hello from b") }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(received.utf8)) as? [String: String])
        #expect(object["data"] == "hello from b")
        #expect(object["topic"] == "chat")
        #expect(object["from"]?.hasPrefix("12D3KooW") == true)
        a.write("hello from a")
        #expect(try await b.line { $0 == "hello from a" } == "hello from a")
        // Own messages are not echoed back.
        #expect(!a.stdoutLines.contains { $0.contains("hello from a") })
        #expect(await b.finish() == 0, "b: \(b.stderrLines)")
        #expect(await a.finish() == 0, "a: \(a.stderrLines)")
    }

    @Test func dhtPutGetProvideFindAcrossProcesses() async throws {
        let server = try Running(["p2p", "dht", "serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--key", Self.keyFile(),
                                  "--duration", "120"])
        let address = try await server.line { $0.hasPrefix("/ip4/127.0.0.1/") }
        let peer = String(address.split(separator: "/").last!)
        func meshfl(_ arguments: [String]) async throws -> (status: Int32, out: [String], err: [String]) {
            let run = try Running(["p2p", "dht"] + arguments + ["--listen", "/ip4/127.0.0.1/tcp/0", "--key", Self.keyFile(),
                                                                  "--bootstrap", address])
            let status = await run.finish(timeout: .seconds(40))
            try await Task.sleep(for: .milliseconds(100))  // the reader threads drain the pipes
            return (status, run.stdoutLines, run.stderrLines)
        }
        let put = try await meshfl(["put", "/meshfl/model-7", "bafkrei-weights"])
        #expect(put.status == 0, "\(put.err)")
        #expect(put.out == ["stored at 1 peers"])
        let get = try await meshfl(["get", "/meshfl/model-7", "--quorum", "1"])
        #expect(get.status == 0, "\(get.err)")
        #expect(get.out == ["bafkrei-weights"])
        let missing = try await meshfl(["get", "/meshfl/absent"])
        #expect(missing.status == 1)
        #expect(missing.err.contains { $0.contains("no peer holds a valid record") })
        // The provider stays up while another process looks it up.
        let provider = try Running(["p2p", "dht", "provide", "shard-3", "--listen", "/ip4/127.0.0.1/tcp/0",
                                    "--key", Self.keyFile(), "--bootstrap", address, "--stay", "30"])
        _ = try await provider.line { $0.hasPrefix("announced to ") }
        let found = try await meshfl(["find-providers", "shard-3"])
        #expect(found.status == 0, "\(found.err)")
        #expect(found.out.count == 1 && found.out[0].hasPrefix("12D3KooW"))
        let peerFound = try await meshfl(["find-peer", found.out.first ?? peer])
        #expect(peerFound.status == 0, "\(peerFound.err)")
        #expect(peerFound.out.contains { $0.hasPrefix("/ip4/127.0.0.1/tcp/") })
        let bad = try await meshfl(["put", "not-namespaced", "x"])
        #expect(bad.status != 0)
        #expect(bad.err.joined().contains("/meshfl/<name>"))
        _ = await provider.finish(timeout: .seconds(1))
        _ = await server.finish(timeout: .seconds(1))
    }
}
