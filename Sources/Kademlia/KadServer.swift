public import Libp2p

/// The server side of `/ipfs/kad/1.0.0` as a value type: answers one request from the routing table,
/// the record store and the provider store. No I/O; the driver reads a request and writes the reply.
///
/// ```swift
/// var server = KadServer(local: me, validators: ["meshfl": AcceptAllValidator()])
/// let reply = server.handle(request, from: peer, now: now)
/// ```
public struct KadServer: Sendable {
    /// The local peer.
    public let localPeer: PeerID
    /// The routing table (also updated with every requester).
    public var table: RoutingTable
    /// Stored records.
    public var records: RecordStore
    /// Provider records.
    public var providers: ProviderStore
    /// Peers returned in `closerPeers`.
    public var k: Int { table.k }
    /// Binary multiaddrs known per peer, for `closerPeers` entries.
    public var addresses: [PeerID: [[UInt8]]] = [:]

    /// Creates a server with empty stores.
    public init(local: PeerID, validators: [String: any RecordValidator], k: Int = 20) {
        localPeer = local
        table = RoutingTable(local: local, k: k)
        records = RecordStore(validators: validators)
        providers = ProviderStore()
    }

    func peerEntries(_ peers: [PeerID], excluding: PeerID) -> [KadMessage.Peer] {
        peers.filter { $0 != excluding }.map { KadMessage.Peer(id: $0.bytes, addrs: addresses[$0] ?? []) }
    }

    /// The reply to `request` from `peer`, or `nil` when the request is invalid and the stream should be reset.
    ///
    /// The requester joins the routing table only if `requesterIsServer` (it advertises the kad protocol):
    /// client-mode peers must not be handed out to others.
    public mutating func handle(_ request: KadMessage, from peer: PeerID, requesterIsServer: Bool = true,
                                now: Duration) -> KadMessage? {
        if requesterIsServer { table.update(peer, now: now) }
        switch request.type {
        case .ping:
            return KadMessage(type: .ping)
        case .findNode:
            // The key of FIND_NODE is a peer id; its keyspace point is the hash of those bytes.
            let closer = table.closest(to: KademliaKey(key: request.key), count: k)
            return KadMessage(type: .findNode, key: request.key, closerPeers: peerEntries(closer, excluding: peer))
        case .getValue:
            let closer = table.closest(to: KademliaKey(key: request.key), count: k)
            return KadMessage(type: .getValue, key: request.key, record: records.get(request.key, now: now),
                              closerPeers: peerEntries(closer, excluding: peer))
        case .putValue:
            guard let record = request.record, record.key == request.key,
                  (try? records.put(record, now: now)) != nil else { return nil }
            return request  // the spec's reply to PUT_VALUE echoes the request
        case .getProviders:
            let closer = table.closest(to: KademliaKey(key: request.key), count: k)
            let found = providers.providers(of: request.key, now: now)
                .map { KadMessage.Peer(id: $0.peer.bytes, addrs: $0.addrs) }
            return KadMessage(type: .getProviders, key: request.key, closerPeers: peerEntries(closer, excluding: peer),
                              providerPeers: found)
        case .addProvider:
            // Only the sender may announce itself (as go and py check).
            for entry in request.providerPeers where entry.id == peer.bytes {
                providers.add(key: request.key, provider: peer, addrs: entry.addrs, now: now)
            }
            return request  // py-libp2p 0.8.1 echoes ADD_PROVIDER; go sends nothing and ignores extra replies
        }
    }
}
