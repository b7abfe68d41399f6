/// Gossipsub v1.1 peer-score parameters and thresholds (names as in the spec).
///
/// The score of a peer is `min(Σ_topics topicWeight·(P1+P2+P3+P3b+P4), topicScoreCap) + w5·P5 + w7·P7`,
/// where P1 is time in mesh, P2 first deliveries, P3 the mesh delivery deficit, P3b the mesh failure
/// penalty, P4 invalid messages, P5 the application-specific score and P7 the behaviour penalty.
/// IP colocation (P6) is not implemented: the router does not see addresses.
public struct PeerScoreParameters: Sendable {
    /// Parameters of one topic's score.
    public struct Topic: Sendable {
        /// Weight of this topic in the total.
        public var topicWeight = 1.0
        /// P1 weight (≥ 0).
        public var timeInMeshWeight = 0.01
        /// P1 unit of time.
        public var timeInMeshQuantum: Duration = .seconds(1)
        /// P1 cap, in quanta.
        public var timeInMeshCap = 100.0
        /// P2 weight (≥ 0).
        public var firstMessageDeliveriesWeight = 1.0
        /// P2 decay per decay interval.
        public var firstMessageDeliveriesDecay = 0.5
        /// P2 counter cap.
        public var firstMessageDeliveriesCap = 10.0
        /// P3 weight (≤ 0); 0 by default because a quiet topic would otherwise penalise honest mesh peers.
        public var meshMessageDeliveriesWeight = 0.0
        /// P3 decay per decay interval.
        public var meshMessageDeliveriesDecay = 0.5
        /// P3 counter cap.
        public var meshMessageDeliveriesCap = 10.0
        /// P3 threshold: below it the deficit squared is the penalty.
        public var meshMessageDeliveriesThreshold = 1.0
        /// P3 window after first delivery in which a mesh peer's duplicate still counts.
        public var meshMessageDeliveriesWindow: Duration = .milliseconds(10)
        /// P3 grace time after grafting before the deficit counts.
        public var meshMessageDeliveriesActivation: Duration = .seconds(5)
        /// P3b weight (≤ 0).
        public var meshFailurePenaltyWeight = -1.0
        /// P3b decay per decay interval.
        public var meshFailurePenaltyDecay = 0.5
        /// P4 weight (≤ 0).
        public var invalidMessageDeliveriesWeight = -10.0
        /// P4 decay per decay interval.
        public var invalidMessageDeliveriesDecay = 0.9
        /// Default topic parameters.
        public init() {}
    }

    /// Per-topic parameters; topics not listed use ``defaultTopic``.
    public var topics: [String: Topic] = [:]
    /// Parameters for topics not in ``topics``; `nil` means such topics add nothing to the score.
    public var defaultTopic: Topic? = Topic()
    /// Cap on the summed topic score (0 = none).
    public var topicScoreCap = 0.0
    /// P5 weight.
    public var appSpecificWeight = 1.0
    /// P7 weight (≤ 0).
    public var behaviourPenaltyWeight = -10.0
    /// P7 counts only above this threshold.
    public var behaviourPenaltyThreshold = 1.0
    /// P7 decay per decay interval.
    public var behaviourPenaltyDecay = 0.9
    /// How often counters decay.
    public var decayInterval: Duration = .seconds(1)
    /// Counters below this after decay become 0.
    public var decayToZero = 0.01
    /// How long a disconnected peer's score is remembered.
    public var retainScore: Duration = .seconds(60)

    /// Below this, no gossip is sent to or accepted from a peer.
    public var gossipThreshold = -10.0
    /// Below this, own messages are not flood-published to a peer.
    public var publishThreshold = -50.0
    /// Below this, all RPCs from a peer are ignored.
    public var graylistThreshold = -80.0
    /// Peer exchange in a PRUNE is followed only from peers at or above this.
    public var acceptPXThreshold = 0.0
    /// Opportunistic grafting happens when the median mesh score is below this.
    public var opportunisticGraftThreshold = 1.0

    /// Parameters for `topic`, if scored.
    public func parameters(for topic: String) -> Topic? { topics[topic] ?? defaultTopic }

    /// Default parameters.
    public init() {}
}
