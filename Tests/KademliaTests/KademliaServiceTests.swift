import Testing
import Libp2p
@testable import Kademlia

/// Swift↔Swift DHT over real TCP connections on 127.0.0.1.
@Suite(.timeLimit(.minutes(3)))  // the 50-host test takes about a minute on 2 busy cores
struct KademliaServiceTests {
    static func eventually(_ limit: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while clock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }

    @Test func twelveHostsPutGetProvideAndFindPeers() async throws {
        var built: [(host: Host, dht: KademliaService)] = []
        for _ in 0..<12 {
            let host = Host(identity: .generate())
            try await host.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
            let dht = KademliaService(host: host, validators: ["meshfl": AcceptAllValidator()], queryTimeout: .seconds(3))
            await dht.start()
            built.append((host, dht))
        }
        let nodes = built
        let bootstrap = await nodes[0].host.fullAddresses[0]
        for node in nodes.dropFirst() { _ = try await node.host.connect(to: bootstrap) }
        for node in nodes.dropFirst() {
            #expect(await Self.eventually { await !node.dht.routingTablePeers.isEmpty })
        }
        for node in nodes { await node.dht.bootstrap() }

        let key = Array("/meshfl/model-7".utf8)
        let stored = try await nodes[5].dht.putValue(key, Array("bafkrei-weights".utf8))
        #expect(stored > 0)
        let providerKey = Array("cid-of-shard-3".utf8)
        #expect(await nodes[7].dht.provide(providerKey) > 0)
        for (n, node) in nodes.enumerated() {
            #expect(await node.dht.getValue(key) == Array("bafkrei-weights".utf8), "node \(n)")
            #expect(await node.dht.findProviders(providerKey).contains(nodes[7].host.peerID), "node \(n)")
        }
        let found = await nodes[3].dht.findPeer(nodes[11].host.peerID)
        let listen = await nodes[11].host.listenAddresses
        #expect(!found.isEmpty && found.allSatisfy { listen.contains($0.withoutPeerID) })
        #expect(await nodes[4].dht.getValue(Array("/meshfl/absent".utf8)) == nil)
        for node in nodes {
            await node.dht.stop()
            await node.host.shutdown()
        }
    }
}

extension KademliaServiceTests {
    @Test func maintenanceWalksTheNetworkAndClientsStayOutOfTables() async throws {
        var built: [(host: Host, dht: KademliaService)] = []
        for n in 0..<8 {
            let host = Host(identity: .generate())
            try await host.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
            let dht = KademliaService(host: host, validators: [:], mode: n == 7 ? .client : .server, queryTimeout: .seconds(3))
            await dht.start()
            built.append((host, dht))
        }
        let nodes = built
        let bootstrap = await nodes[0].host.fullAddresses[0]
        for node in nodes.dropFirst() { _ = try await node.host.connect(to: bootstrap) }
        for node in nodes.dropFirst().dropLast() { await node.dht.bootstrap() }
        // Node 6 knew only the bootstrap node when it joined; maintenance finds the rest.
        await nodes[6].dht.startMaintenance(refreshInterval: .milliseconds(100))
        #expect(await Self.eventually { await nodes[6].dht.routingTablePeers.count >= 6 })
        // The client-mode node 7 asks but is never added to a server's table.
        #expect(await !nodes[7].dht.closestPeers(to: [1, 2, 3]).isEmpty)
        for node in nodes.dropLast() {
            #expect(await !node.dht.routingTablePeers.contains(nodes[7].host.peerID))
        }
        for node in nodes {
            await node.dht.stop()
            await node.host.shutdown()
        }
    }
}
