import Foundation
import Testing
@testable import MeshStorage

struct ChunkerTests {
    @Test(arguments: [0, 1, 4, 5, 9, 64, 1000])
    func blocksReassembleToTheInput(length: Int) {
        let input = TestSupport.bytes(length)
        var chunker = Chunker(blockSize: 4)
        var blocks: [Data] = []
        // Feed in uneven pieces.
        var rest = input[...]
        var step = 1
        while !rest.isEmpty {
            blocks += chunker.append(rest.prefix(step))
            rest = rest.dropFirst(step)
            step = step % 7 + 1
        }
        if let last = chunker.finish() { blocks.append(last) }
        #expect(blocks.reduce(Data(), +) == input)
        #expect(blocks.dropLast().allSatisfy { $0.count == 4 })
        #expect(blocks.count == (length + 3) / 4)
    }

    @Test func streamsAFileInBlocks() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appending(path: "in.bin")
        let input = TestSupport.bytes(300_001)
        try input.write(to: file)
        let handle = try FileHandle(forReadingFrom: file)
        var sizes: [Int] = []
        var joined = Data()
        try Chunker.forEachBlock(of: handle, blockSize: 100_000) { block in
            sizes.append(block.count)
            joined.append(block)
        }
        #expect(sizes == [100_000, 100_000, 100_000, 1])
        #expect(joined == input)
    }

    @Test func manifestEncodingIsCanonicalAndRoundTrips() throws {
        let a = CID(of: Data("a".utf8)), b = CID(of: Data("b".utf8))
        let manifest = Manifest(blocks: [.init(cid: a, size: 4), .init(cid: b, size: 1)], mediaType: "text/plain", metadata: ["z": "1", "a": "2"])
        let text = String(decoding: manifest.encoded(), as: UTF8.self)
        #expect(text == #"{"blocks":[{"cid":"\#(a)","size":4},{"cid":"\#(b)","size":1}],"format":"meshfl-manifest/1","mediaType":"text/plain","metadata":{"a":"2","z":"1"},"totalSize":5}"#)
        #expect(try Manifest(decoding: manifest.encoded()) == manifest)
        #expect(manifest.cid == CID(of: manifest.encoded()))
    }

    @Test func inconsistentManifestsAreRejected() {
        let a = CID(of: Data("a".utf8))
        let bad = #"{"blocks":[{"cid":"\#(a)","size":4}],"format":"meshfl-manifest/1","mediaType":"x","metadata":{},"totalSize":5}"#
        #expect(throws: StorageError.self) { try Manifest(decoding: Data(bad.utf8)) }
        #expect(throws: StorageError.self) { try Manifest(decoding: Data("[]".utf8)) }
        let otherFormat = #"{"blocks":[],"format":"other/1","mediaType":"x","metadata":{},"totalSize":0}"#
        #expect(throws: StorageError.self) { try Manifest(decoding: Data(otherFormat.utf8)) }
    }
}
