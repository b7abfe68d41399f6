extension Tensor {
    /// The sum of all elements, accumulated in `Double`.
    ///
    /// - Complexity: O(count).
    public func sum() -> Float {
        withUnsafeBufferPointer { buffer in
            var total = 0.0
            for value in buffer { total += Double(value) }
            return Float(total)
        }
    }

    /// The arithmetic mean of all elements (0 for an empty tensor).
    public func mean() -> Float {
        count == 0 ? 0 : Float(Double(sum()) / Double(count))
    }

    /// The largest element (−infinity for an empty tensor).
    public func max() -> Float {
        withUnsafeBufferPointer { buffer in
            var best = -Float.infinity
            for value in buffer where value > best { best = value }
            return best
        }
    }

    /// The smallest element (+infinity for an empty tensor).
    public func min() -> Float {
        withUnsafeBufferPointer { buffer in
            var best = Float.infinity
            for value in buffer where value < best { best = value }
            return best
        }
    }

    /// The sum of squared elements, accumulated in `Double`.
    public func sumOfSquares() -> Double {
        withUnsafeBufferPointer { buffer in
            var total = 0.0
            for value in buffer { total += Double(value) * Double(value) }
            return total
        }
    }

    /// The Euclidean norm of all elements.
    public func norm() -> Double {
        sumOfSquares().squareRoot()
    }

    /// Sums over the rows of a matrix `[rows, columns]`, giving `[columns]`.
    ///
    /// Used for bias gradients: `dBias = dY.columnSums()`.
    public func columnSums() -> Tensor {
        precondition(rank == 2, "columnSums needs a matrix, got \(shape)")
        let rows = shape[0], columns = shape[1]
        var result = Tensor(zeros: [columns])
        withUnsafeBufferPointer { src in
            result.withUnsafeMutableBufferPointer { dst in
                for row in 0..<rows {
                    let base = row * columns
                    for column in 0..<columns { dst[column] += src[base + column] }
                }
            }
        }
        return result
    }

    /// The index of the largest element of each row of a matrix `[rows, columns]`.
    public func argmaxRows() -> [Int] {
        precondition(rank == 2, "argmaxRows needs a matrix, got \(shape)")
        let rows = shape[0], columns = shape[1]
        return withUnsafeBufferPointer { src in
            (0..<rows).map { row in
                var best = 0
                var bestValue = -Float.infinity
                for column in 0..<columns where src[row * columns + column] > bestValue {
                    bestValue = src[row * columns + column]
                    best = column
                }
                return best
            }
        }
    }
}
