import Testing
@testable import MeshTensor

struct Im2ColTests {
    @Test func unfoldsA3x3ImageWithPadding() {
        // One 3x3 image, 3x3 kernel, padding 1: the centre patch is the image itself.
        let image: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let g = ConvGeometry(batch: 1, channels: 1, height: 3, width: 3, kernel: 3, stride: 1, padding: 1)
        var columns = [Float](repeating: -1, count: g.patchSize * g.patchCount)
        image.withUnsafeBufferPointer { x in
            columns.withUnsafeMutableBufferPointer { c in Im2Col.unfold(x.baseAddress!, geometry: g, into: c.baseAddress!) }
        }
        // Column 4 (output position (1,1)) holds the full image.
        let centre = (0..<9).map { columns[$0 * 9 + 4] }
        #expect(centre == image)
        // Column 0 (output (0,0)): top-left patch, zero-padded above and left.
        let corner = (0..<9).map { columns[$0 * 9 + 0] }
        #expect(corner == [0, 0, 0, 0, 1, 2, 0, 4, 5])
    }

    /// `fold` is the adjoint of `unfold`: ⟨unfold(x), c⟩ = ⟨x, fold(c)⟩.
    @Test("fold is the adjoint of unfold", arguments: [
        ConvGeometry(batch: 2, channels: 3, height: 6, width: 5, kernel: 3, stride: 1, padding: 1),
        ConvGeometry(batch: 1, channels: 2, height: 7, width: 7, kernel: 3, stride: 2, padding: 0),
        ConvGeometry(batch: 2, channels: 1, height: 5, width: 5, kernel: 5, stride: 1, padding: 2),
        ConvGeometry(batch: 1, channels: 1, height: 4, width: 6, kernel: 2, stride: 2, padding: 1),
    ])
    func adjoint(_ g: ConvGeometry) {
        var rng = SeededGenerator(seed: 8)
        let x = (0..<(g.batch * g.channels * g.height * g.width)).map { _ in rng.nextNormal() }
        let c = (0..<(g.patchSize * g.patchCount)).map { _ in rng.nextNormal() }
        var unfolded = [Float](repeating: 0, count: c.count)
        var folded = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            unfolded.withUnsafeMutableBufferPointer { u in Im2Col.unfold(xp.baseAddress!, geometry: g, into: u.baseAddress!) }
        }
        c.withUnsafeBufferPointer { cp in
            folded.withUnsafeMutableBufferPointer { f in Im2Col.fold(cp.baseAddress!, geometry: g, into: f.baseAddress!) }
        }
        let lhs = zip(unfolded, c).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let rhs = zip(x, folded).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(lhs - rhs) < 1e-3 * max(1, abs(lhs)))
    }
}

extension Im2ColTests {
    /// The per-image kernels (with their block-copy path for size-keeping
    /// geometries) give what the batched kernels give for a batch of one.
    @Test("unfoldImage and foldImage match unfold and fold", arguments: [
        ConvGeometry(batch: 1, channels: 3, height: 9, width: 7, kernel: 5, stride: 1, padding: 2),
        ConvGeometry(batch: 1, channels: 2, height: 6, width: 6, kernel: 3, stride: 1, padding: 1),
        ConvGeometry(batch: 1, channels: 2, height: 4, width: 5, kernel: 1, stride: 1, padding: 0),
        ConvGeometry(batch: 1, channels: 1, height: 2, width: 3, kernel: 5, stride: 1, padding: 2),
        ConvGeometry(batch: 1, channels: 2, height: 7, width: 7, kernel: 3, stride: 2, padding: 1),
        ConvGeometry(batch: 1, channels: 2, height: 6, width: 5, kernel: 3, stride: 1, padding: 0),
    ])
    func perImageKernels(_ g: ConvGeometry) {
        var rng = SeededGenerator(seed: 12)
        let x = (0..<(g.channels * g.height * g.width)).map { _ in rng.nextNormal() }
        let c = (0..<(g.patchSize * g.patchCount)).map { _ in rng.nextNormal() }
        var batched = [Float](repeating: .nan, count: c.count), single = batched
        x.withUnsafeBufferPointer { xp in
            batched.withUnsafeMutableBufferPointer { Im2Col.unfold(xp.baseAddress!, geometry: g, into: $0.baseAddress!) }
            single.withUnsafeMutableBufferPointer { Im2Col.unfoldImage(xp.baseAddress!, geometry: g, into: $0.baseAddress!) }
        }
        #expect(single == batched)
        let start = (0..<x.count).map { _ in rng.nextNormal() }
        var foldedBatched = start, foldedSingle = start
        var scratch = c
        c.withUnsafeBufferPointer { cp in
            foldedBatched.withUnsafeMutableBufferPointer { Im2Col.fold(cp.baseAddress!, geometry: g, into: $0.baseAddress!) }
        }
        scratch.withUnsafeMutableBufferPointer { cp in
            foldedSingle.withUnsafeMutableBufferPointer { Im2Col.foldImage(cp.baseAddress!, geometry: g, into: $0.baseAddress!) }
        }
        #expect(foldedSingle == foldedBatched)
    }
}

