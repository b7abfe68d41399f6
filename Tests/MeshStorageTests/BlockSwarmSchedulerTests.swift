import Testing
@testable import MeshStorage

/// The swarm scheduler without sockets: rarest first, windows, endgame,
/// scoring, timeouts on a manual clock, and a simulated swarm.
struct BlockSwarmSchedulerTests {
    typealias Scheduler = BlockSwarmScheduler<String>
    let t0 = ContinuousClock.now

    func config(window: Int = 4, seed: UInt64 = 1) -> Scheduler.Configuration {
        var c = Scheduler.Configuration()
        c.window = window
        c.seed = seed
        c.requestTimeout = .seconds(5)
        c.maxTimeouts = 2
        return c
    }

    func map(_ count: Int, _ indices: [Int]) -> Bitfield {
        var m = Bitfield(count: count)
        for i in indices { m.insert(i) }
        return m
    }

    func requests(_ actions: [Scheduler.Action]) -> [(String, Int)] {
        actions.compactMap { if case .request(let p, let i) = $0 { return (p, i) } else { return nil } }
    }

    @Test func asksForTheRarestBlockFirst() {
        var s = Scheduler(blockCount: 4, have: Bitfield(count: 4), configuration: config(window: 1))
        // Block 2 is held by one peer, the others by three.
        _ = s.addPeer("a", bufferMap: map(4, [0, 1, 3]), now: t0)
        _ = s.addPeer("b", bufferMap: map(4, [0, 1, 3]), now: t0)
        _ = s.addPeer("c", bufferMap: .full(count: 4), now: t0)
        let asked = requests(s.nextRequests(now: t0))
        #expect(asked.count == 3)
        #expect(asked.contains { $0 == ("c", 2) })
        #expect(Set(asked.map(\.1)).count == 3, "no block is asked of two peers outside endgame")
    }

    @Test func keepsAtMostWindowRequestsPerPeer() {
        var s = Scheduler(blockCount: 20, have: Bitfield(count: 20), configuration: config(window: 4))
        _ = s.addPeer("seed", bufferMap: .full(count: 20), now: t0)
        let first = requests(s.nextRequests(now: t0))
        #expect(first.count == 4)
        #expect(requests(s.nextRequests(now: t0)).isEmpty)
        _ = s.receiveBlock("seed", index: first[0].1, valid: true)
        let next = requests(s.nextRequests(now: t0))
        #expect(next.count == 1)
        #expect(s.inflightCount("seed") == 4)
        #expect(s.scores["seed"] == 1)
    }

    @Test func neverAsksForBlocksAlreadyHeld() {
        let held = map(10, [0, 2, 4, 6, 8])
        var s = Scheduler(blockCount: 10, have: held, configuration: config(window: 10))
        _ = s.addPeer("seed", bufferMap: .full(count: 10), now: t0)
        let asked = requests(s.nextRequests(now: t0)).map(\.1).sorted()
        #expect(asked == [1, 3, 5, 7, 9])
    }

    @Test func aCorruptBlockDropsAndBansThePeerAndTheBlockIsAskedElsewhere() {
        var s = Scheduler(blockCount: 2, have: Bitfield(count: 2), configuration: config(window: 1))
        _ = s.addPeer("liar", bufferMap: .full(count: 2), now: t0)
        let asked = requests(s.nextRequests(now: t0))
        #expect(asked.count == 1)
        let index = asked[0].1
        let actions = s.receiveBlock("liar", index: index, valid: false)
        #expect(actions == [.drop("liar", reason: .corruptBlock(index))])
        #expect(!s.contains("liar"))
        #expect(s.banned.contains("liar"))
        #expect(s.scores["liar"]! < 0)
        #expect(!s.have.contains(index))
        // A banned peer cannot rejoin; an honest one gets the block.
        _ = s.addPeer("liar", bufferMap: .full(count: 2), now: t0)
        #expect(!s.contains("liar"))
        _ = s.addPeer("honest", bufferMap: .full(count: 2), now: t0)
        #expect(requests(s.nextRequests(now: t0)).map(\.0) == ["honest"])
    }

    @Test func timedOutRequestsGoElsewhereAndRepeatedTimeoutsDropThePeer() {
        var s = Scheduler(blockCount: 1, have: Bitfield(count: 1), configuration: config(window: 1))
        _ = s.addPeer("slow", bufferMap: .full(count: 1), now: t0)
        #expect(requests(s.nextRequests(now: t0)).map(\.0) == ["slow"])
        #expect(s.tick(now: t0 + .seconds(4)).isEmpty)
        #expect(s.tick(now: t0 + .seconds(5)).isEmpty)  // first timeout: a point lost, request freed
        #expect(s.scores["slow"] == -1)
        #expect(s.inflightCount("slow") == 0)
        #expect(requests(s.nextRequests(now: t0 + .seconds(5))).map(\.0) == ["slow"])
        #expect(s.tick(now: t0 + .seconds(10)) == [.drop("slow", reason: .unresponsive)])
        #expect(!s.contains("slow"))
    }

