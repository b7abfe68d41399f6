public import Libp2p

/// The gossipsub v1.1 score of every known peer, updated by the router and decayed on heartbeats.
///
/// A value type with no clock of its own: every call takes `now`.
public struct PeerScore: Sendable {
    struct TopicStats: Sendable {
        var inMesh = false
        var graftTime: Duration = .zero
        var meshTime: Duration = .zero
        var firstMessageDeliveries = 0.0
        var meshMessageDeliveries = 0.0
        var meshMessageDeliveriesActive = false
        var meshFailurePenalty = 0.0
        var invalidMessageDeliveries = 0.0
    }

    struct PeerStats: Sendable {
        var connected = true
        var expire: Duration = .zero
        var topics: [String: TopicStats] = [:]
        var applicationScore = 0.0
        var behaviourPenalty = 0.0
    }

    enum DeliveryStatus: Sendable { case unknown, valid, invalid, ignored }

    struct DeliveryRecord: Sendable {
        var status = DeliveryStatus.unknown
        var firstSeen: Duration
        var validated: Duration = .zero
        var peers: Set<PeerID> = []
    }

    /// The parameters in use.
    public let parameters: PeerScoreParameters
    var peers: [PeerID: PeerStats] = [:]
    var deliveries: [MessageID: DeliveryRecord] = [:]
    var lastDecay: Duration = .zero

    /// Creates an empty score book.
    public init(parameters: PeerScoreParameters) { self.parameters = parameters }

    /// The current score of `peer` (0 for unknown peers).
    public func score(_ peer: PeerID, now: Duration) -> Double {
        guard let stats = peers[peer] else { return 0 }
        var topicTotal = 0.0
        for (topic, t) in stats.topics {
            guard let p = parameters.parameters(for: topic) else { continue }
            var s = 0.0
            if t.inMesh {
                let quanta = (now - t.graftTime) / p.timeInMeshQuantum
                s += min(quanta, p.timeInMeshCap) * p.timeInMeshWeight
            }
            s += t.firstMessageDeliveries * p.firstMessageDeliveriesWeight
            if t.inMesh, t.meshMessageDeliveriesActive, t.meshMessageDeliveries < p.meshMessageDeliveriesThreshold {
                let deficit = p.meshMessageDeliveriesThreshold - t.meshMessageDeliveries
                s += deficit * deficit * p.meshMessageDeliveriesWeight
            }
            s += t.meshFailurePenalty * p.meshFailurePenaltyWeight
            s += t.invalidMessageDeliveries * t.invalidMessageDeliveries * p.invalidMessageDeliveriesWeight
            topicTotal += s * p.topicWeight
        }
        if parameters.topicScoreCap > 0 { topicTotal = min(topicTotal, parameters.topicScoreCap) }
        var total = topicTotal + stats.applicationScore * parameters.appSpecificWeight
        let excess = stats.behaviourPenalty - parameters.behaviourPenaltyThreshold
        if excess > 0 { total += excess * excess * parameters.behaviourPenaltyWeight }
        return total
    }

    /// A peer connected (or reconnected, keeping a retained score).
    public mutating func addPeer(_ peer: PeerID) {
        peers[peer, default: PeerStats()].connected = true
    }

    /// A peer disconnected: mesh membership ends (with the P3b penalty) and the score is kept for `retainScore`.
    public mutating func removePeer(_ peer: PeerID, now: Duration) {
        guard var stats = peers[peer] else { return }
        for topic in Array(stats.topics.keys) { leaveMesh(&stats, topic: topic) }
        stats.connected = false
        stats.expire = now + parameters.retainScore
        peers[peer] = stats
    }

    /// `peer` joined our mesh for `topic`.
    public mutating func graft(_ peer: PeerID, topic: String, now: Duration) {
        guard parameters.parameters(for: topic) != nil else { return }
        var t = peers[peer, default: PeerStats()].topics[topic, default: TopicStats()]
        t.inMesh = true
        t.graftTime = now
        t.meshTime = .zero
        t.meshMessageDeliveriesActive = false
        peers[peer, default: PeerStats()].topics[topic] = t
    }

    /// `peer` left our mesh for `topic`.
    public mutating func prune(_ peer: PeerID, topic: String) {
        guard var stats = peers[peer] else { return }
        leaveMesh(&stats, topic: topic)
        peers[peer] = stats
    }

    private func leaveMesh(_ stats: inout PeerStats, topic: String) {
        guard var t = stats.topics[topic], t.inMesh, let p = parameters.parameters(for: topic) else { return }
        if t.meshMessageDeliveriesActive, t.meshMessageDeliveries < p.meshMessageDeliveriesThreshold {
            let deficit = p.meshMessageDeliveriesThreshold - t.meshMessageDeliveries
            t.meshFailurePenalty += deficit * deficit
        }
        t.inMesh = false
        t.meshMessageDeliveriesActive = false
        stats.topics[topic] = t
    }

    /// Sets the application-specific score (P5) of `peer`.
    public mutating func setApplicationScore(_ peer: PeerID, _ value: Double) {
        peers[peer, default: PeerStats()].applicationScore = value
    }

