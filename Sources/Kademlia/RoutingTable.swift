public import Libp2p

/// A Kademlia routing table: 256 k-buckets by common-prefix length with the local key, each holding at
/// most `k` peers in least-recently-seen order, plus a replacement cache per bucket.
///
/// A full bucket does not evict on its own: ``update(_:now:)`` reports the least recently seen peer, the
/// driver pings it, and ``remove(_:)`` (on failure) promotes the newest replacement.
///
/// ```swift
/// var table = RoutingTable(local: me)
/// if case .bucketFull(let oldest) = table.update(peer, now: now) { /* ping oldest */ }
/// let closest = table.closest(to: KademliaKey(peer: target), count: 20)
/// ```
public struct RoutingTable: Sendable {
    /// What ``update(_:now:)`` did.
    public enum UpdateResult: Equatable, Sendable {
        /// The peer was new and is now in its bucket.
        case added
        /// The peer was known; it moved to the most recently seen end.
        case refreshed
        /// The bucket is full; the peer went to the replacement cache and `oldest` should be pinged.
        case bucketFull(oldest: PeerID)
        /// The peer is the local peer and is never stored.
        case ignored
    }

    struct Entry: Sendable {
        var peer: PeerID
        var key: KademliaKey
        var lastSeen: Duration
    }

    /// The local peer's key.
    public let localKey: KademliaKey
    /// Bucket size k.
    public let k: Int
    /// Replacement cache size per bucket.
    public let replacementCacheSize: Int
    var buckets: [[Entry]]
    var replacements: [[Entry]]

    /// Creates an empty table for `local` with bucket size `k` (20 in libp2p).
    public init(local: PeerID, k: Int = 20, replacementCacheSize: Int = 20) {
        localKey = KademliaKey(peer: local)
        self.k = k
        self.replacementCacheSize = replacementCacheSize
        buckets = Array(repeating: [], count: 257)
        replacements = Array(repeating: [], count: 257)
    }

    func bucketIndex(_ key: KademliaKey) -> Int { localKey.commonPrefixLength(with: key) }

    /// Records that `peer` was seen (answered or sent us a request) at `now`.
    @discardableResult
    public mutating func update(_ peer: PeerID, now: Duration) -> UpdateResult {
        let key = KademliaKey(peer: peer)
        let index = bucketIndex(key)
        guard index < 256 else { return .ignored }
        if let i = buckets[index].firstIndex(where: { $0.peer == peer }) {
            var entry = buckets[index].remove(at: i)
            entry.lastSeen = now
            buckets[index].append(entry)
            return .refreshed
        }
        let entry = Entry(peer: peer, key: key, lastSeen: now)
        if buckets[index].count < k {
            buckets[index].append(entry)
            return .added
        }
        replacements[index].removeAll { $0.peer == peer }
        replacements[index].append(entry)
        if replacements[index].count > replacementCacheSize { replacements[index].removeFirst() }
        return .bucketFull(oldest: buckets[index][0].peer)
    }

    /// Removes `peer` (it failed to answer); the newest replacement of its bucket takes its place.
    public mutating func remove(_ peer: PeerID) {
        let index = bucketIndex(KademliaKey(peer: peer))
        guard index < 256 else { return }
        replacements[index].removeAll { $0.peer == peer }
        guard let i = buckets[index].firstIndex(where: { $0.peer == peer }) else { return }
        buckets[index].remove(at: i)
        if let replacement = replacements[index].popLast() { buckets[index].append(replacement) }
    }

    /// Whether `peer` is in a bucket.
    public func contains(_ peer: PeerID) -> Bool {
        let index = bucketIndex(KademliaKey(peer: peer))
        return index < 256 && buckets[index].contains { $0.peer == peer }
    }

    /// Peers in buckets.
    public var count: Int { buckets.reduce(0) { $0 + $1.count } }

    /// All peers in buckets.
    public var peers: [PeerID] { buckets.flatMap { $0.map(\.peer) } }

    /// Peers of the bucket at common-prefix length `index`, least recently seen first.
    public func bucket(_ index: Int) -> [PeerID] { buckets[index].map(\.peer) }

    /// The `count` peers closest to `target` by XOR distance, closest first.
    ///
    /// - Complexity: O(n log n) in the table size (at most 256·k).
    public func closest(to target: KademliaKey, count: Int) -> [PeerID] {
        buckets.joined()
            .map { (peer: $0.peer, distance: $0.key.distance(to: target)) }
            .sorted { $0.distance < $1.distance }
            .prefix(count)
            .map(\.peer)
    }
}
