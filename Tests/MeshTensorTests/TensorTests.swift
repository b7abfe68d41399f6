import Testing
@testable import MeshTensor

struct TensorTests {
    @Test func shapeAndIndexing() {
        let t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(t[1, 2] == 6)
        #expect(t.count == 6)
    }
}
