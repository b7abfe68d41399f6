import Testing
import Libp2p
@testable import Kademlia

/// Deterministic peer ids (sha2-256 multihashes of counter bytes) and an in-memory network of servers.
struct KadNetwork {
    var servers: [KadServer] = []
    var ids: [PeerID] = []
    var index: [PeerID: Int] = [:]
    var dead: Set<Int> = []

    static func peer(_ n: Int) -> PeerID {
        var digest = [UInt8](repeating: 0, count: 32)
        var x = UInt64(n) &* 0x9E37_79B9_7F4A_7C15 | 1
        for i in 0..<32 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; digest[i] = UInt8(truncatingIfNeeded: x) }
        return try! PeerID(bytes: [0x12, 0x20] + digest)
    }

    init(count: Int, knownPerNode: Int, seed: UInt64) {
        for i in 0..<count {
            ids.append(Self.peer(i))
            index[ids[i]] = i
            servers.append(KadServer(local: ids[i], validators: ["meshfl": AcceptAllValidator()]))
        }
        // Each node learns a random sample of others (as after a bootstrap), plus its ring neighbour.
        var x = seed | 1
        for i in 0..<count {
            servers[i].table.update(ids[(i + 1) % count], now: .zero)
            for _ in 0..<knownPerNode {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17
                servers[i].table.update(ids[Int(x % UInt64(count))], now: .zero)
            }
        }
    }

    /// Runs a lookup from node `from` for `key`, sending `request` to each queried peer; one second per round.
    mutating func lookup(from: Int, key: [UInt8], request: KadMessage, maxRounds: Int = 200)
        -> (closest: [PeerID], replies: [KadMessage], queries: Int)
    {
        let target = KademliaKey(key: key)
        var lookup = LookupStateMachine(target: target, seeds: servers[from].table.closest(to: target, count: 20),
                                        localPeer: ids[from], queryTimeout: .seconds(3))
        var replies: [KadMessage] = []
        var now: Duration = .zero
        for _ in 0..<maxRounds {
            for action in lookup.next(now: now) {
                switch action {
                case .finished(let closest):
                    return (closest, replies, lookup.queriesSent)
                case .query(let peer):
                    let j = index[peer]!
                    guard !dead.contains(j) else { continue }  // never answers: times out
                    let wire = request.protobufBytes
                    guard let reply = servers[j].handle(try! KadMessage(protobuf: wire), from: ids[from], now: now) else {
                        lookup.receive(.failure(peer), now: now)
                        continue
                    }
                    let decoded = try! KadMessage(protobuf: reply.protobufBytes)
                    replies.append(decoded)
                    servers[from].table.update(peer, now: now)
                    lookup.receive(.response(from: peer, closer: decoded.closerPeers.map { try! PeerID(bytes: $0.id) }),
                                   now: now)
                }
            }
            now += .seconds(1)
        }
        Issue.record("lookup did not finish in \(maxRounds) rounds")
        return ([], replies, lookup.queriesSent)
    }

    /// Every node looks itself up, as a bootstrap does: the peers it asks learn about it.
    mutating func bootstrap() {
        for i in ids.indices where !dead.contains(i) {
            _ = lookup(from: i, key: ids[i].bytes, request: KadMessage(type: .findNode, key: ids[i].bytes))
        }
    }

    func trueClosest(to key: [UInt8], count: Int, excluding: Int? = nil) -> [PeerID] {
        let target = KademliaKey(key: key)
        return ids.indices.filter { !dead.contains($0) && $0 != excluding }.map { ids[$0] }
            .sorted { KademliaKey(peer: $0).distance(to: target) < KademliaKey(peer: $1).distance(to: target) }
            .prefix(count).map { $0 }
    }
}

