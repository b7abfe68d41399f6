import MeshLearning
import MeshTensor
import Testing

struct FedAvgTests {
    let global = ["0.weight": Tensor(zeros: [2]), "0.bias": Tensor(zeros: [1])]

    func update(_ client: String, _ w: [Float], _ b: Float, samples: Int) -> ClientUpdate {
        ClientUpdate(client: client, weights: ["0.weight": Tensor(shape: [2], scalars: w),
                                               "0.bias": Tensor(shape: [1], scalars: [b])],
                     sampleCount: samples)
    }

    @Test func sampleWeightedMean() throws {
        let next = try FedAvg().aggregate(global: global, updates: [
            update("a", [1, 2], 3, samples: 100),
            update("b", [4, 8], 0, samples: 300),
        ])
        // (100·1 + 300·4)/400 = 3.25, (100·2 + 300·8)/400 = 6.5, 100·3/400 = 0.75
        #expect(next["0.weight"]!.scalars == [3.25, 6.5])
        #expect(next["0.bias"]!.scalars == [0.75])
    }

    @Test func refusesMismatchedShapes() {
        var bad = update("b", [1, 2], 0, samples: 10)
        bad.weights["0.weight"] = Tensor(zeros: [3])
        #expect(throws: AggregationError.self) {
            try FedAvg().aggregate(global: global, updates: [update("a", [1, 2], 0, samples: 10), bad])
        }
    }

    @Test func refusesEmptyRoundAndZeroSamples() {
        #expect(throws: AggregationError.self) { try FedAvg().aggregate(global: global, updates: []) }
        #expect(throws: AggregationError.self) {
            try FedAvg().aggregate(global: global, updates: [update("a", [1, 2], 0, samples: 0)])
        }
    }
}
