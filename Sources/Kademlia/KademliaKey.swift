public import Libp2p
import Crypto

/// A point in the Kademlia keyspace: the SHA-256 of a peer id's bytes or of a record/provider key.
///
/// Held as four big-endian 64-bit words, so a distance and a comparison allocate nothing (a lookup and
/// every FIND_NODE answer rank the whole routing table by distance).
///
/// ```swift
/// let d = KademliaKey(peer: a).distance(to: KademliaKey(key: Array("/v/x".utf8)))
/// ```
public struct KademliaKey: Hashable, Sendable, Comparable {
    /// The digest as big-endian words, most significant first.
    let words: SIMD4<UInt64>

    /// The 32 digest bytes.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for i in 0..<4 {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: words[i] >> UInt64(shift))) }
        }
        return out
    }

    /// The key of `peer` (SHA-256 of its binary id).
    public init(peer: PeerID) { self.init(digest: SHA256.hash(data: peer.bytes)) }

    /// The key of a record or provider key (SHA-256 of its bytes).
    public init(key: some Collection<UInt8>) { self.init(digest: SHA256.hash(data: Array(key))) }

    /// A key from 32 raw bytes (tests, random-walk targets).
    public init(raw: [UInt8]) {
        precondition(raw.count == 32, "a Kademlia key is 32 bytes")
        self.init(bigEndian: raw)
    }

    private init(digest: SHA256.Digest) {
        self.init(bigEndian: Array(digest))
    }

    private init(bigEndian raw: [UInt8]) {
        var words = SIMD4<UInt64>()
        for i in 0..<4 {
            var word: UInt64 = 0
            for j in 0..<8 { word = word << 8 | UInt64(raw[i * 8 + j]) }
            words[i] = word
        }
        self.words = words
    }

    private init(words: SIMD4<UInt64>) { self.words = words }

    /// The XOR distance to `other`, comparable as a big-endian 256-bit number.
    public func distance(to other: KademliaKey) -> KademliaKey {
        KademliaKey(words: words ^ other.words)
    }

    /// How many leading bits the two keys share (256 when equal).
    public func commonPrefixLength(with other: KademliaKey) -> Int {
        let x = words ^ other.words
        for i in 0..<4 where x[i] != 0 { return i * 64 + x[i].leadingZeroBitCount }
        return 256
    }

    /// Orders keys as big-endian numbers (so distances order by closeness).
    public static func < (lhs: KademliaKey, rhs: KademliaKey) -> Bool {
        for i in 0..<4 where lhs.words[i] != rhs.words[i] { return lhs.words[i] < rhs.words[i] }
        return false
    }
}
