public import MeshTensor

extension Trainer {
    /// Optimizer steps in one epoch over `sampleCount` samples: the number of
    /// mini-batches, the last one possibly smaller.
    public func stepsPerEpoch(sampleCount: Int) -> Int {
        let batchSize = max(1, config.batchSize)
        return (sampleCount + batchSize - 1) / batchSize
    }

    /// Runs the global optimizer steps `steps` of the run that ``train(_:on:progress:)``
    /// makes, and calls `afterStep(step, loss)` after each (with the 0-based step
    /// index and that batch's loss).
    ///
    /// Step `s` is batch `s % b` of epoch `s / b`, where `b` is
    /// ``stepsPerEpoch(sampleCount:)``: the same batches, rates and order of
    /// operations as `train`, so running `0..<n` in one call or in pieces — with
    /// the model, optimizer state and dropout generators carried over, or saved
    /// and restored — gives bitwise the weights `train` gives after `n` steps.
    ///
    /// ```swift
    /// trainer.train(model, on: shard, steps: 0..<50) { step, loss in print(step, loss) }
    /// let saved = trainer.optimizer.state(of: model.parameters)
    /// // … later, in a fresh trainer with the model's weights and dropout generators restored:
    /// try trainer.optimizer.restore(saved, of: model.parameters)
    /// trainer.train(model, on: shard, steps: 50..<100)
    /// ```
    ///
    /// - Precondition: `steps` lies within `0..<(config.epochs * stepsPerEpoch)`.
    public func train(
        _ model: Sequential, on data: Dataset, steps: Range<Int>, afterStep: (_ step: Int, _ loss: Float) -> Void = { _, _ in }
    ) {
        let perEpoch = stepsPerEpoch(sampleCount: data.count)
        precondition(steps.lowerBound >= 0 && steps.upperBound <= config.epochs * perEpoch,
                     "steps \(steps) outside the run's 0..<\(config.epochs * perEpoch)")
        guard !steps.isEmpty else { return }
        let batchSize = max(1, config.batchSize)
        var epoch = -1
        var order: [Int] = []
        var inputs = Tensor(zeros: [0])
        var labels: [Int32] = []
        for step in steps {
            if step / perEpoch != epoch {
                epoch = step / perEpoch
                optimizer.learningRate = config.schedule.rate(base: config.learningRate, epoch: epoch)
                var generator = SeededGenerator(seed: config.seed, stream: 0xE90C, UInt64(epoch))
                order = generator.permutation(data.count)
            }
            let start = (step % perEpoch) * batchSize
            let end = min(start + batchSize, order.count)
            data.batch(order[start..<end], into: &inputs, labels: &labels)
            afterStep(step, self.step(model, inputs: inputs, labels: labels))
        }
    }
}
