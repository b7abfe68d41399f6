import Foundation
import Libp2p
import Logging

/// One download run by ``BlockExchange/fetch(_:providers:pinHolder:progress:)``:
/// opens a session per provider, feeds what they say to a
/// ``BlockSwarmScheduler`` and sends the requests it decides. Blocks are
/// verified and stored by each session's reader task, off this actor.
actor BlockFetch {
    struct Session {
        let writer: BlockExchangeWriter
        let reader: Task<Void, Never>
    }

    let exchange: BlockExchange
    let root: CID
    let store: BlockStore
    let progress: (@Sendable (Int, Int) -> Void)?
    let configuration: BlockExchange.Configuration
    let logger: Logger

    var manifest: Manifest?
    var scheduler: BlockSwarmScheduler<PeerID>?
    var sessions: [PeerID: Session] = [:]
    /// Peers we have opened (or tried to open) a session with; never retried.
    var tried: Set<PeerID> = []
    var opening = 0
    var addresses: [Multiaddr] = []
    var done: CheckedContinuation<Void, any Error>?
    var finished = false
    var failure: (any Error)?
    var lastProgress = ContinuousClock.now
    let started = ContinuousClock.now

    var alreadyHad = 0
    var fetchedBlocks = 0
    var fetchedBytes: Int64 = 0
    var corruptBlocks = 0
    var droppedPeers: [String: String] = [:]
    var blocksByPeer: [String: Int] = [:]

    init(exchange: BlockExchange, root: CID, progress: (@Sendable (Int, Int) -> Void)?) {
        self.exchange = exchange
        self.root = root
        self.store = exchange.store
        self.progress = progress
        self.configuration = exchange.configuration
        self.logger = exchange.logger
    }

    func run(providers: any BlockProviderSource) async throws -> BlockFetchReport {
        let candidates = try await providers.providers(of: root)
        let host = exchange.host
        addresses = configuration.serves ? await host.fullAddresses : []
        if store.contains(root), let local = try? store.manifest(for: root) {
            try await begin(with: local)
        } else {
            // The manifest first, from the first provider that has it.
            for address in candidates where manifest == nil {
                await open(address, wantsManifest: true)
            }
            guard !candidates.isEmpty else {
                throw StorageError(code: .notFound, message: "no provider of \(root) is known (the DHT named none and no publisher was given); check the CID and that a peer holding it is seeding it")
            }
            guard manifest != nil else {
                throw StorageError(code: .notFound, message: "none of the \(candidates.count) providers of \(root) sent its manifest (tried \(candidates.map(\.description).joined(separator: ", "))); check the CID and that a peer holding it is running")
            }
        }
        if scheduler?.isComplete == true { return report() }
        if configuration.serves { try? await providers.announce(root, addresses: addresses) }
        for address in candidates + (await exchange.swarmAddresses(of: root)) { startOpening(address) }
        let ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                await self?.tick()
            }
        }
        defer { ticker.cancel() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            if finished {
                if let failure { continuation.resume(throwing: failure) } else { continuation.resume() }
            } else {
                done = continuation
            }
        }
        return report()
    }

    private func report() -> BlockFetchReport {
        BlockFetchReport(
            root: root.description, blockCount: manifest?.blocks.count ?? 0, totalBytes: manifest?.totalSize ?? 0,
            alreadyHad: alreadyHad, fetchedBlocks: fetchedBlocks, fetchedBytes: fetchedBytes,
            corruptBlocks: corruptBlocks, droppedPeers: droppedPeers, blocksByPeer: blocksByPeer,
            seconds: Self.seconds(ContinuousClock.now - started))
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// The manifest is known: set up the scheduler from what the store holds.
    private func begin(with manifest: Manifest) async throws {
        guard self.manifest == nil else { return }
        self.manifest = manifest
        await exchange.learnt(manifest, of: root)
        var have = Bitfield(count: manifest.blocks.count)
        for (i, entry) in manifest.blocks.enumerated() where store.contains(entry.cid) { have.insert(i) }
        alreadyHad = have.setCount
        scheduler = BlockSwarmScheduler(blockCount: manifest.blocks.count, have: have, configuration: configuration.scheduler)
        if have.isFull { complete(nil) }
    }

    // MARK: Sessions

    /// Peers learnt from PEERS or from their own inbound sessions.
    func discovered(_ found: [Multiaddr]) {
        for address in found { startOpening(address) }
    }

    private func startOpening(_ address: Multiaddr) {
        guard !finished, let peer = address.peerID, peer != exchange.host.peerID, !tried.contains(peer),
              tried.count < configuration.maxPeersPerFetch else { return }
        tried.insert(peer)
        opening += 1
        Task {
            await self.open(address, wantsManifest: false)
            self.openFinished()
        }
    }

    private func openFinished() { opening -= 1 }

    /// Opens a session to `address`; with `wantsManifest`, waits until the manifest arrived (or the session failed).
    private func open(_ address: Multiaddr, wantsManifest: Bool) async {
        guard let peer = address.peerID else { return }
        tried.insert(peer)
        let host = exchange.host
        let stream: P2PStream
        do {
            stream = try await withThrowingTaskGroup(of: P2PStream.self) { group in
                group.addTask { try await host.newStream(to: address, protocols: [BlockExchangeMessage.protocolID]) }
                group.addTask {
                    try await Task.sleep(for: self.configuration.openTimeout)
                    throw StorageError(code: .http, message: "opening a session with \(address) timed out")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch {
            logger.info("cannot open a block session with \(address): \(error)")
            return
        }
        guard !finished else { await stream.reset(); return }
        let writer = BlockExchangeWriter(stream: stream, store: nil, limiter: nil)
        writer.send(.open(.init(root: root, wantsManifest: wantsManifest, serves: configuration.serves, addresses: addresses)))
        if wantsManifest {
            // Read the reply up to the manifest here, so the caller knows whether it came.
            do {
                switch try await stream.readBlockExchangeMessage() {
                case .manifest(let data)?:
                    guard root.matches(data) else {
                        throw StorageError(code: .corruptBlock, message: "\(peer) sent a manifest that does not hash to \(root)")
                    }
                    try store.put(data, as: root)
                    try await begin(with: try Manifest(decoding: data))
                case .single(let size)?:
                    try await begin(with: Manifest(blocks: [.init(cid: root, size: size)]))
                case .notFound?, nil:
                    logger.info("\(peer) does not hold \(root)")
                    await writer.abort()
                    return
                case let other?:
                    throw StorageError(code: .invalidArgument, message: "\(peer) answered OPEN with \(other) instead of the manifest")
                }
            } catch {
                logger.info("manifest of \(root) from \(peer) failed: \(error)")
                droppedPeers[peer.description] = "\(error)"
                await writer.abort()
                return
            }
        }
        guard let manifest, !finished else { await writer.abort(); return }
        let reader = Task { await self.read(stream, from: peer, manifest: manifest) }
        sessions[peer] = Session(writer: writer, reader: reader)
    }

    /// Reads a session's messages until it ends; verifies and stores blocks here, off the actor.
    private nonisolated func read(_ stream: P2PStream, from peer: PeerID, manifest: Manifest) async {
        do {
            while let message = try await stream.readBlockExchangeMessage() {
                switch message {
                case .bufferMap(let map):
                    await addPeer(peer, map)
                case .have(let index):
                    await have(peer, index)
                case .block(let index, let bytes):
                    guard index < manifest.blocks.count else { throw BlockExchangeMessage.malformed("BLOCK index \(index) past the manifest's \(manifest.blocks.count) blocks") }
                    let entry = manifest.blocks[index]
                    let valid = Int64(bytes.count) == entry.size && entry.cid.matches(bytes)
                    if valid { try store.put(bytes) }
                    await blockArrived(peer, index, bytes: bytes.count, valid: valid)
                    if !valid { return }
                case .dontHave(let index):
                    await dontHave(peer, index)
                case .peers(let found):
                    await discovered(found)
                case .notFound:
                    break
                case .open, .manifest, .single, .request, .cancel:
                    throw BlockExchangeMessage.malformed("a server sent \(message)")
                }
            }
        } catch {
            logger.info("block session with \(peer) ended: \(error)")
        }
        await sessionEnded(peer)
    }

    private func addPeer(_ peer: PeerID, _ map: Bitfield) {
        guard scheduler != nil else { return }
        let actions = scheduler!.addPeer(peer, bufferMap: map, now: .now)
        perform(actions)
        pump()
    }

    private func have(_ peer: PeerID, _ index: Int) {
        scheduler?.receiveHave(peer, index: index)
        pump()
    }

    private func dontHave(_ peer: PeerID, _ index: Int) {
        scheduler?.receiveDontHave(peer, index: index)
        pump()
    }

    private func blockArrived(_ peer: PeerID, _ index: Int, bytes: Int, valid: Bool) async {
        guard scheduler != nil else { return }
        let wasHeld = scheduler!.have.contains(index)
        let actions = scheduler!.receiveBlock(peer, index: index, valid: valid)
        if valid {
            fetchedBlocks += 1
            fetchedBytes += Int64(bytes)
            blocksByPeer[peer.description, default: 0] += 1
            await exchange.adjustScore(peer, by: 1)
            lastProgress = .now
            if !wasHeld {
                await exchange.blockStored(root: root, index: index)
                progress?(scheduler!.have.setCount, scheduler!.blockCount)
            }
        } else {
            corruptBlocks += 1
            await exchange.adjustScore(peer, by: -100)
            logger.warning("\(peer) sent block \(index) of \(root) that does not match its CID; dropping it")
        }
        perform(actions)
        if scheduler!.isComplete { complete(nil) } else { pump() }
    }

    private func sessionEnded(_ peer: PeerID) {
        guard let session = sessions.removeValue(forKey: peer) else { return }
        Task { await session.writer.abort() }
        if scheduler != nil { perform(scheduler!.removePeer(peer)) }
        pump()
        checkStall()
    }

    private func tick() {
        guard scheduler != nil, !finished else { return }
        perform(scheduler!.tick(now: .now))
        pump()
        checkStall()
    }

    private func checkStall() {
        guard let scheduler, !finished else { return }
        let missing = scheduler.blockCount - scheduler.have.setCount
        if sessions.isEmpty && opening == 0 {
            complete(StorageError(code: .notFound, message: "download of \(root) stopped with \(missing) of \(scheduler.blockCount) blocks missing: no peer is left to ask (tried \(tried.count)); start a peer that holds it and fetch again — the blocks already stored are kept"))
        } else if ContinuousClock.now - lastProgress > configuration.stallTimeout {
            complete(StorageError(code: .notFound, message: "download of \(root) stalled: no block for \(configuration.stallTimeout) with \(missing) of \(scheduler.blockCount) missing and \(sessions.count) peers connected; fetch again later — the blocks already stored are kept"))
        }
    }

    /// Sends what the scheduler decided.
    private func pump() {
        guard scheduler != nil, !finished else { return }
        perform(scheduler!.nextRequests(now: .now))
    }

    private func perform(_ actions: [BlockSwarmScheduler<PeerID>.Action]) {
        for action in actions {
            switch action {
            case .request(let peer, let index):
                sessions[peer]?.writer.send(.request(index))
            case .cancel(let peer, let index):
                sessions[peer]?.writer.send(.cancel(index))
            case .drop(let peer, let reason):
                droppedPeers[peer.description] = "\(reason)"
                if let session = sessions.removeValue(forKey: peer) {
                    session.reader.cancel()
                    Task { await session.writer.abort() }
                }
            }
        }
    }

    private func complete(_ error: (any Error)?) {
        guard !finished else { return }
        finished = true
        failure = error
        for (_, session) in sessions {
            Task { await session.writer.finish() }
        }
        sessions = [:]
        if let error { done?.resume(throwing: error) } else { done?.resume() }
        done = nil
    }
}
