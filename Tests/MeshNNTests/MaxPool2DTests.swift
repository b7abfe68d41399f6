import MeshTensor
import Testing
@testable import MeshNN

/// `MaxPool2D` (with its unrolled 2×2 path) against the definition.
struct MaxPool2DTests {
    /// Max and first-in-scan-order argmax per window, NaNs never winning.
    static func reference(_ x: Tensor, kernel k: Int, stride s: Int) -> (values: [Float], argmax: [Int]) {
        let (planes, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        let oh = (h - k) / s + 1, ow = (w - k) / s + 1
        var values: [Float] = [], argmax: [Int] = []
        for plane in 0..<planes {
            for i in 0..<oh {
                for j in 0..<ow {
                    var best = -Float.infinity, index = plane * h * w + (i * s) * w + j * s
                    for di in 0..<k {
                        for dj in 0..<k {
                            let at = plane * h * w + (i * s + di) * w + j * s + dj
                            if x.scalars[at] > best { best = x.scalars[at]; index = at }
                        }
                    }
                    values.append(best)
                    argmax.append(index)
                }
            }
        }
        return (values, argmax)
    }

    @Test("forward and backward match the definition", arguments: [(2, 2), (3, 2), (2, 1), (3, 3)])
    func matchesDefinition(_ window: (Int, Int)) {
        let (k, s) = window
        var g = SeededGenerator(seed: 4)
        // Odd sizes (rows and columns left over), ties, and NaNs.
        var x = Tensor(shape: [3, 5, 9, 7]) { _ in (g.nextNormal() * 2).rounded() / 2 }
        x.scalars[3] = .nan
        x.scalars[10] = .nan
        let layer = MaxPool2D(kernel: k, stride: s)
        let y = layer.forward(x, training: true)
        let expected = Self.reference(x, kernel: k, stride: s)
        #expect(y.scalars.map(\.bitPattern) == expected.values.map(\.bitPattern))
        let dy = Tensor(shape: y.shape) { _ in g.nextNormal() }
        let dx = layer.backward(dy)
        var expectedDx = [Float](repeating: 0, count: x.count)
        for (o, index) in expected.argmax.enumerated() { expectedDx[index] += dy.scalars[o] }
        #expect(dx.shape == x.shape)
        #expect(dx.scalars == expectedDx)
        // Evaluation does not need (or touch) the training state.
        #expect(MaxPool2D(kernel: k, stride: s).forward(x, training: false).scalars.map(\.bitPattern)
                == y.scalars.map(\.bitPattern))
    }
}