struct KademliaTests {
    @Test func xorDistanceAndCommonPrefix() {
        var a = [UInt8](repeating: 0, count: 32)
        var b = a
        b[0] = 0b0001_0000
        #expect(KademliaKey(raw: a).commonPrefixLength(with: KademliaKey(raw: b)) == 3)
        #expect(KademliaKey(raw: a).commonPrefixLength(with: KademliaKey(raw: a)) == 256)
        a[31] = 1
        #expect(KademliaKey(raw: a).distance(to: KademliaKey(raw: b)).bytes == [0x10] + [UInt8](repeating: 0, count: 30) + [1])
        #expect(KademliaKey(raw: a).distance(to: KademliaKey(raw: a)).bytes.allSatisfy { $0 == 0 })
        #expect(KademliaKey(raw: a).distance(to: KademliaKey(raw: b)) == KademliaKey(raw: b).distance(to: KademliaKey(raw: a)))
    }

    @Test func messagesRoundTripAndMatchHandEncoding() throws {
        let message = KadMessage(type: .getProviders, key: [1, 2],
                                 record: .init(key: [1, 2], value: [3], timeReceived: "2026-01-01T00:00:00Z"),
                                 closerPeers: [.init(id: KadNetwork.peer(1).bytes, addrs: [[4, 5]], connection: .connected)],
                                 providerPeers: [.init(id: KadNetwork.peer(2).bytes)], clusterLevelRaw: 0)
        #expect(try KadMessage(protobuf: message.protobufBytes) == message)
        // FIND_NODE with key 0xAB: type 4 in field 1, key in field 2.
        #expect(KadMessage(type: .findNode, key: [0xAB]).protobufBytes == [0x08, 0x04, 0x12, 0x01, 0xAB])
        // A message with no type field is PUT_VALUE (proto3 omits the zero enum).
        #expect(try KadMessage(protobuf: [0x12, 0x01, 0xAB]).type == .putValue)
        #expect(throws: KadError.self) { try KadMessage(protobuf: [0x08, 0x09]) }
        #expect(throws: KadError.self) { try KadMessage(protobuf: [0x1A, 0x05, 0x01]) }
    }

    @Test func fullBucketKeepsOldPeersAndPromotesAReplacementOnRemoval() {
        let local = KadNetwork.peer(0)
        var table = RoutingTable(local: local, k: 4)
        let localKey = KademliaKey(peer: local)
        // Peers that differ from us in the first bit all land in bucket 0.
        let far = (1...400).map(KadNetwork.peer).filter { localKey.commonPrefixLength(with: KademliaKey(peer: $0)) == 0 }
        #expect(far.count >= 6)
        for peer in far.prefix(4) { #expect(table.update(peer, now: .zero) == .added) }
        #expect(table.update(far[4], now: .seconds(1)) == .bucketFull(oldest: far[0]))
        #expect(table.update(far[1], now: .seconds(2)) == .refreshed)
        #expect(table.bucket(0) == [far[0], far[2], far[3], far[1]])
        #expect(!table.contains(far[4]))
        table.remove(far[0])
        #expect(table.contains(far[4]))
        #expect(table.update(local, now: .zero) == .ignored)
        #expect(table.count == 4)
    }

    @Test(arguments: [50, 200])
    func lookupFindsTheTrueKClosestInASimulatedNetwork(nodes: Int) {
        var net = KadNetwork(count: nodes, knownPerNode: 10, seed: 7)
        net.bootstrap()
        for (i, from) in [0, nodes / 2, nodes - 1].enumerated() {
            let target = KadNetwork.peer(10_000 + i).bytes
            let result = net.lookup(from: from, key: target, request: KadMessage(type: .findNode, key: target))
            #expect(result.closest == net.trueClosest(to: target, count: 20, excluding: from))
            #expect(result.queries < nodes, "lookup should not ask everybody")
        }
    }

    @Test func lookupRoutesAroundPeersThatTimeOut() {
        var net = KadNetwork(count: 100, knownPerNode: 10, seed: 3)
        net.bootstrap()
        net.dead = Set(stride(from: 1, to: 100, by: 7))
        let target = KadNetwork.peer(5_000).bytes
        let result = net.lookup(from: 0, key: target, request: KadMessage(type: .findNode, key: target))
        #expect(result.closest.allSatisfy { !net.dead.contains(net.index[$0]!) })
        #expect(result.closest == net.trueClosest(to: target, count: 20, excluding: 0))
    }

    @Test func valuesAndProvidersAreFoundFromEveryNode() throws {
        var net = KadNetwork(count: 50, knownPerNode: 5, seed: 11)
        net.bootstrap()
        let key = Array("/meshfl/model-1".utf8)
        let record = KadMessage.Record(key: key, value: Array("weights-cid".utf8))
        // PUT_VALUE and ADD_PROVIDER at the 20 closest peers found by node 3.
        let put = net.lookup(from: 3, key: key, request: KadMessage(type: .findNode, key: key))
        let provider = net.ids[3]
        for peer in put.closest {
            let j = net.index[peer]!
            #expect(net.servers[j].handle(KadMessage(type: .putValue, key: key, record: record), from: provider, now: .zero) != nil)
            let add = KadMessage(type: .addProvider, key: key, providerPeers: [.init(id: provider.bytes, addrs: [[1]])])
            _ = net.servers[j].handle(add, from: provider, now: .zero)
        }
        for from in 0..<50 {
            let get = net.lookup(from: from, key: key, request: KadMessage(type: .getValue, key: key))
            #expect(get.replies.contains { $0.record?.value == record.value } || from == 3, "node \(from)")
            let providers = net.lookup(from: from, key: key, request: KadMessage(type: .getProviders, key: key))
            #expect(providers.replies.contains { $0.providerPeers.contains { $0.id == provider.bytes } } || from == 3,
                    "node \(from)")
        }
    }

