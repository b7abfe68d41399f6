import Testing
import Libp2p
@testable import Gossipsub

struct GossipsubStateMachineTests {
    static let topic = "/meshfl/jobs/1"

    static func sends(_ actions: [GossipsubAction], to peer: PeerID) -> [PubsubRPC] {
        actions.compactMap { if case .send(let rpc, let p) = $0, p == peer { return rpc } else { return nil } }
    }

    static func delivers(_ actions: [GossipsubAction]) -> [PubsubMessage] {
        actions.compactMap { if case .deliver(let m, _, _) = $0 { return m } else { return nil } }
    }

    /// A router with peers 1...n subscribed to `topic`, itself subscribed.
    static func routerWithPeers(_ n: Int, configuration: GossipsubConfiguration = .init())
        -> (router: GossipsubStateMachine, peers: [PeerID])
    {
        var router = GossipsubStateMachine(localKey: SimulatedNetwork.key(0), configuration: configuration, seed: 7)
        let peers = (1...n).map { SimulatedNetwork.key($0).peerID }
        for peer in peers {
            _ = router.receive(.peerAdded(peer, protocol: .meshsub11, outbound: true), now: .zero)
            _ = router.receive(.rpc(PubsubRPC(subscriptions: [.init(subscribe: true, topic: topic)]), from: peer), now: .zero)
        }
        _ = router.receive(.subscribe(topic), now: .zero)
        return (router, peers)
    }

    @Test func meshSizesSettleInsideDLowDHighAndAreSymmetric() {
        var net = SimulatedNetwork(count: 30)
        net.wireRandomly(extra: 8, seed: 42)
        for i in 0..<30 { net.event(i, .subscribe(Self.topic)) }
        net.drain()
        for _ in 0..<10 { net.tick() }
        let config = GossipsubConfiguration()
        for i in 0..<30 {
            let mesh = net.routers[i].meshPeers(Self.topic)
            let available = net.routers[i].peers(subscribedTo: Self.topic).count
            #expect(mesh.count <= config.dHigh, "router \(i) mesh \(mesh.count)")
            #expect(mesh.count >= min(config.dLow, available), "router \(i) mesh \(mesh.count) of \(available)")
            for peer in mesh {
                #expect(net.routers[net.index[peer]!].meshPeers(Self.topic).contains(net.ids[i]), "asymmetric mesh")
            }
        }
    }

    @Test(arguments: [true, false])
    func thirtyRoutersDeliverEveryMessageToEverySubscriber(floodPublish: Bool) {
        var config = GossipsubConfiguration()
        config.floodPublish = floodPublish
        var net = SimulatedNetwork(count: 30, configuration: config, seed: 3)
        net.wireRandomly(extra: 3, seed: 9)
        let subscribers = Set((0..<30).filter { $0 % 5 != 4 })  // 24 subscribers, 6 relays-only publishers
        for i in subscribers { net.event(i, .subscribe(Self.topic)) }
        net.drain()
        for _ in 0..<3 { net.tick() }
        var rng = SplitMix64(seed: 5)
        var published = 0
        for round in 0..<20 {
            let publisher = Int(rng.next() % 30)
            net.event(publisher, .publish(topic: Self.topic, data: Array("message \(round)".utf8)))
            published += 1
            net.drain()
            if round % 5 == 4 { net.tick() }
        }
        for _ in 0..<3 { net.tick() }
        for i in subscribers {
            #expect(net.delivered[i].count == published, "router \(i) got \(net.delivered[i].count) of \(published)")
            #expect(net.delivered[i].values.allSatisfy { $0 == 1 }, "router \(i) got a duplicate")
        }
        for i in 0..<30 where !subscribers.contains(i) {
            #expect(net.delivered[i].isEmpty)
        }
    }

