import Testing
import NIOCore
@testable import Libp2p

/// The Noise transport framing without sockets: frames written by ``NoiseTransportWriter`` read back
/// by ``NoiseTransportReader`` whatever way the bytes are split, and agree with the byte-array cipher API.
struct NoiseTransportTests {
    static let key = (0..<32).map { UInt8($0) }

    static func payload(_ count: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        for i in 0..<count { buffer.writeInteger(UInt8(truncatingIfNeeded: i &* 7 &+ i >> 8)) }
        return buffer
    }

    @Test(arguments: [1, 65_519, 65_520, 200_000])
    func sealedFramesDecryptWhenDeliveredInPieces(size: Int) throws {
        var writer = NoiseTransportWriter(cipher: NoiseCipherState(key: Self.key))
        let sealed = try writer.seal(Self.payload(size))
        let frames = (size + NoiseTransportWriter.maxPlaintext - 1) / NoiseTransportWriter.maxPlaintext
        #expect(sealed.readableBytes == size + frames * (2 + NoiseCipherState.tagLength))
        var reader = NoiseTransportReader(cipher: NoiseCipherState(key: Self.key), raw: ByteBuffer())
        var plain = ByteBuffer()
        var rest = sealed
        // Odd-sized pieces put frame boundaries and length prefixes in the middle of deliveries.
        while rest.readableBytes > 0 {
            var piece = rest.readSlice(length: min(rest.readableBytes, 7_001))!
            reader.raw.writeBuffer(&piece)
            var out = try reader.decryptAvailable()
            plain.writeBuffer(&out)
            #expect(reader.raw.readableBytes < 2 + NoiseHandshake.maxFrameLength)
        }
        #expect(reader.raw.readableBytes == 0)
        #expect(plain == Self.payload(size))
    }

    /// Reads of every size from 1 byte to more than a frame: a read may end inside a length prefix,
    /// inside a frame, or exactly on a boundary.
    @Test(arguments: [1, 2, 3, 17, 65_536, 65_537, 131_071, 300_000])
    func decryptAppendingHandlesEverySplit(readSize: Int) throws {
        let size = 200_000
        var writer = NoiseTransportWriter(cipher: NoiseCipherState(key: Self.key))
        let sealed = try writer.seal(Self.payload(size))
        var reader = NoiseTransportReader(cipher: NoiseCipherState(key: Self.key), raw: ByteBuffer())
        var plain = ByteBuffer()
        var rest = sealed
        while rest.readableBytes > 0 {
            let piece = rest.readSlice(length: min(rest.readableBytes, readSize))!
            var out = try reader.decrypt(appending: piece)
            plain.writeBuffer(&out)
            #expect(reader.raw.readableBytes < 2 + NoiseHandshake.maxFrameLength)
        }
        #expect(reader.raw.readableBytes == 0)
        #expect(plain == Self.payload(size))
    }

    @Test func decryptAppendingRefusesATamperedFrameAfterASplit() throws {
        var writer = NoiseTransportWriter(cipher: NoiseCipherState(key: Self.key))
        var sealed = try writer.seal(Self.payload(100))
        sealed.setInteger(sealed.getInteger(at: 90, as: UInt8.self)! ^ 1, at: 90)
        var reader = NoiseTransportReader(cipher: NoiseCipherState(key: Self.key), raw: ByteBuffer())
        #expect(try reader.decrypt(appending: sealed.getSlice(at: 0, length: 60)!).readableBytes == 0)
        #expect(throws: Libp2pError.self) { try reader.decrypt(appending: sealed.getSlice(at: 60, length: sealed.readableBytes - 60)!) }
    }

    @Test func bufferSealAgreesWithByteArrayCipher() throws {
        var byBuffer = NoiseCipherState(key: Self.key)
        var byArray = NoiseCipherState(key: Self.key)
        var sealed = ByteBuffer()
        try byBuffer.seal(Self.payload(1_000), appendingTo: &sealed)
        #expect(Array(sealed.readableBytesView) == (try byArray.encrypt(Array(Self.payload(1_000).readableBytesView))))
        var opened = ByteBuffer()
        var opener = NoiseCipherState(key: Self.key)
        try opener.open(sealed, appendingTo: &opened)
        #expect(opened == Self.payload(1_000))
        #expect(opener.nonce == 1)
    }

    @Test func tamperedTransportFrameIsRefused() throws {
        var writer = NoiseTransportWriter(cipher: NoiseCipherState(key: Self.key))
        var sealed = try writer.seal(Self.payload(100))
        sealed.setInteger(sealed.getInteger(at: 50, as: UInt8.self)! ^ 1, at: 50)
        var reader = NoiseTransportReader(cipher: NoiseCipherState(key: Self.key), raw: sealed)
        #expect(throws: Libp2pError.self) { try reader.decryptAvailable() }
    }
}
