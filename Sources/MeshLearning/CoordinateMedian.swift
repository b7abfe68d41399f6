public import MeshTensor

/// Coordinate-wise median (Yin et al. 2018): each weight of the next model is
/// the median of the clients' values for it — the mean of the two middle values
/// when the count is even. Robust to fewer than half the clients sending
/// anything at all; ignores sample counts.
///
/// - Complexity: O(p · n log n) for p parameters and n updates.
public struct CoordinateMedian: Strategy {
    public var name: String { "median" }

    /// Creates the strategy.
    public init() {}

    public func aggregate(global: [String: Tensor], updates: [ClientUpdate]) throws -> [String: Tensor] {
        try checkShapes(global: global, updates: updates)
        try checkFinite(updates)
        return Self.coordinatewise(global: global, updates: updates) { values in
            let n = values.count
            return n % 2 == 1 ? Double(values[n / 2]) : (Double(values[n / 2 - 1]) + Double(values[n / 2])) / 2
        }
    }

    /// Applies `reduce` to each coordinate's values across updates, sorted ascending.
    static func coordinatewise(
        global: [String: Tensor], updates: [ClientUpdate], reduce: (UnsafeMutableBufferPointer<Float>) -> Double
    ) -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        var column = [Float](repeating: 0, count: updates.count)
        for (name, tensor) in global {
            let sources = updates.map { $0.weights[name]! }
            var out = [Float](repeating: 0, count: tensor.count)
            for index in 0..<tensor.count {
                for (client, source) in sources.enumerated() {
                    column[client] = source.withUnsafeBufferPointer { $0[index] }
                }
                out[index] = column.withUnsafeMutableBufferPointer { buffer in
                    buffer.sort()
                    return Float(reduce(buffer))
                }
            }
            result[name] = Tensor(shape: tensor.shape, scalars: out)
        }
        return result
    }
}

extension Strategy {
    /// Refuses updates holding NaN or infinity (robust strategies compare values, which NaN defeats).
    public func checkFinite(_ updates: [ClientUpdate]) throws {
        for update in updates {
            for name in update.weights.keys.sorted() where !update.weights[name]!.scalars.allSatisfy(\.isFinite) {
                throw AggregationError("update from \(update.client): \(name) holds NaN or infinite values; "
                    + "verify updates before aggregating")
            }
        }
    }
}
