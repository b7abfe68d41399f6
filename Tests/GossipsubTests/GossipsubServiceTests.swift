import Testing
import Libp2p
@testable import Gossipsub

/// Swift↔Swift gossipsub over real TCP connections on 127.0.0.1.
@Suite(.timeLimit(.minutes(1)))
struct GossipsubServiceTests {
    static let topic = "/meshfl/test/1"

    static func node(_ n: Int) async throws -> (host: Host, pubsub: GossipsubService) {
        let key = SimulatedNetwork.key(1_000 + n)
        let host = Host(identity: key)
        try await host.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
        var config = GossipsubConfiguration()
        config.heartbeatInterval = .milliseconds(100)
        let pubsub = GossipsubService(host: host, key: key, configuration: config, seed: UInt64(n))
        await pubsub.start()
        return (host, pubsub)
    }

    /// Polls `condition` every 50 ms for at most `limit`.
    static func eventually(_ limit: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while clock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }

    /// Collects `count` messages from `stream`, or fewer if `limit` passes first.
    static func collect(_ stream: AsyncStream<PubsubMessage>, count: Int, limit: Duration = .seconds(10)) async -> [PubsubMessage] {
        await withTaskGroup(of: [PubsubMessage]?.self) { group in
            group.addTask {
                var got: [PubsubMessage] = []
                for await message in stream {
                    got.append(message)
                    if got.count == count { break }
                }
                return got
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            var result: [PubsubMessage] = []
            for await value in group {
                if let value { result = value }
                group.cancelAll()
                break
            }
            return result
        }
    }

    @Test func fiveHostsInALineDeliverEveryMessage() async throws {
        var built: [(host: Host, pubsub: GossipsubService)] = []
        for n in 0..<5 { built.append(try await Self.node(n)) }
        let nodes = built
        var streams: [AsyncStream<PubsubMessage>] = []
        for node in nodes { streams.append(await node.pubsub.subscribe(Self.topic)) }
        for n in 1..<5 {
            _ = try await nodes[n].host.connect(to: await nodes[n - 1].host.fullAddresses[0])
        }
        // Every inner node meshes with both neighbours, the ends with one.
        let meshed = await Self.eventually {
            for (n, node) in nodes.enumerated() {
                let want = (n == 0 || n == 4) ? 1 : 2
                if await node.pubsub.meshPeers(Self.topic).count < want { return false }
            }
            return true
        }
        #expect(meshed)
        await nodes[0].pubsub.publish(Self.topic, Array("from 0".utf8))
        await nodes[4].pubsub.publish(Self.topic, Array("from 4".utf8))
        for (n, stream) in streams.enumerated() {
            let got = await Self.collect(stream, count: 2)
            #expect(Set(got.map { String(decoding: $0.data, as: UTF8.self) }) == ["from 0", "from 4"], "host \(n)")
            for message in got { #expect((try? message.verifySignature()) != nil) }
        }
        for node in nodes {
            await node.pubsub.stop()
            await node.host.shutdown()
        }
    }
}

extension GossipsubServiceTests {
    @Test func aResetOutboundStreamIsReopenedWhileTheConnectionLasts() async throws {
        let a = try await Self.node(40)
        let b = try await Self.node(41)
        let stream = await b.pubsub.subscribe(Self.topic)
        _ = await a.pubsub.subscribe(Self.topic)
        _ = try await a.host.connect(to: await b.host.fullAddresses[0])
        let meshed = await Self.eventually {
            let (aMesh, bMesh) = (await a.pubsub.meshPeers(Self.topic), await b.pubsub.meshPeers(Self.topic))
            return aMesh.contains(b.host.peerID) && bMesh.contains(a.host.peerID)
        }
        #expect(meshed)
        // Reset A's outbound pubsub stream under it; the connection stays up.
        let outbound = try #require(await a.pubsub.writers[b.host.peerID]?.stream)
        await outbound.reset()
        // The first publish after the reset finds the stream failed; later ones must go out on a new stream.
        let arrivals = Arrivals()
        let reader = Task { for await message in stream { await arrivals.record(1, String(decoding: message.data, as: UTF8.self)) } }
        var published = 0
        let delivered = await Self.eventually(.seconds(5)) {
            await a.pubsub.publish(Self.topic, Array("after reset \(published)".utf8))
            published += 1
            return await !arrivals.received(1).isEmpty
        }
        reader.cancel()
        #expect(delivered, "B received one of the \(published) messages A published after its stream was reset")
        #expect(await a.host.existingConnection(to: b.host.peerID) != nil, "one connection throughout")
        for node in [a, b] {
            await node.pubsub.stop()
            await node.host.shutdown()
        }
    }
}
