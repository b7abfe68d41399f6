import Foundation

extension SafeTensors {
    /// The element types meshfl reads.
    enum DType: String {
        case f32 = "F32"
        case f16 = "F16"
        case bf16 = "BF16"
        case f64 = "F64"

        var size: Int {
            switch self {
            case .f32: 4
            case .f16, .bf16: 2
            case .f64: 8
            }
        }

        /// Converts `count` little-endian elements to `Float`.
        func decode(_ bytes: Data, count: Int) -> [Float] {
            [Float](unsafeUninitializedCapacity: count) { out, initialized in
                bytes.withUnsafeBytes { raw in
                    switch self {
                    case .f32:
                        for i in 0..<count {
                            out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                        }
                    case .f16:
                        for i in 0..<count {
                            out[i] = halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                        }
                    case .bf16:
                        for i in 0..<count {
                            let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                            out[i] = Float(bitPattern: UInt32(bits) << 16)
                        }
                    case .f64:
                        for i in 0..<count {
                            out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                        }
                    }
                }
                initialized = count
            }
        }
    }

    /// IEEE 754 binary16 to binary32, exact (including subnormals, infinities and NaN).
    static func halfToFloat(_ half: UInt16) -> Float {
        let sign = UInt32(half & 0x8000) << 16
        let exponent = Int(half >> 10) & 0x1F
        let mantissa = UInt32(half & 0x3FF)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa * 2^-24.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
        }
    }

    /// The decoded JSON header: metadata and entries in file order of appearance.
    struct Header: Decodable {
        struct Entry: Decodable {
            var dtype: String
            var shape: [Int]
            var dataOffsets: [Int]

            enum CodingKeys: String, CodingKey {
                case dtype, shape
                case dataOffsets = "data_offsets"
            }

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                dtype = try container.decode(String.self, forKey: .dtype)
                shape = try container.decodeIntegers(forKey: .shape)
                dataOffsets = try container.decodeIntegers(forKey: .dataOffsets)
            }
        }

        var metadata: [String: String] = [:]
        var entries: [(name: String, entry: Entry)] = []

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: LayerSpec.Key.self)
            for key in container.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try container.decode([String: String].self, forKey: key)
                } else {
                    entries.append((key.stringValue, try container.decode(Entry.self, forKey: key)))
                }
            }
        }
    }
}