    @Test func aRouterThatLeavesIsRoutedAround() {
        var net = SimulatedNetwork(count: 20, seed: 11)
        net.wireRandomly(extra: 4, seed: 12)
        for i in 0..<20 { net.event(i, .subscribe(Self.topic)) }
        net.drain()
        for _ in 0..<3 { net.tick() }
        // Router 5 goes away: every neighbour sees it removed.
        for j in 0..<20 where net.links.contains([min(5, j), max(5, j)]) {
            net.event(j, .peerRemoved(net.ids[5]))
        }
        net.links = net.links.filter { !$0.contains(5) }
        net.index[net.ids[5]] = nil
        for _ in 0..<2 { net.tick() }
        net.event(0, .publish(topic: Self.topic, data: [1]))
        net.drain()
        for i in 0..<20 where i != 5 {
            #expect(net.delivered[i].count == 1, "router \(i)")
            #expect(net.routers[i].meshPeers(Self.topic).contains(net.ids[5]) == false)
        }
    }

    @Test func backoffIsHonouredAfterPrune() {
        var (router, peers) = Self.routerWithPeers(1)
        let b = peers[0]
        #expect(router.meshPeers(Self.topic) == [b])
        let prune = PubsubRPC(control: ControlMessage(prune: [.init(topic: Self.topic, backoff: 10)]))
        _ = router.receive(.rpc(prune, from: b), now: .seconds(1))
        #expect(router.meshPeers(Self.topic).isEmpty)
        for t in 2...10 {
            let actions = router.receive(.heartbeat, now: .seconds(Int64(t)))
            #expect(Self.sends(actions, to: b).allSatisfy { $0.control?.graft.isEmpty ?? true }, "grafted at \(t)s")
            #expect(router.meshPeers(Self.topic).isEmpty)
        }
        let actions = router.receive(.heartbeat, now: .seconds(12))
        #expect(Self.sends(actions, to: b).contains { $0.control?.graft == [Self.topic] })
        #expect(router.meshPeers(Self.topic) == [b])
    }

    @Test func graftDuringBackoffIsRefusedAndPenalised() {
        var (router, peers) = Self.routerWithPeers(1)
        let b = peers[0]
        _ = router.receive(.rpc(PubsubRPC(control: ControlMessage(prune: [.init(topic: Self.topic, backoff: 60)])), from: b),
                           now: .seconds(1))
        var before = router.score(of: b, now: .seconds(2))
        for t in 2...4 {  // P7 counts only above its threshold of 1
            let actions = router.receive(.rpc(PubsubRPC(control: ControlMessage(graft: [Self.topic])), from: b),
                                         now: .seconds(Int64(t)))
            #expect(Self.sends(actions, to: b).contains { !($0.control?.prune.isEmpty ?? true) })
            #expect(!router.meshPeers(Self.topic).contains(b))
            before = min(before, router.score(of: b, now: .seconds(Int64(t))))
        }
        #expect(router.score(of: b, now: .seconds(4)) < 0)
    }

    @Test func iwantIsAnsweredFromTheCacheUntilHistoryEnds() throws {
        var (router, peers) = Self.routerWithPeers(2)
        let actions = router.receive(.publish(topic: Self.topic, data: [42]), now: .zero)
        let message = try #require(Self.delivers(actions).first)
        let id = MessageID(default: message)
        let want = PubsubRPC(control: ControlMessage(iwant: [.init(messageIDs: [id, MessageID([0xEE])])]))
        let answer = router.receive(.rpc(want, from: peers[1]), now: .seconds(1))
        #expect(Self.sends(answer, to: peers[1]).flatMap(\.messages) == [message])
        for t in 1...GossipsubConfiguration().historyLength {
            _ = router.receive(.heartbeat, now: .seconds(Int64(t)))
        }
        #expect(!router.isCached(id))
        let late = router.receive(.rpc(want, from: peers[1]), now: .seconds(10))
        #expect(Self.sends(late, to: peers[1]).flatMap(\.messages).isEmpty)
    }

    @Test func ihaveLeadsToIWantAndABrokenPromiseIsPenalised() {
        var (router, peers) = Self.routerWithPeers(1)
        let b = peers[0]
        let ids = (0..<3).map { MessageID([1, UInt8($0)]) }
        let ihave = PubsubRPC(control: ControlMessage(ihave: [.init(topic: Self.topic, messageIDs: ids)]))
        let actions = router.receive(.rpc(ihave, from: b), now: .zero)
        #expect(Self.sends(actions, to: b).compactMap(\.control).flatMap(\.iwant).flatMap(\.messageIDs) == ids)
        // Asking again for the same ids does not repeat the IWANT.
        let again = router.receive(.rpc(ihave, from: b), now: .zero)
        #expect(Self.sends(again, to: b).isEmpty)
        _ = router.receive(.heartbeat, now: .seconds(4))  // past the 3 s follow-up time: 3 broken promises
        #expect(router.score(of: b, now: .seconds(4)) < 0)
    }

