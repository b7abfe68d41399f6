import MeshTensor
import Testing
@testable import MeshNN

/// `Conv2D`'s image-by-image kernels against a direct convolution written
/// from the definition, and the properties its speed-ups rely on.
@Suite(.serialized)
struct Conv2DTests {
    struct Shape: CustomTestStringConvertible, Sendable {
        var batch: Int, inChannels: Int, outChannels: Int, height: Int, width: Int
        var kernel: Int, stride: Int, padding: Int, bias: Bool
        var testDescription: String {
            "n\(batch) c\(inChannels)→\(outChannels) \(height)x\(width) k\(kernel) s\(stride) p\(padding)\(bias ? "" : " no bias")"
        }
    }

    static let shapes: [Shape] = [
        // Size-keeping (the fast unfold/fold path), batch not a multiple of the gradient group.
        Shape(batch: 11, inChannels: 3, outChannels: 4, height: 9, width: 7, kernel: 5, stride: 1, padding: 2, bias: true),
        Shape(batch: 17, inChannels: 2, outChannels: 5, height: 6, width: 6, kernel: 3, stride: 1, padding: 1, bias: false),
        Shape(batch: 2, inChannels: 4, outChannels: 3, height: 5, width: 8, kernel: 1, stride: 1, padding: 0, bias: true),
        // The general path: no padding, stride 2, padding wider than the image.
        Shape(batch: 9, inChannels: 2, outChannels: 3, height: 8, width: 7, kernel: 3, stride: 1, padding: 0, bias: true),
        Shape(batch: 3, inChannels: 3, outChannels: 2, height: 9, width: 9, kernel: 3, stride: 2, padding: 1, bias: true),
        Shape(batch: 2, inChannels: 1, outChannels: 2, height: 2, width: 2, kernel: 5, stride: 1, padding: 2, bias: true),
    ]

    static func make(_ s: Shape, seed: UInt64 = 1) -> (Conv2D, Tensor, Tensor) {
        var g = SeededGenerator(seed: seed)
        let layer = Conv2D(inChannels: s.inChannels, outChannels: s.outChannels, kernel: s.kernel, stride: s.stride,
                           padding: s.padding, bias: s.bias, name: "0", generator: &g)
        let x = Tensor(shape: [s.batch, s.inChannels, s.height, s.width]) { _ in g.nextNormal() }
        let oh = (s.height + 2 * s.padding - s.kernel) / s.stride + 1
        let ow = (s.width + 2 * s.padding - s.kernel) / s.stride + 1
        let dy = Tensor(shape: [s.batch, s.outChannels, oh, ow]) { _ in g.nextNormal() }
        return (layer, x, dy)
    }

    /// Forward, input gradient, weight and bias gradients by direct summation in Double.
    static func reference(_ s: Shape, _ layer: Conv2D, _ x: Tensor, _ dy: Tensor) -> (y: [Double], dx: [Double], dw: [Double], db: [Double]) {
        let oh = dy.shape[2], ow = dy.shape[3], k = s.kernel
        var y = [Double](repeating: 0, count: dy.count)
        var dx = [Double](repeating: 0, count: x.count)
        var dw = [Double](repeating: 0, count: layer.weight.value.count)
        var db = [Double](repeating: 0, count: s.outChannels)
        let w = layer.weight.value.scalars, xs = x.scalars, dys = dy.scalars
        for n in 0..<s.batch {
            for o in 0..<s.outChannels {
                for i in 0..<oh {
                    for j in 0..<ow {
                        let out = ((n * s.outChannels + o) * oh + i) * ow + j
                        var total = Double(layer.bias?.value.scalars[o] ?? 0)
                        db[o] += Double(dys[out])
                        for c in 0..<s.inChannels {
                            for ki in 0..<k {
                                for kj in 0..<k {
                                    let ih = i * s.stride - s.padding + ki, iw = j * s.stride - s.padding + kj
                                    guard ih >= 0, ih < s.height, iw >= 0, iw < s.width else { continue }
                                    let xi = ((n * s.inChannels + c) * s.height + ih) * s.width + iw
                                    let wi = ((o * s.inChannels + c) * k + ki) * k + kj
                                    total += Double(w[wi]) * Double(xs[xi])
                                    dx[xi] += Double(w[wi]) * Double(dys[out])
                                    dw[wi] += Double(xs[xi]) * Double(dys[out])
                                }
                            }
                        }
                        y[out] = total
                    }
                }
            }
        }
        return (y, dx, dw, db)
    }

