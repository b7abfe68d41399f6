public import Libp2p

/// Runs Kademlia on a libp2p ``Host``: serves `/ipfs/kad/1.0.0` with a ``KadServer`` and performs
/// iterative lookups with ``LookupStateMachine`` (α parallel queries, per-query timeouts).
///
/// ```swift
/// let dht = KademliaService(host: host, validators: ["meshfl": AcceptAllValidator()])
/// await dht.start()
/// _ = try await host.connect(to: bootstrap)
/// await dht.bootstrap()
/// try await dht.putValue(Array("/meshfl/x".utf8), [1, 2, 3])
/// ```
public actor KademliaService {
    /// The protocol id.
    public static let protocolID = "/ipfs/kad/1.0.0"

    /// Whether this node answers DHT queries.
    public enum Mode: Sendable {
        /// Serves the protocol; identify advertises it, so others add us to their tables.
        case server
        /// Only asks; not advertised (for nodes behind NAT or short-lived).
        case client
    }

    /// The host the DHT runs on.
    public let host: Host
    var server: KadServer
    /// Parallel queries per lookup.
    public let alpha: Int
    /// How long one query may take.
    public let queryTimeout: Duration
    let clock = ContinuousClock()
    let origin: ContinuousClock.Instant
    var tasks: [Task<Void, Never>] = []
    /// The mode chosen at creation.
    public let mode: Mode
    var providedKeys: Set<[UInt8]> = []
    var lastRepublish: Duration = .zero

    /// Creates the service; call ``start()`` to serve requests.
    public init(host: Host, validators: [String: any RecordValidator], mode: Mode = .server, k: Int = 20, alpha: Int = 3,
                queryTimeout: Duration = .seconds(10)) {
        self.host = host
        self.mode = mode
        server = KadServer(local: host.peerID, validators: validators, k: k)
        self.alpha = alpha
        self.queryTimeout = queryTimeout
        origin = clock.now
    }

    var now: Duration { clock.now - origin }

    /// Serves the protocol (server mode, advertised through identify) and adds identified DHT servers to the table.
    public func start() async {
        if mode == .server {
            await host.setHandler(Self.protocolID) { [weak self] stream in await self?.serve(stream) }
        }
        let events = await host.events()
        tasks.append(Task { [weak self] in
            for await event in events {
                guard let self else { return }
                switch event {
                case .identified(let peer):
                    if self.host.peerstore.record(for: peer).protocols.contains(Self.protocolID) { await self.saw(peer) }
                case .disconnected, .connected: break
                }
            }
        })
    }

    /// Stops following host events.
    public func stop() {
        for task in tasks { task.cancel() }
        tasks = []
    }

    func saw(_ peer: PeerID) { server.table.update(peer, now: now) }

    /// Starts periodic maintenance: every `refreshInterval` a self-lookup and a random walk (refreshing the
    /// table and discovering peers) and expiry of stale records; every `republishInterval` (libp2p: 22 h,
    /// under the 48 h provider validity) this node's provider records are announced again.
    public func startMaintenance(refreshInterval: Duration = .seconds(600), republishInterval: Duration = .seconds(22 * 3600)) {
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: refreshInterval)
                guard let self else { return }
                await self.maintain(republishInterval: republishInterval)
            }
        })
    }

    func maintain(republishInterval: Duration) async {
        server.records.expire(now: now)
        server.providers.expire(now: now)
        await bootstrap()
        var randomKey = [UInt8](repeating: 0, count: 32)
        for i in randomKey.indices { randomKey[i] = .random(in: 0...255) }
        _ = await closestPeers(to: randomKey)
        if now - lastRepublish >= republishInterval {
            lastRepublish = now
            for key in providedKeys { await provide(key) }
        }
    }

    /// Peers in the routing table.
    public var routingTablePeers: [PeerID] { server.table.peers }

    // MARK: Server

    func serve(_ stream: P2PStream) async {
        let peer = stream.remotePeer
        do {
            while let bytes = try await stream.readLengthPrefixed(maxLength: KadMessage.maxSize) {
                let request = try KadMessage(protobuf: bytes)
                let isServer = host.peerstore.record(for: peer).protocols.contains(Self.protocolID)
                guard var reply = server.handle(request, from: peer, requesterIsServer: isServer, now: now) else {
                    await stream.reset()
                    return
                }
                reply.closerPeers = withAddresses(reply.closerPeers)
                try await stream.writeLengthPrefixed(reply.protobufBytes)
            }
            await stream.closeWrite()
        } catch {
            await stream.reset()
        }
    }

    nonisolated func withAddresses(_ peers: [KadMessage.Peer]) -> [KadMessage.Peer] {
        peers.map { entry in
            guard entry.addrs.isEmpty, let id = try? PeerID(bytes: entry.id) else { return entry }
            var filled = entry
            filled.addrs = host.peerstore.record(for: id).addresses.map(\.withoutPeerID).map(\.bytes)
            return filled
        }
    }

    // MARK: Client

    /// Sends one request to `peer` and reads one reply (none for ADD_PROVIDER, which go does not answer).
    func request(_ peer: PeerID, _ message: KadMessage) async throws -> KadMessage {
        let stream = try await host.newStream(to: peer, protocols: [Self.protocolID])
        try await stream.writeLengthPrefixed(message.protobufBytes)
        if message.type == .addProvider {
            await stream.closeWrite()
            return message
        }
        guard let bytes = try await stream.readLengthPrefixed(maxLength: KadMessage.maxSize) else {
            throw KadError(.malformed, "\(peer) closed the stream without a reply")
        }
        await stream.closeWrite()
        return try KadMessage(protobuf: bytes)
    }

    func learn(_ peers: [KadMessage.Peer]) -> [PeerID] {
        peers.compactMap { entry in
            guard let id = try? PeerID(bytes: entry.id), id != host.peerID else { return nil }
            let addrs = entry.addrs.compactMap { try? Multiaddr(bytes: $0) }
            if !addrs.isEmpty { host.peerstore.addAddresses(addrs, for: id) }
            return id
        }
    }

    /// Runs an iterative lookup of `key`, sending `message` to every peer queried; `enough` sees each reply
    /// as it arrives and ends the lookup early by returning `true` (GET_VALUE with a quorum).
    func lookup(_ key: [UInt8], _ message: KadMessage,
                enough: (PeerID, KadMessage) -> Bool = { _, _ in false }) async -> (closest: [PeerID], replies: [KadMessage]) {
        let target = KademliaKey(key: key)
        var lookup = LookupStateMachine(target: target, seeds: server.table.closest(to: target, count: server.k),
                                        localPeer: host.peerID, k: server.k, alpha: alpha, queryTimeout: queryTimeout)
        let (results, continuation) = AsyncStream<(PeerID, KadMessage?)>.makeStream()
        var iterator = results.makeAsyncIterator()
        var replies: [KadMessage] = []
        // One timer per query; those still sleeping when the lookup ends are cancelled rather than left to
        // fire into a finished stream (a quorum get ends long before its queries' timeouts).
        var timers: [Task<Void, Never>] = []
        defer { for timer in timers { timer.cancel() } }
        var actions = lookup.next(now: now)
        while true {
            for action in actions {
                switch action {
                case .finished(let closest):
                    continuation.finish()
                    return (closest, replies)
                case .query(let peer):
                    let timeout = queryTimeout
                    Task { continuation.yield((peer, try? await self.request(peer, message))) }
                    timers.append(Task {
                        guard (try? await Task.sleep(for: timeout)) != nil else { return }
                        continuation.yield((peer, nil))
                    })
                }
            }
            guard let (peer, reply) = await iterator.next() else { return ([], replies) }
            if let reply {
                replies.append(reply)
                server.table.update(peer, now: now)
                lookup.receive(.response(from: peer, closer: learn(reply.closerPeers)), now: now)
                if enough(peer, reply) {
                    continuation.finish()
                    return (lookup.closestAnswered, replies)
                }
            } else {
                lookup.receive(.failure(peer), now: now)
            }
            actions = lookup.next(now: now)
        }
    }

    /// Looks up our own id, filling the routing table (run after connecting to bootstrap peers, and periodically).
    public func bootstrap() async {
        _ = await lookup(host.peerID.bytes, KadMessage(type: .findNode, key: host.peerID.bytes))
    }

    /// The k peers closest to `key` that answered.
    public func closestPeers(to key: [UInt8]) async -> [PeerID] {
        await lookup(key, KadMessage(type: .findNode, key: key)).closest
    }

    /// Finds the addresses of `peer`, or `[]` if no one knows it.
    public func findPeer(_ peer: PeerID) async -> [Multiaddr] {
        let result = await lookup(peer.bytes, KadMessage(type: .findNode, key: peer.bytes))
        let known = result.replies.flatMap(\.closerPeers).filter { $0.id == peer.bytes }
        return known.flatMap { $0.addrs.compactMap { try? Multiaddr(bytes: $0) } }
    }

    /// Stores a record locally and at the k closest peers; returns how many peers accepted it.
    @discardableResult
    public func putValue(_ key: [UInt8], _ value: [UInt8]) async throws(KadError) -> Int {
        let record = KadMessage.Record(key: key, value: value)
        try server.records.put(record, now: now)
        let closest = await closestPeers(to: key)
        var stored = 0
        for peer in closest {
            if (try? await request(peer, KadMessage(type: .putValue, key: key, record: record))) != nil { stored += 1 }
        }
        return stored
    }

    /// The best valid value for `key` found locally or among the peers of a complete lookup, or `nil`.
    public func getValue(_ key: [UInt8]) async -> [UInt8]? {
        (try? await getValue(key, quorum: 0))?.value
    }

    /// Announces this peer as a provider of `key` to the k closest peers; returns how many were told.
    @discardableResult
    public func provide(_ key: [UInt8]) async -> Int {
        providedKeys.insert(key)
        let addrs = await host.listenAddresses.map(\.bytes)
        server.providers.add(key: key, provider: host.peerID, addrs: addrs, now: now)
        let me = KadMessage.Peer(id: host.peerID.bytes, addrs: addrs)
        var told = 0
        for peer in await closestPeers(to: key) {
            if (try? await request(peer, KadMessage(type: .addProvider, key: key, providerPeers: [me]))) != nil { told += 1 }
        }
        return told
    }

    /// Providers of `key` known locally or found by a lookup.
    public func findProviders(_ key: [UInt8]) async -> [PeerID] {
        var found = Set(server.providers.providers(of: key, now: now).map(\.peer))
        let result = await lookup(key, KadMessage(type: .getProviders, key: key))
        for reply in result.replies { found.formUnion(learn(reply.providerPeers)) }
        return found.sorted()
    }
}