    @Test func badSignaturesAreRejectedScoredAndEventuallyGraylisted() {
        var (router, peers) = Self.routerWithPeers(2)
        let b = peers[0]
        let author = SimulatedNetwork.key(50)
        var forged = PubsubMessage(data: [1], seqno: [0, 0, 0, 0, 0, 0, 0, 1], topic: Self.topic).signed(with: author)
        forged.data = [2]
        let actions = router.receive(.rpc(PubsubRPC(messages: [forged]), from: b), now: .zero)
        #expect(Self.delivers(actions).isEmpty)
        #expect(Self.sends(actions, to: peers[1]).isEmpty)  // not forwarded
        #expect(router.score(of: b, now: .zero) <= -10)
        // Two more invalid messages: P4 = -10·3² = -90 < graylist (-80); then even valid messages are ignored.
        for n in 2...3 {
            var bad = PubsubMessage(data: [1], seqno: [0, 0, 0, 0, 0, 0, 0, UInt8(n)], topic: Self.topic).signed(with: author)
            bad.signature![0] ^= 1
            _ = router.receive(.rpc(PubsubRPC(messages: [bad]), from: b), now: .zero)
        }
        #expect(router.score(of: b, now: .zero) < GossipsubConfiguration().scoring!.graylistThreshold)
        let good = PubsubMessage(data: [9], seqno: [0, 0, 0, 0, 0, 0, 0, 9], topic: Self.topic).signed(with: author)
        #expect(Self.delivers(router.receive(.rpc(PubsubRPC(messages: [good]), from: b), now: .zero)).isEmpty)
        // The same message from a peer in good standing is delivered and forwarded.
        let fromC = router.receive(.rpc(PubsubRPC(messages: [good]), from: peers[1]), now: .zero)
        #expect(Self.delivers(fromC) == [good])
    }

    @Test func unsignedMessagesAreRejectedUnderStrictSign() {
        var (router, peers) = Self.routerWithPeers(1)
        let unsigned = PubsubMessage(from: SimulatedNetwork.key(9).peerID.bytes, data: [1], seqno: [1], topic: Self.topic)
        let actions = router.receive(.rpc(PubsubRPC(messages: [unsigned]), from: peers[0]), now: .zero)
        #expect(Self.delivers(actions).isEmpty)
    }

    @Test(arguments: [ValidationResult.accept, .reject, .ignore])
    func topicValidatorDecides(verdict: ValidationResult) throws {
        var (router, peers) = Self.routerWithPeers(3)
        router.validatedTopics = [Self.topic]
        let message = PubsubMessage(data: [7], seqno: [0, 0, 0, 0, 0, 0, 0, 7], topic: Self.topic)
            .signed(with: SimulatedNetwork.key(60))
        let asked = router.receive(.rpc(PubsubRPC(messages: [message]), from: peers[0]), now: .zero)
        let request = try #require(asked.first { if case .validate = $0 { true } else { false } })
        guard case .validate(_, let id, let from) = request else { return }
        #expect(from == peers[0])
        #expect(Self.delivers(asked).isEmpty)
        let actions = router.receive(.validated(id, verdict), now: .zero)
        let forwarded = peers.dropFirst().flatMap { Self.sends(actions, to: $0) }.flatMap(\.messages)
        switch verdict {
        case .accept:
            #expect(Self.delivers(actions) == [message])
            #expect(forwarded.count == 2)
            #expect(router.score(of: peers[0], now: .zero) > 0)  // P2 first delivery
        case .reject:
            #expect(Self.delivers(actions).isEmpty && forwarded.isEmpty)
            #expect(router.score(of: peers[0], now: .zero) < 0)
        case .ignore:
            #expect(Self.delivers(actions).isEmpty && forwarded.isEmpty)
            #expect(router.score(of: peers[0], now: .zero) == 0)
        }
    }

