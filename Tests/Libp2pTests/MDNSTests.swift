import Testing
import NIOCore
import NIOPosix
import Synchronization
@testable import Libp2p

struct MDNSTests {
    static let peer = PrivateKey.generate().peerID
    static let address = try! Multiaddr("/ip4/192.168.1.7/tcp/4001/p2p/\(peer)")

    @Test func queryAsksForP2PPeers() throws {
        let packet = try MDNSPacket(bytes: MDNSPacket.query())
        #expect(packet.asksForPeers)
        #expect(!packet.isResponse)
        #expect(packet.dnsaddrs.isEmpty)
    }

    @Test func responseCarriesDnsaddrs() throws {
        let packet = try MDNSPacket(bytes: MDNSPacket.response(peerName: "abc123", addresses: [Self.address]))
        #expect(packet.isResponse)
        #expect(!packet.asksForPeers)
        #expect(packet.dnsaddrs == [Self.address])
        #expect(packet.records.first?.target == "abc123._p2p._udp.local")
    }

    /// Another implementation may compress names: the TXT owner points back at the PTR target.
    @Test func compressedNamesAreFollowed() throws {
        var bytes: [UInt8] = [0, 0, 0x84, 0, 0, 0, 0, 2, 0, 0, 0, 0]
        let serviceAt = bytes.count
        MDNSPacket.writeName(MDNSPacket.serviceName, into: &bytes)
        let instance: [UInt8] = [4] + Array("peer".utf8) + [0xC0, UInt8(serviceAt)]
        MDNSPacket.writeRecord(type: MDNSPacket.typePTR, ttl: 120, data: instance, into: &bytes)
        let instanceAt = bytes.count - instance.count
        bytes += [0xC0, UInt8(instanceAt)]
        let text = Array("dnsaddr=\(Self.address)".utf8)
        MDNSPacket.writeRecord(type: MDNSPacket.typeTXT, ttl: 120, data: [UInt8(text.count)] + text, into: &bytes)
        let packet = try MDNSPacket(bytes: bytes)
        #expect(packet.records.map(\.name) == ["_p2p._udp.local", "peer._p2p._udp.local"])
        #expect(packet.dnsaddrs == [Self.address])
    }

    @Test(arguments: [
        [UInt8](repeating: 0, count: 5),
        [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12],          // a pointer to itself
        [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 16, 0, 1, 0, 0, 0, 1, 0, 200, 1],  // record overruns
        [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, 65],             // label overruns
    ])
    func malformedPacketsAreRefused(bytes: [UInt8]) {
        #expect(throws: Libp2pError.self) { try MDNSPacket(bytes: bytes) }
    }

    /// Over real UDP on 127.0.0.1 (unicast, so no multicast route is needed): the service asks, answers
    /// a query with its addresses, and reports a peer another responder announces.
    @Test(.timeLimit(.minutes(1))) func serviceAsksAnswersAndLearnsOverUDP() async throws {
        let probe = UDPProbe()
        let probeChannel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { $0.pipeline.addHandler(probe) }
            .bind(host: "127.0.0.1", port: 0).get()
        let listen = try Multiaddr("/ip4/127.0.0.1/tcp/4001")
        let me = PrivateKey.generate().peerID
        let mdns = MDNSDiscovery(peer: me, addresses: [listen], group: try #require(probeChannel.localAddress),
                                 bind: try SocketAddress(ipAddress: "127.0.0.1", port: 0), interval: .milliseconds(200))
        let found = FoundPeers()
        try await mdns.start { found.add($0) }
        let serviceAddress = try #require(await mdns.localAddress)

        // It asks.
        let query = try await probe.next(timeout: .seconds(5))
        #expect(try MDNSPacket(bytes: query.bytes).asksForPeers)
        // It answers our question with its own address.
        func send(_ bytes: [UInt8]) async throws {
            var buffer = probeChannel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            try await probeChannel.writeAndFlush(AddressedEnvelope(remoteAddress: serviceAddress, data: buffer)).get()
        }
        try await send(MDNSPacket.query())
        var answer: MDNSPacket?
        for _ in 0..<10 {
            let packet = try MDNSPacket(bytes: try await probe.next(timeout: .seconds(5)).bytes)
            if packet.isResponse { answer = packet; break }
        }
        #expect(answer?.dnsaddrs == [listen.appending(.p2p(me))])
        // It learns another peer from a response, and ignores its own address.
        try await send(MDNSPacket.response(peerName: "other", addresses: [Self.address, listen.appending(.p2p(me))]))
        let deadline = ContinuousClock.now + .seconds(5)
        while found.all.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(found.all == [Self.address])
        await mdns.stop()
        try await probeChannel.close()
    }
}

final class FoundPeers: Sendable {
    let lock = Mutex<[Multiaddr]>([])
    func add(_ address: Multiaddr) { lock.withLock { $0.append(address) } }
    var all: [Multiaddr] { lock.withLock { $0 } }
}

/// Collects datagrams a test socket receives.
final class UDPProbe: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let received = Mutex<[(bytes: [UInt8], from: SocketAddress)]>([])

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        received.withLock { $0.append((Array(envelope.data.readableBytesView), envelope.remoteAddress)) }
    }

    /// The oldest datagram not yet taken, waiting at most `timeout`.
    func next(timeout: Duration) async throws -> (bytes: [UInt8], from: SocketAddress) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let first = received.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return first }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw Libp2pError(.timeout, "no datagram within \(timeout)")
    }
}
