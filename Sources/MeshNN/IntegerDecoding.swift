import Foundation

/// Integer fields decoded through `Double`, so that `2.5` or `1e30` gives an error naming the
/// field (Foundation's `JSONDecoder` reports a non-integral number for an `Int` as invalid JSON
/// with no coding path).
extension KeyedDecodingContainer {
    struct IndexKey: CodingKey {
        var intValue: Int?
        var stringValue: String { "\(intValue ?? 0)" }
        init(_ index: Int) { intValue = index }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    func integer(_ value: Double, at path: [any CodingKey]) throws -> Int {
        guard value == value.rounded(), abs(value) <= 9_007_199_254_740_992 else {
            throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "expected an integer, got \(value)"))
        }
        return Int(value)
    }

    /// An integer field.
    func decodeInteger(forKey key: Key) throws -> Int {
        try integer(try decode(Double.self, forKey: key), at: codingPath + [key])
    }

    /// An optional integer field.
    func decodeIntegerIfPresent(forKey key: Key) throws -> Int? {
        guard let value = try decodeIfPresent(Double.self, forKey: key) else { return nil }
        return try integer(value, at: codingPath + [key])
    }

    /// An array of integers.
    func decodeIntegers(forKey key: Key) throws -> [Int] {
        try decode([Double].self, forKey: key).enumerated().map { index, value in
            try integer(value, at: codingPath + [key, IndexKey(index)])
        }
    }
}
