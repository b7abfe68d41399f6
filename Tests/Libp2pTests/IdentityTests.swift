import Testing
import NIOCore
@testable import Libp2p

private func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = s.utf8.makeIterator()
    while let a = it.next(), let b = it.next() {
        out.append(UInt8(String(decoding: [a, b], as: UTF8.self), radix: 16)!)
    }
    return out
}

private func toHex(_ b: [UInt8]) -> String { b.map { String(format2: $0) }.joined() }
private extension String { init(format2 v: UInt8) { self = (v < 16 ? "0" : "") + String(v, radix: 16) } }

struct UVarintTests {
    static let vectors: [(UInt64, [UInt8])] = [
        (0, [0]), (1, [1]), (127, [0x7f]), (128, [0x80, 0x01]),
        (255, [0xff, 0x01]), (300, [0xac, 0x02]), (16384, [0x80, 0x80, 0x01]),
    ]

    @Test(arguments: vectors)
    func encodesKnownValues(value: UInt64, bytes: [UInt8]) throws {
        #expect(UVarint.encode(value) == bytes)
        #expect(try UVarint.decode(bytes) == .value(value, length: bytes.count))
        #expect(UVarint.encodedLength(value) == bytes.count)
    }

    @Test func rejectsOverlongAndNonMinimal() {
        #expect(throws: Libp2pError.self) { try UVarint.decode([UInt8](repeating: 0x80, count: 10)) }
        #expect(throws: Libp2pError.self) { try UVarint.decode([0x80, 0x00]) }
        #expect((try? UVarint.decode([0x80])) == .needMoreBytes)
    }

    @Test func readLeavesBufferAloneWhenIncomplete() throws {
        var buffer = ByteBuffer(bytes: [0xac])
        #expect(try UVarint.read(from: &buffer) == nil)
        #expect(buffer.readableBytes == 1)
        buffer.writeBytes([0x02, 0x09])
        #expect(try UVarint.read(from: &buffer) == 300)
        #expect(buffer.readableBytes == 1)
    }
}

struct ProtobufTests {
    @Test func roundTripsFieldsAndSkipsUnknownWireTypes() throws {
        var w = ProtobufWriter()
        w.writeVarint(field: 1, 150)
        w.writeString(field: 2, "testing")
        #expect(w.bytes == hex("089601120774657374696e67"))
        var bytes = w.bytes
        bytes += [0x1d, 1, 2, 3, 4]                    // field 3, fixed32
        bytes += [0x21, 1, 2, 3, 4, 5, 6, 7, 8]        // field 4, fixed64
        var r = ProtobufReader(bytes)
        #expect(try r.next()?.value.varintValue == 150)
        #expect(try r.next()?.value.stringValue == "testing")
        #expect(try r.next()?.number == 3)
        #expect(try r.next()?.number == 4)
        #expect(try r.next() == nil)
    }

    @Test(arguments: [[0x12, 0x05, 0x61], [0x0b], [0x08], [0x00, 0x01], [0x1d, 1, 2]])
    func rejectsTruncatedOrInvalid(bytes: [UInt8]) {
        #expect(throws: Libp2pError.self) {
            var r = ProtobufReader(bytes)
            while try r.next() != nil {}
        }
    }
}

