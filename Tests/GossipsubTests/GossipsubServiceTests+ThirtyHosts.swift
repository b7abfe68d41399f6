import Testing
import Libp2p
@testable import Gossipsub

/// What each subscriber of a multi-host test received, by payload text.
actor Arrivals {
    private var received: [Int: Set<String>] = [:]

    func record(_ node: Int, _ text: String) { received[node, default: []].insert(text) }

    /// Everything `node` received.
    func received(_ node: Int) -> Set<String> { received[node] ?? [] }

    /// The payloads of `expected` that `node` has not received.
    func missing(_ node: Int, of expected: Set<String>) -> Set<String> {
        expected.subtracting(received[node] ?? [])
    }
}

extension GossipsubServiceTests {
    /// Host `i` dials hosts `i-1`, `i-2` and `i/2`: every host has at least two links to earlier hosts
    /// (so one host leaving never splits the network) and the halving links give short paths.
    static func earlierPeers(of i: Int) -> Set<Int> {
        Set([i - 1, i - 2, i / 2].filter { $0 >= 0 && $0 < i })
    }

    /// Stops every service and host (also after a failed expectation, so no socket outlives the test).
    static func shutDown(_ nodes: [(host: Host, pubsub: GossipsubService)]) async {
        for node in nodes {
            await node.pubsub.stop()
            await node.host.shutdown()
        }
    }

    /// Payloads of `expected` missing at any of `nodes`, waiting at most `limit` for them to arrive.
    static func undelivered(_ expected: Set<String>, at nodes: [Int], in arrivals: Arrivals,
                            limit: Duration = .seconds(20)) async -> [Int: Set<String>] {
        _ = await eventually(limit) {
            for n in nodes where await !arrivals.missing(n, of: expected).isEmpty { return false }
            return true
        }
        var missing: [Int: Set<String>] = [:]
        for n in nodes {
            let gone = await arrivals.missing(n, of: expected)
            if !gone.isEmpty { missing[n] = gone }
        }
        return missing
    }

    @Test func thirtyHostsDeliverEveryMessageAndRouteAroundAHostThatLeaves() async throws {
        let count = 30
        var built: [(host: Host, pubsub: GossipsubService)] = []
        do {
            for n in 0..<count { built.append(try await Self.node(100 + n)) }
        } catch {
            await Self.shutDown(built)
            throw error
        }
        let nodes = built
        let arrivals = Arrivals()
        var readers: [Task<Void, Never>] = []
        do {
            for (n, node) in nodes.enumerated() {
                let stream = await node.pubsub.subscribe(Self.topic)
                readers.append(Task {
                    for await message in stream { await arrivals.record(n, String(decoding: message.data, as: UTF8.self)) }
                })
            }
            for n in 1..<count {
                for peer in Self.earlierPeers(of: n).sorted() {
                    _ = try await nodes[n].host.connect(to: await nodes[peer].host.fullAddresses[0])
                }
            }
            let config = GossipsubConfiguration()
            let meshed = await Self.eventually(.seconds(20)) {
                for node in nodes {
                    let connected = await node.host.connectedPeers.count
                    if await node.pubsub.meshPeers(Self.topic).count < min(config.dLow, connected) { return false }
                }
                return true
            }
            #expect(meshed, "every mesh reaches min(D_low, connections)")

            // Ten messages from ten different publishers reach all 30 subscribers (the publisher included).
            let before = Set((0..<10).map { "before \($0) from \(($0 * 7) % count)" })
            for i in 0..<10 { await nodes[(i * 7) % count].pubsub.publish(Self.topic, Array("before \(i) from \((i * 7) % count)".utf8)) }
            let missingBefore = await Self.undelivered(before, at: Array(0..<count), in: arrivals)
            #expect(missingBefore.isEmpty, "undelivered before the leave: \(missingBefore)")

            // The host in the most meshes leaves; its neighbours notice and route around it.
            var meshCount = [Int](repeating: 0, count: count)
            let ids = nodes.map(\.host.peerID)
            for node in nodes {
                for peer in await node.pubsub.meshPeers(Self.topic) {
                    if let i = ids.firstIndex(of: peer) { meshCount[i] += 1 }
                }
            }
            let leaver = meshCount.indices.max { meshCount[$0] < meshCount[$1] }!
            let leaverID = ids[leaver]
            await nodes[leaver].pubsub.stop()
            await nodes[leaver].host.shutdown()
            let remaining = (0..<count).filter { $0 != leaver }
            let noticed = await Self.eventually(.seconds(10)) {
                for n in remaining where await nodes[n].pubsub.topicPeers(Self.topic).contains(leaverID) { return false }
                return true
            }
            #expect(noticed, "every host dropped host \(leaver) from the topic")
            for n in remaining { #expect(await !nodes[n].pubsub.meshPeers(Self.topic).contains(leaverID)) }

            // Ten messages published after the leave, from publishers other than the leaver.
            let publishers = (0..<10).map { remaining[($0 * 5) % remaining.count] }
            let after = Set(publishers.enumerated().map { "after \($0.offset) from \($0.element)" })
            for (i, publisher) in publishers.enumerated() {
                await nodes[publisher].pubsub.publish(Self.topic, Array("after \(i) from \(publisher)".utf8))
            }
            let missingAfter = await Self.undelivered(after, at: remaining, in: arrivals)
            #expect(missingAfter.isEmpty, "undelivered after host \(leaver) (in \(meshCount[leaver]) meshes) left: \(missingAfter)")
            #expect(await arrivals.missing(leaver, of: after) == after, "the host that left received nothing more")
        } catch {
            for reader in readers { reader.cancel() }
            await Self.shutDown(nodes)
            throw error
        }
        for reader in readers { reader.cancel() }
        await Self.shutDown(nodes)
    }
}
