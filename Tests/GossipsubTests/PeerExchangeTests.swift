import Testing
import Libp2p
@testable import Gossipsub

/// Peers offered in a PRUNE's peer exchange get dialled, over TCP on 127.0.0.1.
@Suite(.timeLimit(.minutes(1)))
struct PeerExchangeTests {
    static let topic = "/meshfl/px/1"

    static func host() async throws -> Host {
        let host = Host(identity: .generate())
        try await host.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
        return host
    }

    @Test func offeredPeersAreDialledWithTheirSignedRecordsOrTheResolver() async throws {
        let (q, pubsub) = try await GossipsubServiceTests.node(40)
        _ = await pubsub.subscribe(Self.topic)
        let hub = try await Self.host()
        let signed = try await Self.host()      // offered with its own signed record
        let forged = try await Self.host()      // offered with a record signed by the hub: must not be dialled
        let resolved = try await Self.host()    // offered bare; only the resolver knows its address
        let resolvedAddresses = await resolved.listenAddresses
        await pubsub.setPeerResolver { peer in peer == resolved.peerID ? resolvedAddresses : [] }

        let signedRecord = SignedPeerRecord(peer: signed.peerID, seq: 1, addresses: await signed.listenAddresses)
            .sealed(with: signed.identity)
        let forgedRecord = SignedPeerRecord(peer: forged.peerID, seq: 1, addresses: await forged.listenAddresses)
            .sealed(with: hub.identity)
        _ = try await hub.connect(to: await q.fullAddresses[0])
        let stream = try await hub.newStream(to: q.peerID, protocols: [PubsubProtocol.meshsub11.rawValue])
        let prune = ControlMessage.Prune(topic: Self.topic, peers: [
            .init(peerID: forged.peerID.bytes, signedPeerRecord: forgedRecord),
            .init(peerID: signed.peerID.bytes, signedPeerRecord: signedRecord),
            .init(peerID: resolved.peerID.bytes),
        ], backoff: 60)
        try await stream.writeLengthPrefixed(PubsubRPC(subscriptions: [.init(subscribe: true, topic: Self.topic)]).protobufBytes)
        try await stream.writeLengthPrefixed(PubsubRPC(control: ControlMessage(prune: [prune])).protobufBytes)

        // Offered peers are tried in order, so once the last one is connected the forged one was passed over.
        #expect(await GossipsubServiceTests.eventually { await q.existingConnection(to: resolved.peerID) != nil })
        #expect(await q.existingConnection(to: signed.peerID) != nil)
        #expect(await q.existingConnection(to: forged.peerID) == nil)
        // The dial is noted just after Host.connect returns, so a moment after the connection shows.
        _ = await GossipsubServiceTests.eventually(.seconds(5)) { await pubsub.exchangedPeers.count >= 2 }
        #expect(await pubsub.exchangedPeers == [signed.peerID, resolved.peerID])
        for host in [q, hub, signed, forged, resolved] { await host.shutdown() }
    }

    /// A hub whose mesh holds one peer prunes the second grafter, offering the first (with the signed record
    /// identify gave it); the two leaves, which only knew the hub, end up connected.
    @Test func leavesOfAFullHubMeetThroughPeerExchange() async throws {
        var config = GossipsubConfiguration()
        config.heartbeatInterval = .milliseconds(100)
        config.d = 1; config.dLow = 1; config.dHigh = 1; config.dOut = 0; config.dLazy = 1
        let hubKey = PrivateKey.generate()
        let hub = Host(identity: hubKey)
        try await hub.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
        let hubPubsub = GossipsubService(host: hub, key: hubKey, configuration: config, seed: 1)
        await hubPubsub.start()
        _ = await hubPubsub.subscribe(Self.topic)
        var leaves: [(host: Host, pubsub: GossipsubService)] = []
        for n in 0..<2 {
            let leaf = try await GossipsubServiceTests.node(60 + n)
            _ = await leaf.pubsub.subscribe(Self.topic)
            _ = try await leaf.host.connect(to: await hub.fullAddresses[0])
            leaves.append(leaf)
        }
        let pair = leaves
        let met = await GossipsubServiceTests.eventually(.seconds(20)) {
            await pair[0].host.existingConnection(to: pair[1].host.peerID) != nil
        }
        #expect(met, "the leaves never connected")
        // The dialler notes the dial just after Host.connect returns, a moment after both ends see the connection.
        let noted = await GossipsubServiceTests.eventually(.seconds(5)) {
            let exchanged = await pair[0].pubsub.exchangedPeers + pair[1].pubsub.exchangedPeers
            return exchanged.contains(pair[0].host.peerID) || exchanged.contains(pair[1].host.peerID)
        }
        #expect(noted, "the leaves met, but not through a dial from peer exchange")
        for host in [hub, pair[0].host, pair[1].host] { await host.shutdown() }
    }
}
