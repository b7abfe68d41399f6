import Testing
@testable import MeshTensor

struct TensorTests {
    @Test func shapeAndIndexing() {
        var t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(t[1, 2] == 6)
        #expect(t.count == 6 && t.rank == 2)
        t[0, 1] = 9
        #expect(t.scalars == [1, 9, 3, 4, 5, 6])
        #expect(t.reshaped([3, 2])[2, 1] == 6)
        #expect(t.slice(rows: 1..<2).scalars == [4, 5, 6])
    }

    @Test func elementwiseArithmetic() {
        let a = Tensor(shape: [3], scalars: [1, 2, 3])
        let b = Tensor(shape: [3], scalars: [4, 5, 6])
        #expect((a + b).scalars == [5, 7, 9])
        #expect((b - a).scalars == [3, 3, 3])
        #expect((a * b).scalars == [4, 10, 18])
        #expect((a * 2).scalars == [2, 4, 6])
        var c = a
        c.addScaled(b, by: 0.5)
        #expect(c.scalars == [3, 4.5, 6])
        #expect(a.map { $0 * $0 }.scalars == [1, 4, 9])
    }

    @Test func reductions() {
        let t = Tensor(shape: [2, 3], scalars: [1, -2, 3, 4, 5, -6])
        #expect(t.sum() == 5)
        #expect(t.max() == 5 && t.min() == -6)
        #expect(t.sumOfSquares() == 91)
        #expect(t.columnSums().scalars == [5, 3, -3])
        #expect(t.argmaxRows() == [2, 1])
        #expect(abs(t.mean() - 5.0 / 6) < 1e-7)
    }

    @Test func finiteness() {
        #expect(Tensor(shape: [2], scalars: [1, 2]).isFinite)
        #expect(!Tensor(shape: [2], scalars: [1, .nan]).isFinite)
        #expect(!Tensor(shape: [2], scalars: [.infinity, 2]).isFinite)
    }

    @Test func softmaxRowsSumToOneAndMatchLogSoftmax() {
        let t = Tensor(shape: [2, 4], scalars: [1, 2, 3, 4, 1000, 1000, 1000, 1000])
        let s = t.softmaxRows()
        #expect(abs(s.slice(rows: 0..<1).sum() - 1) < 1e-6)
        #expect(s.slice(rows: 1..<2).scalars.allSatisfy { abs($0 - 0.25) < 1e-6 })
        let l = t.logSoftmaxRows()
        for i in 0..<8 { #expect(abs(exp(l.scalars[i]) - s.scalars[i]) < 1e-6) }
    }

    static func naiveMatmul(_ a: Tensor, _ b: Tensor, _ ta: Bool, _ tb: Bool) -> Tensor {
        let m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1]
        let n = tb ? b.shape[0] : b.shape[1]
        var c = Tensor(zeros: [m, n])
        for i in 0..<m {
            for j in 0..<n {
                var total: Float = 0
                for p in 0..<k { total += (ta ? a[p, i] : a[i, p]) * (tb ? b[j, p] : b[p, j]) }
                c[i, j] = total
            }
        }
        return c
    }

    @Test("matmul with every transpose", arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmul(_ transposes: (Bool, Bool)) {
        let (ta, tb) = transposes
        var g = SeededGenerator(seed: 5)
        let a = Tensor(shape: ta ? [7, 5] : [5, 7]) { _ in g.nextNormal() }
        let b = Tensor(shape: tb ? [3, 7] : [7, 3]) { _ in g.nextNormal() }
        let c = Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
        #expect(c.shape == [5, 3])
        #expect(c.isClose(to: Self.naiveMatmul(a, b, ta, tb), absolute: 1e-5, relative: 1e-5))
    }

    @Test func gemmAccumulatesWithBeta() {
        let a = Tensor(shape: [1, 2], scalars: [1, 2])
        let b = Tensor(shape: [2, 1], scalars: [3, 4])
        var c = Tensor(shape: [1, 1], scalars: [10])
        Tensor.gemm(a, b, into: &c, alpha: 2, beta: 0.5)
        #expect(c.scalars == [2 * 11 + 5])
    }

    @Test func addRowVectorAndTranspose() {
        var t = Tensor(shape: [2, 3], scalars: [0, 0, 0, 1, 1, 1])
        t.addRowVector(Tensor(shape: [3], scalars: [1, 2, 3]))
        #expect(t.scalars == [1, 2, 3, 2, 3, 4])
        #expect(t.transposed().scalars == [1, 2, 2, 3, 3, 4])
    }

    /// Products large enough to be split over the workers (by rows when C is
    /// taller than wide, else by columns) still compute `op(a) · op(b)`.
    @Test("split matmul with every transpose", arguments: [(false, false), (true, false), (false, true), (true, true)])
    func splitMatmul(_ transposes: (Bool, Bool)) {
        let (ta, tb) = transposes
        var g = SeededGenerator(seed: 6)
        for (m, n, k) in [(70, 301, 60), (333, 45, 90)] {
            let a = Tensor(shape: ta ? [k, m] : [m, k]) { _ in g.nextNormal() }
            let b = Tensor(shape: tb ? [n, k] : [k, n]) { _ in g.nextNormal() }
            var expected = Self.naiveMatmul(a, b, ta, tb)
            expected.add(Tensor(repeating: 1, shape: [m, n]))
            for workers in [1, 2, 3] {
                let previous = Parallel.workers
                Parallel.workers = workers
                defer { Parallel.workers = previous }
                var c = Tensor(repeating: 1, shape: [m, n])
                Tensor.gemm(a, b, into: &c, transposeA: ta, transposeB: tb, alpha: 1, beta: 1)
                #expect(c.isClose(to: expected, absolute: 1e-4, relative: 1e-4), "\(m)x\(n)x\(k), \(workers) workers")
            }
        }
    }

    /// A narrow product above OpenBLAS's small-matrix limit goes in pieces
    /// (rows of C when it is tall, columns when it is wide, the last piece
    /// ragged) and still computes `op(a) · op(b)` for every transpose.
    @Test("narrow matmul in pieces with every transpose", arguments: [(false, false), (true, false), (false, true), (true, true)])
    func narrowMatmulInPieces(_ transposes: (Bool, Bool)) {
        let (ta, tb) = transposes
        var g = SeededGenerator(seed: 7)
        // 1,000 × 10 × 300 = 3·10⁶ multiply-adds: pieces of 320, the fourth 40 wide.
        for (m, n, k) in [(1000, 10, 300), (10, 1000, 300)] {
            #expect(m * n * k > BLAS.smallProductLimit)
            let a = Tensor(shape: ta ? [k, m] : [m, k]) { _ in g.nextNormal() }
            let b = Tensor(shape: tb ? [n, k] : [k, n]) { _ in g.nextNormal() }
            var expected = Self.naiveMatmul(a, b, ta, tb)
            expected.scale(by: 0.5)
            expected.add(Tensor(repeating: 2, shape: [m, n]))
            var c = Tensor(repeating: 4, shape: [m, n])
            Tensor.gemm(a, b, into: &c, transposeA: ta, transposeB: tb, alpha: 0.5, beta: 0.5)
            #expect(c.isClose(to: expected, absolute: 1e-4, relative: 1e-4), "\(m)x\(n)x\(k)")
        }
    }

    @Test func blasThreadsAreSettable() {
        let before = BLAS.threads
        BLAS.setThreads(1)
        #expect(BLAS.threads == 1)
        BLAS.setThreads(before)
    }
}

#if canImport(Glibc)
import Glibc
#endif
