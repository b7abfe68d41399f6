public import Libp2p

/// Provider records: which peers said they can provide a key, each until its expiry.
///
/// - Complexity: `add` is O(providers of the key); `providers` is O(providers of the key).
public struct ProviderStore: Sendable {
    struct Entry: Sendable {
        var addrs: [[UInt8]]
        var expires: Duration
    }

    /// How long a provider record is kept after it was added (libp2p: 48 h; republish every 22 h).
    public let validity: Duration
    /// Most providers kept per key.
    public let maxProvidersPerKey: Int
    var entries: [[UInt8]: [PeerID: Entry]] = [:]

    /// Creates an empty store.
    public init(validity: Duration = .seconds(48 * 3600), maxProvidersPerKey: Int = 100) {
        self.validity = validity
        self.maxProvidersPerKey = maxProvidersPerKey
    }

    /// Records `peer` (with its binary multiaddrs) as a provider of `key` at `now`; refreshes an existing one.
    public mutating func add(key: [UInt8], provider peer: PeerID, addrs: [[UInt8]], now: Duration) {
        var forKey = (entries[key] ?? [:]).filter { $0.value.expires > now }
        guard forKey[peer] != nil || forKey.count < maxProvidersPerKey else { return }
        forKey[peer] = Entry(addrs: addrs, expires: now + validity)
        entries[key] = forKey
    }

    /// Unexpired providers of `key`, sorted by peer id.
    public func providers(of key: [UInt8], now: Duration) -> [(peer: PeerID, addrs: [[UInt8]])] {
        (entries[key] ?? [:]).filter { $0.value.expires > now }
            .sorted { $0.key < $1.key }
            .map { ($0.key, $0.value.addrs) }
    }

    /// Drops every expired record.
    public mutating func expire(now: Duration) {
        for key in Array(entries.keys) {
            let live = entries[key]!.filter { $0.value.expires > now }
            entries[key] = live.isEmpty ? nil : live
        }
    }

    /// Keys with at least one provider record.
    public var keyCount: Int { entries.count }
}
