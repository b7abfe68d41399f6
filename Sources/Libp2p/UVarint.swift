public import NIOCore

/// Unsigned LEB128 varints as used by multiformats, protobuf, multistream and mplex.
///
/// At most 9 bytes (63 bits) are accepted, as the multiformats unsigned-varint spec requires;
/// non-minimal encodings are rejected when decoding from the network.
public enum UVarint {
    /// Maximum number of bytes of an encoded varint.
    public static let maxLength = 9

    /// Appends the encoding of `value` to `bytes`.
    public static func encode(_ value: UInt64, into bytes: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// The encoding of `value`.
    public static func encode(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(10)
        encode(value, into: &out)
        return out
    }

    /// Number of bytes the encoding of `value` takes.
    public static func encodedLength(_ value: UInt64) -> Int {
        var n = 1
        var v = value >> 7
        while v != 0 { n += 1; v >>= 7 }
        return n
    }

    /// Writes the encoding of `value` into `buffer`.
    public static func write(_ value: UInt64, into buffer: inout ByteBuffer) {
        var v = value
        while v >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        buffer.writeInteger(UInt8(v))
    }

    /// Result of trying to decode a varint from a prefix of some bytes.
    public enum DecodeResult: Equatable, Sendable {
        /// A value and how many bytes it took.
        case value(UInt64, length: Int)
        /// More bytes are needed.
        case needMoreBytes
    }

    /// Decodes a varint at the start of `bytes`.
    ///
    /// - Throws: ``Libp2pError/Code/malformed`` if longer than 9 bytes or not minimal.
    public static func decode<C: Collection>(_ bytes: C) throws(Libp2pError) -> DecodeResult where C.Element == UInt8 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var count = 0
        for byte in bytes {
            count += 1
            if count > maxLength {
                throw Libp2pError(.malformed, "varint longer than \(maxLength) bytes")
            }
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 {
                if byte == 0 && count > 1 {
                    throw Libp2pError(.malformed, "varint is not minimally encoded")
                }
                return .value(value, length: count)
            }
            shift += 7
        }
        return .needMoreBytes
    }

    /// Reads a varint from the reader index of `buffer`, moving it only if a whole varint was there.
    ///
    /// - Returns: the value, or `nil` if more bytes are needed.
    public static func read(from buffer: inout ByteBuffer) throws(Libp2pError) -> UInt64? {
        let view = buffer.readableBytesView.prefix(maxLength + 1)
        switch try decode(view) {
        case .needMoreBytes:
            return nil
        case .value(let value, let length):
            buffer.moveReaderIndex(forwardBy: length)
            return value
        }
    }

    /// Decodes a varint that must be complete; advances `offset`.
    static func decodeComplete(_ bytes: ArraySlice<UInt8>, offset: inout Int) throws(Libp2pError) -> UInt64 {
        switch try decode(bytes[offset...]) {
        case .needMoreBytes:
            throw Libp2pError(.malformed, "truncated varint")
        case .value(let value, let length):
            offset += length
            return value
        }
    }
}
