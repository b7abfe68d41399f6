import Libp2p
@testable import Gossipsub

/// Routers wired in memory with a manual clock: RPCs are encoded, queued and decoded in FIFO order.
struct SimulatedNetwork {
    var routers: [GossipsubStateMachine] = []
    var ids: [PeerID] = []
    var index: [PeerID: Int] = [:]
    var links: Set<[Int]> = []
    var now: Duration = .zero
    var queue: [(from: Int, to: Int, bytes: [UInt8])] = []
    var head = 0
    var delivered: [[MessageID: Int]]
    var discovered: [[PeerID]]
    var validator: (@Sendable (PubsubMessage) -> ValidationResult)?
    var rpcCount = 0

    static func key(_ n: Int) -> PrivateKey {
        var seed = [UInt8](repeating: 0, count: 32)
        seed[0] = UInt8(n & 0xFF)
        seed[1] = UInt8(n >> 8)
        seed[31] = 0x5A
        return try! PrivateKey(ed25519Seed: seed)
    }

    init(count: Int, configuration: GossipsubConfiguration = .init(), seed: UInt64 = 1) {
        for i in 0..<count {
            let key = Self.key(i)
            routers.append(GossipsubStateMachine(localKey: key, configuration: configuration, seed: seed &+ UInt64(i)))
            ids.append(key.peerID)
            index[key.peerID] = i
        }
        delivered = Array(repeating: [:], count: count)
        discovered = Array(repeating: [], count: count)
    }

    mutating func connect(_ a: Int, _ b: Int, protocol proto: PubsubProtocol = .meshsub11) {
        guard a != b, links.insert([min(a, b), max(a, b)]).inserted else { return }
        apply(a, routers[a].receive(.peerAdded(ids[b], protocol: proto, outbound: true), now: now))
        apply(b, routers[b].receive(.peerAdded(ids[a], protocol: proto, outbound: false), now: now))
    }

    /// A ring plus `extra` random links per node, from a seeded generator.
    mutating func wireRandomly(extra: Int, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let n = routers.count
        for i in 0..<n { connect(i, (i + 1) % n) }
        for i in 0..<n {
            for _ in 0..<extra { connect(i, Int(rng.next() % UInt64(n))) }
        }
    }

    mutating func apply(_ i: Int, _ actions: [GossipsubAction]) {
        for action in actions {
            switch action {
            case .send(let rpc, let peer):
                guard let j = index[peer] else { continue }
                queue.append((i, j, rpc.protobufBytes))
            case .deliver(_, let id, _):
                delivered[i][id, default: 0] += 1
            case .validate(let message, let id, _):
                let verdict = validator?(message) ?? .accept
                apply(i, routers[i].receive(.validated(id, verdict), now: now))
            case .discovered(let peers, _):
                discovered[i] += peers.compactMap { try? PeerID(bytes: $0.peerID) }
            }
        }
    }

    /// Delivers queued RPCs until none are left or `maxRPCs` were delivered.
    @discardableResult
    mutating func drain(maxRPCs: Int = 1_000_000) -> Bool {
        var budget = maxRPCs
        while head < queue.count, budget > 0 {
            let (from, to, bytes) = queue[head]
            head += 1
            budget -= 1
            rpcCount += 1
            let rpc = try! PubsubRPC(protobuf: bytes)
            apply(to, routers[to].receive(.rpc(rpc, from: ids[from]), now: now))
        }
        if head > 4_096 { queue.removeFirst(head); head = 0 }
        return head >= queue.count
    }

    mutating func event(_ i: Int, _ event: GossipsubEvent) {
        apply(i, routers[i].receive(event, now: now))
    }

    /// Advances the clock by one heartbeat interval and beats every router, then drains.
    mutating func tick(_ interval: Duration = .seconds(1)) {
        now += interval
        for i in routers.indices { apply(i, routers[i].receive(.heartbeat, now: now)) }
        drain()
    }
}
