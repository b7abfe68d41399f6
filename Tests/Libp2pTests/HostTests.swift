import Testing
import NIOCore
@testable import Libp2p

@Suite(.timeLimit(.minutes(1)))
struct HostTests {
    static let muxers = [ConnectionUpgrader.yamuxProtocol, ConnectionUpgrader.mplexProtocol]

    @Test(arguments: muxers)
    func echoStreamsOfManySizesConcurrently(muxer: String) async throws {
        let server = try await TestSupport.host(muxers: [muxer])
        let client = try await TestSupport.host(muxers: [muxer])
        let address = await server.fullAddresses[0]
        let peer = try await client.connect(to: address)
        #expect(peer == server.peerID)
        #expect(await client.existingConnection(to: peer)?.muxerProtocol == muxer)
        let sizes = [0, 1, 1 << 20, 16 << 20, 0, 1, 1 << 20, 300_000]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, size) in sizes.enumerated() {
                group.addTask {
                    let r = try await TestSupport.echo(TestSupport.payload(size, seed: UInt64(i)), to: peer, from: client)
                    #expect(r.count == size)
                    #expect(r.sent == r.received, "checksum of \(size)-byte echo")
                }
            }
            try await group.waitForAll()
        }
        await client.shutdown()
        await server.shutdown()
    }

    @Test func pingAndIdentifyBothWays() async throws {
        let a = try await TestSupport.host()
        let b = try await TestSupport.host()
        let peer = try await a.connect(to: await b.fullAddresses[0])
        let rtts = try await Ping.ping(peer, on: a, count: 3)
        #expect(rtts.count == 3)
        let info = try await a.identify(peer)
        #expect(info.protocols.contains(TestSupport.echoProtocol))
        #expect(info.protocols.contains(Ping.protocolID))
        #expect(info.listenAddresses == (await b.listenAddresses))
        #expect(try PublicKey(protobuf: info.publicKey ?? []).peerID == peer)
        // b identifies a over the inbound connection.
        let back = try await b.identify(a.peerID)
        #expect(back.agentVersion == "meshfl/0.1.0")
        #expect(a.peerstore.record(for: peer).protocols.contains(Identify.protocolID))
        #expect(await TestSupport.eventually { b.peerstore.record(for: a.peerID).publicKey == a.identity.publicKey })
        await a.shutdown()
        await b.shutdown()
    }

    @Test func identifyPushAnnouncesNewProtocols() async throws {
        let a = try await TestSupport.host()
        let b = try await TestSupport.host()
        let peer = try await a.connect(to: await b.fullAddresses[0])
        #expect(await TestSupport.eventually { b.peerstore.record(for: a.peerID).protocols.contains(Identify.pushProtocolID) })
        #expect(await TestSupport.eventually { a.peerstore.record(for: peer).protocols.contains(Identify.pushProtocolID) })
        await a.setHandler("/meshfl/test/new/1.0.0") { stream in await stream.closeWrite() }
        #expect(await TestSupport.eventually { b.peerstore.record(for: a.peerID).protocols.contains("/meshfl/test/new/1.0.0") })
        await a.shutdown()
        await b.shutdown()
    }

    @Test func wrongPeerIDInAddressIsRefused() async throws {
        let server = try await TestSupport.host()
        let client = try await TestSupport.host()
        let wrong = (await server.listenAddresses[0]).appending(.p2p(PrivateKey.generate().peerID))
        await #expect { try await client.connect(to: wrong) } throws: { ($0 as? Libp2pError)?.code == .peerIDMismatch }
        #expect(await client.connectedPeers.isEmpty)
        // The server keeps serving a correct dial.
        #expect(try await client.connect(to: await server.fullAddresses[0]) == server.peerID)
        await client.shutdown()
        await server.shutdown()
    }

    /// Over real sockets: hosts that both offer their muxers in the Noise handshake agree there; a host
    /// that does not (as py-libp2p 0.8.1) gets multistream-select, whichever side it is on.
    @Test(arguments: [(true, true), (false, true), (true, false)])
    func muxerAgreedInTheHandshakeWhenBothOfferIt(clientOffers: Bool, serverOffers: Bool) async throws {
        let server = try await TestSupport.host(muxers: [ConnectionUpgrader.mplexProtocol, ConnectionUpgrader.yamuxProtocol]) {
            $0.inlineMuxerNegotiation = serverOffers
        }
        let client = try await TestSupport.host { $0.inlineMuxerNegotiation = clientOffers }
        let peer = try await client.connect(to: await server.fullAddresses[0])
        let outbound = try #require(await client.existingConnection(to: peer))
        #expect(outbound.muxerAgreedInHandshake == (clientOffers && serverOffers))
        // Either way the client's first choice, yamux, which the server supports too.
        #expect(outbound.muxerProtocol == ConnectionUpgrader.yamuxProtocol)
        #expect(await TestSupport.eventually { await server.existingConnection(to: client.peerID) != nil })
        let inbound = try #require(await server.existingConnection(to: client.peerID))
        #expect(inbound.muxerAgreedInHandshake == outbound.muxerAgreedInHandshake)
        #expect(inbound.muxerProtocol == ConnectionUpgrader.yamuxProtocol)
        let r = try await TestSupport.echo(TestSupport.payload(100_000, seed: 7), to: peer, from: client)
        #expect(r.sent == r.received)
        await client.shutdown()
        await server.shutdown()
    }

    @Test func simultaneousDialsShareOneConnection() async throws {
        let server = try await TestSupport.host()
        let client = try await TestSupport.host()
        let address = await server.fullAddresses[0]
        try await withThrowingTaskGroup(of: PeerID.self) { group in
            for _ in 0..<8 { group.addTask { try await client.connect(to: address) } }
            for try await peer in group { #expect(peer == server.peerID) }
        }
        #expect(await client.connectedPeers == [server.peerID])
        #expect(await TestSupport.eventually { await server.connectedPeers == [client.peerID] })
        await client.shutdown()
        await server.shutdown()
    }

    @Test func connectAndDisconnectEvents() async throws {
        let server = try await TestSupport.host()
        let client = try await TestSupport.host()
        let events = await server.events()
        let peer = try await client.connect(to: await server.fullAddresses[0])
        await client.disconnect(peer)
        var seen: [HostEvent] = []
        for await e in events {
            if case .identified = e { continue }
            seen.append(e)
            if seen.count == 2 { break }
        }
        #expect(seen.first.map { if case .connected(let p, _) = $0 { p == client.peerID } else { false } } == true)
        #expect(seen.last == .disconnected(client.peerID))
        await client.shutdown()
        await server.shutdown()
    }

    /// A request proposes its protocol without waiting for the answer: a refusal still fails the request
    /// with `protocolNegotiationFailed` (on the read of the answer), and the connection keeps serving.
    @Test func requestToAProtocolThePeerDoesNotServeIsRefused() async throws {
        let server = try await TestSupport.host()
        let client = try await TestSupport.host()
        let served = RequestResponse(protocolID: "/meshfl/test/rr-served/1.0.0", maxMessageSize: 100, timeout: .seconds(5))
        await served.serve(on: server) { request, _ in request + [9] }
        let peer = try await client.connect(to: await server.fullAddresses[0])
        let unserved = RequestResponse(protocolID: "/meshfl/test/rr-nobody/1.0.0", maxMessageSize: 100, timeout: .seconds(5))
        for _ in 0..<3 {
            await #expect { try await unserved.request(peer, payload: [1, 2], on: client) } throws: {
                ($0 as? Libp2pError)?.code == .protocolNegotiationFailed
            }
            #expect(try await served.request(peer, payload: [1, 2], on: client) == [1, 2, 9])
        }
        #expect(await client.connectedPeers == [server.peerID])
        await client.shutdown()
        await server.shutdown()
    }

    @Test func requestResponseWithSizeLimit() async throws {
        let server = try await TestSupport.host()
        let client = try await TestSupport.host()
        let rr = RequestResponse(protocolID: "/meshfl/test/rr/1.0.0", maxMessageSize: 1000, timeout: .seconds(5))
        await rr.serve(on: server) { request, _ in Array(request.reversed()) }
        let peer = try await client.connect(to: await server.fullAddresses[0])
        #expect(try await rr.request(peer, payload: [1, 2, 3], on: client) == [3, 2, 1])
        #expect(try await rr.request(peer, payload: [], on: client) == [])
        await #expect(throws: Libp2pError.self) { try await rr.request(peer, payload: [UInt8](repeating: 0, count: 1001), on: client) }
        // A server with a smaller limit refuses a larger request.
        let small = RequestResponse(protocolID: "/meshfl/test/rr-small/1.0.0", maxMessageSize: 10, timeout: .seconds(5))
        await small.serve(on: server) { request, _ in request }
        let big = RequestResponse(protocolID: "/meshfl/test/rr-small/1.0.0", maxMessageSize: 1000, timeout: .seconds(5))
        await #expect(throws: (any Error).self) { try await big.request(peer, payload: [UInt8](repeating: 0, count: 100), on: client) }
        // A request that gets no answer times out.
        let slow = RequestResponse(protocolID: "/meshfl/test/slow/1.0.0", maxMessageSize: 10, timeout: .milliseconds(300))
        await server.setHandler("/meshfl/test/slow/1.0.0") { stream in try? await Task.sleep(for: .seconds(3)) }
        await #expect { try await slow.request(peer, payload: [1], on: client) } throws: { ($0 as? Libp2pError)?.code == .timeout }
        await client.shutdown()
        await server.shutdown()
    }

    @Test func unsupportedProtocolIsRefused() async throws {
        let server = try await TestSupport.host()
        let client = try await TestSupport.host()
        let peer = try await client.connect(to: await server.fullAddresses[0])
        await #expect { try await client.newStream(to: peer, protocols: ["/nope/1", "/nope/2"]) } throws: {
            ($0 as? Libp2pError)?.code == .protocolNegotiationFailed
        }
        await client.shutdown()
        await server.shutdown()
    }

    @Test func listensOnSeveralAddressesAndShutsDownCleanly() async throws {
        let host = Host(identity: .generate())
        try await host.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0"), Multiaddr("/ip6/::1/tcp/0")])
        let addresses = await host.fullAddresses
        #expect(addresses.count == 2)
        let client = try await TestSupport.host()
        #expect(try await client.connect(to: addresses[1]) == host.peerID)
        await host.shutdown()
        #expect(await TestSupport.eventually { await client.connectedPeers.isEmpty })
        await #expect(throws: Libp2pError.self) { try await client.connect(to: addresses[0]) }
        await client.shutdown()
    }
}
