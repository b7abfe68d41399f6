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
        let product = Product(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                              a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        guard parallel, Parallel.workers > 1, m * n * k >= minimumSplitWork else {
            _sgemm(product)
            return
        }
        _splitSgemm(product)
    }

    /// One call's operands: `C = alpha * op(A) * op(B) + beta * C` on row-major buffers.
    @usableFromInline
    struct Product {
        var transposeA: Bool, transposeB: Bool
        var m: Int, n: Int, k: Int
        var alpha: Float
        var a: UnsafePointer<Float>, lda: Int
        var b: UnsafePointer<Float>, ldb: Int
        var beta: Float
        var c: UnsafeMutablePointer<Float>, ldc: Int

        @usableFromInline
        init(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
             b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
            (self.transposeA, self.transposeB, self.m, self.n, self.k, self.alpha) = (transposeA, transposeB, m, n, k, alpha)
            (self.a, self.lda, self.b, self.ldb, self.beta, self.c, self.ldc) = (a, lda, b, ldb, beta, c, ldc)
        }

        /// C is split along its rows when it is taller than wide, else along its columns.
        var byRows: Bool { m >= n }

        /// The length of C along the side it is split on.
        var side: Int { byRows ? m : n }

        /// The product that writes rows (or columns) `range` of C: the same
        /// rows of op(A), or columns of op(B), against the whole other operand.
        func part(_ range: Range<Int>) -> Product {
            var part = self
            if byRows {
                part.m = range.count
                part.a = a + (transposeA ? range.lowerBound : range.lowerBound * lda)
                part.c = c + range.lowerBound * ldc
            } else {
                part.n = range.count
                part.b = b + (transposeB ? range.lowerBound * ldb : range.lowerBound)
                part.c = c + range.lowerBound
            }
            return part
        }
    }

    @usableFromInline
    static func _splitSgemm(_ product: Product) {
        // Chunks are whole multiples of 16 rows or columns (the width of
        // OpenBLAS's AVX-512 kernels), so only the last chunk has a ragged edge.
        let alignment = 16
        let side = product.side
        let blocks = (side + alignment - 1) / alignment
        Parallel.forEachChunk(of: blocks, minimumWork: Parallel.minimumSplitWork) { chunk in
            let start = chunk.lowerBound * alignment, end = min(side, chunk.upperBound * alignment)
            guard start < end else { return }
            _sgemm(product.part(start..<end))
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
    static func _sgemm(_ product: Product) {
        let (m, n, k) = (product.m, product.n, product.k)
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // C = beta * C
            for row in 0..<m {
                for col in 0..<n { product.c[row * product.ldc + col] *= product.beta }
            }
            return
        }
        _ = pinned
        // A narrow product (one side of C only a few wide) goes to OpenBLAS in pieces small enough
        // for its unpacked kernels; see ``smallProductLimit``.
        let piece = smallProductLimit / (min(m, n) * k) / 16 * 16
        guard m * n * k > smallProductLimit, piece >= 16 else {
            _cblasSgemm(product)
            return
        }
        for start in stride(from: 0, to: product.side, by: piece) {
            _cblasSgemm(product.part(start..<min(product.side, start + piece)))
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

    private static func _cblasSgemm(_ p: Product) {
        cblas_sgemm(
            CblasRowMajor,
            p.transposeA ? CblasTrans : CblasNoTrans,
            p.transposeB ? CblasTrans : CblasNoTrans,
            Int32(p.m), Int32(p.n), Int32(p.k),
            p.alpha, p.a, Int32(p.lda), p.b, Int32(p.ldb),
            p.beta, p.c, Int32(p.ldc))
    }
}