    @Test func floodsubPeersGetMessagesButNoControl() {
        var router = GossipsubStateMachine(localKey: SimulatedNetwork.key(0), seed: 1)
        let flood = SimulatedNetwork.key(1).peerID
        let gossip = SimulatedNetwork.key(2).peerID
        var all: [GossipsubAction] = []
        all += router.receive(.peerAdded(flood, protocol: .floodsub, outbound: true), now: .zero)
        all += router.receive(.peerAdded(gossip, protocol: .meshsub11, outbound: true), now: .zero)
        let sub = PubsubRPC(subscriptions: [.init(subscribe: true, topic: Self.topic)])
        all += router.receive(.rpc(sub, from: flood), now: .zero)
        all += router.receive(.rpc(sub, from: gossip), now: .zero)
        all += router.receive(.subscribe(Self.topic), now: .zero)
        all += router.receive(.publish(topic: Self.topic, data: [1]), now: .zero)
        for t in 1...5 { all += router.receive(.heartbeat, now: .seconds(Int64(t))) }
        #expect(Self.sends(all, to: flood).allSatisfy { $0.control == nil })
        #expect(Self.sends(all, to: flood).flatMap(\.messages).count == 1)
        #expect(router.meshPeers(Self.topic) == [gossip])
        #expect(Self.sends(all, to: gossip).contains { $0.control?.graft == [Self.topic] })
    }

    @Test func fanoutPublishesToDPeersAndExpires() {
        var config = GossipsubConfiguration()
        config.floodPublish = false
        var router = GossipsubStateMachine(localKey: SimulatedNetwork.key(0), configuration: config, seed: 1)
        let peers = (1...10).map { SimulatedNetwork.key($0).peerID }
        for peer in peers {
            _ = router.receive(.peerAdded(peer, protocol: .meshsub11, outbound: true), now: .zero)
            _ = router.receive(.rpc(PubsubRPC(subscriptions: [.init(subscribe: true, topic: Self.topic)]), from: peer), now: .zero)
        }
        let actions = router.receive(.publish(topic: Self.topic, data: [1]), now: .zero)
        let recipients = peers.filter { !Self.sends(actions, to: $0).flatMap(\.messages).isEmpty }
        #expect(recipients.count == config.d)
        #expect(router.fanoutPeers(Self.topic).count == config.d)
        #expect(Self.delivers(actions).isEmpty)  // not subscribed
        _ = router.receive(.heartbeat, now: .seconds(61))
        #expect(router.fanoutPeers(Self.topic).isEmpty)
    }

    @Test func oversubscribedMeshIsPrunedToDWithPeerExchange() {
        var (router, peers) = Self.routerWithPeers(20)
        for peer in peers {
            _ = router.receive(.rpc(PubsubRPC(control: ControlMessage(graft: [Self.topic])), from: peer), now: .zero)
        }
        #expect(router.meshPeers(Self.topic).count == 20)  // all outbound peers are accepted
        let actions = router.receive(.heartbeat, now: .seconds(1))
        let config = GossipsubConfiguration()
        #expect(router.meshPeers(Self.topic).count == config.d)
        let prunes = peers.flatMap { Self.sends(actions, to: $0) }.compactMap(\.control).flatMap(\.prune)
        #expect(prunes.count == 20 - config.d)
        #expect(prunes.allSatisfy { $0.backoff == 60 && !$0.peers.isEmpty })
    }

    @Test func peerExchangeIsOfferedToTheApplication() {
        var (router, peers) = Self.routerWithPeers(1)
        let offered = SimulatedNetwork.key(99).peerID
        let prune = PubsubRPC(control: ControlMessage(prune: [.init(topic: Self.topic, peers: [.init(peerID: offered.bytes)])]))
        let actions = router.receive(.rpc(prune, from: peers[0]), now: .zero)
        #expect(actions.contains(.discovered([.init(peerID: offered.bytes)], topic: Self.topic)))
    }

