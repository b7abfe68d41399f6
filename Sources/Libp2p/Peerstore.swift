import Synchronization

/// What the host knows about other peers: addresses, supported protocols, keys and agent.
///
/// Thread-safe; shared by the host and its protocols.
public final class Peerstore: Sendable {
    /// Everything known about one peer.
    public struct Record: Sendable, Equatable {
        /// Addresses the peer can be dialled at (without `/p2p/`).
        public var addresses: [Multiaddr] = []
        /// Protocols the peer said it supports (from identify).
        public var protocols: [String] = []
        /// The peer's identity key, once seen.
        public var publicKey: PublicKey?
        /// The peer's agent version (from identify).
        public var agentVersion: String?
        /// The protocol version (from identify).
        public var protocolVersion: String?
        /// The peer's own verified ``SignedPeerRecord`` envelope (from identify), passed on in peer exchange.
        public var signedPeerRecord: [UInt8]?
    }

    private let records = Mutex<[PeerID: Record]>([:])

    /// An empty peerstore.
    public init() {}

    /// The record for `peer` (empty if unknown).
    public func record(for peer: PeerID) -> Record {
        records.withLock { $0[peer] ?? Record() }
    }

    /// All peers with a record.
    public var peers: [PeerID] { records.withLock { Array($0.keys) } }

    /// Adds dialable addresses for `peer` (duplicates are ignored; `/p2p/` suffixes are stripped).
    public func addAddresses(_ addresses: [Multiaddr], for peer: PeerID) {
        records.withLock { all in
            var r = all[peer] ?? Record()
            for a in addresses.map(\.withoutPeerID) where !r.addresses.contains(a) && a.tcpHostPort != nil {
                r.addresses.append(a)
            }
            all[peer] = r
        }
    }

    /// Replaces the protocols `peer` supports.
    public func setProtocols(_ protocols: [String], for peer: PeerID) {
        records.withLock { $0[peer, default: Record()].protocols = protocols }
    }

    /// Records `peer`'s key (ignored unless it matches the peer id).
    public func setPublicKey(_ key: PublicKey, for peer: PeerID) {
        guard peer.matches(key) else { return }
        records.withLock { $0[peer, default: Record()].publicKey = key }
    }

    /// Records `peer`'s signed peer record envelope (the caller has verified it is `peer`'s).
    public func setSignedPeerRecord(_ envelope: [UInt8], for peer: PeerID) {
        records.withLock { $0[peer, default: Record()].signedPeerRecord = envelope }
    }

    /// Records agent and protocol versions.
    public func setVersions(agent: String?, protocolVersion: String?, for peer: PeerID) {
        records.withLock {
            if let agent { $0[peer, default: Record()].agentVersion = agent }
            if let protocolVersion { $0[peer, default: Record()].protocolVersion = protocolVersion }
        }
    }
}
