public import Libp2p

/// An iterative Kademlia lookup (FIND_NODE, GET_VALUE, GET_PROVIDERS share it) as a state machine.
///
/// At most `alpha` queries are in flight; each answer adds closer peers; a query that does not answer
/// within `queryTimeout` fails. The lookup ends when the `k` closest peers it knows of have all answered
/// (or failed and been replaced), or when nobody is left to ask.
///
/// ```swift
/// var lookup = LookupStateMachine(target: key, seeds: table.closest(to: key, count: 20))
/// for action in lookup.next(now: now) { if case .query(let peer) = action { send(peer) } }
/// lookup.receive(.response(from: peer, closer: peers), now: later)
/// ```
public struct LookupStateMachine: Sendable {
    /// An input.
    public enum Event: Sendable {
        /// `peer` answered with `closer` peers.
        case response(from: PeerID, closer: [PeerID])
        /// The query to `peer` failed (stream error, bad reply).
        case failure(PeerID)
    }

    /// An output.
    public enum Action: Equatable, Sendable {
        /// Send the request to `peer`.
        case query(PeerID)
        /// The lookup is over; `closest` are the (up to k) closest peers that answered, closest first.
        case finished(closest: [PeerID])
    }

    enum PeerState: Sendable, Equatable {
        case candidate
        case waiting(deadline: Duration)
        case succeeded
        case failed
    }

    /// The key being looked up.
    public let target: KademliaKey
    /// Result size and termination set size k.
    public let k: Int
    /// Most queries in flight.
    public let alpha: Int
    /// How long a query may take before it counts as failed.
    public let queryTimeout: Duration
    var states: [PeerID: PeerState] = [:]
    var distances: [PeerID: KademliaKey] = [:]
    var ordered: [PeerID] = []
    /// Whether ``Action/finished(closest:)`` has been emitted.
    public private(set) var isFinished = false
    /// Queries sent so far.
    public private(set) var queriesSent = 0
    let localPeer: PeerID?

    /// Starts a lookup of `target` from `seeds` (the local table's closest peers).
    public init(target: KademliaKey, seeds: [PeerID], localPeer: PeerID? = nil, k: Int = 20, alpha: Int = 3,
                queryTimeout: Duration = .seconds(10)) {
        self.target = target
        self.k = k
        self.alpha = alpha
        self.queryTimeout = queryTimeout
        self.localPeer = localPeer
        add(seeds)
    }

    mutating func add(_ peers: [PeerID]) {
        var inserted = false
        for peer in peers where states[peer] == nil && peer != localPeer {
            states[peer] = .candidate
            distances[peer] = KademliaKey(peer: peer).distance(to: target)
            ordered.append(peer)
            inserted = true
        }
        if inserted { ordered.sort { distances[$0]! < distances[$1]! } }
    }

    /// Handles an answer or a failure.
    public mutating func receive(_ event: Event, now: Duration) {
        switch event {
        case .response(let peer, let closer):
            guard case .waiting = states[peer] else { return }
            states[peer] = .succeeded
            add(closer)
        case .failure(let peer):
            guard case .waiting = states[peer] else { return }
            states[peer] = .failed
        }
    }

    /// Expires timed-out queries and returns the queries to send now, or the result once done.
    public mutating func next(now: Duration) -> [Action] {
        guard !isFinished else { return [] }
        for (peer, state) in states {
            if case .waiting(let deadline) = state, deadline <= now { states[peer] = .failed }
        }
        // Walk the live peers closest first: the lookup is done once the first k of them have answered.
        var inFlight = 0
        var closestK: [PeerID] = []
        var pending: [PeerID] = []
        for peer in ordered where states[peer] != .failed {
            guard closestK.count < k else { break }
            closestK.append(peer)
            switch states[peer]! {
            case .candidate: pending.append(peer)
            case .waiting: inFlight += 1
            default: break
            }
        }
        if pending.isEmpty && inFlight == 0 {
            isFinished = true
            return [.finished(closest: closestK.filter { states[$0] == .succeeded })]
        }
        var actions: [Action] = []
        for peer in pending where inFlight < alpha {
            states[peer] = .waiting(deadline: now + queryTimeout)
            inFlight += 1
            queriesSent += 1
            actions.append(.query(peer))
        }
        return actions
    }

    /// The (up to k) closest peers that have answered so far, closest first: the result of a lookup ended early.
    public var closestAnswered: [PeerID] {
        Array(ordered.lazy.filter { self.states[$0] == .succeeded }.prefix(k))
    }

    /// The earliest deadline among queries in flight, for the driver's timer.
    public var nextDeadline: Duration? {
        states.values.compactMap { if case .waiting(let d) = $0 { d } else { nil } }.min()
    }
}
