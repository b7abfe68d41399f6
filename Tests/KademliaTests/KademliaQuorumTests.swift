import Testing
import Libp2p
@testable import Kademlia

/// GET_VALUE with a quorum and entry correction, on Swift hosts over TCP on 127.0.0.1.
@Suite(.timeLimit(.minutes(1)))
struct KademliaQuorumTests {
    /// Prefers the lexicographically greatest value (a stand-in for "newest").
    struct GreatestValidator: RecordValidator {
        func validate(key: [UInt8], value: [UInt8]) throws(KadError) {}
        func select(key: [UInt8], values: [[UInt8]]) -> Int {
            values.indices.max { values[$0].lexicographicallyPrecedes(values[$1]) } ?? 0
        }
    }

    static func network(_ count: Int) async throws -> [(host: Host, dht: KademliaService)] {
        var nodes: [(host: Host, dht: KademliaService)] = []
        for _ in 0..<count {
            let host = Host(identity: .generate())
            try await host.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
            let dht = KademliaService(host: host, validators: ["meshfl": GreatestValidator()], queryTimeout: .seconds(3))
            await dht.start()
            nodes.append((host, dht))
        }
        let bootstrap = await nodes[0].host.fullAddresses[0]
        for node in nodes.dropFirst() { _ = try await node.host.connect(to: bootstrap) }
        for node in nodes.dropFirst() {
            _ = await KademliaServiceTests.eventually { await !node.dht.routingTablePeers.isEmpty }
        }
        for node in nodes { await node.dht.bootstrap() }
        return nodes
    }

    static func shutdown(_ nodes: [(host: Host, dht: KademliaService)]) async {
        for node in nodes {
            await node.dht.stop()
            await node.host.shutdown()
        }
    }

    @Test func quorumIsCountedAndUnmetQuorumIsAnError() async throws {
        let nodes = try await Self.network(6)
        let key = Array("/meshfl/quorum".utf8)
        let stored = try await nodes[1].dht.putValue(key, Array("v1".utf8))
        #expect(stored >= 4)
        let found = try await nodes[4].dht.getValue(key, quorum: 3)
        #expect(found.value == Array("v1".utf8))
        #expect(found.answers == 3, "the lookup stops once the quorum is in")
        await #expect { try await nodes[2].dht.getValue(key, quorum: 50) } throws: { ($0 as? KadError)?.code == .quorumNotMet }
        await #expect { try await nodes[2].dht.getValue(Array("/meshfl/absent".utf8), quorum: 1) } throws: {
            ($0 as? KadError)?.code == .notFound
        }
        await #expect { try await nodes[2].dht.getValue(Array("/other/x".utf8), quorum: 1) } throws: {
            ($0 as? KadError)?.code == .invalidRecord
        }
        await Self.shutdown(nodes)
    }

    @Test func peersHoldingAWorseValueAreCorrected() async throws {
        let nodes = try await Self.network(6)
        let key = Array("/meshfl/corrected".utf8)
        #expect(try await nodes[1].dht.putValue(key, Array("a-old".utf8)) >= 4)
        // One peer alone learns the better value.
        let better = KadMessage.Record(key: key, value: Array("b-new".utf8))
        let lucky = nodes[5].host.peerID
        _ = try await nodes[2].dht.request(lucky, KadMessage(type: .putValue, key: key, record: better))
        let found = try await nodes[3].dht.getValue(key, quorum: 0)
        #expect(found.value == Array("b-new".utf8))
        #expect(!found.corrected.isEmpty)
        #expect(!found.corrected.contains(lucky))
        // The corrected peers now answer with the better value.
        for peer in found.corrected {
            let reply = try await nodes[3].dht.request(peer, KadMessage(type: .getValue, key: key))
            #expect(reply.record?.value == Array("b-new".utf8), "\(peer)")
        }
        await Self.shutdown(nodes)
    }
}
