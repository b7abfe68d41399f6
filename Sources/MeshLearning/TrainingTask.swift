import Crypto
import Foundation
public import MeshNN
public import MeshTensor

/// One unit of federated work: train `spec` from `weights` on a data shard
/// with fixed settings. Everything that decides the trained bits is here, so a
/// verifier holding the same task re-executes it exactly (see
/// `docs/determinism.md`).
///
/// ```swift
/// let task = TrainingTask(spec: spec, weights: global, data: shard,
///                         seed: TrainingTask.seed(job: jobID, round: 2, shard: 5),
///                         epochs: 1, batchSize: 32, learningRate: 0.05, checkpointEvery: 20)
/// let result = try LocalTraining.run(task)
/// ```
public struct TrainingTask: Sendable {
    /// The model.
    public var spec: ModelSpec
    /// The starting (global) weights, by `state_dict` name.
    public var weights: [String: Tensor]
    /// The shard to train on.
    public var data: Dataset
    /// Seeds the shuffles and the dropout masks; derive it with ``seed(job:round:shard:)``.
    public var seed: UInt64
    /// Passes over the shard.
    public var epochs: Int
    /// Samples per mini-batch; the last batch of an epoch may be smaller.
    public var batchSize: Int
    /// The base learning rate.
    public var learningRate: Float
    /// The update rule.
    public var optimizer: OptimizerKind
    /// How the rate changes per epoch (epochs of this task, counted from 0).
    public var schedule: LearningRateSchedule
    /// Optimizer steps between transcript checkpoints (the segment length of re-execution).
    public var checkpointEvery: Int

    /// Creates a task.
    public init(
        spec: ModelSpec, weights: [String: Tensor], data: Dataset, seed: UInt64,
        epochs: Int = 1, batchSize: Int = 32, learningRate: Float = 0.05,
        optimizer: OptimizerKind = .sgd(momentum: 0.9), schedule: LearningRateSchedule = .constant,
        checkpointEvery: Int = 50
    ) {
        self.spec = spec
        self.weights = weights
        self.data = data
        self.seed = seed
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.optimizer = optimizer
        self.schedule = schedule
        self.checkpointEvery = checkpointEvery
    }

    /// The seed of task `(round, shard)` of a job: unrelated streams for
    /// neighbouring rounds and shards, the same on every machine.
    public static func seed(job: UInt64, round: Int, shard: Int) -> UInt64 {
        var generator = SeededGenerator(seed: job, stream: 0x7A5C, UInt64(truncatingIfNeeded: round),
                                        UInt64(truncatingIfNeeded: shard))
        return generator.next()
    }

    /// The seed of task `(round, shard)` of a job named by a string id (its
    /// SHA-256, first 8 bytes little-endian, seeds ``seed(job:round:shard:)``).
    public static func seed(job: String, round: Int, shard: Int) -> UInt64 {
        let digest = Array(SHA256.hash(data: Data(job.utf8)))
        let jobSeed = digest.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        return seed(job: jobSeed, round: round, shard: shard)
    }

    /// The trainer settings this task runs with.
    public var config: TrainingConfig {
        TrainingConfig(epochs: epochs, batchSize: batchSize, learningRate: learningRate,
                       optimizer: optimizer, schedule: schedule, seed: seed)
    }

    /// Optimizer steps of the whole task: `epochs × ⌈samples / batchSize⌉`.
    public var totalSteps: Int {
        epochs * ((data.count + max(1, batchSize) - 1) / max(1, batchSize))
    }

    /// The steps at which the training state is checkpointed: `0, k, 2k, …`
    /// and always `totalSteps` last. Segment `i` runs `boundaries[i]..<boundaries[i+1]`.
    public var boundaries: [Int] {
        let total = totalSteps
        var result = Array(stride(from: 0, to: total, by: max(1, checkpointEvery)))
        result.append(total)
        return result
    }

    /// Checks that the task can run.
    ///
    /// - Throws: ``VerificationError`` `.invalidTask` naming the field, or
    ///   `.mismatch` when the weights do not fit the spec.
    public func validate() throws {
        func fail(_ message: String) -> VerificationError { VerificationError(.invalidTask, "training task: \(message)") }
        guard epochs >= 1 else { throw fail("epochs is \(epochs); it must be at least 1") }
        guard batchSize >= 1 else { throw fail("batch size is \(batchSize); it must be at least 1") }
        guard checkpointEvery >= 1 else { throw fail("checkpointEvery is \(checkpointEvery); it must be at least 1 step") }
        guard learningRate.isFinite, learningRate > 0 else { throw fail("learning rate \(learningRate) must be a positive number") }
        guard data.count > 0 else { throw fail("the data shard is empty; give each task at least one sample") }
        guard data.sampleShape == spec.input else {
            throw fail("the shard's samples have shape \(data.sampleShape), the model's input is \(spec.input)")
        }
        do {
            _ = try Sequential(spec: spec, seed: 0, weights: weights, source: "training task weights")
        } catch {
            throw VerificationError(.mismatch, "training task: the starting weights do not fit the model", cause: error)
        }
    }

    /// Identifies the task: SHA-256 over the spec's canonical JSON, the
    /// ``WeightsDigest`` of the starting weights, the data (features, labels,
    /// classes) and every setting. Fraud evidence names the task by it.
    public var digest: WeightsDigest {
        var hasher = SHA256()
        func line(_ text: String) { hasher.update(data: Data((text + "\n").utf8)) }
        line("meshfl.task/1")
        hasher.update(data: spec.jsonData(pretty: false))
        line("")
        line("weights \(WeightsDigest(weights).hex)")
        line("data \(data.sampleShape) \(data.count) \(data.classCount)")
        data.features.withUnsafeBufferPointer { values in
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { hasher.update(bufferPointer: $0) } }
        }
        for label in data.labels { withUnsafeBytes(of: label.littleEndian) { hasher.update(bufferPointer: $0) } }
        line("seed \(seed) epochs \(epochs) batch \(batchSize) lr \(learningRate.bitPattern) every \(checkpointEvery)")
        line("optimizer \(Self.describe(optimizer))")
        line("schedule \(Self.describe(schedule))")
        return WeightsDigest(bytes: Array(hasher.finalize()))
    }

    static func describe(_ kind: OptimizerKind) -> String {
        switch kind {
        case let .sgd(momentum, nesterov, weightDecay):
            "sgd \(momentum.bitPattern) \(nesterov) \(weightDecay.bitPattern)"
        case let .adam(beta1, beta2, epsilon, weightDecay):
            "adam \(beta1.bitPattern) \(beta2.bitPattern) \(epsilon.bitPattern) \(weightDecay.bitPattern)"
        case let .adamW(beta1, beta2, epsilon, weightDecay):
            "adamw \(beta1.bitPattern) \(beta2.bitPattern) \(epsilon.bitPattern) \(weightDecay.bitPattern)"
        }
    }

    static func describe(_ schedule: LearningRateSchedule) -> String {
        switch schedule {
        case .constant: "constant"
        case let .step(stepSize, gamma): "step \(stepSize) \(gamma.bitPattern)"
        case let .cosine(period, minimum): "cosine \(period) \(minimum.bitPattern)"
        }
    }
}

extension WeightsDigest {
    init(bytes: [UInt8]) { self.bytes = bytes }
}
