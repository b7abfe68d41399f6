import Foundation
import MeshTensor
import Testing
@testable import MeshNN

struct ShardTests {
    static func bytesDataset(_ n: Int = 5) -> Dataset {
        Dataset(features: Tensor(shape: [n, 1, 3, 2], generating: { Float(($0 * 37) % 256) / 255 }),
                labels: (0..<n).map { Int32($0 % 4) }, classCount: 4)
    }

    static func floatDataset() -> Dataset {
        var rng = SeededGenerator(seed: 1)
        return Dataset(features: Tensor(shape: [40, 7], generating: { _ in rng.nextNormal() }),
                       labels: (0..<40).map { Int32($0 % 3) }, classCount: 3)
    }

    @Test func byteFeaturesUseTheCompactEncodingLosslessly() throws {
        let data = Self.bytesDataset()
        let encoded = ShardFile.encode(data)
        #expect(Array(encoded.prefix(8)) == Array("MFLSHARD".utf8))
        #expect(encoded[10] == 1)
        #expect(encoded.count == 24 + 3 * 4 + 1024 + 5 * 4 + 5 * 6 + 4)
        let decoded = try ShardFile.decode(encoded)
        #expect(decoded == data)
        #expect(decoded.features.scalars.map(\.bitPattern) == data.features.scalars.map(\.bitPattern))
        // Standardized byte data still has ≤ 256 distinct values and stays bit-exact.
        let standardized = data.standardized(.fashionMNIST)
        let again = ShardFile.encode(standardized)
        #expect(again[10] == 1)
        #expect(try ShardFile.decode(again) == standardized)
    }

    @Test func floatFeaturesRoundTrip() throws {
        let data = Self.floatDataset()
        for encoding in [ShardFile.Encoding.automatic, .float32] {
            let encoded = ShardFile.encode(data, encoding: encoding)
            #expect(encoded[10] == 2)
            #expect(encoded.count == 24 + 4 + 40 * 4 + 40 * 7 * 4 + 4)
            #expect(try ShardFile.decode(encoded) == data)
        }
        #expect(ShardFile.encode(Self.bytesDataset(), encoding: .float32)[10] == 2)
    }

    @Test func headerReadsWithoutDecoding() throws {
        let header = try ShardFile.header(of: ShardFile.encode(Self.bytesDataset(9)))
        #expect(header == ShardFile.Header(isByteEncoded: true, classCount: 4, count: 9, sampleShape: [1, 3, 2]))
    }

    @Test func encodingIsStable() {
        #expect(ShardFile.encode(Self.bytesDataset()) == ShardFile.encode(Self.bytesDataset()))
        let empty = Dataset(features: Tensor(zeros: [0, 2]), labels: [], classCount: 2)
        #expect((try? ShardFile.decode(ShardFile.encode(empty))) == empty)
    }

    @Test func filesRoundTripAndFashionMNISTShardIsCompact() throws {
        let directory = try TorchInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let test = try Dataset.fashionMNIST(split: .test)
        let parts = try Partitioner.iid.partition(labels: test.labels, classCount: 10, clients: 4, seed: 1)
        let shard = test.subset(parts[2])
        let url = directory.appendingPathComponent("shard-2.mfl")
        try ShardFile.write(shard, to: url)
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int
        #expect(size == 24 + 12 + 1024 + 2500 * 4 + 2500 * 784 + 4)
        #expect(try ShardFile.read(contentsOf: url) == shard)
        let missing = try #require(throws: FormatError.self) { try ShardFile.read(contentsOf: directory.appendingPathComponent("none")) }
        #expect(missing.code == .io)
    }

    /// Patches bytes of a valid shard (and optionally fixes the CRC) to hit each check.
    static func patched(_ edits: [(Int, [UInt8])], fixCRC: Bool = true, truncate: Int = 0) -> Data {
        var data = ShardFile.encode(bytesDataset())
        for (offset, bytes) in edits { data.replaceSubrange(offset..<(offset + bytes.count), with: bytes) }
        if fixCRC {
            let crc = ShardFile.crc(data.prefix(data.count - 4))
            data.replaceSubrange((data.count - 4)..<data.count, with: withUnsafeBytes(of: crc.littleEndian, Array.init))
        }
        return data.prefix(data.count - truncate)
    }

    static let labelsOffset = 24 + 12 + 1024

    static let corrupt: [(data: Data, code: FormatError.Code, message: String)] = [
        (Data(), .truncated, "0 bytes is too short"),
        (Data("MFLSH".utf8), .truncated, "too short"),
        (Data("PK\u{3}\u{4}xxxxxxxxxxxxxxxxxxxxxx".utf8), .malformed, "not a meshfl shard"),
        (patched([], truncate: 1), .truncated, "the header needs"),
        (patched([], truncate: 200), .truncated, "it is truncated"),
        (Data(patched([]).prefix(20)), .truncated, "ends inside the shard header"),
        (patched([(8, [2, 0])]), .unsupported, "shard version 2 is not supported"),
        (patched([(10, [3])]), .malformed, "feature dtype 3"),
        (patched([(11, [0])]), .malformed, "sample rank 0"),
        (patched([(11, [9])]), .malformed, "sample rank 9"),
        (patched([(12, [0, 0, 0, 0])]), .malformed, "class count is 0"),
        (patched([(16, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])]), .malformed, "sample count"),
        (patched([(16, [6])]), .truncated, "the header needs"),
        (patched([(24, [0])]), .malformed, "has a zero dimension"),
        (patched([(24, [0xFF, 0xFF, 0xFF, 0x7F])]), .truncated, "need more bytes than"),
        (patched([(labelsOffset, [9])]), .malformed, "sample 0 has label 9, not below the class count 4"),
        (patched([(labelsOffset + 30, [0xAA])], fixCRC: false), .malformed, "checksum mismatch"),
        (patched([]) + Data([0]), .malformed, "unexpected bytes"),
    ]

    @Test(arguments: corrupt)
    func corruptShardsGiveErrors(data: Data, code: FormatError.Code, message: String) throws {
        let error = try #require(throws: FormatError.self) { try ShardFile.decode(data, source: "s.mfl") }
        #expect(error.code == code, "\(error)")
        #expect(error.message.hasPrefix("s.mfl: "), "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func everyTruncationAndFlipIsCaught() {
        let data = ShardFile.encode(Self.bytesDataset())
        for length in 0..<data.count {
            #expect(throws: FormatError.self) { try ShardFile.decode(data.prefix(length)) }
        }
        for offset in 0..<data.count {
            var copy = data
            copy[offset] ^= 0x10
            #expect(throws: FormatError.self) { try ShardFile.decode(copy) }
        }
    }
}