    @Test func providerRecordsExpire() {
        var store = ProviderStore(validity: .seconds(10))
        let key: [UInt8] = [1]
        store.add(key: key, provider: KadNetwork.peer(1), addrs: [], now: .zero)
        store.add(key: key, provider: KadNetwork.peer(2), addrs: [[9]], now: .seconds(5))
        #expect(store.providers(of: key, now: .seconds(9)).count == 2)
        #expect(store.providers(of: key, now: .seconds(12)).map(\.peer) == [KadNetwork.peer(2)])
        store.expire(now: .seconds(20))
        #expect(store.keyCount == 0)
    }

    struct Counter: RecordValidator {
        func validate(key: [UInt8], value: [UInt8]) throws(KadError) {
            guard value.count == 1 else { throw KadError(.invalidRecord, "one byte") }
        }
        func select(key: [UInt8], values: [[UInt8]]) -> Int { values[1][0] > values[0][0] ? 1 : 0 }
    }

    @Test func recordsAreValidatedPerNamespaceAndTheBestIsKept() throws {
        var store = RecordStore(validators: ["n": Counter()])
        let key = Array("/n/x".utf8)
        try store.put(.init(key: key, value: [5]), now: .zero)
        #expect(try store.put(.init(key: key, value: [3]), now: .zero) == false)
        #expect(store.get(key, now: .zero)?.value == [5])
        try store.put(.init(key: key, value: [7]), now: .zero)
        #expect(store.get(key, now: .zero)?.value == [7])
        #expect(throws: KadError.self) { try store.put(.init(key: key, value: [1, 2]), now: .zero) }
        #expect(throws: KadError.self) { try store.put(.init(key: Array("/other/x".utf8), value: [1]), now: .zero) }
        #expect(throws: KadError.self) { try store.put(.init(key: Array("nokey".utf8), value: [1]), now: .zero) }
        #expect(store.get(key, now: .seconds(49 * 3600)) == nil)
    }

    @Test func serverRefusesProviderAnnouncementsForOthers() {
        var server = KadServer(local: KadNetwork.peer(0), validators: [:])
        let add = KadMessage(type: .addProvider, key: [1], providerPeers: [.init(id: KadNetwork.peer(2).bytes)])
        _ = server.handle(add, from: KadNetwork.peer(1), now: .zero)
        #expect(server.providers.providers(of: [1], now: .zero).isEmpty)
        #expect(server.table.contains(KadNetwork.peer(1)))
    }
}
