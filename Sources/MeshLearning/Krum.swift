public import MeshTensor

/// Krum and Multi-Krum (Blanchard et al. 2017): with at most `byzantine` (f)
/// bad updates among n, score each update by the sum of squared distances to
/// its n − f − 2 nearest others, and take the `selected` (m) best-scored —
/// one update as is (Krum), or the plain mean of m (Multi-Krum). Ties go to
/// the earlier update, so the result depends only on the updates and their order.
///
/// - Complexity: O(n² · p) for n updates of p parameters.
public struct Krum: Strategy {
    /// f: how many updates may be arbitrary.
    public var byzantine: Int
    /// m: how many best-scored updates are averaged (1 = Krum).
    public var selected: Int

    public var name: String { selected == 1 ? "krum" : "multi-krum" }

    /// Creates the strategy.
    ///
    /// - Precondition: `byzantine >= 0`, `selected >= 1`.
    public init(byzantine: Int, selected: Int = 1) {
        precondition(byzantine >= 0 && selected >= 1, "Krum needs byzantine >= 0 and selected >= 1")
        self.byzantine = byzantine
        self.selected = selected
    }

    public func aggregate(global: [String: Tensor], updates: [ClientUpdate]) throws -> [String: Tensor] {
        try checkShapes(global: global, updates: updates)
        try checkFinite(updates)
        let chosen = try select(global: global, updates: updates)
        let share = 1 / Double(chosen.count)
        var result: [String: Tensor] = [:]
        for (name, tensor) in global {
            var sum = [Double](repeating: 0, count: tensor.count)
            for index in chosen {
                updates[index].weights[name]!.withUnsafeBufferPointer { values in
                    for i in values.indices { sum[i] += share * Double(values[i]) }
                }
            }
            result[name] = Tensor(shape: tensor.shape, scalars: sum.map { Float($0) })
        }
        return result
    }

    /// The indices of the `selected` best-scored updates, best first.
    ///
    /// - Throws: ``AggregationError`` unless n > 2f + 2 and m ≤ n − f.
    public func select(global: [String: Tensor], updates: [ClientUpdate]) throws -> [Int] {
        let n = updates.count
        guard n > 2 * byzantine + 2 else {
            throw AggregationError("Krum with f = \(byzantine) needs more than \(2 * byzantine + 2) updates, got \(n)")
        }
        guard selected <= n - byzantine else {
            throw AggregationError("Multi-Krum cannot select \(selected) of \(n) updates with f = \(byzantine)")
        }
        let names = global.keys.sorted()
        var distance = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n {
            for j in (i + 1)..<n {
                var sum = 0.0
                for name in names {
                    updates[i].weights[name]!.withUnsafeBufferPointer { a in
                        updates[j].weights[name]!.withUnsafeBufferPointer { b in
                            for k in a.indices {
                                let d = Double(a[k]) - Double(b[k])
                                sum += d * d
                            }
                        }
                    }
                }
                distance[i][j] = sum
                distance[j][i] = sum
            }
        }
        let neighbours = n - byzantine - 2
        let scores = (0..<n).map { i in
            (0..<n).filter { $0 != i }.map { distance[i][$0] }.sorted().prefix(neighbours).reduce(0, +)
        }
        return (0..<n).sorted { (scores[$0], $0) < (scores[$1], $1) }.prefix(selected).map { $0 }
    }
}
