public import Libp2p
import Crypto

/// A point in the Kademlia keyspace: the SHA-256 of a peer id's bytes or of a record/provider key.
///
/// ```swift
/// let d = KademliaKey(peer: a).distance(to: KademliaKey(key: Array("/v/x".utf8)))
/// ```
public struct KademliaKey: Hashable, Sendable, Comparable {
    /// The 32 digest bytes.
    public let bytes: [UInt8]

    /// The key of `peer` (SHA-256 of its binary id).
    public init(peer: PeerID) { bytes = Array(SHA256.hash(data: peer.bytes)) }

    /// The key of a record or provider key (SHA-256 of its bytes).
    public init(key: some Collection<UInt8>) { bytes = Array(SHA256.hash(data: Array(key))) }

    /// A key from 32 raw bytes (tests, random-walk targets).
    public init(raw: [UInt8]) {
        precondition(raw.count == 32, "a Kademlia key is 32 bytes")
        bytes = raw
    }

    /// The XOR distance to `other`, comparable as a big-endian 256-bit number.
    public func distance(to other: KademliaKey) -> KademliaKey {
        KademliaKey(raw: zip(bytes, other.bytes).map { $0 ^ $1 })
    }

    /// How many leading bits the two keys share (256 when equal).
    public func commonPrefixLength(with other: KademliaKey) -> Int {
        for (i, (a, b)) in zip(bytes, other.bytes).enumerated() where a != b {
            return i * 8 + (a ^ b).leadingZeroBitCount
        }
        return 256
    }

    /// Orders keys as big-endian numbers (so distances order by closeness).
    public static func < (lhs: KademliaKey, rhs: KademliaKey) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}
