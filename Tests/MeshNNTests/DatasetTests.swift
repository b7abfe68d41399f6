import MeshTensor
import Testing
@testable import MeshNN

struct DatasetTests {
    static func toy(_ n: Int = 6) -> Dataset {
        Dataset(features: Tensor(shape: [n, 1, 2, 2], generating: { Float($0) }),
                labels: (0..<n).map { Int32($0 % 3) }, classCount: 3)
    }

    @Test func shapesAndCounts() {
        let data = Self.toy()
        #expect(data.count == 6 && data.sampleShape == [1, 2, 2] && data.sampleSize == 4)
        #expect(data.labelCounts() == [2, 2, 2])
    }

    @Test func batchGathersSamplesInOrder() {
        let data = Self.toy()
        let order = [5, 0, 3, 3]
        let (x, y) = data.batch(order[1...])
        #expect(x.shape == [3, 1, 2, 2])
        #expect(x.scalars == [0, 1, 2, 3, 12, 13, 14, 15, 12, 13, 14, 15])
        #expect(y == [0, 0, 0])
        let (empty, none) = data.batch([Int]()[...])
        #expect(empty.shape == [0, 1, 2, 2] && none.isEmpty)
    }

    @Test func rangeBatchesMatchGatheredOnes() {
        let data = Self.toy()
        for range in [0..<6, 1..<4, 5..<6, 2..<2] {
            let (x, y) = data.batch(range: range)
            let (gathered, labels) = data.batch(Array(range)[...])
            #expect(x == gathered && y == labels, "\(range)")
        }
        let (all, _) = data.batch(range: 0..<6)
        #expect(all == data.features)
    }

    @Test func batchIntoReusesBuffers() {
        let data = Self.toy()
        var x = Tensor(zeros: [1])
        var y: [Int32] = []
        data.batch([1, 2][...], into: &x, labels: &y)
        #expect(x.shape == [2, 1, 2, 2] && x.scalars == [4, 5, 6, 7, 8, 9, 10, 11] && y == [1, 2])
        data.batch([4, 5][...], into: &x, labels: &y)
        #expect(x.scalars == [16, 17, 18, 19, 20, 21, 22, 23] && y == [1, 2])
        data.batch([0][...], into: &x, labels: &y)
        #expect(x.shape == [1, 1, 2, 2] && y == [0])
    }

    @Test func subsetKeepsClasses() {
        let sub = Self.toy().subset([4, 1])
        #expect(sub.count == 2 && sub.classCount == 3 && sub.labels == [1, 1])
        #expect(sub.features.scalars == [16, 17, 18, 19, 4, 5, 6, 7])
    }

    @Test func standardization() {
        var data = Dataset(features: Tensor(shape: [2, 2], scalars: [1, 3, 5, 7]), labels: [0, 1], classCount: 2)
        let stats = data.featureStatistics()
        #expect(stats.mean == 4)
        #expect(abs(stats.std - Float(5).squareRoot()) < 1e-6)
        data.standardize(Normalization(mean: 4, std: 2))
        #expect(data.features.scalars == [-1.5, -0.5, 0.5, 1.5])
        let constant = Dataset(features: Tensor(repeating: 2, shape: [3, 1]), labels: [0, 0, 0], classCount: 1)
        #expect(constant.featureStatistics() == Normalization(mean: 2, std: 1))
        let standardized = Self.toy().standardized(Self.toy().featureStatistics())
        let after = standardized.featureStatistics()
        #expect(abs(after.mean) < 1e-6 && abs(after.std - 1) < 1e-5)
    }
}
