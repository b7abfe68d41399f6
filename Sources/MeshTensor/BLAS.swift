internal import COpenBLAS

/// Process-wide settings of the BLAS library that backs matrix products.
///
/// OpenBLAS runs single-threaded on whichever thread calls it; parallelism
/// comes from ``Parallel``'s workers only, which split large products by
/// columns or rows of the result (`sgemm`) or call `sgemm(…, parallel: false)`
/// from inside their own split (the convolution layers, one image per call).
/// One pool of threads means no OpenBLAS threads busy-waiting for work while
/// the element-wise kernels between products run on the other cores.
///
/// Results of a split product can differ in the last bits between worker
/// counts (the blocking at chunk edges changes), so deterministic
/// re-execution requires the same count on both sides.
public enum BLAS {
    /// Sets the number of threads matrix products and the other tensor kernels
    /// use (at least 1).
    public static func setThreads(_ count: Int) {
        pinOpenBLAS()
        Parallel.workers = max(1, count)
    }

    /// The number of threads matrix products use.
    public static var threads: Int {
        Parallel.workers
    }

    /// Products with fewer multiply-adds than this run on the caller unsplit.
    @usableFromInline static let minimumSplitWork = 1 << 20

    /// Single-precision general matrix multiply on row-major buffers:
    /// `C = alpha * op(A) * op(B) + beta * C`, with `op(A)` of shape `m × k` and
    /// `op(B)` of shape `k × n`.
    ///
    /// With `parallel` (the default), a product of at least 2²⁰ multiply-adds
    /// is split over ``Parallel/workers`` by the longer of C's two sides; pass
    /// `false` when calling from inside a parallel region.
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
        c: UnsafeMutablePointer<Float>, ldc: Int,
        parallel: Bool = true
    ) {
        guard parallel, Parallel.workers > 1, m * n * k >= minimumSplitWork else {
            _sgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        _splitSgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    @usableFromInline
    static func _splitSgemm(
        _ transposeA: Bool, _ transposeB: Bool,
        _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int,
        _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        // Chunks are whole multiples of 16 rows or columns (the width of
        // OpenBLAS's AVX-512 kernels), so only the last chunk has a ragged edge.
        let alignment = 16
        let byRows = m > n
        let side = byRows ? m : n
        let blocks = (side + alignment - 1) / alignment
        Parallel.forEachChunk(of: blocks, minimumWork: Parallel.minimumSplitWork) { chunk in
            let start = chunk.lowerBound * alignment, end = min(side, chunk.upperBound * alignment)
            guard start < end else { return }
            if byRows {
                _sgemm(transposeA, transposeB, end - start, n, k, alpha,
                       a + (transposeA ? start : start * lda), lda, b, ldb, beta, c + start * ldc, ldc)
            } else {
                _sgemm(transposeA, transposeB, m, end - start, k, alpha,
                       a, lda, b + (transposeB ? start * ldb : start), ldb, beta, c + start, ldc)
            }
        }
    }

    /// Keeps OpenBLAS to the calling thread; runs once, before the first product.
    @usableFromInline static let pinned: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    static func pinOpenBLAS() {
        _ = pinned
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
        _ = pinned
        // A narrow product (one side of C only a few wide) goes to OpenBLAS in pieces small enough
        // for its unpacked kernels; see ``smallProductLimit``.
        let narrow = min(m, n)
        let piece = smallProductLimit / (narrow * k) / 16 * 16
        guard m * n * k > smallProductLimit, piece >= 16 else {
            _cblasSgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        var start = 0
        while start < max(m, n) {
            let end = min(max(m, n), start + piece)
            if m >= n {
                _cblasSgemm(transposeA, transposeB, end - start, n, k, alpha,
                            a + (transposeA ? start : start * lda), lda, b, ldb, beta, c + start * ldc, ldc)
            } else {
                _cblasSgemm(transposeA, transposeB, m, end - start, k, alpha,
                            a, lda, b + (transposeB ? start * ldb : start), ldb, beta, c + start, ldc)
            }
            start = end
        }
    }

    /// The most multiply-adds OpenBLAS computes without packing its operands.
    ///
    /// OpenBLAS (0.3.16 and later, built with `SMALL_MATRIX_OPT` as Debian's
    /// is) multiplies products of at most 100³ multiply-adds with kernels that
    /// read A and B where they lie, on CPUs it has them for (AVX-512); a larger
    /// product first copies both operands into blocks. When one side of C is
    /// narrow, that copy of the wide operand costs as much as the product:
    /// scoring 10,000 samples with a 784 → 10 layer takes 5.9–7.8 ms as one
    /// call and 3.1 ms as 112-row pieces (one core of an AMD EPYC for which
    /// OpenBLAS picks its Cooper Lake kernels; the 512-sample probe
    /// 0.167 → 0.076 ms). With other kernels
    /// (`OPENBLAS_CORETYPE=Haswell` or `Zen`) the pieces cost what one call
    /// does. Each piece sums over all of `k`, and the pieces depend on the
    /// shape alone, so a product gives the same bits on every call.
    static let smallProductLimit = 100 * 100 * 100

    private static func _cblasSgemm(
        _ transposeA: Bool, _ transposeB: Bool,
        _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int,
        _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb),
            beta, c, Int32(ldc))
    }
}
