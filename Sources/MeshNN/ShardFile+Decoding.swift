public import Foundation
import MeshTensor

extension ShardFile {
    /// Reads the fixed fields of a shard and checks the file has exactly the size they imply.
    ///
    /// - Throws: ``FormatError`` naming `source`: `.malformed` (magic, dtype, rank, sizes),
    ///   `.unsupported` (version), `.truncated` (too short).
    public static func header(of data: Data, source: String = "shard") throws -> Header {
        try layout(of: data, source: source).header
    }

    /// Decodes a shard, verifying its CRC and labels.
    ///
    /// - Throws: ``FormatError`` naming `source` and what is wrong; never traps on bad bytes.
    public static func decode(_ data: Data, source: String = "shard") throws -> Dataset {
        let bytes = [UInt8](data)
        let layout = try layout(of: data, source: source)
        let header = layout.header
        let stored = bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self)) }
        let actual = crc(data.prefix(data.count - 4))
        guard stored == actual else {
            throw FormatError(.malformed, "\(source): checksum mismatch (stored \(stored), computed \(actual)); the shard is corrupt, fetch it again")
        }
        let n = header.count
        let sampleSize = header.sampleShape.reduce(1, *)
        return try bytes.withUnsafeBytes { raw -> Dataset in
            func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
            var labels = [Int32](repeating: 0, count: n)
            for i in 0..<n {
                let label = u32(layout.labelsOffset + 4 * i)
                guard label < UInt32(header.classCount) else {
                    throw FormatError(.malformed, "\(source): sample \(i) has label \(label), not below the class count \(header.classCount)")
                }
                labels[i] = Int32(label)
            }
            let total = n * sampleSize
            let scalars = [Float](unsafeUninitializedCapacity: total) { out, initialized in
                if header.isByteEncoded {
                    var table = [Float](repeating: 0, count: 256)
                    for slot in 0..<256 { table[slot] = Float(bitPattern: u32(layout.tableOffset + 4 * slot)) }
                    table.withUnsafeBufferPointer { lut in
                        let src = raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + layout.featuresOffset
                        for i in 0..<total { out[i] = lut[Int(src[i])] }
                    }
                } else {
                    for i in 0..<total { out[i] = Float(bitPattern: u32(layout.featuresOffset + 4 * i)) }
                }
                initialized = total
            }
            return Dataset(features: Tensor(shape: [n] + header.sampleShape, scalars: scalars),
                           labels: labels, classCount: header.classCount)
        }
    }

    struct Layout {
        var header: Header
        var tableOffset: Int
        var labelsOffset: Int
        var featuresOffset: Int
    }

    static func layout(of data: Data, source: String) throws -> Layout {
        func fail(_ code: FormatError.Code, _ message: String) -> FormatError { FormatError(code, "\(source): \(message)") }
        let bytes = [UInt8](data.prefix(24 + 4 * 8))
        guard bytes.count >= 8, Array(bytes[0..<8]) == magic else {
            if bytes.count < 8 && magic.starts(with: bytes) { throw fail(.truncated, "\(data.count) bytes is too short for a shard") }
            throw fail(.malformed, "does not start with MFLSHARD; this is not a meshfl shard")
        }
        guard bytes.count >= 24 else { throw fail(.truncated, "the \(data.count)-byte file ends inside the shard header") }
        func integer(_ offset: Int, _ width: Int) -> Int {
            (0..<width).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }
        let version = integer(8, 2)
        guard version == Int(ShardFile.version) else {
            throw fail(.unsupported, "shard version \(version) is not supported (this build reads version \(ShardFile.version)); upgrade meshfl")
        }
        let dtype = bytes[10]
        guard dtype == 1 || dtype == 2 else { throw fail(.malformed, "feature dtype \(dtype) is neither 1 (u8) nor 2 (f32)") }
        let rank = Int(bytes[11])
        guard (1...8).contains(rank) else { throw fail(.malformed, "sample rank \(rank) is not in 1…8") }
        let classCount = integer(12, 4)
        guard classCount >= 1 else { throw fail(.malformed, "class count is 0") }
        let count = integer(16, 8)
        guard count >= 0, count <= data.count else { throw fail(.malformed, "sample count \(count) is larger than the file") }
        guard bytes.count >= 24 + 4 * rank else { throw fail(.truncated, "the file ends inside the sample shape") }
        let shape = (0..<rank).map { integer(24 + 4 * $0, 4) }
        guard shape.allSatisfy({ $0 >= 1 }) else { throw fail(.malformed, "sample shape \(shape) has a zero dimension") }
        let elementSize = dtype == 1 ? 1 : 4
        var expected = 24 + 4 * rank
        let tableOffset = expected
        if dtype == 1 { expected += 1024 }
        let labelsOffset = expected
        expected += 4 * count
        let featuresOffset = expected
        var featureBytes = count * elementSize
        for size in shape {
            let (product, overflow) = featureBytes.multipliedReportingOverflow(by: size)
            guard !overflow, product <= data.count else {
                throw fail(.truncated, "\(count) samples of shape \(shape) need more bytes than the \(data.count)-byte file has; it is truncated")
            }
            featureBytes = product
        }
        expected += featureBytes + 4
        guard data.count >= expected else {
            throw fail(.truncated, "the header needs \(expected) bytes but the file has \(data.count); it is truncated, fetch it again")
        }
        guard data.count == expected else {
            throw fail(.malformed, "\(data.count - expected) unexpected bytes after the shard's \(expected)")
        }
        return Layout(header: Header(isByteEncoded: dtype == 1, classCount: classCount, count: count, sampleShape: shape),
                      tableOffset: tableOffset, labelsOffset: labelsOffset, featuresOffset: featuresOffset)
    }
}
