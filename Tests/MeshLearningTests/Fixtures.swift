import MeshLearning
import MeshNN
import MeshTensor

/// Small real Fashion-MNIST tasks: a tiny MLP and a few hundred test-split samples.
enum Fixtures {
    /// The test split, loaded once (Debian's dataset-fashion-mnist; scripts/setup installs it).
    static let fashion: Dataset = {
        do { return try Dataset.fashionMNIST(split: .test) } catch { fatalError("\(error)") }
    }()

    static let mlp = ModelSpec(input: [1, 28, 28], layers: [.flatten, .dense(units: 32), .relu, .dense(units: 10)])
    static let dropoutMLP = ModelSpec(
        input: [1, 28, 28], layers: [.flatten, .dense(units: 32), .relu, .dropout(p: 0.2), .dense(units: 10)])

    static func weights(_ spec: ModelSpec, seed: UInt64) -> [String: Tensor] {
        let model = try! Sequential(spec: spec, seed: seed)
        return Dictionary(uniqueKeysWithValues: model.stateDict.map { ($0.name, $0.tensor) })
    }

    static func samples(_ range: Range<Int>) -> Dataset { fashion.subset(Array(range)) }

    /// 256 samples, batch 32, 2 epochs → 16 steps; checkpoints every 5 → boundaries 0, 5, 10, 15, 16.
    static func task(
        spec: ModelSpec = mlp, data: Dataset = samples(0..<256), seed: UInt64 = 11,
        optimizer: OptimizerKind = .sgd(momentum: 0.9)
    ) -> TrainingTask {
        TrainingTask(spec: spec, weights: weights(spec, seed: 1), data: data, seed: seed, epochs: 2, batchSize: 32,
                     learningRate: 0.05, optimizer: optimizer, checkpointEvery: 5)
    }

    /// `weights` plus N(0, σ²) noise on every value: what a cheating trainer sends.
    static func perturbed(_ weights: [String: Tensor], sigma: Float, seed: UInt64 = 77) -> [String: Tensor] {
        var generator = SeededGenerator(seed: seed)
        var out: [String: Tensor] = [:]
        for name in weights.keys.sorted() {
            let tensor = weights[name]!
            out[name] = Tensor(shape: tensor.shape, scalars: tensor.scalars.map { $0 + sigma * generator.nextNormal() })
        }
        return out
    }
}
