import CZlib
public import Foundation
import MeshTensor

/// meshfl's compact binary file for a dataset shard — what a requester chunks into storage
/// and a trainer downloads.
///
/// Layout, all integers little-endian:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `MFLSHARD` |
/// | 8 | 2 | version, `1` |
/// | 10 | 1 | feature dtype: `1` = u8 through a value table, `2` = f32 |
/// | 11 | 1 | rank `r` of the sample shape, 1…8 |
/// | 12 | 4 | class count (u32, ≥ 1) |
/// | 16 | 8 | sample count `n` (u64) |
/// | 24 | 4·r | sample shape (u32 each, ≥ 1) |
/// | … | 1024 | u8 only: value table, 256 × f32 — a stored byte `b` means the feature `table[b]` |
/// | … | 4·n | labels (u32, each < class count) |
/// | … | n·s·(1 or 4) | features, row-major, `s` = product of the sample shape |
/// | end | 4 | CRC-32 (zlib's) of every byte before it |
///
/// The u8 form generalizes "bytes with a scale": the table holds the exact `Float` of each
/// byte value (e.g. `b / 255`, or the standardized `(b / 255 - mean) / std`), so decoding
/// is bitwise lossless. ``Encoding/automatic`` uses it whenever the features take at most
/// 256 distinct values, as image data does, and f32 otherwise.
///
/// ```swift
/// let shard = ShardFile.encode(train.subset(parts[3]))   // Data
/// let back = try ShardFile.decode(shard, source: "shard 3")
/// ```
public enum ShardFile {
    /// The first 8 bytes of every shard.
    public static let magic: [UInt8] = Array("MFLSHARD".utf8)
    /// The version this code writes and reads.
    public static let version: UInt16 = 1

    /// How features are stored.
    public enum Encoding: Sendable, Hashable {
        /// u8 through a value table when features take ≤ 256 distinct values, else f32.
        case automatic
        /// Always f32.
        case float32
    }

    /// The fixed fields of a shard, readable without decoding the samples.
    public struct Header: Sendable, Hashable {
        /// Whether features are stored as bytes through a value table (else f32).
        public var isByteEncoded: Bool
        /// The number of classes.
        public var classCount: Int
        /// The number of samples.
        public var count: Int
        /// The shape of one sample.
        public var sampleShape: [Int]
    }

    /// The encoded bytes of `dataset`.
    public static func encode(_ dataset: Dataset, encoding: Encoding = .automatic) -> Data {
        let sampleShape = dataset.sampleShape
        precondition((1...8).contains(sampleShape.count), "a shard's sample shape must have rank 1 to 8")
        let table = encoding == .automatic ? valueTable(dataset.features) : nil
        var out = Data()
        out.reserveCapacity(64 + dataset.count * 4 + dataset.features.count * (table == nil ? 4 : 1))
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        out.append(contentsOf: magic)
        append(version)
        append(UInt8(table == nil ? 2 : 1))
        append(UInt8(sampleShape.count))
        append(UInt32(dataset.classCount))
        append(UInt64(dataset.count))
        for size in sampleShape { append(UInt32(size)) }
        if let table {
            for slot in 0..<256 { append(slot < table.values.count ? table.values[slot].bitPattern : 0) }
        }
        for label in dataset.labels { append(UInt32(label)) }
        dataset.features.withUnsafeBufferPointer { buffer in
            if let table {
                var bytes = [UInt8](repeating: 0, count: buffer.count)
                for i in buffer.indices { bytes[i] = table.index[buffer[i].bitPattern]! }
                out.append(contentsOf: bytes)
            } else {
                #if _endian(big)
                for value in buffer { append(value.bitPattern) }
                #else
                out.append(UnsafeBufferPointer(start: buffer.baseAddress, count: buffer.count))
                #endif
            }
        }
        append(crc(out))
        return out
    }

    /// Writes ``encode(_:encoding:)`` to `url` atomically.
    public static func write(_ dataset: Dataset, to url: URL, encoding: Encoding = .automatic) throws {
        do {
            try encode(dataset, encoding: encoding).write(to: url, options: .atomic)
        } catch {
            throw FormatError(.io, "\(url.path): cannot write the shard; check the directory exists and is writable", cause: error)
        }
    }

    /// Reads a shard file.
    public static func read(contentsOf url: URL) throws -> Dataset {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw FormatError(.io, "\(url.path): cannot read the shard; check the path", cause: error)
        }
        return try decode(data, source: url.path)
    }

    /// The distinct feature values (≤ 256, sorted by bit pattern) and each one's byte, or `nil`.
    static func valueTable(_ features: Tensor) -> (values: [Float], index: [UInt32: UInt8])? {
        var seen = Set<UInt32>()
        let fits = features.withUnsafeBufferPointer { buffer -> Bool in
            var last: UInt32? = nil
            for value in buffer {
                let bits = value.bitPattern
                if bits == last { continue }
                last = bits
                if seen.insert(bits).inserted, seen.count > 256 { return false }
            }
            return true
        }
        guard fits else { return nil }
        let sorted = seen.sorted()
        var index: [UInt32: UInt8] = [:]
        for (slot, bits) in sorted.enumerated() { index[bits] = UInt8(slot) }
        return (sorted.map(Float.init(bitPattern:)), index)
    }

    /// zlib's CRC-32 of `data`.
    static func crc(_ data: Data) -> UInt32 {
        data.withUnsafeBytes { raw in
            var value = crc32(0, nil, 0)
            var offset = 0
            while offset < raw.count {
                let take = min(raw.count - offset, 1 << 30)
                value = crc32(value, raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset, UInt32(take))
                offset += take
            }
            return UInt32(value)
        }
    }
}
