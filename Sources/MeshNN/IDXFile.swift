public import Foundation

/// An array in the IDX format of LeCun's MNIST files, raw or gzip-compressed.
///
/// Layout (big-endian): two zero bytes, a type byte (`0x08` u8, `0x09` i8, `0x0B` i16,
/// `0x0C` i32, `0x0D` f32, `0x0E` f64), the number of dimensions, one `u32` per dimension,
/// then the elements row-major. A file starting with the gzip magic `1f 8b` is inflated
/// first, whatever its name.
///
/// ```swift
/// let images = try IDXFile(contentsOf: URL(fileURLWithPath: "train-images-idx3-ubyte.gz"))
/// print(images.dataType, images.shape)   // uint8 [60000, 28, 28]
/// ```
public struct IDXFile: Sendable, Hashable {
    /// The element type, from the third magic byte.
    public enum DataType: UInt8, Sendable, Hashable, CaseIterable {
        /// Unsigned byte.
        case uint8 = 0x08
        /// Signed byte.
        case int8 = 0x09
        /// Big-endian 16-bit integer.
        case int16 = 0x0B
        /// Big-endian 32-bit integer.
        case int32 = 0x0C
        /// Big-endian IEEE float.
        case float32 = 0x0D
        /// Big-endian IEEE double.
        case float64 = 0x0E

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .uint8, .int8: 1
            case .int16: 2
            case .int32, .float32: 4
            case .float64: 8
            }
        }
    }

    /// The element type.
    public var dataType: DataType
    /// The dimensions, outermost first.
    public var shape: [Int]
    /// The elements exactly as stored (big-endian), `shape.product * dataType.size` bytes.
    public var payload: [UInt8]

    /// The largest number of elements meshfl reads from one IDX file.
    public static let maximumElements = 1 << 32

    /// Creates an array from its parts.
    ///
    /// - Precondition: `payload.count == shape.product * dataType.size`.
    public init(dataType: DataType, shape: [Int], payload: [UInt8]) {
        precondition(payload.count == shape.reduce(1, *) * dataType.size, "IDX payload size does not match the shape")
        self.dataType = dataType
        self.shape = shape
        self.payload = payload
    }

    /// Reads an IDX file, inflating it if it is gzip-compressed.
    ///
    /// - Throws: ``FormatError`` naming the file: `.io` (missing), `.truncated`, `.malformed`.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw FormatError(.io, "\(url.path): cannot read the IDX file; check the path", cause: error)
        }
        try self.init(data: data, source: url.path)
    }

    /// Parses IDX bytes (raw or gzip); `source` names them in errors.
    public init(data: Data, source: String = "IDX data") throws {
        let raw = Gzip.isCompressed(data) ? try Gzip.decompress(data, source: source) : data
        func fail(_ code: FormatError.Code, _ message: String) -> FormatError {
            FormatError(code, "\(source): \(message)")
        }
        // Only the header is copied here; the payload is copied once, at the end.
        let bytes = [UInt8](raw.prefix(4 + 4 * 255))
        let total = raw.count
        guard bytes.count >= 4 else {
            throw fail(.truncated, "\(total) bytes is too short for an IDX header; the file is truncated")
        }
        guard bytes[0] == 0, bytes[1] == 0, let type = DataType(rawValue: bytes[2]) else {
            throw fail(.malformed, String(format: "magic %02x %02x %02x is not an IDX header (00 00 type rank); "
                + "is this an IDX file?", bytes[0], bytes[1], bytes[2]))
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else { throw fail(.malformed, "an IDX array of rank 0 has no dimensions") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw fail(.truncated, "the header lists \(rank) dimensions but the file ends after \(total) bytes")
        }
        var shape: [Int] = []
        var elements = 1
        for axis in 0..<rank {
            let at = 4 + 4 * axis
            let size = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            shape.append(size)
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            elements = product
            guard !overflow, elements <= IDXFile.maximumElements else {
                throw fail(.malformed, "dimensions \(shape) hold more than \(IDXFile.maximumElements) elements; the header is corrupt")
            }
        }
        let expected = elements * type.size
        let found = total - headerSize
        guard found >= expected else {
            throw fail(.truncated, "shape \(shape) of \(type) needs \(expected) data bytes but the file has \(found); "
                + "the file is truncated, download or copy it again")
        }
        guard found == expected else {
            throw fail(.malformed, "\(found - expected) unexpected bytes after the \(shape) \(type) array")
        }
        self.init(dataType: type, shape: shape, payload: [UInt8](raw[(raw.startIndex + headerSize)...]))
    }

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// The elements as `Float`, each divided by `divisor` (255 maps bytes to [0, 1] exactly as
    /// torchvision's `ToTensor` does).
    public func floats(dividingBy divisor: Float = 1) -> [Float] {
        let count = self.count
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            payload.withUnsafeBufferPointer { src in
                switch dataType {
                case .uint8:
                    var table = [Float](repeating: 0, count: 256)
                    for b in 0..<256 { table[b] = Float(b) / divisor }
                    table.withUnsafeBufferPointer { lut in
                        for i in 0..<count { out[i] = lut[Int(src[i])] }
                    }
                case .int8:
                    for i in 0..<count { out[i] = Float(Int8(bitPattern: src[i])) / divisor }
                case .int16:
                    for i in 0..<count {
                        out[i] = Float(Int16(bitPattern: UInt16(src[2 * i]) << 8 | UInt16(src[2 * i + 1]))) / divisor
                    }
                case .int32:
                    for i in 0..<count { out[i] = Float(Int32(bitPattern: IDXFile.word(src, i))) / divisor }
                case .float32:
                    for i in 0..<count { out[i] = Float(bitPattern: IDXFile.word(src, i)) / divisor }
                case .float64:
                    for i in 0..<count {
                        let bits = UInt64(IDXFile.word(src, 2 * i)) << 32 | UInt64(IDXFile.word(src, 2 * i + 1))
                        out[i] = Float(Double(bitPattern: bits)) / divisor
                    }
                }
            }
            initialized = count
        }
    }

    /// The elements as integers (for label files).
    ///
    /// - Throws: ``FormatError`` `.unsupported` for floating-point arrays.
    public func integers(source: String = "IDX data") throws -> [Int32] {
        switch dataType {
        case .uint8: return payload.map { Int32($0) }
        case .int8: return payload.map { Int32(Int8(bitPattern: $0)) }
        case .int16:
            return (0..<count).map { Int32(Int16(bitPattern: UInt16(payload[2 * $0]) << 8 | UInt16(payload[2 * $0 + 1]))) }
        case .int32:
            return payload.withUnsafeBufferPointer { src in (0..<count).map { Int32(bitPattern: IDXFile.word(src, $0)) } }
        case .float32, .float64:
            throw FormatError(.unsupported, "\(source): holds \(dataType) values, not integer labels; pass the labels file")
        }
    }

    /// The raw (uncompressed) IDX bytes.
    public func encoded() -> Data {
        var data = Data([0, 0, dataType.rawValue, UInt8(shape.count)])
        for size in shape {
            data.append(contentsOf: [UInt8(truncatingIfNeeded: size >> 24), UInt8(truncatingIfNeeded: size >> 16),
                                     UInt8(truncatingIfNeeded: size >> 8), UInt8(truncatingIfNeeded: size)])
        }
        data.append(contentsOf: payload)
        return data
    }

    @inline(__always)
    static func word(_ src: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32 {
        UInt32(src[4 * i]) << 24 | UInt32(src[4 * i + 1]) << 16 | UInt32(src[4 * i + 2]) << 8 | UInt32(src[4 * i + 3])
    }
}
