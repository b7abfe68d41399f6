import Testing
import NIOCore
@testable import Libp2p

/// Hostile input: each bad connection is closed with a logged reason; the host keeps serving.
@Suite(.timeLimit(.minutes(1)))
struct HostRobustnessTests {
    /// Reads until the server closes the socket; returns whether it closed within the bound.
    static func serverCloses(_ tcp: TCPConnection) async -> Bool {
        do {
            return try await withTimeout(.seconds(8), "waiting for close", onTimeout: { tcp.close() }) {
                while try await tcp.read() != nil {}
                return true
            }
        } catch let e as Libp2pError where e.code == .timeout {
            return false
        } catch {
            return true  // reset by peer also counts as closed
        }
    }

    static func stillServes(_ server: Host) async throws {
        let client = try await TestSupport.host()
        let peer = try await client.connect(to: await server.fullAddresses[0])
        let r = try await TestSupport.echo([1, 2, 3], to: peer, from: client)
        #expect(r.sent == r.received)
        await client.shutdown()
    }

    @Test func garbageBytesCloseTheConnection() async throws {
        let server = try await TestSupport.host()
        let tcp = try await TCPTransport().dial(await server.listenAddresses[0], timeout: .seconds(2))
        tcp.write(ByteBuffer(bytes: TestSupport.payload(500, seed: 1)))
        #expect(await Self.serverCloses(tcp))
        try await Self.stillServes(server)
        await server.shutdown()
    }

    @Test func truncatedHandshakeTimesOutAndCloses() async throws {
        // Long enough for a real handshake on a loaded machine (stillServes
        // dials through the same server), short enough to keep the test quick.
        let server = try await TestSupport.host { $0.upgradeTimeout = .seconds(3) }
        let tcp = try await TCPTransport().dial(await server.listenAddresses[0], timeout: .seconds(2))
        var hello = MultistreamStateMachine(dialerProposing: ["/noise"])
        var bytes = hello.start()
        bytes.writeBytes([0x00, 0x20, 1, 2, 3])  // a Noise frame announcing 32 bytes, cut short
        tcp.write(bytes)
        #expect(await Self.serverCloses(tcp))
        try await Self.stillServes(server)
        await server.shutdown()
    }

    @Test func badNoiseMessageCloses() async throws {
        let server = try await TestSupport.host()
        let tcp = try await TCPTransport().dial(await server.listenAddresses[0], timeout: .seconds(2))
        var hello = MultistreamStateMachine(dialerProposing: ["/noise"])
        var bytes = hello.start()
        bytes.writeInteger(UInt16(32))
        bytes.writeBytes([UInt8](repeating: 0, count: 32))  // low-order X25519 point
        tcp.write(bytes)
        #expect(await Self.serverCloses(tcp))
        try await Self.stillServes(server)
        await server.shutdown()
    }

    @Test(arguments: [ConnectionUpgrader.yamuxProtocol, ConnectionUpgrader.mplexProtocol])
    func oversizedMuxerFrameCloses(muxer: String) async throws {
        let server = try await TestSupport.host()
        let tcp = try await TCPTransport().dial(await server.listenAddresses[0], timeout: .seconds(2))
        let upgrader = ConnectionUpgrader(identity: .generate(), muxers: [muxer])
        let upgraded = try await upgrader.upgrade(tcp, isDialer: true, expectedPeer: server.peerID)
        var writer = upgraded.writer
        var frame = ByteBuffer()
        if muxer == ConnectionUpgrader.yamuxProtocol {
            YamuxFrame(type: .windowUpdate, flags: .syn, streamID: 1, length: 0).write(into: &frame)
            YamuxFrame(type: .data, flags: [], streamID: 1, length: 200_000_000).write(into: &frame)
        } else {
            frame.writeBytes([0x00, 0x00, 0x02, 0x81, 0x80, 0x80, 0x01])  // new stream 0, then a 2 MiB message header
        }
        tcp.write(try writer.seal(frame))
        #expect(await Self.serverCloses(tcp))
        try await Self.stillServes(server)
        await server.shutdown()
    }

    @Test func connectionLimitRefusesExtraInbound() async throws {
        let server = try await TestSupport.host { $0.maxConnections = 1 }
        let first = try await TestSupport.host()
        _ = try await first.connect(to: await server.fullAddresses[0])
        let second = try await TestSupport.host()
        await #expect(throws: (any Error).self) { try await second.connect(to: await server.fullAddresses[0]) }
        await first.shutdown()
        await second.shutdown()
        await server.shutdown()
    }
}
