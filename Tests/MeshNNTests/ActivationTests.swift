import MeshTensor
import Testing
@testable import MeshNN

struct ActivationTests {
    /// The eight-lane ReLU (and its tail) is `x > 0 ? x : 0`: NaN and -0 give +0.
    @Test func reluMatchesItsDefinition() {
        var g = SeededGenerator(seed: 5)
        var x = Tensor(shape: [3, 101]) { _ in g.nextNormal() }
        x.scalars[2] = .nan
        x.scalars[7] = -0.0
        x.scalars[300] = .nan
        let layer = Activation(.relu)
        let y = layer.forward(x, training: true)
        #expect(y.scalars.map(\.bitPattern) == x.scalars.map { ($0 > 0 ? $0 : 0).bitPattern })
        let dy = Tensor(shape: x.shape) { _ in g.nextNormal() }
        let dx = layer.backward(dy)
        #expect(dx.scalars.map(\.bitPattern) == zip(x.scalars, dy.scalars).map { ($0 > 0 ? $1 : 0).bitPattern })
    }
}
