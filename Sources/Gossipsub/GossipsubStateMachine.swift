public import Libp2p

/// The gossipsub v1.1 router as a value-type state machine: events and a clock in, actions out, no I/O.
///
/// The driver feeds it peers, decoded RPCs, application calls and a heartbeat every
/// ``GossipsubConfiguration/heartbeatInterval``, each with the current time (any monotonic clock, as a
/// `Duration` since an arbitrary origin), and performs the returned ``GossipsubAction``s: writes RPCs,
/// delivers messages, runs validators. Sends produced by one event are merged into one RPC per peer.
///
/// ```swift
/// var router = GossipsubStateMachine(localKey: key, configuration: .init(), seed: 1)
/// var actions = router.receive(.subscribe("jobs"), now: .zero)
/// actions += router.receive(.peerAdded(peer, protocol: .meshsub11, outbound: true), now: .zero)
/// actions += router.receive(.heartbeat, now: .seconds(1))
/// ```
public struct GossipsubStateMachine: Sendable {
    struct PeerState: Sendable {
        var proto: PubsubProtocol
        var outbound: Bool
        var topics: Set<String> = []
    }

    /// The configuration in use.
    public let configuration: GossipsubConfiguration
    /// The local peer.
    public let localPeer: PeerID
    let localKey: PrivateKey?
    var rng: SplitMix64
    var nextSeqno: UInt64

    var peers: [PeerID: PeerState] = [:]
    var topicPeers: [String: Set<PeerID>] = [:]
    /// Topics the application is subscribed to.
    public private(set) var subscriptions: Set<String> = []
    var mesh: [String: Set<PeerID>] = [:]
    var fanout: [String: Set<PeerID>] = [:]
    var fanoutLastPublished: [String: Duration] = [:]
    var backoff: [String: [PeerID: Duration]] = [:]
    var messageCache: MessageCache
    var seen: SeenCache
    var score: PeerScore?
    /// Topics whose messages go through the application's validator (``GossipsubAction/validate(_:id:from:)``).
    public var validatedTopics: Set<String> = []
    /// Signed peer record envelopes of known peers (from identify); PRUNE peer exchange passes them on so
    /// the receiver can dial the offered peers.
    public var peerRecords: [PeerID: [UInt8]] = [:]
    var pendingValidation: [MessageID: (message: PubsubMessage, from: PeerID)] = [:]
    var promises: [MessageID: (peer: PeerID, deadline: Duration)] = [:]
    var ihavesThisHeartbeat: [PeerID: Int] = [:]
    var askedThisHeartbeat: [PeerID: Int] = [:]
    var heartbeats = 0

    var sends: [PeerID: PubsubRPC] = [:]
    var sendOrder: [PeerID] = []
    var others: [GossipsubAction] = []

    /// Creates a router for the peer of `localKey`, which signs own messages when
    /// ``GossipsubConfiguration/strictSigning`` is on. `seed` drives every random choice.
    public init(localKey: PrivateKey, configuration: GossipsubConfiguration = .init(), seed: UInt64) {
        self.init(localPeer: localKey.peerID, localKey: localKey, configuration: configuration, seed: seed)
    }

    init(localPeer: PeerID, localKey: PrivateKey?, configuration: GossipsubConfiguration, seed: UInt64) {
        self.configuration = configuration
        self.localPeer = localPeer
        self.localKey = localKey
        var rng = SplitMix64(seed: seed)
        self.nextSeqno = rng.next() >> 1
        self.rng = rng
        self.messageCache = MessageCache(historyLength: configuration.historyLength, gossipLength: configuration.historyGossip)
        self.seen = SeenCache(ttl: configuration.seenTTL)
        self.score = configuration.scoring.map(PeerScore.init(parameters:))
    }

    /// Handles one event at time `now` and returns what the driver must do.
    public mutating func receive(_ event: GossipsubEvent, now: Duration) -> [GossipsubAction] {
        switch event {
        case .peerAdded(let peer, let proto, let outbound): addPeer(peer, proto: proto, outbound: outbound)
        case .peerRemoved(let peer): removePeer(peer, now: now)
        case .rpc(let rpc, let from): handleRPC(rpc, from: from, now: now)
        case .publish(let topic, let data): publish(topic: topic, data: data, now: now)
        case .subscribe(let topic): subscribe(topic, now: now)
        case .unsubscribe(let topic): unsubscribe(topic, now: now)
        case .heartbeat: heartbeat(now: now)
        case .validated(let id, let result): finishValidation(id, result, now: now)
        case .applicationScore(let peer, let value): score?.setApplicationScore(peer, value)
        }
        return drainActions()
    }

