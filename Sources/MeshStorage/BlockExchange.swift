import Foundation
public import Libp2p
public import Logging
import NIOCore

/// The block exchange, `/meshfl/blocks/1.0.0`, on a libp2p ``Host``: serves the
/// blocks of ``BlockStore`` to peers and fetches blobs from many peers at once
/// (see ``BlockExchangeMessage`` for the wire format and
/// ``BlockSwarmScheduler`` for the scheduling).
///
/// A node that fetches also serves what it has so far: peers that open a
/// session to it learn its blocks from its buffer map and its HAVE updates,
/// and the peers it serves learn of each other through PEERS messages, so a
/// publisher handing out a blob to many fetchers only needs to send each block
/// about once.
///
/// ```swift
/// let exchange = BlockExchange(host: host, store: store)
/// await exchange.start()
/// let report = try await exchange.fetch(root, providers: StaticProviderSource([publisher]))
/// print(report.fetchedBlocks, report.blocksByPeer)
/// ```
public actor BlockExchange {
    /// Tunables.
    public struct Configuration: Sendable {
        /// Scheduling: request window per peer, request timeout, endgame.
        public var scheduler = BlockSwarmScheduler<PeerID>.Configuration()
        /// Cap on bytes per second sent to all peers together (`nil`: none).
        public var uploadLimit: Int?
        /// Whether this node serves blocks and tells fetched-from peers so.
        public var serves = true
        /// The most peers one download talks to.
        public var maxPeersPerFetch = 32
        /// Limit on opening a session (dial, negotiation, first reply).
        public var openTimeout: Duration = .seconds(10)
        /// A download with no new block for this long fails.
        public var stallTimeout: Duration = .seconds(60)
        /// The defaults.
        public init() {}
    }

    struct ServingSession {
        let peer: PeerID
        let writer: BlockExchangeWriter
    }

    /// The host the protocol runs on.
    public nonisolated let host: Libp2p.Host
    /// The blocks served and fetched into.
    public nonisolated let store: BlockStore
    /// The configuration.
    public nonisolated let configuration: Configuration
    nonisolated let limiter: UploadLimiter?
    nonisolated let logger: Logger

    var manifests: [CID: Manifest] = [:]
    var sessions: [CID: [Int: ServingSession]] = [:]
    var nextSession = 0
    /// Serving peers of each blob that opened a session to us, with their addresses.
    var swarm: [CID: [PeerID: [Multiaddr]]] = [:]
    var fetches: [CID: BlockFetch] = [:]
    /// Scores kept across downloads: good blocks minus timeouts; -100 per bad block.
    public private(set) var peerScores: [PeerID: Int] = [:]
    /// Bytes of blocks sent to peers.
    public private(set) var uploadedBytes: Int64 = 0

    /// An exchange for `host` and `store`; call ``start()`` to serve.
    public init(host: Libp2p.Host, store: BlockStore, configuration: Configuration = .init(), logger: Logger = Logger(label: "meshfl.blocks")) {
        self.host = host
        self.store = store
        self.configuration = configuration
        self.limiter = configuration.uploadLimit.map { UploadLimiter(bytesPerSecond: $0) }
        self.logger = logger
    }

    /// Serves `/meshfl/blocks/1.0.0` on the host (unless configured not to serve).
    public func start() async {
        guard configuration.serves else { return }
        await host.setHandler(BlockExchangeMessage.protocolID) { [weak self] stream in
            await self?.serve(stream)
        }
    }

    // MARK: Serving

    /// The manifest of `root` if the store holds the root block.
    func manifest(for root: CID) -> Manifest? {
        if let known = manifests[root] { return known }
        guard store.contains(root), let manifest = try? store.manifest(for: root) else { return nil }
        manifests[root] = manifest
        return manifest
    }

    func bufferMap(of manifest: Manifest) -> Bitfield {
        var map = Bitfield(count: manifest.blocks.count)
        for (i, entry) in manifest.blocks.enumerated() where store.contains(entry.cid) { map.insert(i) }
        return map
    }

    func recordUpload(_ bytes: Int) { uploadedBytes += Int64(bytes) }

    private func serve(_ stream: P2PStream) async {
        let peer = stream.remotePeer
        let open: BlockExchangeMessage.Open
        do {
            guard case .open(let o)? = try await stream.readBlockExchangeMessage() else {
                logger.debug("\(peer) opened \(BlockExchangeMessage.protocolID) without OPEN")
                await stream.reset()
                return
            }
            open = o
        } catch {
            logger.debug("bad OPEN from \(peer): \(error)")
            await stream.reset()
            return
        }
        guard let manifest = manifest(for: open.root) else {
            try? await stream.writeAndClose(BlockExchangeMessage.notFound.framed())
            return
        }
        let writer = BlockExchangeWriter(stream: stream, store: store, limiter: limiter) { [weak self] bytes in
            Task { await self?.recordUpload(bytes) }
        }
        let id = nextSession
        nextSession += 1
        sessions[open.root, default: [:]][id] = ServingSession(peer: peer, writer: writer)
        if open.wantsManifest {
            if manifest.blocks.count == 1, manifest.blocks[0].cid == open.root {
                writer.send(.single(size: manifest.blocks[0].size))
            } else if let block = try? store.get(open.root) {
                writer.send(.manifest(block))
            }
        }
        writer.send(.bufferMap(bufferMap(of: manifest)))
        let others = (swarm[open.root] ?? [:]).filter { $0.key != peer }.values.flatMap { $0.prefix(2) }
        if !others.isEmpty { writer.send(.peers(Array(others.prefix(BlockExchangeMessage.maxAddresses)))) }
        if open.serves, !open.addresses.isEmpty {
            let addresses = Array(open.addresses.filter { $0.peerID == peer }.prefix(4))
            if !addresses.isEmpty, swarm[open.root]?[peer] == nil {
                swarm[open.root, default: [:]][peer] = addresses
                for (otherID, other) in sessions[open.root] ?? [:] where otherID != id && other.peer != peer {
                    other.writer.send(.peers(addresses))
                }
                if let fetch = fetches[open.root] { await fetch.discovered(addresses) }
            }
        }
        await readRequests(stream, root: open.root, manifest: manifest, writer: writer)
        sessions[open.root]?[id] = nil
        await writer.finish()
    }

    /// Reads REQUEST and CANCEL until the fetcher closes its side.
    private nonisolated func readRequests(_ stream: P2PStream, root: CID, manifest: Manifest, writer: BlockExchangeWriter) async {
        while true {
            do {
                switch try await stream.readBlockExchangeMessage() {
                case nil:
                    return
                case .request(let index)?:
                    guard index < manifest.blocks.count else { writer.send(.dontHave(index)); continue }
                    writer.send(.block(index, manifest.blocks[index].cid))
                case .cancel(let index)?:
                    writer.cancel(index)
                case let other?:
                    logger.debug("\(stream.remotePeer) sent \(other) on a serving session; closing it")
                    return
                }
            } catch {
                logger.debug("serving session with \(stream.remotePeer) ended: \(error)")
                return
            }
        }
    }

    // MARK: Fetching

    /// Fetches the blob behind `root` into the store from the peers `providers`
    /// names (and the peers they tell us of), rarest block first, verifying
    /// each block against its CID, and pins it. Blocks already in the store are
    /// not fetched again, so a fetch interrupted by a crash resumes.
    ///
    /// - Parameter progress: called after each block with (held, total).
    /// - Throws: ``StorageError/Code/notFound`` when no provider holds the root
    ///   or the download stalls (the message names what is missing).
    public func fetch(
        _ root: CID,
        providers: any BlockProviderSource,
        pinHolder: String? = BlockStore.defaultPinHolder,
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) async throws -> BlockFetchReport {
        if fetches[root] != nil {
            throw StorageError(code: .invalidArgument, message: "\(root) is already being fetched by this node; wait for that download")
        }
        let fetch = BlockFetch(exchange: self, root: root, progress: progress)
        fetches[root] = fetch
        defer { fetches[root] = nil }
        let report = try await fetch.run(providers: providers)
        if let pinHolder { try store.pin(root, holder: pinHolder) }
        return report
    }

    /// A fetch stored block `index` of `root`: tell the peers we serve it to.
    func blockStored(root: CID, index: Int) {
        for session in (sessions[root] ?? [:]).values { session.writer.send(.have(index)) }
    }

    /// A fetch learnt the manifest (or the root block): cache it for serving.
    func learnt(_ manifest: Manifest, of root: CID) { manifests[root] = manifest }

    func adjustScore(_ peer: PeerID, by delta: Int) { peerScores[peer, default: 0] += delta }

    /// Other serving peers of `root` known from inbound sessions.
    func swarmAddresses(of root: CID) -> [Multiaddr] { (swarm[root] ?? [:]).values.flatMap { $0 } }
}

/// What a download did.
public struct BlockFetchReport: Sendable, Codable, Equatable {
    /// The blob fetched.
    public var root: String
    /// Blocks in its manifest.
    public var blockCount: Int
    /// The blob's size in bytes.
    public var totalBytes: Int64
    /// Blocks already in the store when the download started.
    public var alreadyHad: Int
    /// Good blocks received (including endgame duplicates).
    public var fetchedBlocks: Int
    /// Bytes of good blocks received.
    public var fetchedBytes: Int64
    /// Blocks that did not match their CID.
    public var corruptBlocks: Int
    /// Peers dropped, with the reason.
    public var droppedPeers: [String: String]
    /// Good blocks per peer id.
    public var blocksByPeer: [String: Int]
    /// Wall time of the download in seconds.
    public var seconds: Double
}