    /// Adds to the behaviour penalty (P7) of `peer`.
    public mutating func addPenalty(_ peer: PeerID, _ count: Double = 1) {
        peers[peer, default: PeerStats()].behaviourPenalty += count
    }

    /// A message with `id` was first received from `peer` and is being validated.
    mutating func validateMessage(from peer: PeerID, id: MessageID, now: Duration) {
        deliveries[id] = DeliveryRecord(firstSeen: now)
    }

    /// The first copy of a message from `peer` was accepted: P2 for the sender, P3 for it and for mesh
    /// peers that sent duplicates while it was validated.
    mutating func deliverMessage(from peer: PeerID, id: MessageID, topic: String, now: Duration) {
        markFirstDelivery(peer, topic: topic)
        markMeshDelivery(peer, topic: topic)
        var record = deliveries[id] ?? DeliveryRecord(firstSeen: now)
        guard record.status == .unknown else { return }
        record.status = .valid
        record.validated = now
        for other in record.peers where other != peer { markMeshDelivery(other, topic: topic) }
        deliveries[id] = record
    }

    /// The first copy from `peer` was rejected as invalid: P4 for it and for every peer that sent it too.
    mutating func rejectMessage(from peer: PeerID, id: MessageID?, topic: String, now: Duration) {
        markInvalid(peer, topic: topic)
        guard let id else { return }
        var record = deliveries[id] ?? DeliveryRecord(firstSeen: now)
        record.status = .invalid
        for other in record.peers where other != peer { markInvalid(other, topic: topic) }
        record.peers = []
        deliveries[id] = record
    }

    /// The message was ignored by validation: no score change.
    mutating func ignoreMessage(id: MessageID) {
        deliveries[id]?.status = .ignored
        deliveries[id]?.peers = []
    }

    /// A duplicate of a message already seen arrived from `peer`.
    mutating func duplicateMessage(from peer: PeerID, id: MessageID, topic: String, now: Duration) {
        guard var record = deliveries[id], !record.peers.contains(peer) else { return }
        switch record.status {
        case .unknown:
            record.peers.insert(peer)
        case .valid:
            record.peers.insert(peer)
            if let p = parameters.parameters(for: topic), now - record.validated <= p.meshMessageDeliveriesWindow {
                markMeshDelivery(peer, topic: topic)
            }
        case .invalid:
            markInvalid(peer, topic: topic)
        case .ignored:
            break
        }
        deliveries[id] = record
    }

    private mutating func markFirstDelivery(_ peer: PeerID, topic: String) {
        guard let p = parameters.parameters(for: topic), peers[peer] != nil else { return }
        var t = peers[peer]!.topics[topic, default: TopicStats()]
        t.firstMessageDeliveries = min(t.firstMessageDeliveries + 1, p.firstMessageDeliveriesCap)
        peers[peer]!.topics[topic] = t
    }

    private mutating func markMeshDelivery(_ peer: PeerID, topic: String) {
        guard let p = parameters.parameters(for: topic), var t = peers[peer]?.topics[topic], t.inMesh else { return }
        t.meshMessageDeliveries = min(t.meshMessageDeliveries + 1, p.meshMessageDeliveriesCap)
        peers[peer]!.topics[topic] = t
    }

    private mutating func markInvalid(_ peer: PeerID, topic: String) {
        guard parameters.parameters(for: topic) != nil, peers[peer] != nil else { return }
        peers[peer]!.topics[topic, default: TopicStats()].invalidMessageDeliveries += 1
    }

    /// Decays every counter once per `decayInterval`, activates P3 after its grace time and forgets
    /// disconnected peers whose retention expired. Called on every heartbeat.
    public mutating func refresh(now: Duration) {
        deliveries = deliveries.filter { now - $0.value.firstSeen < .seconds(120) }
        for (id, stats) in peers where !stats.connected && stats.expire <= now { peers[id] = nil }
        guard now - lastDecay >= parameters.decayInterval else { return }
        lastDecay = now
        let zero = parameters.decayToZero
        func decay(_ v: Double, _ factor: Double) -> Double {
            let d = v * factor
            return d < zero ? 0 : d
        }
        for id in Array(peers.keys) {
            var stats = peers[id]!
            for (topic, var t) in stats.topics {
                guard let p = parameters.parameters(for: topic) else { continue }
                t.firstMessageDeliveries = decay(t.firstMessageDeliveries, p.firstMessageDeliveriesDecay)
                t.meshMessageDeliveries = decay(t.meshMessageDeliveries, p.meshMessageDeliveriesDecay)
                t.meshFailurePenalty = decay(t.meshFailurePenalty, p.meshFailurePenaltyDecay)
                t.invalidMessageDeliveries = decay(t.invalidMessageDeliveries, p.invalidMessageDeliveriesDecay)
                if t.inMesh, now - t.graftTime >= p.meshMessageDeliveriesActivation {
                    t.meshMessageDeliveriesActive = true
                }
                stats.topics[topic] = t
            }
            stats.behaviourPenalty = decay(stats.behaviourPenalty, parameters.behaviourPenaltyDecay)
            peers[id] = stats
        }
    }
}