    // MARK: Queries

    /// The current mesh peers of `topic`.
    public func meshPeers(_ topic: String) -> Set<PeerID> { mesh[topic] ?? [] }
    /// The current fanout peers of `topic`.
    public func fanoutPeers(_ topic: String) -> Set<PeerID> { fanout[topic] ?? [] }
    /// Peers known to be subscribed to `topic`.
    public func peers(subscribedTo topic: String) -> Set<PeerID> { topicPeers[topic] ?? [] }
    /// The score of `peer` at `now` (0 with scoring off).
    public func score(of peer: PeerID, now: Duration) -> Double { score?.score(peer, now: now) ?? 0 }
    /// Whether `peer` is backed off from grafting in `topic` at `now`.
    public func isBackedOff(_ peer: PeerID, topic: String, now: Duration) -> Bool {
        guard let until = backoff[topic]?[peer] else { return false }
        return until > now
    }
    /// Whether a message id is in the message cache.
    public func isCached(_ id: MessageID) -> Bool { messageCache.get(id) != nil }

    // MARK: Output

    mutating func send(_ peer: PeerID, _ update: (inout PubsubRPC) -> Void) {
        if sends[peer] == nil {
            sends[peer] = PubsubRPC()
            sendOrder.append(peer)
        }
        update(&sends[peer]!)
    }

    mutating func sendControl(_ peer: PeerID, _ update: (inout ControlMessage) -> Void) {
        guard peers[peer]?.proto.isGossipsub == true else { return }
        send(peer) { rpc in
            var control = rpc.control ?? ControlMessage()
            update(&control)
            rpc.control = control
        }
    }

    mutating func drainActions() -> [GossipsubAction] {
        var actions: [GossipsubAction] = []
        for peer in sendOrder {
            if let rpc = sends[peer], !rpc.isEmpty { actions.append(.send(rpc, to: peer)) }
        }
        actions += others
        sends = [:]
        sendOrder = []
        others = []
        return actions
    }

    func scoreOf(_ peer: PeerID, _ now: Duration) -> Double { score?.score(peer, now: now) ?? 0 }

    mutating func shuffled(_ set: Set<PeerID>) -> [PeerID] {
        var list = set.sorted()
        list.shuffle(using: &rng)
        return list
    }

    // MARK: Peers

    mutating func addPeer(_ peer: PeerID, proto: PubsubProtocol, outbound: Bool) {
        guard peer != localPeer else { return }
        peers[peer] = PeerState(proto: proto, outbound: outbound)
        score?.addPeer(peer)
        if !subscriptions.isEmpty {
            let subs = subscriptions.sorted().map { PubsubRPC.Subscription(subscribe: true, topic: $0) }
            send(peer) { $0.subscriptions += subs }
        }
    }

    mutating func removePeer(_ peer: PeerID, now: Duration) {
        guard let state = peers.removeValue(forKey: peer) else { return }
        peerRecords[peer] = nil
        for topic in state.topics { topicPeers[topic]?.remove(peer) }
        for topic in Array(mesh.keys) { mesh[topic]?.remove(peer) }
        for topic in Array(fanout.keys) { fanout[topic]?.remove(peer) }
        score?.removePeer(peer, now: now)
        promises = promises.filter { $0.value.peer != peer }
    }

    // MARK: Application calls

    mutating func subscribe(_ topic: String, now: Duration) {
        guard subscriptions.insert(topic).inserted else { return }
        for peer in peers.keys.sorted() {
            send(peer) { $0.subscriptions.append(.init(subscribe: true, topic: topic)) }
        }
        var members = (fanout.removeValue(forKey: topic) ?? []).filter { scoreOf($0, now) >= 0 }
        fanoutLastPublished[topic] = nil
        if members.count < configuration.d {
            let candidates = graftCandidates(topic, excluding: members, now: now)
            members.formUnion(candidates.prefix(configuration.d - members.count))
        }
        mesh[topic] = members
        for peer in members.sorted() { graftPeer(peer, topic: topic, now: now) }
    }