    static func close(_ a: [Float], _ b: [Double], tolerance: Double = 1e-4) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs(Double($0) - $1) <= tolerance * max(1, abs($1)) }
    }

    @Test("forward and backward match a direct convolution", arguments: shapes)
    func matchesDirectConvolution(_ s: Shape) {
        let (layer, x, dy) = Self.make(s)
        let y = layer.forward(x, training: true)
        let dx = layer.backward(dy)
        let expected = Self.reference(s, layer, x, dy)
        #expect(y.shape == dy.shape)
        #expect(Self.close(y.scalars, expected.y))
        #expect(Self.close(dx.scalars, expected.dx))
        #expect(Self.close(layer.weight.gradient.scalars, expected.dw))
        if let bias = layer.bias { #expect(Self.close(bias.gradient.scalars, expected.db)) }
    }

    @Test("gradients accumulate over backward calls", arguments: [shapes[0]])
    func gradientsAccumulate(_ s: Shape) {
        let (layer, x, dy) = Self.make(s)
        _ = layer.forward(x, training: true)
        _ = layer.backward(dy)
        let once = layer.weight.gradient.scalars
        _ = layer.backward(dy)
        #expect(zip(layer.weight.gradient.scalars, once).allSatisfy { abs($0 - 2 * $1) <= 1e-5 * max(1, abs($1)) })
    }

    @Test("a first layer's skipped input gradient leaves the parameter gradients bit for bit", arguments: shapes)
    func inputGradientSkipKeepsParameterGradients(_ s: Shape) {
        let (full, x, dy) = Self.make(s)
        let (skipping, _, _) = Self.make(s)
        skipping.computesInputGradient = false
        _ = full.forward(x, training: true)
        _ = skipping.forward(x, training: true)
        #expect(full.backward(dy).shape == x.shape)
        #expect(skipping.backward(dy).count == 0)
        for (a, b) in zip(full.parameters, skipping.parameters) {
            #expect(a.gradient.scalars.map(\.bitPattern) == b.gradient.scalars.map(\.bitPattern))
        }
    }

    @Test("outputs and gradients are bitwise the same for 1, 2 and 3 workers", arguments: [
        shapes[0],
        Shape(batch: 13, inChannels: 3, outChannels: 8, height: 12, width: 12, kernel: 3, stride: 2, padding: 1, bias: true),
    ])
    func workerCountDoesNotChangeBits(_ s: Shape) {
        func run(workers: Int) -> [[UInt32]] {
            let previous = Parallel.workers
            Parallel.workers = workers
            defer { Parallel.workers = previous }
            let (layer, x, dy) = Self.make(s)
            let y = layer.forward(x, training: true)
            let dx = layer.backward(dy)
            return [y.scalars, dx.scalars, layer.weight.gradient.scalars, layer.bias?.gradient.scalars ?? []]
                .map { $0.map(\.bitPattern) }
        }
        // Large enough that the work really is split.
        let one = run(workers: 1)
        #expect(run(workers: 2) == one)
        #expect(run(workers: 3) == one)
    }

    @Test func evaluationForwardNeedsNoTrainingState() {
        let (layer, x, _) = Self.make(Self.shapes[0])
        let y = layer.forward(x, training: false)
        let expected = Self.reference(Self.shapes[0], layer, x, Tensor(zeros: y.shape))
        #expect(Self.close(y.scalars, expected.y))
    }
}
