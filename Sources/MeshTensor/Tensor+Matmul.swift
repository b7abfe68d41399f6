extension Tensor {
    /// The matrix product `op(a) · op(b)` of two matrices, where `op` optionally
    /// transposes.
    ///
    /// ```swift
    /// let y = Tensor.matmul(x, w, transposeB: true)   // x [n,in] · wᵀ, w [out,in]
    /// ```
    ///
    /// - Complexity: O(m·n·k), through BLAS `sgemm`.
    public static func matmul(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
    ) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul needs matrices, got \(a.shape) and \(b.shape)")
        let m = transposeA ? a.shape[1] : a.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        var c = Tensor(zeros: [m, n])
        gemm(a, b, into: &c, transposeA: transposeA, transposeB: transposeB, alpha: 1, beta: 0)
        return c
    }

    /// `c = alpha · op(a) · op(b) + beta · c` for matrices, in place.
    public static func gemm(
        _ a: Tensor, _ b: Tensor, into c: inout Tensor,
        transposeA: Bool = false, transposeB: Bool = false,
        alpha: Float = 1, beta: Float = 0
    ) {
        precondition(a.rank == 2 && b.rank == 2 && c.rank == 2,
                     "gemm needs matrices, got \(a.shape), \(b.shape), \(c.shape)")
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let kB = transposeB ? b.shape[1] : b.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        precondition(k == kB, "gemm: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        precondition(c.shape == [m, n], "gemm: result shape \(c.shape), expected \([m, n])")
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.sgemm(
                        transposeA: transposeA, transposeB: transposeB,
                        m: m, n: n, k: k, alpha: alpha,
                        a: pa.baseAddress!, lda: a.shape[1],
                        b: pb.baseAddress!, ldb: b.shape[1],
                        beta: beta, c: pc.baseAddress!, ldc: n)
                }
            }
        }
    }

    /// Adds `bias` (`[columns]`) to every row of a matrix `[rows, columns]`.
    public mutating func addRowVector(_ bias: Tensor) {
        precondition(rank == 2 && bias.count == shape[1], "addRowVector: \(shape) + \(bias.shape)")
        let rows = shape[0], columns = shape[1]
        bias.withUnsafeBufferPointer { b in
            withUnsafeMutableBufferPointer { dst in
                for row in 0..<rows {
                    let base = row * columns
                    for column in 0..<columns { dst[base + column] += b[column] }
                }
            }
        }
    }

    /// The transpose of a matrix.
    public func transposed() -> Tensor {
        precondition(rank == 2, "transposed needs a matrix, got \(shape)")
        let rows = shape[0], columns = shape[1]
        var result = Tensor(zeros: [columns, rows])
        withUnsafeBufferPointer { src in
            result.withUnsafeMutableBufferPointer { dst in
                for row in 0..<rows {
                    for column in 0..<columns { dst[column * rows + row] = src[row * columns + column] }
                }
            }
        }
        return result
    }
}