struct SeededGeneratorTests {
    @Test func sameSeedSameSequence() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let sa = (0..<8).map { _ in a.next() }
        #expect(sa == (0..<8).map { _ in b.next() })
        #expect(sa != (0..<8).map { _ in c.next() })
    }

    @Test func streamsDiffer() {
        var a = SeededGenerator(seed: 1, stream: 0, 1), b = SeededGenerator(seed: 1, stream: 1, 0)
        #expect(a.next() != b.next())
    }

    @Test func uniformAndNormalMoments() {
        var g = SeededGenerator(seed: 7)
        let u = (0..<20_000).map { _ in Double(g.nextUniform()) }
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(abs(u.reduce(0, +) / 20_000 - 0.5) < 0.01)
        let z = (0..<20_000).map { _ in Double(g.nextNormal()) }
        let mean = z.reduce(0, +) / 20_000
        let variance = z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 20_000
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
    }

    @Test func permutationIsAPermutation() {
        var g = SeededGenerator(seed: 3)
        let p = g.permutation(1000)
        #expect(p.sorted() == Array(0..<1000))
        #expect(p != Array(0..<1000))
    }
}

struct ParallelTests {
    /// Splitting unfold/fold over workers must not change a single bit.
    @Test func workerCountDoesNotChangeResults() {
        let g = ConvGeometry(batch: 4, channels: 8, height: 16, width: 16, kernel: 3, stride: 1, padding: 1)
        var rng = SeededGenerator(seed: 21)
        let x = (0..<(g.batch * g.channels * g.height * g.width)).map { _ in rng.nextNormal() }
        let c = (0..<(g.patchSize * g.patchCount)).map { _ in rng.nextNormal() }
        func run(workers: Int) -> ([Float], [Float]) {
            let previous = Parallel.workers
            Parallel.workers = workers
            defer { Parallel.workers = previous }
            var unfolded = [Float](repeating: 0, count: c.count)
            var folded = [Float](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { xp in
                unfolded.withUnsafeMutableBufferPointer { Im2Col.unfold(xp.baseAddress!, geometry: g, into: $0.baseAddress!) }
            }
            c.withUnsafeBufferPointer { cp in
                folded.withUnsafeMutableBufferPointer { Im2Col.fold(cp.baseAddress!, geometry: g, into: $0.baseAddress!) }
            }
            return (unfolded, folded)
        }
        let one = run(workers: 1), two = run(workers: 2), three = run(workers: 3)
        #expect(one.0.map(\.bitPattern) == two.0.map(\.bitPattern) && one.0 == three.0)
        #expect(one.1.map(\.bitPattern) == two.1.map(\.bitPattern) && one.1 == three.1)
        var called: [Range<Int>] = []
        Parallel.forEachChunk(of: 10, minimumWork: 1) { called.append($0) }
        #expect(called == [0..<10])  // below the threshold: one chunk on the caller
    }
}
