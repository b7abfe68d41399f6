/// The parameters of a gossipsub router (names as in the gossipsub v1.0/v1.1 specs).
///
/// ```swift
/// var config = GossipsubConfiguration()
/// config.d = 6; config.heartbeatInterval = .seconds(1)
/// ```
public struct GossipsubConfiguration: Sendable {
    /// Target mesh degree D.
    public var d = 6
    /// Lower bound D_low: below it the heartbeat grafts.
    public var dLow = 5
    /// Upper bound D_high: above it the heartbeat prunes.
    public var dHigh = 12
    /// Peers that receive IHAVE gossip each heartbeat, at least (D_lazy).
    public var dLazy = 6
    /// Mesh peers kept by score when pruning an oversubscribed mesh (D_score).
    public var dScore = 4
    /// Outbound (dialled by us) mesh peers kept at least, against inbound-only eclipse attempts (D_out < D_low, ≤ D/2).
    public var dOut = 2
    /// Fraction of non-mesh peers gossiped to, when larger than D_lazy.
    public var gossipFactor = 0.25
    /// Time between heartbeats; the driver sends ``GossipsubEvent/heartbeat`` at this rate.
    public var heartbeatInterval: Duration = .seconds(1)
    /// How long a fanout topic we stopped publishing to is kept.
    public var fanoutTTL: Duration = .seconds(60)
    /// Heartbeats of history in the message cache (answers IWANT).
    public var historyLength = 5
    /// Heartbeats of history advertised in IHAVE.
    public var historyGossip = 3
    /// How long message ids stay in the seen cache.
    public var seenTTL: Duration = .seconds(120)
    /// Backoff sent with a PRUNE and applied when a PRUNE has none.
    public var pruneBackoff: Duration = .seconds(60)
    /// Peers offered in a PRUNE (peer exchange); 0 disables PX.
    public var prunePeers = 16
    /// Publish own messages to every topic peer above the publish threshold, not only the mesh.
    public var floodPublish = true
    /// Most IHAVE messages heeded from one peer per heartbeat.
    public var maxIHaveMessages = 10
    /// Most message ids asked for per peer per heartbeat.
    public var maxIHaveLength = 5_000
    /// How long an IWANT promise may stay unkept before it is a behaviour penalty.
    public var iwantFollowupTime: Duration = .seconds(3)
    /// Times one message is sent in answer to IWANTs before further requests are ignored.
    public var gossipRetransmission = 3
    /// Sign own messages and require valid StrictSign signatures on all received ones.
    public var strictSigning = true
    /// Limits applied when decoding RPCs.
    public var limits = PubsubRPC.Limits()
    /// Most RPCs queued for one peer before further ones are dropped (see ``OutboundQueue``).
    public var maxOutboundQueue = 256
    /// The message id function; the default is `from ‖ seqno`.
    public var messageID: @Sendable (PubsubMessage) -> MessageID = { MessageID(default: $0) }
    /// Peer scoring; `nil` disables scoring (every score is 0).
    public var scoring: PeerScoreParameters? = PeerScoreParameters()

    /// The defaults of the spec (D = 6, D_low = 5, D_high = 12, heartbeat 1 s).
    public init() {}
}
