import Foundation
import Libp2p
import NIOCore
import Testing
@testable import MeshStorage

/// The `/meshfl/blocks/1.0.0` frames and buffer maps.
struct BlockExchangeMessageTests {
    static let root = CID(of: Data("root".utf8))

    static let messages: [BlockExchangeMessage] = [
        .open(.init(root: root, wantsManifest: true, serves: true,
                    addresses: [try! Multiaddr("/ip4/127.0.0.1/tcp/4001")])),
        .open(.init(root: root, wantsManifest: false, serves: false)),
        .manifest(Data("{\"format\":\"x\"}".utf8)),
        .single(size: 1 << 40),
        .notFound,
        .bufferMap({ var m = Bitfield(count: 13); m.insert(0); m.insert(12); return m }()),
        .have(300), .request(0), .dontHave(7), .cancel(1 << 20),
        .block(index: 5, bytes: Data([1, 2, 3])),
        .block(index: 0, bytes: Data()),
        .peers([try! Multiaddr("/ip4/127.0.0.1/tcp/1").appending(.p2p(PrivateKey.generate().peerID))]),
    ]

    @Test(arguments: messages) func roundTrips(_ message: BlockExchangeMessage) throws {
        var framed = message.framed()
        let length = try #require(try UVarint.read(from: &framed))
        #expect(Int(length) == framed.readableBytes)
        #expect(try BlockExchangeMessage(decoding: Array(framed.readableBytesView)) == message)
    }

    @Test func haveIsTypeAndVarint() {
        #expect(Array(BlockExchangeMessage.have(300).framed().readableBytesView) == [3, 0x06, 0xAC, 0x02])
    }

    @Test(arguments: [[], [0xFF], [0x06], [0x06, 0x01, 0x00], [0x05, 0x09, 0x00], [0x01, 0x01]] as [[UInt8]])
    func rejectsMalformedFrames(_ frame: [UInt8]) {
        #expect(throws: StorageError.self) { try BlockExchangeMessage(decoding: frame) }
    }

    @Test func bitfieldPacksMostSignificantBitFirst() throws {
        var map = Bitfield(count: 10)
        let inserted = [map.insert(0), map.insert(9), map.insert(9), map.insert(10)]
        #expect(inserted == [true, true, false, false])
        #expect(map.bytes == [0x80, 0x40])
        #expect(map.setCount == 2 && map.indices == [0, 9])
        #expect(try Bitfield(count: 10, bytes: [0x80, 0x40]) == map)
        #expect(throws: StorageError.self) { try Bitfield(count: 10, bytes: [0x80, 0x20]) }  // bit 10 is past the end
        #expect(throws: StorageError.self) { try Bitfield(count: 10, bytes: [0x80]) }
        #expect(Bitfield.full(count: 10).isFull)
        let removed = map.remove(0)
        #expect(removed && !map.contains(0) && map.setCount == 1)
    }
}
