import MeshLearning
import MeshNN
import MeshTensor
import Testing

struct RobustStrategyTests {
    let global = ["w": Tensor(zeros: [3])]

    func update(_ client: String, _ values: [Float], samples: Int = 10) -> ClientUpdate {
        ClientUpdate(client: client, weights: ["w": Tensor(shape: [3], scalars: values)], sampleCount: samples)
    }

    @Test func medianTakesTheMiddleValuePerCoordinate() throws {
        let odd = try CoordinateMedian().aggregate(global: global, updates: [
            update("a", [1, 9, -1]), update("b", [2, 8, 100]), update("c", [1000, 7, 0]),
        ])
        #expect(odd["w"]!.scalars == [2, 8, 0])
        let even = try CoordinateMedian().aggregate(global: global, updates: [
            update("a", [1, 2, 3]), update("b", [3, 4, 5]), update("c", [5, 6, 7]), update("d", [7, 8, 9]),
        ])
        #expect(even["w"]!.scalars == [4, 5, 6])
    }

    @Test func trimmedMeanDropsTheExtremes() throws {
        let updates = [update("a", [1, 1, 1]), update("b", [2, 2, 2]), update("c", [3, 3, 3]),
                       update("d", [4, 4, 4]), update("e", [-1e6, 1e6, 5])]
        let trimmed = try TrimmedMean(trimFraction: 0.2).aggregate(global: global, updates: updates)
        // Trim one from each end: (1+2+3)/3, (2+3+4)/3, (2+3+4)/3.
        #expect(trimmed["w"]!.scalars == [2, 3, 3])
        let plain = try TrimmedMean(trimFraction: 0).aggregate(global: global, updates: Array(updates.prefix(4)))
        #expect(plain["w"]!.scalars == [2.5, 2.5, 2.5])
    }

    @Test func krumPicksAnUpdateFromTheHonestCluster() throws {
        var updates = (0..<5).map { update("honest-\($0)", [Float($0) * 0.01, 1, 1]) }
        updates.insert(update("attacker-0", [50, -50, 50]), at: 1)
        updates.append(update("attacker-1", [60, -40, 50]))
        let krum = Krum(byzantine: 2)
        let chosen = try krum.select(global: global, updates: updates)
        #expect(chosen.count == 1)
        #expect(updates[chosen[0]].client.hasPrefix("honest"))
        let multi = try Krum(byzantine: 2, selected: 3).select(global: global, updates: updates)
        #expect(multi.allSatisfy { updates[$0].client.hasPrefix("honest") })
        #expect(throws: AggregationError.self) { try Krum(byzantine: 3).aggregate(global: global, updates: updates) }
    }

    @Test func robustStrategiesRefuseNaN() {
        let updates = [update("a", [1, 2, 3]), update("b", [.nan, 2, 3]), update("c", [1, 2, 3]), update("d", [1, 2, 3])]
        let strategies: [any Strategy] = [CoordinateMedian(), TrimmedMean(), Krum(byzantine: 0)]
        for strategy in strategies {
            #expect(throws: AggregationError.self) { try strategy.aggregate(global: global, updates: updates) }
        }
    }

    /// Eight honest Fashion-MNIST updates and two attackers sending huge noise: FedAvg is wrecked,
    /// the robust strategies keep a model better than the starting one.
    @Test func robustStrategiesSurviveAttackersOnRealUpdates() throws {
        let pool = Fixtures.samples(0..<800)
        let parts = try Partitioner.iid.partition(labels: pool.labels, classCount: 10, clients: 8, seed: 3)
        let global = Fixtures.weights(Fixtures.mlp, seed: 1)
        var updates: [ClientUpdate] = []
        for (shard, indices) in parts.enumerated() {
            let task = TrainingTask(spec: Fixtures.mlp, weights: global, data: pool.subset(indices),
                                    seed: TrainingTask.seed(job: 1, round: 0, shard: shard), epochs: 1, batchSize: 20,
                                    learningRate: 0.05, checkpointEvery: 10)
            updates.append(try LocalTraining.run(task).update(client: "honest-\(shard)"))
        }
        for attacker in 0..<2 {
            updates.append(ClientUpdate(client: "attacker-\(attacker)",
                                        weights: Fixtures.perturbed(global, sigma: 5, seed: UInt64(attacker)), sampleCount: 100))
        }
        let held = Fixtures.samples(8000..<8500)
        let before = UpdateVerifier.validationLoss(of: global, spec: Fixtures.mlp, on: held)
        let averaged = UpdateVerifier.validationLoss(of: try FedAvg().aggregate(global: global, updates: updates),
                                                     spec: Fixtures.mlp, on: held)
        #expect(averaged > before)
        let strategies: [any Strategy] = [CoordinateMedian(), TrimmedMean(trimFraction: 0.2), Krum(byzantine: 2),
                                          Krum(byzantine: 2, selected: 4)]
        for strategy in strategies {
            let loss = UpdateVerifier.validationLoss(of: try strategy.aggregate(global: global, updates: updates),
                                                     spec: Fixtures.mlp, on: held)
            #expect(loss < before, "\(strategy.name): \(loss) vs \(before)")
        }
    }
}
