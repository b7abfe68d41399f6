import Testing
import NIOCore
@testable import Libp2p

/// Keep-alive, idle close and stream bookkeeping of connections.
@Suite(.timeLimit(.minutes(1)))
struct ConnectionLifecycleTests {
    @Test func yamuxPingMeasuresRoundTrip() async throws {
        let a = try await TestSupport.host()
        let b = try await TestSupport.host()
        let peer = try await a.connect(to: await b.fullAddresses[0])
        let connection = try #require(await a.existingConnection(to: peer))
        let rtt = try await connection.muxerPing()
        #expect(rtt > .zero)
        await a.shutdown()
        await b.shutdown()
    }

    @Test func keepAliveClosesAPeerThatStopsAnswering() async throws {
        let server = try await TestSupport.host {
            $0.keepAliveInterval = .milliseconds(200)
            $0.keepAliveTimeout = .milliseconds(300)
        }
        // A client that completes the handshake and then never reads (so never answers pings).
        let tcp = try await TCPTransport().dial(await server.listenAddresses[0], timeout: .seconds(2))
        let clientKey = PrivateKey.generate()
        let upgrader = ConnectionUpgrader(identity: clientKey, muxers: [ConnectionUpgrader.yamuxProtocol])
        _ = try await upgrader.upgrade(tcp, isDialer: true, expectedPeer: server.peerID)
        #expect(await TestSupport.eventually { await server.connectedPeers.contains(clientKey.peerID) })
        #expect(await TestSupport.eventually { await server.connectedPeers.isEmpty }, "unanswered keep-alive closes the connection")
        tcp.close()
        await server.shutdown()
    }

    /// A peer that answers keeps its connection through many keep-alive rounds, and a closed connection's
    /// timer stops (the host shuts down cleanly with no ping left behind).
    @Test func keepAliveKeepsAnAnsweringPeer() async throws {
        let fast: @Sendable (inout Host.Configuration) -> Void = {
            $0.keepAliveInterval = .milliseconds(50)
            $0.keepAliveTimeout = .milliseconds(500)
        }
        let server = try await TestSupport.host(configure: fast)
        let client = try await TestSupport.host(configure: fast)
        let peer = try await client.connect(to: await server.fullAddresses[0])
        let connection = try #require(await client.existingConnection(to: peer))
        try await Task.sleep(for: .milliseconds(800))  // ~16 pings each way
        #expect(!connection.isClosed)
        #expect(await server.connectedPeers.contains(client.peerID))
        let r = try await TestSupport.echo([7, 8, 9], to: peer, from: client)
        #expect(r.sent == r.received)
        await client.shutdown()
        await server.shutdown()
    }

    @Test func idleConnectionsAreClosedAndFinishedStreamsForgotten() async throws {
        let server = try await TestSupport.host { $0.idleTimeout = .seconds(1) }
        let client = try await TestSupport.host()
        let peer = try await client.connect(to: await server.fullAddresses[0])
        let r = try await TestSupport.echo([1, 2, 3], to: peer, from: client)
        #expect(r.sent == r.received)
        #expect(await TestSupport.eventually { await client.existingConnection(to: peer)?.streamCount == 0 })
        #expect(await TestSupport.eventually(.seconds(15)) { await client.connectedPeers.isEmpty }, "the server closed the idle connection")
        await client.shutdown()
        await server.shutdown()
    }

    @Test func durationsConvertToNanoseconds() {
        #expect(Host.timeAmount(.milliseconds(1500)) == .milliseconds(1500))
        #expect(Host.timeAmount(.microseconds(3)) == .microseconds(3))
    }

    @Test func dialToAClosedPortFailsWithATransportError() async throws {
        let host = try await TestSupport.host()
        let other = try await TestSupport.host()
        let address = await other.fullAddresses[0]
        await other.shutdown()
        await #expect { try await host.connect(to: address) } throws: { ($0 as? Libp2pError)?.code == .transport }
        await host.shutdown()
    }
}
