import MeshLearning
import MeshNN
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

/// FedAvg on real Fashion-MNIST shards: what the federated job does, in one process.
struct FedAvgShardTests {
    @Test func oneRoundOverIIDShardsImprovesTheGlobalModel() throws {
        let pool = Fixtures.samples(0..<900)
        let parts = try Partitioner.iid.partition(labels: pool.labels, classCount: 10, clients: 3, seed: 4)
        let global = Fixtures.weights(Fixtures.mlp, seed: 1)
        var updates: [ClientUpdate] = []
        for (shard, indices) in parts.enumerated() {
            let task = TrainingTask(spec: Fixtures.mlp, weights: global, data: pool.subset(indices),
                                    seed: TrainingTask.seed(job: 9, round: 0, shard: shard), epochs: 1, batchSize: 32,
                                    learningRate: 0.05, checkpointEvery: 4)
            updates.append(try LocalTraining.run(task).update(client: "shard-\(shard)"))
        }
        #expect(updates.map(\.sampleCount) == [300, 300, 300])
        let next = try FedAvg().aggregate(global: global, updates: updates)
        let held = Fixtures.samples(7000..<8000)
        let before = UpdateVerifier.validationLoss(of: global, spec: Fixtures.mlp, on: held)
        let after = UpdateVerifier.validationLoss(of: next, spec: Fixtures.mlp, on: held)
        #expect(after < before * 0.8)
        // Equal shards: FedAvg is the plain mean.
        for (name, tensor) in next {
            let mean = (0..<tensor.count).map { i in updates.map { Double($0.weights[name]!.scalars[i]) }.reduce(0, +) / 3 }
            #expect(zip(tensor.scalars, mean).allSatisfy { abs(Double($0) - $1) < 1e-6 })
        }
    }
}
