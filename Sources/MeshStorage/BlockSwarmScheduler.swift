/// Which block to ask which peer for: the pure logic of a swarming download,
/// with no I/O. A fetcher feeds it what peers say (buffer maps, HAVEs, blocks,
/// DONT_HAVEs, departures) and a clock; it answers with ``Action``s to carry out.
///
/// - **Rarest first**: among the missing blocks no one is fetching, a peer is
///   asked for those the fewest peers hold; ties are broken by a per-download
///   random rank, so fetchers that start together ask a seeder for different
///   blocks and can then trade among themselves.
/// - **Request windows**: at most ``Configuration/window`` requests in flight
///   per peer.
/// - **Endgame**: once every missing block is in flight, idle peers may also be
///   asked for in-flight blocks (``Configuration/endgameCopies`` copies at most);
///   the first copy to arrive cancels the others.
/// - **Scoring**: a peer gains a point per good block; a bad block (one that
///   does not hash to its CID) drops and bans it; a request that outlives
///   ``Configuration/requestTimeout`` costs a point and returns the block to the
///   pool, and ``Configuration/maxTimeouts`` in a row drop the peer.
///
/// Blocks already held (a resumed download) are marked in `have` and never asked for.
///
/// ```swift
/// var scheduler = BlockSwarmScheduler<String>(blockCount: 4, have: Bitfield(count: 4))
/// scheduler.addPeer("seeder", bufferMap: .full(count: 4), now: .now)
/// for case .request(let peer, let index) in scheduler.nextRequests(now: .now) { … }
/// ```
public struct BlockSwarmScheduler<Peer: Hashable & Sendable>: Sendable {
    /// Tunables.
    public struct Configuration: Sendable {
        /// Requests in flight per peer.
        public var window = 8
        /// A request unanswered this long is given up and re-issued elsewhere.
        public var requestTimeout: Duration = .seconds(20)
        /// Timeouts in a row after which a peer is dropped.
        public var maxTimeouts = 3
        /// In endgame, how many peers may be fetching the same block at once.
        public var endgameCopies = 2
        /// Seeds the tie-breaking rank of equally rare blocks; `nil` (the
        /// default) draws a random seed per download, so that fetchers starting
        /// together ask the seeder for different blocks.
        public var seed: UInt64?
        /// The defaults.
        public init() {}
    }

    /// Something the fetcher must do.
    public enum Action: Sendable, Equatable {
        /// Send REQUEST(index) to the peer.
        case request(Peer, Int)
        /// Send CANCEL(index) to the peer: another copy arrived first.
        case cancel(Peer, Int)
        /// Close the session with the peer and forget it.
        case drop(Peer, reason: DropReason)
    }

    /// Why a peer was dropped.
    public enum DropReason: Sendable, Equatable {
        /// It sent a block that does not match its CID.
        case corruptBlock(Int)
        /// Too many requests timed out.
        case unresponsive
        /// Its buffer map does not cover the manifest's blocks.
        case badBufferMap
    }

    struct PeerState: Sendable {
        var has: Bitfield
        var inflight: [Int: ContinuousClock.Instant] = [:]
        var timeoutsInARow = 0
    }

    /// The configuration.
    public let configuration: Configuration
    /// The blocks held locally.
    public private(set) var have: Bitfield
    /// Each peer's score: good blocks minus timeouts (banned peers keep theirs).
    public private(set) var scores: [Peer: Int] = [:]
    /// Peers dropped for a bad block; they are never added again.
    public private(set) var banned: Set<Peer> = []

    var peers: [Peer: PeerState] = [:]
    /// How many known peers hold each block.
    var availability: [Int]
    /// Which peers each in-flight block was asked of.
    var requested: [Int: Set<Peer>] = [:]
    /// Random tie-breaking rank per block.
    let rank: [UInt32]