struct PeerIDTests {
    // Vectors produced by py-libp2p 0.8.1 (seed = bytes 0...31).
    static let edPub = hex("0801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
    static let edID = "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB"

    @Test func ed25519IdentityFromSeedMatchesPyLibp2p() throws {
        let key = try PrivateKey(ed25519Seed: Array(0..<32))
        #expect(key.publicKey.protobufBytes == Self.edPub)
        #expect(key.peerID.description == Self.edID)
        #expect(try PeerID(string: Self.edID) == key.peerID)
        #expect(try PeerID(string: Self.edID).publicKey == key.publicKey)
    }

    @Test func privateKeyProtobufRoundTripsAndAcceptsPySeedForm() throws {
        let key = try PrivateKey(ed25519Seed: Array(0..<32))
        let again = try PrivateKey(protobuf: key.protobufBytes)
        #expect(again.peerID == key.peerID)
        #expect(key.protobufBytes.count == 4 + 64)
        // py-libp2p serialises the 32-byte seed only.
        let py = try PrivateKey(protobuf: hex("08011220000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"))
        #expect(py.peerID == key.peerID)
        var tampered = key.protobufBytes
        tampered[tampered.count - 1] ^= 1
        #expect(throws: Libp2pError.self) { try PrivateKey(protobuf: tampered) }
    }

    @Test func keyFileRoundTrips() throws {
        let path = "/tmp/meshfl-libp2p-test-\(UInt64.random(in: 0...UInt64.max)).key"
        let key = PrivateKey.generate()
        try key.write(toFile: path)
        #expect(try PrivateKey(contentsOfFile: path).peerID == key.peerID)
        #expect(try PrivateKey.loadOrCreate(atPath: path).peerID == key.peerID)
        #expect(throws: Libp2pError.self) { try PrivateKey(contentsOfFile: path + ".missing") }
    }

    @Test func signaturesVerify() throws {
        let key = PrivateKey.generate()
        let sig = key.sign(Array("hello".utf8))
        #expect(key.publicKey.verify(signature: sig, for: Array("hello".utf8)))
        #expect(!key.publicKey.verify(signature: sig, for: Array("hellO".utf8)))
    }

    @Test func secp256k1AndRSAKeysGivePyLibp2pIDs() throws {
        let secp = try PublicKey(protobuf: hex("08021221036d6caac248af96f6afa7f904f550253a0f3ef3f5aa2fe6838a95b216691468e2"))
        #expect(secp.type == .secp256k1)
        #expect(secp.peerID.description == "16Uiu2HAmL28ttDteu7271Jq6NgB1ZRkjcseHK3nMp91fYPQcoweh")
        #expect(try PeerID(string: "16Uiu2HAmL28ttDteu7271Jq6NgB1ZRkjcseHK3nMp91fYPQcoweh").publicKey == secp)
        let rsa = try PublicKey(protobuf: hex("080012a20130819f300d06092a864886f70d010101050003818d0030818902818100a38a1e0d41d428019548026a052155820092a0154caf01f47c51d33e4f30a48ac8428d54ebeea3331d93c3930529d2918cef7667bd97e92b7857840fac8da91b92776c80adf67ace702cced5fabf5af4d104d7df977859b0b6633866c2fea2478c21f5a54b414b9025194ebcc9db101a266b051b5190c03c0c6bf2d6772949ad0203010001"))
        #expect(rsa.type == .rsa)
        #expect(rsa.peerID.description == "QmcHCK9KtLgKVtXjqTnMkM3u7a8P9tpFMJLURjQpbCXhry")
        #expect(rsa.peerID.publicKey == nil)
        #expect(!rsa.verify(signature: [1], for: [2]))
    }

    @Test func cidFormRoundTrips() throws {
        let id = try PeerID(string: Self.edID)
        let cid = id.cidString
        #expect(cid.hasPrefix("bafz"))
        #expect(try PeerID(string: cid) == id)
    }

    @Test(arguments: ["", "12D3KooW0", "QmShort", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "xyz"])
    func rejectsInvalidIDs(text: String) {
        #expect(throws: Libp2pError.self) { try PeerID(string: text) }
    }
}

struct MultiaddrTests {
    @Test func ip6WithPeerMatchesPyMultiaddrBytes() throws {
        let text = "/ip6/2001:db8::1/tcp/4001/p2p/\(PeerIDTests.edID)"
        let addr = try Multiaddr(text)
        #expect(toHex(addr.bytes) == "2920010db8000000000000000000000001060fa1a5032600240801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
        #expect(addr.description == text)
        #expect(try Multiaddr(bytes: addr.bytes) == addr)
        #expect(addr.peerID?.description == PeerIDTests.edID)
        #expect(addr.withoutPeerID.description == "/ip6/2001:db8::1/tcp/4001")
    }

    @Test(arguments: [
        "/ip4/127.0.0.1/tcp/4001", "/ip6/::1/tcp/0", "/ip6/::/tcp/1", "/ip6/1:2:3:4:5:6:7:8/tcp/65535",
        "/dns4/example.com/tcp/80", "/dns6/example.com/tcp/443", "/dns/localhost/tcp/1", "/ip4/10.0.0.1",
    ])
    func textRoundTrips(text: String) throws {
        let addr = try Multiaddr(text)
        #expect(addr.description == text)
        #expect(try Multiaddr(bytes: addr.bytes) == addr)
    }

    @Test func dns4BytesAndIpfsAlias() throws {
        #expect(toHex(try Multiaddr("/dns4/example.com/tcp/80").bytes) == "360b6578616d706c652e636f6d060050")
        let viaIPFS = try Multiaddr("/ip4/1.2.3.4/tcp/5/ipfs/\(PeerIDTests.edID)")
        #expect(viaIPFS.description.hasSuffix("/p2p/\(PeerIDTests.edID)"))
        #expect(try Multiaddr("/ip4/127.0.0.1/tcp/9").tcpHostPort! == ("127.0.0.1", 9))
    }

    @Test func dnsNameStartingWithACombiningMarkRoundTrips() throws {
        // Found by the multiaddr fuzzer: "/" followed by U+0650 is a single Character.
        let addr = Multiaddr(components: [.tcp(1), .dns("\u{0650}x")])
        #expect(try Multiaddr(addr.description) == addr)
        #expect(try Multiaddr(bytes: addr.bytes) == addr)
    }

    @Test(arguments: ["", "ip4/1.2.3.4", "/ip4/256.0.0.1", "/ip4/1.2.3", "/tcp/70000", "/ip6/1::2::3", "/udp/1", "/ip4", "/p2p/notapeer"])
    func rejectsBadText(text: String) {
        #expect(throws: Libp2pError.self) { try Multiaddr(text) }
    }

    @Test(arguments: [[UInt8](), [0x04, 1, 2], [0x06, 0x01], [0x36, 0x05, 0x61], [0xa5, 0x03, 0x02, 0x00, 0x01], [0x99, 0x01]])
    func rejectsBadBytes(bytes: [UInt8]) {
        #expect(throws: Libp2pError.self) { try Multiaddr(bytes: bytes) }
    }
}