    @Test func scoreTopicPartsGrowAndDecay() {
        var params = PeerScoreParameters()
        params.defaultTopic!.meshMessageDeliveriesWeight = -1
        params.defaultTopic!.meshMessageDeliveriesActivation = .seconds(2)
        var book = PeerScore(parameters: params)
        let peer = SimulatedNetwork.key(1).peerID
        book.addPeer(peer)
        book.graft(peer, topic: "t", now: .zero)
        #expect(book.score(peer, now: .seconds(50)) == 0.5)  // P1: 50 quanta · 0.01
        book.deliverMessage(from: peer, id: MessageID([1]), topic: "t", now: .zero)
        #expect(book.score(peer, now: .zero) == 1)  // P2
        book.refresh(now: .seconds(1))
        #expect(book.score(peer, now: .seconds(1)) == 0.5 + 0.01)  // P2 halves; P1 one quantum
        for t in 2...12 { book.refresh(now: .seconds(Int64(t))) }
        // P3 active after 2 s with no deliveries: deficit 1 → -1, plus P1 0.12.
        #expect(abs(book.score(peer, now: .seconds(12)) - (0.12 - 1)) < 1e-9)
        book.prune(peer, topic: "t")  // P3b: deficit² carried as failure penalty
        #expect(book.score(peer, now: .seconds(12)) == -1)
        book.setApplicationScore(peer, 3)
        #expect(book.score(peer, now: .seconds(12)) == 2)
    }
}

extension GossipsubStateMachineTests {
    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func pruningKeepsDOutOutboundPeers(seed: UInt64) {
        var router = GossipsubStateMachine(localKey: SimulatedNetwork.key(0), seed: seed)
        let peers = (1...15).map { SimulatedNetwork.key($0).peerID }
        let outbound = Set(peers.suffix(2))
        _ = router.receive(.subscribe(Self.topic), now: .zero)  // before any peer: the join grafts nobody
        for peer in peers {
            _ = router.receive(.peerAdded(peer, protocol: .meshsub11, outbound: outbound.contains(peer)), now: .zero)
            _ = router.receive(.rpc(PubsubRPC(subscriptions: [.init(subscribe: true, topic: Self.topic)]), from: peer), now: .zero)
        }
        // 12 inbound grafts fill the mesh to D_high, the rest of the inbound ones are refused, outbound ones always join.
        for peer in peers {
            _ = router.receive(.rpc(PubsubRPC(control: ControlMessage(graft: [Self.topic])), from: peer), now: .zero)
        }
        #expect(router.meshPeers(Self.topic).count == 14)
        _ = router.receive(.heartbeat, now: .seconds(1))
        let mesh = router.meshPeers(Self.topic)
        #expect(mesh.count == GossipsubConfiguration().d)
        #expect(mesh.isSuperset(of: outbound))
    }

    @Test func aMeshWithoutOutboundPeersGraftsSome() {
        var router = GossipsubStateMachine(localKey: SimulatedNetwork.key(0), seed: 1)
        let peers = (1...8).map { SimulatedNetwork.key($0).peerID }
        for (i, peer) in peers.enumerated() {
            _ = router.receive(.peerAdded(peer, protocol: .meshsub11, outbound: i >= 5), now: .zero)
            _ = router.receive(.rpc(PubsubRPC(subscriptions: [.init(subscribe: true, topic: Self.topic)]), from: peer), now: .zero)
        }
        // Five inbound peers graft us before we subscribe-join: the mesh is full of inbound peers.
        _ = router.receive(.subscribe(Self.topic), now: .zero)
        for peer in router.meshPeers(Self.topic) {
            _ = router.receive(.rpc(PubsubRPC(control: ControlMessage(prune: [.init(topic: Self.topic, backoff: 1)])), from: peer), now: .zero)
        }
        for peer in peers.prefix(5) {
            _ = router.receive(.rpc(PubsubRPC(control: ControlMessage(graft: [Self.topic])), from: peer), now: .seconds(2))
        }
        _ = router.receive(.heartbeat, now: .seconds(3))
        let mesh = router.meshPeers(Self.topic)
        #expect(mesh.filter { peers.firstIndex(of: $0)! >= 5 }.count >= GossipsubConfiguration().dOut)
    }
}
