import Testing
import Libp2p
import PyPeerSupport
@testable import Kademlia

/// `/ipfs/kad/1.0.0` between a real py-libp2p 0.8.1 DHT server (`tests/python/pubsub/peer.py`) and Swift
/// servers over TCP on 127.0.0.1, both ways. The py node knows only `s1`; `s2` knows only `s1`, so
/// every py↔`s2` operation goes through a lookup.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct PyKademliaInteropTests {
    typealias Node = (host: Host, dht: KademliaService)

    static func node() async throws -> Node {
        let host = Host(identity: .generate())
        try await host.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
        let dht = KademliaService(host: host, validators: ["meshfl": AcceptAllValidator()], queryTimeout: .seconds(5))
        await dht.start()
        return (host, dht)
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
    static func hex(_ text: String) -> String { hex(Array(text.utf8)) }

    /// py — s1 — s2, with py and s1 in each other's tables and s2 bootstrapped through s1.
    static func network(_ py: PyCommandPeer) async throws -> (s1: Node, s2: Node, py: PeerID) {
        let s1 = try await node()
        let s2 = try await node()
        let pyID = try PeerID(string: py.peerIDText)
        _ = try await s1.host.connect(to: Multiaddr(py.address))
        _ = try await s2.host.connect(to: await s1.host.fullAddresses[0])
        // s1 adds py once identify shows py serves kad; py adds s1 when s1 queries it.
        _ = await KademliaServiceTests.eventually { await s1.dht.routingTablePeers.contains(pyID) }
        _ = await KademliaServiceTests.eventually { await s2.dht.routingTablePeers.contains(s1.host.peerID) }
        await s1.dht.bootstrap()
        await s2.dht.bootstrap()
        return (s1, s2, pyID)
    }

    static func shutdown(_ nodes: [Node]) async {
        for node in nodes {
            await node.dht.stop()
            await node.host.shutdown()
        }
    }

    @Test func findPeerBothWays() async throws {
        let py = try await PyCommandPeer()
        let (s1, s2, pyID) = try await Self.network(py)
        do {
            #expect(await s1.dht.routingTablePeers.contains(pyID))
            let pyTable = try await py.command("table")["peers"] as? [String] ?? []
            #expect(pyTable.contains(s1.host.peerID.description), "py's table: \(pyTable)")
            // py finds s2, which it has never met, through s1.
            let addrs = try await py.command("find-peer", s2.host.peerID.description)["addrs"] as? [String] ?? []
            let s2Listen = await s2.host.listenAddresses.map(\.description)
            #expect(!addrs.isEmpty && addrs.allSatisfy { s2Listen.contains($0) }, "py found \(addrs), s2 listens on \(s2Listen)")
            // s2 finds py's addresses.
            let found = await s2.dht.findPeer(pyID)
            let pyListen = try Multiaddr(py.address).withoutPeerID
            #expect(found.map(\.withoutPeerID).contains(pyListen), "s2 found \(found)")
        } catch {
            Issue.record("find-peer interop failed: \(error)\n\(py.stderrText)")
        }
        await py.stop()
        await Self.shutdown([s1, s2])
    }

    @Test func putAndGetValuesBothWays() async throws {
        let py = try await PyCommandPeer()
        let (s1, s2, _) = try await Self.network(py)
        do {
            // Swift PUT_VALUE → py stores it (py's own GET finds it).
            let fromSwift = Array("/meshfl/from-swift".utf8)
            #expect(try await s2.dht.putValue(fromSwift, Array("swift value".utf8)) >= 2)
            let got = try await py.command("get", "/meshfl/from-swift")["value"] as? String
            #expect(got == Self.hex("swift value"))
            // py PUT_VALUE → the Swift servers store it.
            try await py.command("put", "/meshfl/from-py", Self.hex("py value"))
            #expect(await s2.dht.getValue(Array("/meshfl/from-py".utf8)) == Array("py value".utf8))
            // Swift GET_VALUE answered by py alone: the record lives only in py's store.
            try await py.command("store-local", "/meshfl/only-py", Self.hex("only in py"))
            let onlyPy = try await s2.dht.getValue(Array("/meshfl/only-py".utf8), quorum: 1)
            #expect(onlyPy.value == Array("only in py".utf8))
            // py GET_VALUE answered by Swift alone: the record lives only in s2's store .
            try await s2.dht.storeLocally(.init(key: Array("/meshfl/only-swift".utf8), value: Array("only in swift".utf8)))
            let fromS2 = try await py.command("get", "/meshfl/only-swift")["value"] as? String
            #expect(fromS2 == Self.hex("only in swift"))
        } catch {
            Issue.record("put/get interop failed: \(error)\n\(py.stderrText)")
        }
        await py.stop()
        await Self.shutdown([s1, s2])
    }

    @Test func provideAndFindProvidersBothWays() async throws {
        let py = try await PyCommandPeer()
        let (s1, s2, pyID) = try await Self.network(py)
        do {
            // Keys are sha2-256 multihashes, as for content ids.
            let swiftKey: [UInt8] = [0x12, 0x20] + (0..<32).map { UInt8($0) }
            let pyKey: [UInt8] = [0x12, 0x20] + (0..<32).map { UInt8(255 - $0) }
            #expect(await s2.dht.provide(swiftKey) >= 1)
            let providers = try await py.command("find-providers", Self.hex(swiftKey))["providers"] as? [String] ?? []
            #expect(providers.contains(s2.host.peerID.description), "py found providers \(providers)")
            let ok = try await py.command("provide", Self.hex(pyKey))["ok"] as? Bool
            #expect(ok == true)
            // s1 was told by py's ADD_PROVIDER; s2 finds py through a lookup.
            #expect(await s2.dht.findProviders(pyKey).contains(pyID))
        } catch {
            Issue.record("provider interop failed: \(error)\n\(py.stderrText)")
        }
        await py.stop()
        await Self.shutdown([s1, s2])
    }
}

extension KademliaService {
    /// Keeps `record` in this node's store only, so a GET_VALUE for it must reach this node.
    func storeLocally(_ record: KadMessage.Record) throws(KadError) {
        try server.records.put(record, now: now)
    }
}