    mutating func unsubscribe(_ topic: String, now: Duration) {
        guard subscriptions.remove(topic) != nil else { return }
        for peer in peers.keys.sorted() {
            send(peer) { $0.subscriptions.append(.init(subscribe: false, topic: topic)) }
        }
        for peer in (mesh.removeValue(forKey: topic) ?? []).sorted() {
            score?.prune(peer, topic: topic)
            sendPrune(to: peer, topic: topic, peerExchange: true, now: now)
        }
    }

    mutating func publish(topic: String, data: [UInt8], now: Duration) {
        var seqno: [UInt8] = []
        for shift in stride(from: 56, through: 0, by: -8) { seqno.append(UInt8(truncatingIfNeeded: nextSeqno >> UInt64(shift))) }
        nextSeqno &+= 1
        var message = PubsubMessage(from: localPeer.bytes, data: data, seqno: seqno, topic: topic)
        if configuration.strictSigning, let localKey { message = message.signed(with: localKey) }
        let id = configuration.messageID(message)
        seen.insert(id, now: now)
        messageCache.put(message, id: id)
        if subscriptions.contains(topic) { others.append(.deliver(message, id: id, from: localPeer)) }

        var recipients: Set<PeerID> = []
        let subscribers = topicPeers[topic] ?? []
        for peer in subscribers where peers[peer]?.proto == .floodsub { recipients.insert(peer) }
        if configuration.floodPublish {
            let threshold = configuration.scoring?.publishThreshold ?? -Double.infinity
            for peer in subscribers where scoreOf(peer, now) >= threshold { recipients.insert(peer) }
        } else if subscriptions.contains(topic) {
            recipients.formUnion(mesh[topic] ?? [])
        } else {
            if fanout[topic] == nil {
                let threshold = configuration.scoring?.publishThreshold ?? -Double.infinity
                let candidates = shuffled(subscribers.filter {
                    peers[$0]?.proto.isGossipsub == true && scoreOf($0, now) >= threshold
                })
                fanout[topic] = Set(candidates.prefix(configuration.d))
            }
            recipients.formUnion(fanout[topic] ?? [])
        }
        if !subscriptions.contains(topic) { fanoutLastPublished[topic] = now }
        for peer in recipients.sorted() { send(peer) { $0.messages.append(message) } }
    }

    // MARK: Mesh helpers

    /// Gossipsub peers of `topic` that may be grafted: not in `excluding`, not backed off, score ≥ 0, shuffled.
    mutating func graftCandidates(_ topic: String, excluding: Set<PeerID>, now: Duration) -> [PeerID] {
        let candidates = (topicPeers[topic] ?? []).filter { peer in
            !excluding.contains(peer) && peers[peer]?.proto.isGossipsub == true
                && !isBackedOff(peer, topic: topic, now: now) && scoreOf(peer, now) >= 0
        }
        return shuffled(candidates)
    }

    mutating func graftPeer(_ peer: PeerID, topic: String, now: Duration) {
        score?.graft(peer, topic: topic, now: now)
        sendControl(peer) { $0.graft.append(topic) }
    }

    mutating func sendPrune(to peer: PeerID, topic: String, peerExchange: Bool, now: Duration) {
        backoff[topic, default: [:]][peer] = now + configuration.pruneBackoff
        guard let state = peers[peer] else { return }
        var prune = ControlMessage.Prune(topic: topic)
        if state.proto == .meshsub11 {
            prune.backoff = UInt64(configuration.pruneBackoff.components.seconds)
            if peerExchange, configuration.prunePeers > 0 {
                let offered = shuffled((topicPeers[topic] ?? []).filter { $0 != peer && scoreOf($0, now) >= 0 })
                prune.peers = offered.prefix(configuration.prunePeers).map {
                    .init(peerID: $0.bytes, signedPeerRecord: peerRecords[$0])
                }
            }
        }
        sendControl(peer) { $0.prune.append(prune) }
    }
}
