import Testing
import Foundation
import NIOCore
@testable import Libp2p

/// A py-libp2p 0.8.1 peer run from `tests/python/libp2p/peer.py` in the interop venv.
final class PyPeer: @unchecked Sendable {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = repoRoot.appendingPathComponent(".venv-interop/bin/python").path
    static let script = repoRoot.appendingPathComponent("tests/python/libp2p/peer.py").path

    let process = Process()
    let stdin = Pipe()
    let stdout = Pipe()
    let stderrFile: URL

    init(_ arguments: [String]) throws {
        // The interop venv is part of the test setup (scripts/setup): its absence is a failure, not a skip.
        try #require(FileManager.default.isExecutableFile(atPath: Self.python),
                     "interop venv missing at \(Self.python); run scripts/setup")
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [Self.script] + arguments
        process.standardInput = stdin
        process.standardOutput = stdout
        stderrFile = FileManager.default.temporaryDirectory.appendingPathComponent("meshfl-pypeer-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        try process.run()
        // Our copy of the write end must go, or reading stdout never sees EOF.
        try? stdout.fileHandleForWriting.close()
    }

    /// Reads stdout lines until one starts with `prefix` (bounded by `timeout`).
    ///
    /// The blocking pipe read runs on its own thread, never on the (2-thread) cooperative pool.
    func line(startingWith prefix: String, timeout: Duration) async throws -> String {
        let handle = stdout.fileHandleForReading
        let process = self.process
        // SIGKILL on timeout: py-libp2p's trio loop may not stop on SIGTERM, and the pipe must reach EOF.
        return try await withTimeout(timeout, "waiting for '\(prefix)' from py peer", onTimeout: { kill(process.processIdentifier, SIGKILL) }) {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
                let thread = Thread {
                    var buffer = Data()
                    while true {
                        let chunk = handle.availableData
                        if chunk.isEmpty {
                            continuation.resume(throwing: Libp2pError(.closed, "py peer exited without printing \(prefix)"))
                            return
                        }
                        buffer.append(chunk)
                        let text = String(decoding: buffer, as: UTF8.self)
                        for line in text.split(separator: "\n") where line.hasPrefix(prefix) && text.contains(line + "\n") {
                            continuation.resume(returning: String(line.dropFirst(prefix.count)))
                            return
                        }
                    }
                }
                thread.start()
            }
        }
    }

    /// Waits for exit (terminating the process after `timeout`) and returns the status.
    func wait(timeout: Duration) async -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning {
            process.terminate()
            for _ in 0..<40 where process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            for _ in 0..<40 where process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
        }
        return process.isRunning ? -1 : process.terminationStatus
    }

    var stderrText: String { (try? String(contentsOf: stderrFile, encoding: .utf8)).map { String($0.suffix(3000)) } ?? "" }

    /// Ends the peer: closes its stdin, then terminates it by pid if it is still running.
    func stop() async {
        try? stdin.fileHandleForWriting.close()
        _ = await wait(timeout: .seconds(5))
        try? FileManager.default.removeItem(at: stderrFile)
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct PyInteropTests {
    static let muxers = ["yamux", "mplex"]

    @Test(arguments: muxers)
    func pyDialsUs(muxer: String) async throws {
        let host = try await TestSupport.host()
        let events = await host.events()
        let target = await host.fullAddresses[0]
        // Over mplex, peer.py uses the length-framed echo (py's mplex streams are half-duplex).
        let py = try PyPeer(["dial", "--muxer", muxer, "--target", target.description])
        let resultLine: String
        do {
            resultLine = try await py.line(startingWith: "RESULT ", timeout: .seconds(40))
        } catch {
            Issue.record("py dial failed: \(error)\n\(py.stderrText)")
            await py.stop(); await host.shutdown()
            return
        }
        let status = await py.wait(timeout: .seconds(20))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(resultLine.utf8)) as? [String: Any])
        #expect(json["ok"] as? Bool == true, "py result: \(resultLine)\n\(py.stderrText)")
        #expect(status == 0)
        let echoes = json["echo"] as? [[String: Any]] ?? []
        #expect(echoes.count == 8)
        #expect(echoes.allSatisfy { $0["ok"] as? Bool == true })
        #expect((echoes.compactMap { $0["size"] as? Int }).max() == 16 << 20)
        #expect((json["ping_ms"] as? [Int])?.count == 3)
        let identify = json["identify"] as? [String: Any] ?? [:]
        #expect(identify["key_matches_peer"] as? Bool == true)
        #expect((identify["protocols"] as? [String] ?? []).contains(Ping.protocolID))
        #expect((identify["listen_addrs"] as? [String] ?? []).contains(target.withoutPeerID.description))
        // We saw py connect, with the peer id it reported, over the muxer it asked for.
        let pyPeer = try PeerID(string: json["peer"] as? String ?? "")
        var connected = false
        for await event in events {
            if case .connected(let p, _) = event, p == pyPeer { connected = true; break }
        }
        #expect(connected)
        await py.stop()
        await host.shutdown()
    }

    @Test(arguments: muxers)
    func weDialPy(muxer: String) async throws {
        let py = try PyPeer(["listen", "--muxer", muxer, "--lifetime", "100"])
        let host = try await TestSupport.host(muxers: [muxer == "yamux" ? ConnectionUpgrader.yamuxProtocol : ConnectionUpgrader.mplexProtocol])
        do {
            let address = try Multiaddr(try await py.line(startingWith: "ADDR ", timeout: .seconds(30)))
            let peer = try await host.connect(to: address)
            #expect(peer == address.peerID)
            #expect(await host.existingConnection(to: peer)?.muxerProtocol.contains(muxer) == true)
            // Our message 3 offers our muxers; py-libp2p 0.8.1 parses the extension but offers none
            // itself, so the muxer still comes from multistream-select.
            #expect(await host.existingConnection(to: peer)?.muxerAgreedInHandshake == false)
            let sizes = [0, 1, 1 << 20, 16 << 20, 0, 1, 1 << 20, 300_000]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (i, size) in sizes.enumerated() {
                    group.addTask {
                        let r = try await TestSupport.echo(TestSupport.payload(size, seed: UInt64(i)), to: peer, from: host)
                        #expect(r.count == size)
                        #expect(r.sent == r.received, "checksum of \(size)-byte echo via py (\(muxer))")
                    }
                }
                try await group.waitForAll()
            }
            let rtts = try await Ping.ping(peer, on: host, count: 3)
            #expect(rtts.count == 3)
            let info = try await host.identify(peer)
            #expect(info.protocols.contains("/meshfl/test/echo/1.0.0"))
            #expect(info.protocols.contains(Ping.protocolID))
            #expect(info.listenAddresses.contains(address.withoutPeerID))
            #expect(try PublicKey(protobuf: info.publicKey ?? []).peerID == peer)
            #expect(info.agentVersion?.hasPrefix("py-libp2p") == true)
        } catch {
            Issue.record("interop with py (\(muxer)) failed: \(error)\n\(py.stderrText)")
        }
        await host.shutdown()
        await py.stop()
    }

    @Test func wrongPeerIDForPyIsRefused() async throws {
        let py = try PyPeer(["listen", "--lifetime", "60"])
        let host = try await TestSupport.host()
        let address = try Multiaddr(try await py.line(startingWith: "ADDR ", timeout: .seconds(30)))
        let wrong = address.withoutPeerID.appending(.p2p(PrivateKey.generate().peerID))
        await #expect { try await host.connect(to: wrong) } throws: { ($0 as? Libp2pError)?.code == .peerIDMismatch }
        #expect(try await host.connect(to: address) == address.peerID)
        await host.shutdown()
        await py.stop()
    }
}
