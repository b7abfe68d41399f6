import Testing
import Libp2p
@testable import Kademlia

extension KademliaServiceTests {
    /// Stops every service and host (also after a failed expectation, so no socket outlives the test).
    static func shutDown(_ nodes: [(host: Host, dht: KademliaService)]) async {
        for node in nodes {
            await node.dht.stop()
            await node.host.shutdown()
        }
    }

    @Test func fiftyHostsFindValuesAndProvidersFromEveryHost() async throws {
        let count = 50
        var built: [(host: Host, dht: KademliaService)] = []
        do {
            for _ in 0..<count {
                let host = Host(identity: .generate())
                try await host.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
                let dht = KademliaService(host: host, validators: ["meshfl": AcceptAllValidator()], queryTimeout: .seconds(3))
                await dht.start()
                built.append((host, dht))
            }
        } catch {
            await Self.shutDown(built)
            throw error
        }
        let nodes = built
        do {
            // Host i dials i-1 and i/3: a connected graph where most hosts know only two or three others,
            // so lookups have to walk it.
            for n in 1..<count {
                for peer in Set([n - 1, n / 3]).sorted() {
                    _ = try await nodes[n].host.connect(to: await nodes[peer].host.fullAddresses[0])
                }
            }
            let identified = await Self.eventually(.seconds(20)) {
                for node in nodes where await node.dht.routingTablePeers.isEmpty { return false }
                return true
            }
            #expect(identified, "every host has a DHT server in its routing table")
            await withTaskGroup(of: Void.self) { group in
                for node in nodes { group.addTask { await node.dht.bootstrap() } }
            }

            // Two values and two provider records, each from a different host.
            var values: [(key: [UInt8], value: [UInt8])] = []
            for (i, n) in [3, 47].enumerated() {
                let key = Array("/meshfl/fifty-\(i)".utf8)
                let value = Array("value \(i) put by host \(n)".utf8)
                #expect(try await nodes[n].dht.putValue(key, value) > 0, "host \(n) stored value \(i) at a peer")
                values.append((key, value))
            }
            var provided: [(key: [UInt8], provider: PeerID)] = []
            for (i, n) in [8, 30].enumerated() {
                let key = Array("cid-of-shard-\(i)".utf8)
                #expect(await nodes[n].dht.provide(key) > 0, "host \(n) told a peer it provides key \(i)")
                provided.append((key, nodes[n].host.peerID))
            }

            // Every host finds both values and a provider, ten hosts at a time.
            let (records, providers) = (values, provided)
            let failures = await withTaskGroup(of: [String].self) { group in
                for batch in stride(from: 0, to: count, by: 5) {
                    group.addTask {
                        var failed: [String] = []
                        for n in batch..<min(batch + 5, count) {
                            // Values with quorum 1 (the lookup stops at the first valid record, as the bench
                            // measures it); providers with a full lookup, which walks to the k closest.
                            for (i, record) in records.enumerated()
                            where (try? await nodes[n].dht.getValue(record.key, quorum: 1))?.value != record.value {
                                failed.append("host \(n) did not get value \(i)")
                            }
                            // Host n looks for provider key n % 2: 25 full lookups of each key.
                            let (i, entry) = (n % 2, providers[n % 2])
                            if await !nodes[n].dht.findProviders(entry.key).contains(entry.provider) {
                                failed.append("host \(n) did not find the provider of key \(i)")
                            }
                        }
                        return failed
                    }
                }
                var all: [String] = []
                for await failed in group { all += failed }
                return all.sorted()
            }
            #expect(failures.isEmpty, "\(failures.count) failed lookups: \(failures.prefix(10))")
            #expect(await nodes[11].dht.getValue(Array("/meshfl/fifty-absent".utf8)) == nil)
        } catch {
            await Self.shutDown(nodes)
            throw error
        }
        await Self.shutDown(nodes)
    }
}
