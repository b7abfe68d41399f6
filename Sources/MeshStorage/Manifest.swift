public import Foundation

/// The list of blocks that make up a large blob, itself stored as a block
/// (raw JSON, sorted keys, no whitespace) with its own ``CID``.
///
/// ```swift
/// let manifest = Manifest(blocks: [.init(cid: a, size: 1 << 20), .init(cid: b, size: 17)],
///                         mediaType: "application/octet-stream")
/// let block = manifest.encoded()   // {"blocks":[{"cid":"bafk…","size":1048576},…],…}
/// manifest.cid == CID(of: block)   // true
/// ```
public struct Manifest: Codable, Sendable, Equatable {
    /// The `format` value every meshfl manifest carries.
    public static let formatTag = "meshfl-manifest/1"

    /// One block of the blob, in order.
    public struct Entry: Codable, Sendable, Equatable {
        /// The block's CID.
        public var cid: CID
        /// The block's length in bytes.
        public var size: Int64
        /// Creates an entry.
        public init(cid: CID, size: Int64) {
            self.cid = cid
            self.size = size
        }
    }

    /// Always ``formatTag``; tells a manifest block from other JSON.
    public var format: String
    /// The blob's blocks, in order.
    public var blocks: [Entry]
    /// The blob's total length, the sum of the block sizes.
    public var totalSize: Int64
    /// The blob's media type, e.g. `application/octet-stream`.
    public var mediaType: String
    /// Free-form string metadata (file name, dataset, shard, …).
    public var metadata: [String: String]

    /// Creates a manifest; `totalSize` is the sum of the blocks' sizes.
    public init(blocks: [Entry], mediaType: String = "application/octet-stream", metadata: [String: String] = [:]) {
        self.format = Self.formatTag
        self.blocks = blocks
        self.totalSize = blocks.reduce(0) { $0 + $1.size }
        self.mediaType = mediaType
        self.metadata = metadata
    }

    /// Decodes and validates a manifest block.
    public init(decoding data: some DataProtocol) throws {
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: Data(data))
        } catch {
            throw StorageError(code: .invalidManifest, message: "the block is not a meshfl manifest (JSON with format \(Self.formatTag)); pass the manifest's CID, not a data block's", cause: error)
        }
        guard manifest.format == Self.formatTag else {
            throw StorageError(code: .invalidManifest, message: "manifest format '\(manifest.format)' is not \(Self.formatTag); upgrade meshfl to read it")
        }
        guard manifest.blocks.allSatisfy({ $0.size >= 0 }),
              manifest.blocks.reduce(0, { $0 + $1.size }) == manifest.totalSize else {
            throw StorageError(code: .invalidManifest, message: "manifest sizes are inconsistent (totalSize \(manifest.totalSize) is not the sum of its \(manifest.blocks.count) block sizes); the manifest was corrupted or forged")
        }
        self = manifest
    }

    /// Whether `data` looks like a manifest block and decodes as one.
    static func decodeIfManifest(_ data: Data) -> Manifest? {
        guard data.first == UInt8(ascii: "{"), data.count < 64 << 20 else { return nil }
        return try? Manifest(decoding: data)
    }

    /// The canonical encoding: JSON with sorted keys and no whitespace.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and integers cannot fail.
        return try! encoder.encode(self)
    }

    /// The CID of ``encoded()``.
    public var cid: CID { CID(of: encoded()) }
}
