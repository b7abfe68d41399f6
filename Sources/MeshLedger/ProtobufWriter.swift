/// A minimal protobuf (proto3) encoder: fields are written in the order they are
/// appended, default values (0, empty) are skipped as proto3 does.
///
/// ```swift
/// var w = ProtobufWriter()
/// w.int64(1, 1_700_000_000)
/// w.message(2) { $0.int64(3, 1001) }
/// let bytes = w.bytes
/// ```
struct ProtobufWriter: Sendable {
    /// The wire types this writer produces.
    enum WireType: UInt8 { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    /// The encoded message so far.
    private(set) var bytes: [UInt8] = []

    init() {}

    mutating func tag(_ field: Int, _ wire: WireType) {
        rawVarint(UInt64(field) << 3 | UInt64(wire.rawValue))
    }

    mutating func rawVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// `uint64`/`uint32`/`bool`-style varint field; skipped when zero.
    mutating func uint64(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, .varint)
        rawVarint(value)
    }

    /// `int64` field (two's complement varint); skipped when zero.
    mutating func int64(_ field: Int, _ value: Int64) {
        uint64(field, UInt64(bitPattern: value))
    }

    /// `int32` field; negative values take ten bytes as in protobuf; skipped when zero.
    mutating func int32(_ field: Int, _ value: Int32) {
        uint64(field, UInt64(bitPattern: Int64(value)))
    }

    /// `sint64` field (zigzag); skipped when zero.
    mutating func sint64(_ field: Int, _ value: Int64) {
        uint64(field, UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// `bool` field; skipped when false.
    mutating func bool(_ field: Int, _ value: Bool) {
        uint64(field, value ? 1 : 0)
    }

    /// `bytes` field; skipped when empty unless `always`.
    mutating func bytes(_ field: Int, _ value: some Collection<UInt8>, always: Bool = false) {
        guard always || !value.isEmpty else { return }
        tag(field, .lengthDelimited)
        rawVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// `string` field (UTF-8); skipped when empty.
    mutating func string(_ field: Int, _ value: String) {
        bytes(field, Array(value.utf8))
    }

    /// An embedded message, always written (presence matters for messages).
    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        bytes(field, inner.bytes, always: true)
    }
}