    @Test func dontHaveAndDeparturesReturnRequestsToThePool() {
        var s = Scheduler(blockCount: 1, have: Bitfield(count: 1), configuration: config(window: 1))
        _ = s.addPeer("a", bufferMap: .full(count: 1), now: t0)
        _ = s.addPeer("b", bufferMap: .full(count: 1), now: t0)
        let first = requests(s.nextRequests(now: t0))
        #expect(first.count == 2, "one block, two idle peers: endgame asks both")
        s.receiveDontHave("a", index: 0)
        _ = s.removePeer("b")
        #expect(requests(s.nextRequests(now: t0)).isEmpty, "a no longer has it, b left")
        s.receiveHave("a", index: 0)
        #expect(requests(s.nextRequests(now: t0)).map(\.0) == ["a"])
    }

    @Test func endgameDuplicatesTheLastBlocksAndCancelsTheLosers() {
        var s = Scheduler(blockCount: 2, have: Bitfield(count: 2), configuration: config(window: 1))
        _ = s.addPeer("a", bufferMap: .full(count: 2), now: t0)
        _ = s.addPeer("b", bufferMap: .full(count: 2), now: t0)
        _ = s.addPeer("c", bufferMap: .full(count: 2), now: t0)
        let asked = requests(s.nextRequests(now: t0))
        #expect(asked.count == 3)
        #expect(Set(asked.map(\.1)) == [0, 1])
        let duplicated = Dictionary(grouping: asked, by: \.1).first { $0.value.count == 2 }!
        let (winner, loser) = (duplicated.value[0].0, duplicated.value[1].0)
        #expect(s.receiveBlock(winner, index: duplicated.key, valid: true) == [.cancel(loser, duplicated.key)])
    }

    @Test func fetchersWithDifferentSeedsStartOnDifferentBlocks() {
        var firsts: [Set<Int>] = []
        for seed in [11, 22] as [UInt64] {
            var s = Scheduler(blockCount: 64, have: Bitfield(count: 64), configuration: config(window: 8, seed: seed))
            _ = s.addPeer("seed", bufferMap: .full(count: 64), now: t0)
            firsts.append(Set(requests(s.nextRequests(now: t0)).map(\.1)))
        }
        #expect(firsts[0].count == 8 && firsts[1].count == 8)
        #expect(firsts[0] != firsts[1])
    }

    @Test func theDefaultConfigurationDrawsASeedPerDownload() {
        let firsts = (0..<2).map { _ in
            var s = Scheduler(blockCount: 256, have: Bitfield(count: 256))
            _ = s.addPeer("seed", bufferMap: .full(count: 256), now: t0)
            return Set(requests(s.nextRequests(now: t0)).map(\.1))
        }
        #expect(firsts[0] != firsts[1], "two fetchers would ask the seeder for the same blocks")
    }

    @Test func aBufferMapOfTheWrongSizeDropsThePeer() {
        var s = Scheduler(blockCount: 3, have: Bitfield(count: 3))
        #expect(s.addPeer("x", bufferMap: Bitfield(count: 4), now: t0) == [.drop("x", reason: .badBufferMap)])
        #expect(!s.contains("x"))
    }

    /// One seeder and eight fetchers; every peer uploads one block per round.
    /// Returns (rounds until all complete, blocks the seeder uploaded).
    func simulate(blocks: Int, fetchers: Int, swarming: Bool) -> (Int, Int) {
        let names = (1...fetchers).map { "f\($0)" }
        var schedulers: [String: Scheduler] = [:]
        for (n, name) in names.enumerated() {
            var s = Scheduler(blockCount: blocks, have: Bitfield(count: blocks), configuration: config(window: 4, seed: UInt64(n + 1) * 7919))
            _ = s.addPeer("seeder", bufferMap: .full(count: blocks), now: t0)
            if swarming { for other in names where other != name { _ = s.addPeer(other, bufferMap: Bitfield(count: blocks), now: t0) } }
            schedulers[name] = s
        }
        var queues: [String: [(to: String, index: Int)]] = [:]
        var seederUploads = 0
        for round in 1...(blocks * fetchers * 2) {
            for name in names {
                for case .request(let peer, let index) in schedulers[name]!.nextRequests(now: t0) {
                    queues[peer, default: []].append((name, index))
                }
            }
            var deliveries: [(from: String, to: String, index: Int)] = []
            for server in ["seeder"] + names {
                guard var queue = queues[server], !queue.isEmpty else { continue }
                let item = queue.removeFirst()
                queues[server] = queue
                deliveries.append((server, item.to, item.index))
                if server == "seeder" { seederUploads += 1 }
            }
            for d in deliveries {
                let isNew = !schedulers[d.to]!.have.contains(d.index)
                _ = schedulers[d.to]!.receiveBlock(d.from, index: d.index, valid: true)
                if isNew && swarming {
                    for other in names where other != d.to { schedulers[other]!.receiveHave(d.to, index: d.index) }
                }
            }
            if schedulers.values.allSatisfy(\.isComplete) { return (round, seederUploads) }
        }
        return (Int.max, seederUploads)
    }

    @Test func aSwarmFinishesInLessThanHalfTheTimeOfTheSeederAlone() {
        let (alone, aloneUploads) = simulate(blocks: 32, fetchers: 8, swarming: false)
        let (swarm, swarmUploads) = simulate(blocks: 32, fetchers: 8, swarming: true)
        #expect(alone == 32 * 8, "the seeder alone uploads every copy, one per round")
        #expect(aloneUploads == 256)
        #expect(swarm * 2 <= alone, "swarm took \(swarm) rounds, seeder alone \(alone)")
        #expect(swarmUploads < aloneUploads / 2, "the seeder uploaded \(swarmUploads) blocks in the swarm")
    }
}