    /// A download of `blockCount` blocks of which `have` are already held.
    public init(blockCount: Int, have: Bitfield, configuration: Configuration = .init()) {
        precondition(have.count == blockCount, "the local buffer map must cover the manifest")
        self.configuration = configuration
        self.have = have
        self.availability = [Int](repeating: 0, count: blockCount)
        var state = (configuration.seed ?? UInt64.random(in: 1...UInt64.max)) | 1
        self.rank = (0..<blockCount).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt32(truncatingIfNeeded: state >> 16)
        }
    }

    /// The number of blocks in the download.
    public var blockCount: Int { have.count }
    /// Whether every block is held.
    public var isComplete: Bool { have.isFull }
    /// The peers in the download.
    public var peerIDs: [Peer] { Array(peers.keys) }
    /// How many requests are in flight to `peer`.
    public func inflightCount(_ peer: Peer) -> Int { peers[peer]?.inflight.count ?? 0 }
    /// Whether `peer` is in the download.
    public func contains(_ peer: Peer) -> Bool { peers[peer] != nil }

    // MARK: Events

    /// A peer's session started with its buffer map. Banned peers are ignored.
    public mutating func addPeer(_ peer: Peer, bufferMap: Bitfield, now: ContinuousClock.Instant) -> [Action] {
        guard !banned.contains(peer) else { return [] }
        guard bufferMap.count == blockCount else { return [.drop(peer, reason: .badBufferMap)] }
        if peers[peer] != nil { _ = removePeer(peer) }
        peers[peer] = PeerState(has: bufferMap)
        for i in bufferMap.indices { availability[i] += 1 }
        scores[peer, default: 0] += 0
        return []
    }

    /// A peer now holds block `index`.
    public mutating func receiveHave(_ peer: Peer, index: Int) {
        guard index >= 0, index < blockCount, peers[peer]?.has.insert(index) == true else { return }
        availability[index] += 1
    }

    /// A peer said it cannot send block `index`: it is asked elsewhere.
    public mutating func receiveDontHave(_ peer: Peer, index: Int) {
        guard var state = peers[peer] else { return }
        state.inflight[index] = nil
        if state.has.remove(index) { availability[index] -= 1 }
        peers[peer] = state
        requested[index]?.remove(peer)
        if requested[index]?.isEmpty == true { requested[index] = nil }
    }

    /// A block arrived from `peer`; `valid` says whether it hashed to its CID
    /// (and was stored). Returns cancels for endgame copies, or a drop.
    public mutating func receiveBlock(_ peer: Peer, index: Int, valid: Bool) -> [Action] {
        guard index >= 0, index < blockCount else { return [] }
        guard valid else {
            banned.insert(peer)
            scores[peer, default: 0] -= 100
            _ = removePeer(peer)
            return [.drop(peer, reason: .corruptBlock(index))]
        }
        if var state = peers[peer] {
            state.inflight[index] = nil
            state.timeoutsInARow = 0
            if state.has.insert(index) { availability[index] += 1 }
            peers[peer] = state
            scores[peer, default: 0] += 1
        }
        guard have.insert(index) else { return [] }
        var actions: [Action] = []
        for other in requested.removeValue(forKey: index) ?? [] where other != peer {
            if peers[other]?.inflight.removeValue(forKey: index) != nil { actions.append(.cancel(other, index)) }
        }
        return actions
    }

    /// A peer left (its session ended); its requests return to the pool.
    public mutating func removePeer(_ peer: Peer) -> [Action] {
        guard let state = peers.removeValue(forKey: peer) else { return [] }
        for i in state.has.indices { availability[i] -= 1 }
        for i in state.inflight.keys {
            requested[i]?.remove(peer)
            if requested[i]?.isEmpty == true { requested[i] = nil }
        }
        return []
    }

    /// Gives up requests older than the timeout; drops peers that time out too often.
    public mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        for (peer, var state) in peers {
            let expired = state.inflight.filter { now - $0.value >= configuration.requestTimeout }.map(\.key)
            guard !expired.isEmpty else { continue }
            for i in expired {
                state.inflight[i] = nil
                requested[i]?.remove(peer)
                if requested[i]?.isEmpty == true { requested[i] = nil }
            }
            state.timeoutsInARow += expired.count
            scores[peer, default: 0] -= expired.count
            peers[peer] = state
            if state.timeoutsInARow >= configuration.maxTimeouts {
                _ = removePeer(peer)
                actions.append(.drop(peer, reason: .unresponsive))
            }
        }
        return actions
    }

    // MARK: Scheduling

    /// Fills every peer's free window slots, rarest block first; in endgame
    /// also duplicates in-flight blocks to idle peers.
    ///
    /// - Complexity: O(b log b + p·b) for b missing blocks and p peers.
    public mutating func nextRequests(now: ContinuousClock.Instant) -> [Action] {
        guard !isComplete, !peers.isEmpty else { return [] }
        var actions: [Action] = []
        // Missing blocks nobody is fetching, rarest (then lowest rank) first.
        var pool = (0..<blockCount).filter { !have.contains($0) && requested[$0] == nil && availability[$0] > 0 }
        pool.sort { (availability[$0], rank[$0]) < (availability[$1], rank[$1]) }
        // Peers with the most free slots first; best score breaks ties.
        let order = peers.keys.sorted {
            let (a, b) = (peers[$0]!, peers[$1]!)
            if a.inflight.count != b.inflight.count { return a.inflight.count < b.inflight.count }
            return scores[$0, default: 0] > scores[$1, default: 0]
        }
        var taken = Set<Int>()
        // Round-robin one slot at a time so every peer gets a share of the rarest blocks.
        var progressed = true
        while progressed {
            progressed = false
            for peer in order {
                guard var state = peers[peer], state.inflight.count < configuration.window else { continue }
                guard let index = pool.first(where: { !taken.contains($0) && state.has.contains($0) }) else { continue }
                taken.insert(index)
                state.inflight[index] = now
                peers[peer] = state
                requested[index, default: []].insert(peer)
                actions.append(.request(peer, index))
                progressed = true
            }
        }
        if !pool.contains(where: { !taken.contains($0) }) { actions += endgame(now: now, order: order) }
        return actions
    }

    private mutating func endgame(now: ContinuousClock.Instant, order: [Peer]) -> [Action] {
        var actions: [Action] = []
        for peer in order {
            guard var state = peers[peer] else { continue }
            while state.inflight.count < configuration.window {
                let candidates = requested.filter { index, askers in
                    askers.count < configuration.endgameCopies && !askers.contains(peer) && state.has.contains(index)
                }
                guard let (index, _) = candidates.min(by: { ($0.value.count, $0.key) < ($1.value.count, $1.key) }) else { break }
                state.inflight[index] = now
                requested[index, default: []].insert(peer)
                actions.append(.request(peer, index))
            }
            peers[peer] = state
        }
        return actions
    }
}
