import Testing
@testable import Libp2p

struct SignedPeerRecordTests {
    static let addresses = [try! Multiaddr("/ip4/127.0.0.1/tcp/4001"), try! Multiaddr("/ip6/::1/tcp/4002")]

    @Test func sealedRecordOpensWithItsAddresses() throws {
        let key = PrivateKey.generate()
        let sealed = SignedPeerRecord(peer: key.peerID, seq: 7, addresses: Self.addresses).sealed(with: key)
        let opened = try SignedPeerRecord(envelope: sealed)
        #expect(opened.peer == key.peerID)
        #expect(opened.seq == 7)
        #expect(opened.addresses == Self.addresses)
    }

    @Test func changedPayloadFailsTheSignature() throws {
        let key = PrivateKey.generate()
        let record = SignedPeerRecord(peer: key.peerID, seq: 1, addresses: Self.addresses)
        let signature = Array(record.sealed(with: key).suffix(64))  // Ed25519; field 5 is written last
        var changed = record
        changed.addresses = [try Multiaddr("/ip4/10.0.0.1/tcp/4001")]
        var w = ProtobufWriter()
        w.writeBytes(field: 1, key.publicKey.protobufBytes)
        w.writeBytes(field: 2, SignedPeerRecord.payloadType)
        w.writeBytes(field: 3, changed.payloadBytes)
        w.writeBytes(field: 5, signature)
        #expect { try SignedPeerRecord(envelope: w.bytes) } throws: { ($0 as? Libp2pError)?.code == .invalidKey }
        // The same signature over the original payload verifies: the test changes only the payload.
        var same = ProtobufWriter()
        same.writeBytes(field: 1, key.publicKey.protobufBytes)
        same.writeBytes(field: 2, SignedPeerRecord.payloadType)
        same.writeBytes(field: 3, record.payloadBytes)
        same.writeBytes(field: 5, signature)
        #expect(try SignedPeerRecord(envelope: same.bytes) == record)
    }

    @Test func recordOfAnotherPeerIsRefused() throws {
        let key = PrivateKey.generate()
        let other = PrivateKey.generate()
        let sealed = SignedPeerRecord(peer: other.peerID, seq: 1, addresses: Self.addresses).sealed(with: key)
        #expect { try SignedPeerRecord(envelope: sealed) } throws: { ($0 as? Libp2pError)?.code == .invalidKey }
    }

    @Test(arguments: [[UInt8](), [0x0a, 0x02, 0x08], Array(repeating: 0xff, count: 40)])
    func garbageIsRefused(bytes: [UInt8]) {
        #expect(throws: Libp2pError.self) { try SignedPeerRecord(envelope: bytes) }
    }

    @Test func identifyCarriesTheHostsRecord() async throws {
        let a = Host(identity: .generate())
        let b = Host(identity: .generate())
        try await a.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
        try await b.listen(on: [Multiaddr("/ip4/127.0.0.1/tcp/0")])
        _ = try await b.connect(to: await a.fullAddresses[0])
        let info = try await b.identify(a.peerID)
        let record = try SignedPeerRecord(envelope: try #require(info.signedPeerRecord))
        #expect(record.peer == a.peerID)
        #expect(record.addresses == (await a.listenAddresses))
        #expect(b.peerstore.record(for: a.peerID).signedPeerRecord == info.signedPeerRecord)
        await a.shutdown()
        await b.shutdown()
    }
}
