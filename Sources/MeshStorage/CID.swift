public import Foundation
import Crypto

/// A content identifier: CIDv1, codec raw (0x55), multihash sha2-256, printed
/// in base32 lower-case multibase (`b…`).
///
/// ```swift
/// let cid = CID(of: Data("hello world".utf8))
/// cid.description  // "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
/// try CID(parsing: cid.description) == cid  // true
/// ```
public struct CID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// The multicodec of the content: raw binary.
    public static let rawCodec: UInt64 = 0x55
    /// The multihash function code: sha2-256.
    public static let sha256Code: UInt64 = 0x12

    /// The 32-byte SHA-256 digest of the content.
    public let digest: [UInt8]

    /// Creates a CID from a SHA-256 digest; the digest must be 32 bytes.
    public init(sha256Digest digest: [UInt8]) throws {
        guard digest.count == 32 else {
            throw StorageError(code: .invalidCID, message: "a sha2-256 digest has 32 bytes, not \(digest.count)")
        }
        self.digest = digest
    }

    /// The CID of `content`.
    ///
    /// - Complexity: O(n) in the content's length.
    public init(of content: some DataProtocol) {
        self.digest = Array(SHA256.hash(data: content))
    }

    /// Parses a CID string: base32 lower multibase (`b…`), CIDv1, raw codec, sha2-256.
    public init(parsing string: String) throws {
        guard string.first == "b" else {
            throw StorageError(code: .invalidCID, message: "CID '\(string.prefix(80))' is not base32 lower multibase (must start with 'b'); meshfl only prints and reads `bafkrei…` CIDs")
        }
        guard let bytes = Base32.decode(string.dropFirst()) else {
            throw StorageError(code: .invalidCID, message: "CID '\(string.prefix(80))' has characters outside base32 lower (a-z, 2-7)")
        }
        try self.init(bytes: bytes)
    }

    /// Parses the binary form: varint version, varint codec, varint hash code, varint length, digest.
    public init(bytes: [UInt8]) throws {
        var reader = VarintReader(bytes: bytes)
        guard let version = reader.next(), let codec = reader.next(), let hash = reader.next(), let length = reader.next() else {
            throw StorageError(code: .invalidCID, message: "CID bytes end inside the header; the CID was truncated")
        }
        guard version == 1 else {
            throw StorageError(code: .invalidCID, message: "CID version \(version) is not supported; meshfl uses CIDv1")
        }
        guard codec == Self.rawCodec else {
            throw StorageError(code: .invalidCID, message: "CID codec 0x\(String(codec, radix: 16)) is not supported; meshfl blocks use raw (0x55)")
        }
        guard hash == Self.sha256Code, length == 32 else {
            throw StorageError(code: .invalidCID, message: "multihash 0x\(String(hash, radix: 16)) of \(length) bytes is not supported; meshfl uses sha2-256 (0x12, 32 bytes)")
        }
        let rest = Array(bytes[reader.offset...])
        guard rest.count == 32 else {
            throw StorageError(code: .invalidCID, message: "CID digest has \(rest.count) bytes, expected 32")
        }
        self.digest = rest
    }

    /// The binary form: `0x01 0x55` (CIDv1, raw) followed by the ``multihash``.
    public var bytes: [UInt8] { [0x01, 0x55] + multihash }

    /// The multihash: `0x12 0x20` (sha2-256, 32 bytes) followed by the digest — what
    /// the DHT keys content by (provider records), as IPFS does.
    public var multihash: [UInt8] { [0x12, 0x20] + digest }

    /// The base32 lower multibase string, `bafkrei…`.
    public var description: String { "b" + Base32.encode(bytes) }

    /// Whether `content` hashes to this CID.
    public func matches(_ content: some DataProtocol) -> Bool {
        Array(SHA256.hash(data: content)) == digest
    }

    /// Orders CIDs by digest bytes (a stable order for listings).
    public static func < (lhs: CID, rhs: CID) -> Bool { lhs.digest.lexicographicallyPrecedes(rhs.digest) }

    /// Decodes the string form, `bafkrei…`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(parsing: container.decode(String.self))
    }

    /// Encodes the string form, `bafkrei…`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Reads unsigned LEB128 varints (multiformats `unsigned-varint`, at most 9 bytes).
struct VarintReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func next() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 63 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}
