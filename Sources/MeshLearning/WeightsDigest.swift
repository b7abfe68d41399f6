import Crypto
public import Foundation
import MeshNN
public import MeshTensor

/// The SHA-256 of a set of named tensors in their canonical serialization.
///
/// The bytes hashed are `SafeTensors(weights).serialized()`: F32 little-endian,
/// tensors sorted by name, no metadata, the JSON header written in one fixed
/// form and padded with spaces to a multiple of 8. The same names, shapes and
/// float bits always give the same digest, on any machine — so it is what a
/// trainer puts in its receipt and what the requester recomputes from the
/// weights it receives. (`-0.0` and `0.0`, or two NaN payloads, are different
/// bits and so different digests.)
///
/// ```swift
/// let digest = WeightsDigest(weights)
/// print(digest)            // 64 lowercase hex digits
/// ```
public struct WeightsDigest: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 32 digest bytes.
    public let bytes: [UInt8]

    /// Hashes `weights` in their canonical safetensors form.
    public init(_ weights: [String: Tensor]) {
        self.init(hashing: SafeTensors(weights).serialized())
    }

    /// Hashes arbitrary bytes (a serialized checkpoint, a safetensors file as received).
    public init(hashing data: Data) {
        bytes = Array(SHA256.hash(data: data))
    }

    /// Parses 64 hex digits.
    ///
    /// - Throws: ``VerificationError`` naming the text when it is not a SHA-256 in hex.
    public init(hex: String) throws {
        let scalars = Array(hex.utf8)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        if scalars.count == 64 {
            for i in stride(from: 0, to: 64, by: 2) {
                guard let high = nibble(scalars[i]), let low = nibble(scalars[i + 1]) else { break }
                bytes.append(high << 4 | low)
            }
        }
        guard bytes.count == 32 else {
            throw VerificationError(.malformed, "\"\(hex.prefix(80))\" is not a SHA-256 digest; expected 64 hex digits")
        }
        self.bytes = bytes
    }

    /// The digest as 64 lowercase hex digits.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// ``hex``.
    public var description: String { hex }

    public static func < (lhs: WeightsDigest, rhs: WeightsDigest) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}

extension WeightsDigest: Codable {
    /// Decodes from a hex string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(hex: text)
        } catch let error as VerificationError {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    /// Encodes as a hex string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
