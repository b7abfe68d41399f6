/// Something that happened to a host's connections.
public enum HostEvent: Sendable, Equatable {
    /// A connection to a peer was established (first connection to it).
    case connected(PeerID, Multiaddr?)
    /// The last connection to a peer ended.
    case disconnected(PeerID)
    /// Identify finished for a peer (its protocols are in the peerstore).
    case identified(PeerID)
}
