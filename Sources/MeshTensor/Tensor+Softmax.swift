#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Tensor {
    /// Softmax over the last axis of a matrix `[rows, columns]`, numerically
    /// stable (the row maximum is subtracted first).
    public func softmaxRows() -> Tensor {
        var result = self
        result.applyRowwise { row in
            var maxValue = -Float.infinity
            for value in row where value > maxValue { maxValue = value }
            var total: Float = 0
            for i in row.indices {
                row[i] = expf(row[i] - maxValue)
                total += row[i]
            }
            let inverse = 1 / total
            for i in row.indices { row[i] *= inverse }
        }
        return result
    }

    /// Log-softmax over the last axis of a matrix `[rows, columns]`:
    /// `x - max - log(Σ exp(x - max))`.
    public func logSoftmaxRows() -> Tensor {
        var result = self
        result.applyRowwise { row in
            var maxValue = -Float.infinity
            for value in row where value > maxValue { maxValue = value }
            var total: Float = 0
            for value in row { total += expf(value - maxValue) }
            let shift = maxValue + logf(total)
            for i in row.indices { row[i] -= shift }
        }
        return result
    }

    private mutating func applyRowwise(_ body: (inout UnsafeMutableBufferPointer<Float>) -> Void) {
        precondition(rank == 2, "row-wise softmax needs a matrix, got \(shape)")
        let rows = shape[0], columns = shape[1]
        withUnsafeMutableBufferPointer { buffer in
            for row in 0..<rows {
                var slice = UnsafeMutableBufferPointer(rebasing: buffer[(row * columns)..<((row + 1) * columns)])
                body(&slice)
            }
        }
    }
}
