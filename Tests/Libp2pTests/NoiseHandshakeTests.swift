import Testing
import NIOCore
import Crypto
@testable import Libp2p

struct NoiseHandshakeTests {
    static func fixedKey(_ byte: UInt8) -> Curve25519.KeyAgreement.PrivateKey {
        try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: [UInt8](repeating: byte, count: 32))
    }

    static let initiatorIdentity = try! PrivateKey(ed25519Seed: [UInt8](repeating: 1, count: 32))
    static let responderIdentity = try! PrivateKey(ed25519Seed: [UInt8](repeating: 2, count: 32))

    static func pair(expected: PeerID? = responderIdentity.peerID) -> (NoiseHandshake, NoiseHandshake) {
        (NoiseHandshake(role: .initiator, identity: initiatorIdentity, expectedPeer: expected,
                        staticKey: fixedKey(3), ephemeralKey: fixedKey(4)),
         NoiseHandshake(role: .responder, identity: responderIdentity,
                        staticKey: fixedKey(5), ephemeralKey: fixedKey(6)))
    }

    @Test func fixedKeysGiveDeterministicMessagesAndMatchingCiphers() throws {
        var transcripts: [[UInt8]] = []
        for _ in 0..<2 {
            var (i, r) = Self.pair()
            var m1 = i.start()
            #expect(m1.readableBytes == 2 + 32)
            var transcript = Array(m1.readableBytesView)
            let a2 = try r.receive(&m1)
            #expect(a2.result == nil)
            var m2 = a2.output
            // e(32) + encrypted s(48) + encrypted payload(2+36+2+64 + 16)
            #expect(m2.readableBytes == 2 + 32 + 48 + 120)
            transcript += Array(m2.readableBytesView)
            let a3 = try i.receive(&m2)
            let iResult = try #require(a3.result)
            var m3 = a3.output
            #expect(m3.readableBytes == 2 + 48 + 120)
            transcript += Array(m3.readableBytesView)
            let done = try r.receive(&m3)
            let rResult = try #require(done.result)
            #expect(iResult.remotePeer == Self.responderIdentity.peerID)
            #expect(rResult.remotePeer == Self.initiatorIdentity.peerID)
            #expect(i.handshakeHash == r.handshakeHash)

            var iSend = iResult.sendCipher, rRecv = rResult.receiveCipher
            var rSend = rResult.sendCipher, iRecv = iResult.receiveCipher
            let c = try iSend.encrypt(Array("ping".utf8))
            #expect(try rRecv.decrypt(c) == Array("ping".utf8))
            let d = try rSend.encrypt(Array("pong".utf8))
            #expect(try iRecv.decrypt(d) == Array("pong".utf8))
            #expect(c != d)
            transcripts.append(transcript + c)
        }
        #expect(transcripts[0] == transcripts[1], "fixed keys make the handshake deterministic")
    }

    @Test func nonceIsLittleEndianCounterAfterFourZeroBytes() throws {
        var a = NoiseCipherState(key: [UInt8](repeating: 7, count: 32))
        var b = NoiseCipherState(key: [UInt8](repeating: 7, count: 32))
        _ = try a.encrypt([1])
        let second = try a.encrypt([2])
        #expect(throws: Libp2pError.self) { try b.decrypt(second) }  // b is at nonce 0
        var c = NoiseCipherState(key: [UInt8](repeating: 7, count: 32))
        _ = try c.decrypt(try NoiseCipherState(key: [UInt8](repeating: 7, count: 32)).encryptCopy([1]))
        #expect(try c.decrypt(second) == [2])
    }

    @Test func wrongExpectedPeerIsRefused() throws {
        var (i, r) = Self.pair(expected: PrivateKey.generate().peerID)
        var m1 = i.start()
        var m2 = try r.receive(&m1).output
        #expect {
            _ = try i.receive(&m2)
        } throws: { ($0 as? Libp2pError)?.code == .peerIDMismatch }
    }

    @Test func tamperedMessageFailsAuthentication() throws {
        var (i, r) = Self.pair()
        var m1 = i.start()
        let m2 = try r.receive(&m1).output
        var bytes = Array(m2.readableBytesView)
        bytes[60] ^= 0x01
        var tampered = ByteBuffer(bytes: bytes)
        #expect {
            _ = try i.receive(&tampered)
        } throws: { ($0 as? Libp2pError)?.code == .handshakeFailed }
    }

    @Test func truncatedFrameWaitsForMoreBytes() throws {
        var (i, r) = Self.pair()
        let m1 = i.start()
        var partial = ByteBuffer(bytes: Array(m1.readableBytesView.prefix(10)))
        #expect(try r.receive(&partial).output.readableBytes == 0)
        #expect(partial.readableBytes == 10)
    }

    @Test func payloadSignatureChecksStaticKey() throws {
        let p = NoiseHandshakePayload(identity: Self.initiatorIdentity, staticKey: [UInt8](repeating: 9, count: 32))
        let decoded = try NoiseHandshakePayload(protobuf: p.protobufBytes)
        #expect(decoded == p)
        #expect(try decoded.verify(staticKey: [UInt8](repeating: 9, count: 32)) == Self.initiatorIdentity.publicKey)
        #expect(throws: Libp2pError.self) { try decoded.verify(staticKey: [UInt8](repeating: 8, count: 32)) }
        #expect(throws: Libp2pError.self) { try NoiseHandshakePayload(protobuf: [0x0a, 0x01]) }
    }

    @Test func streamMuxersTravelInTheExtensionsField() throws {
        var p = NoiseHandshakePayload(identityKey: [1, 2], identitySignature: [3])
        p.streamMuxers = ["/yamux/1.0.0", "/mplex/6.7.0"]
        // identity_key = 1, identity_sig = 2, extensions = 4 { stream_muxers = 2 (repeated string) }.
        let expected: [UInt8] = [0x0a, 0x02, 1, 2, 0x12, 0x01, 3, 0x22, 28]
            + [0x12, 12] + Array("/yamux/1.0.0".utf8) + [0x12, 12] + Array("/mplex/6.7.0".utf8)
        #expect(p.protobufBytes == expected)
        #expect(try NoiseHandshakePayload(protobuf: expected) == p)
        // No muxers, no extensions field: the payload of peers that do not negotiate in the handshake.
        #expect(NoiseHandshakePayload(identityKey: [1, 2], identitySignature: [3]).protobufBytes == [0x0a, 0x02, 1, 2, 0x12, 0x01, 3])
    }

    @Test func otherExtensionsAreSkippedAndSplitExtensionsMerge() throws {
        // extensions { webtransport_certhashes = 1: [0xaa], stream_muxers: "/yamux/1.0.0", early_data = 3: [0xbb] },
        // then a second extensions field adding "/mplex/6.7.0", as protobuf's merge rules allow.
        let first: [UInt8] = [0x0a, 0x01, 0xaa, 0x12, 12] + Array("/yamux/1.0.0".utf8) + [0x1a, 0x01, 0xbb]
        let second: [UInt8] = [0x12, 12] + Array("/mplex/6.7.0".utf8)
        let bytes: [UInt8] = [0x0a, 0x01, 7, 0x22, UInt8(first.count)] + first + [0x12, 0x01, 8, 0x22, UInt8(second.count)] + second
        let p = try NoiseHandshakePayload(protobuf: bytes)
        #expect(p.identityKey == [7] && p.identitySignature == [8])
        #expect(p.streamMuxers == ["/yamux/1.0.0", "/mplex/6.7.0"])
        // An empty muxer name is refused, not offered.
        #expect(throws: Libp2pError.self) { try NoiseHandshakePayload(protobuf: [0x0a, 0x01, 7, 0x12, 0x01, 8, 0x22, 0x02, 0x12, 0x00]) }
    }

    @Test func theHandshakeCarriesEachSidesMuxerOffer() throws {
        var (i, r) = Self.pair()
        i.streamMuxers = ["/yamux/1.0.0", "/mplex/6.7.0"]
        r.streamMuxers = ["/mplex/6.7.0"]
        var m1 = i.start()
        var m2 = try r.receive(&m1).output
        let initiatorStep = try i.receive(&m2)
        var m3 = initiatorStep.output
        let responderDone = try #require(try r.receive(&m3).result)
        #expect(try #require(initiatorStep.result).remoteStreamMuxers == ["/mplex/6.7.0"])
        #expect(responderDone.remoteStreamMuxers == ["/yamux/1.0.0", "/mplex/6.7.0"])
        // Without offers the payloads carry none, as py-libp2p 0.8.1's do.
        (i, r) = Self.pair()
        m1 = i.start()
        m2 = try r.receive(&m1).output
        let plain = try i.receive(&m2)
        m3 = plain.output
        #expect(try #require(plain.result).remoteStreamMuxers.isEmpty)
        #expect(try #require(try r.receive(&m3).result).remoteStreamMuxers.isEmpty)
    }
}

extension NoiseCipherState {
    func encryptCopy(_ bytes: [UInt8]) throws -> [UInt8] {
        var copy = self
        return try copy.encrypt(bytes)
    }
}
