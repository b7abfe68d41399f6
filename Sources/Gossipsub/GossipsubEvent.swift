public import Libp2p

/// An input to ``GossipsubStateMachine``.
public enum GossipsubEvent: Sendable {
    /// A peer with a pubsub stream; `outbound` when we dialled it.
    case peerAdded(PeerID, protocol: PubsubProtocol, outbound: Bool)
    /// A peer whose pubsub stream or connection went away.
    case peerRemoved(PeerID)
    /// A decoded RPC from a peer.
    case rpc(PubsubRPC, from: PeerID)
    /// The application publishes `data` to `topic`.
    case publish(topic: String, data: [UInt8])
    /// The application subscribes to a topic.
    case subscribe(String)
    /// The application unsubscribes from a topic.
    case unsubscribe(String)
    /// The periodic heartbeat (every ``GossipsubConfiguration/heartbeatInterval``).
    case heartbeat
    /// The application's verdict on a message it was asked to validate.
    case validated(MessageID, ValidationResult)
    /// The application-specific score (P5) of a peer changed.
    case applicationScore(PeerID, Double)
}

/// The verdict of a topic validator.
public enum ValidationResult: Sendable, Hashable {
    /// Deliver and forward.
    case accept
    /// Drop and penalise the sender (P4).
    case reject
    /// Drop without penalty.
    case ignore
}

/// An output of ``GossipsubStateMachine``, for the driver to perform.
public enum GossipsubAction: Sendable, Equatable {
    /// Write `rpc` to `peer`.
    case send(PubsubRPC, to: PeerID)
    /// Hand a validated message to the application's subscription.
    case deliver(PubsubMessage, id: MessageID, from: PeerID)
    /// Ask the application's validator for `topic` about a message; answer with ``GossipsubEvent/validated(_:_:)``.
    case validate(PubsubMessage, id: MessageID, from: PeerID)
    /// Peers offered through peer exchange in a PRUNE for `topic`; the driver may connect to them.
    case discovered([ControlMessage.PeerInfo], topic: String)
}
