/// A minimal protobuf (proto2/proto3 wire format) writer for the few messages libp2p needs.
///
/// ```swift
/// var w = ProtobufWriter()
/// w.writeVarint(field: 1, 1)
/// w.writeBytes(field: 2, key)
/// let bytes = w.bytes
/// ```
public struct ProtobufWriter: Sendable {
    /// The encoded message so far.
    public private(set) var bytes: [UInt8] = []

    /// Creates an empty message.
    public init() {}

    private mutating func tag(_ field: Int, _ wireType: UInt64) {
        UVarint.encode(UInt64(field) << 3 | wireType, into: &bytes)
    }

    /// Writes a varint field (`int32`, `uint64`, `bool`, `enum`).
    public mutating func writeVarint(field: Int, _ value: UInt64) {
        tag(field, 0)
        UVarint.encode(value, into: &bytes)
    }

    /// Writes a length-delimited field (`bytes`, embedded message).
    public mutating func writeBytes<C: Collection>(field: Int, _ value: C) where C.Element == UInt8 {
        tag(field, 2)
        UVarint.encode(UInt64(value.count), into: &bytes)
        bytes.append(contentsOf: value)
    }

    /// Writes a `string` field as UTF-8.
    public mutating func writeString(field: Int, _ value: String) {
        writeBytes(field: field, Array(value.utf8))
    }
}

/// A minimal protobuf reader: iterates the fields of one message, skipping unknown wire types safely.
///
/// ```swift
/// var r = ProtobufReader(bytes)
/// while let field = try r.next() { if field.number == 2, case .bytes(let b) = field.value { ... } }
/// ```
public struct ProtobufReader: Sendable {
    /// One decoded field.
    public struct Field: Sendable {
        /// The field number.
        public var number: Int
        /// The field's value.
        public var value: Value
    }

    /// A field value by wire type.
    public enum Value: Sendable {
        /// Wire type 0.
        case varint(UInt64)
        /// Wire type 1.
        case fixed64(UInt64)
        /// Wire type 2.
        case bytes(ArraySlice<UInt8>)
        /// Wire type 5.
        case fixed32(UInt32)

        /// The bytes of a length-delimited value, or `nil`.
        public var bytesValue: [UInt8]? {
            if case .bytes(let b) = self { return Array(b) }
            return nil
        }

        /// The UTF-8 string of a length-delimited value, or `nil`.
        public var stringValue: String? {
            if case .bytes(let b) = self { return String(decoding: b, as: UTF8.self) }
            return nil
        }

        /// The integer of a varint value, or `nil`.
        public var varintValue: UInt64? {
            if case .varint(let v) = self { return v }
            return nil
        }
    }

    private let bytes: ArraySlice<UInt8>
    private var offset: Int

    /// Creates a reader over one encoded message.
    public init<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let slice = ArraySlice(bytes)
        self.bytes = slice
        self.offset = slice.startIndex
    }

    /// The next field, or `nil` at the end of the message.
    ///
    /// - Throws: ``Libp2pError/Code/malformed`` on truncated or invalid input.
    public mutating func next() throws(Libp2pError) -> Field? {
        guard offset < bytes.endIndex else { return nil }
        let key = try UVarint.decodeComplete(bytes, offset: &offset)
        let number = key >> 3
        guard number >= 1, number <= 536_870_911 else {
            throw Libp2pError(.malformed, "protobuf field number \(number) out of range")
        }
        switch key & 7 {
        case 0:
            return Field(number: Int(number), value: .varint(try UVarint.decodeComplete(bytes, offset: &offset)))
        case 1:
            guard bytes.endIndex - offset >= 8 else { throw Libp2pError(.malformed, "truncated fixed64") }
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
            offset += 8
            return Field(number: Int(number), value: .fixed64(v))
        case 2:
            let length = try UVarint.decodeComplete(bytes, offset: &offset)
            guard length <= UInt64(bytes.endIndex - offset) else {
                throw Libp2pError(.malformed, "protobuf field \(number) length \(length) exceeds message")
            }
            let end = offset + Int(length)
            defer { offset = end }
            return Field(number: Int(number), value: .bytes(bytes[offset..<end]))
        case 5:
            guard bytes.endIndex - offset >= 4 else { throw Libp2pError(.malformed, "truncated fixed32") }
            var v: UInt32 = 0
            for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
            offset += 4
            return Field(number: Int(number), value: .fixed32(v))
        default:
            throw Libp2pError(.malformed, "unsupported protobuf wire type \(key & 7)")
        }
    }
}
