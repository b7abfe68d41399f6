internal import COpenBLAS

/// Process-wide settings of the BLAS library that backs matrix products.
///
/// OpenBLAS threads busy-wait between calls; set their count explicitly to the
/// number of cores the process may use. Results of `sgemm` can differ in the
/// last bits between thread counts (the split of the reduction changes), so
/// deterministic re-execution requires the same count on both sides.
public enum BLAS {
    /// Sets the number of threads BLAS kernels use (at least 1).
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
        Parallel.workers = max(1, count)
    }

    /// The number of threads BLAS kernels use.
    public static var threads: Int {
        Int(openblas_get_num_threads())
    }

    /// Single-precision general matrix multiply on row-major buffers:
    /// `C = alpha * op(A) * op(B) + beta * C`, with `op(A)` of shape `m × k` and
    /// `op(B)` of shape `k × n`.
    ///
    /// - Complexity: O(m·n·k).
    @inlinable
    public static func sgemm(
        transposeA: Bool, transposeB: Bool,
        m: Int, n: Int, k: Int,
        alpha: Float,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _sgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    @usableFromInline
    static func _sgemm(
        _ transposeA: Bool, _ transposeB: Bool,
        _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int,
        _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // C = beta * C
            for row in 0..<m {
                for col in 0..<n { c[row * ldc + col] *= beta }
            }
            return
        }
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb),
            beta, c, Int32(ldc))
    }
}
