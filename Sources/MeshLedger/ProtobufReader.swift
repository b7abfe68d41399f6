/// A minimal protobuf decoder: walks the fields of one message.
///
/// Unknown fields are returned like known ones so callers skip them; groups
/// (wire types 3 and 4) and truncated input throw `malformed`.
///
/// ```swift
/// var r = ProtobufReader(bytes)
/// while let field = try r.next() {
///     switch field.number { case 1: seconds = try field.int64(); default: break }
/// }
/// ```
struct ProtobufReader {
    /// One decoded field.
    struct Field {
        /// The value as it was on the wire.
        enum Value {
            case varint(UInt64)
            case fixed64(UInt64)
            case lengthDelimited(ArraySlice<UInt8>)
            case fixed32(UInt32)
        }

        var number: Int
        var value: Value

        func uint64() throws(LedgerError) -> UInt64 {
            guard case .varint(let v) = value else { throw Self.wrongType(number, "varint") }
            return v
        }

        func int64() throws(LedgerError) -> Int64 { Int64(bitPattern: try uint64()) }

        func int32() throws(LedgerError) -> Int32 { Int32(truncatingIfNeeded: Int64(bitPattern: try uint64())) }

        func sint64() throws(LedgerError) -> Int64 {
            let v = try uint64()
            return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
        }

        func bool() throws(LedgerError) -> Bool { try uint64() != 0 }

        func bytes() throws(LedgerError) -> [UInt8] { Array(try slice()) }

        func slice() throws(LedgerError) -> ArraySlice<UInt8> {
            guard case .lengthDelimited(let s) = value else { throw Self.wrongType(number, "length-delimited") }
            return s
        }

        func string() throws(LedgerError) -> String {
            let raw = try slice()
            guard let s = String(validating: raw, as: UTF8.self) else {
                throw LedgerError(.malformed, "field \(number) is not valid UTF-8; the sender's encoder is broken.")
            }
            return s
        }

        private static func wrongType(_ number: Int, _ expected: String) -> LedgerError {
            LedgerError(.malformed, "protobuf field \(number) should be \(expected); the bytes are not the expected HAPI message.")
        }
    }

    private let bytes: ArraySlice<UInt8>
    private var index: Int

    init(_ bytes: some Collection<UInt8>) {
        let slice = ArraySlice(bytes)
        self.bytes = slice
        self.index = slice.startIndex
    }

    init(_ slice: ArraySlice<UInt8>) {
        self.bytes = slice
        self.index = slice.startIndex
    }

    /// The next field, or nil at the end of the message.
    mutating func next() throws(LedgerError) -> Field? {
        guard index < bytes.endIndex else { return nil }
        let key = try varint()
        let number = Int(key >> 3)
        guard number > 0, number < (1 << 29) else { throw Self.truncated("field number \(number) is invalid") }
        switch key & 7 {
        case 0:
            return Field(number: number, value: .varint(try varint()))
        case 1:
            return Field(number: number, value: .fixed64(try fixed(8)))
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.endIndex - index) else { throw Self.truncated("field \(number) runs past the end") }
            let start = index
            index += Int(length)
            return Field(number: number, value: .lengthDelimited(bytes[start..<index]))
        case 5:
            return Field(number: number, value: .fixed32(UInt32(try fixed(4))))
        default:
            throw Self.truncated("wire type \(key & 7) is not supported")
        }
    }

    private mutating func varint() throws(LedgerError) -> UInt64 {
        var result: UInt64 = 0
        for shift in stride(from: 0, to: 70, by: 7) {
            guard index < bytes.endIndex else { throw Self.truncated("a varint runs past the end") }
            let b = bytes[index]
            index += 1
            if shift == 63 && b > 1 { throw Self.truncated("a varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) << UInt64(shift)
            if b & 0x80 == 0 { return result }
        }
        throw Self.truncated("a varint is longer than 10 bytes")
    }

    private mutating func fixed(_ n: Int) throws(LedgerError) -> UInt64 {
        guard bytes.endIndex - index >= n else { throw Self.truncated("a fixed-width field runs past the end") }
        var v: UInt64 = 0
        for k in 0..<n { v |= UInt64(bytes[index + k]) << UInt64(8 * k) }
        index += n
        return v
    }

    private static func truncated(_ what: String) -> LedgerError {
        LedgerError(.malformed, "not a valid protobuf message: \(what). Check that the bytes are a complete HAPI message.")
    }
}
