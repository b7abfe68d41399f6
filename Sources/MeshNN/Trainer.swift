public import MeshTensor

/// Settings of a training run.
public struct TrainingConfig: Sendable, Hashable {
    /// Passes over the data.
    public var epochs: Int
    /// Samples per mini-batch; the last batch of an epoch may be smaller.
    public var batchSize: Int
    /// The base learning rate.
    public var learningRate: Float
    /// The update rule.
    public var optimizer: OptimizerKind
    /// How the rate changes per epoch.
    public var schedule: LearningRateSchedule
    /// Seeds the per-epoch shuffles; with the same data, spec, initial weights
    /// and BLAS thread count, the trained weights are bitwise identical.
    public var seed: UInt64

    /// Creates a config; defaults follow common Fashion-MNIST practice.
    public init(
        epochs: Int = 1, batchSize: Int = 64, learningRate: Float = 0.05,
        optimizer: OptimizerKind = .sgd(momentum: 0.9), schedule: LearningRateSchedule = .constant, seed: UInt64 = 0
    ) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.optimizer = optimizer
        self.schedule = schedule
        self.seed = seed
    }
}

/// Progress of a training run, reported after every mini-batch.
public struct TrainingProgress: Sendable {
    /// 0-based epoch.
    public var epoch: Int
    /// Samples seen in this epoch so far.
    public var samplesSeen: Int
    /// Samples per epoch.
    public var samplesPerEpoch: Int
    /// Mean loss over this epoch's batches so far.
    public var meanLoss: Float
    /// Global step count.
    public var step: Int
}

/// Trains a ``Sequential`` on a ``Dataset`` with seeded shuffled mini-batches.
///
/// The trainer owns the optimizer, so its state (momentum, Adam moments)
/// carries across epochs. Epoch `e` visits the samples in the order of
/// `SeededGenerator(seed: config.seed, stream: 0xE90C, e).permutation(n)`.
///
/// ```swift
/// let model = try Sequential(spec: spec, seed: 1)
/// let trainer = Trainer(config: TrainingConfig(epochs: 5, learningRate: 0.05))
/// let losses = trainer.train(model, on: train)
/// ```
public final class Trainer {
    /// The run's settings.
    public let config: TrainingConfig
    /// The optimizer, created from `config`.
    public let optimizer: Optimizer

    /// Creates a trainer.
    public init(config: TrainingConfig) {
        self.config = config
        self.optimizer = Optimizer(config.optimizer, learningRate: config.learningRate)
    }

    /// Runs `config.epochs` epochs and returns each epoch's mean loss.
    ///
    /// `progress` is called after every batch; return `false` from it to stop early.
    @discardableResult
    public func train(
        _ model: Sequential, on data: Dataset, progress: (TrainingProgress) -> Bool = { _ in true }
    ) -> [Float] {
        var losses: [Float] = []
        for epoch in 0..<config.epochs {
            var stopped = false
            losses.append(trainEpoch(model, on: data, epoch: epoch) { report in
                stopped = !progress(report)
                return !stopped
            })
            if stopped { break }
        }
        return losses
    }

    /// Runs epoch `epoch` (0-based; it picks the shuffle and the scheduled
    /// rate) and returns its mean batch loss.
    public func trainEpoch(
        _ model: Sequential, on data: Dataset, epoch: Int, progress: (TrainingProgress) -> Bool = { _ in true }
    ) -> Float {
        optimizer.learningRate = config.schedule.rate(base: config.learningRate, epoch: epoch)
        var generator = SeededGenerator(seed: config.seed, stream: 0xE90C, UInt64(epoch))
        let order = generator.permutation(data.count)
        let batchSize = max(1, config.batchSize)
        var lossSum = 0.0
        var batches = 0
        var start = 0
        var inputs = Tensor(zeros: [0])
        var labels: [Int32] = []
        while start < order.count {
            let end = min(start + batchSize, order.count)
            data.batch(order[start..<end], into: &inputs, labels: &labels)
            lossSum += Double(step(model, inputs: inputs, labels: labels))
            batches += 1
            start = end
            let report = TrainingProgress(epoch: epoch, samplesSeen: end, samplesPerEpoch: order.count,
                                          meanLoss: Float(lossSum / Double(batches)), step: optimizer.stepCount)
            if !progress(report) { break }
        }
        return Float(lossSum / Double(max(1, batches)))
    }

    /// One optimisation step on one batch; returns the batch loss.
    public func step(_ model: Sequential, inputs: Tensor, labels: [Int32]) -> Float {
        model.zeroGradients()
        let outputs = model.forward(inputs, training: true)
        let (loss, gradient) = Loss.compute(model.spec.loss, outputs, labels: labels)
        model.backward(gradient)
        optimizer.step(model.parameters)
        return loss
    }
}
