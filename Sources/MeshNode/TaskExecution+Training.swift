import MeshLearning
import MeshNN
import MeshTensor

extension TaskExecution {
    static func runTask(job: JobSpec, start: [String: Tensor], shard: Dataset, seed: UInt64) throws -> TaskOutput {
        let model = try Sequential(spec: job.model, seed: seed)
        try model.load(start, source: "the round's global weights")
        let recipe = job.recipe
        let optimizer: OptimizerKind = recipe.optimizer == "adam" ? .adam() : .sgd(momentum: 0.9)
        let trainer = Trainer(config: TrainingConfig(epochs: recipe.epochs, batchSize: recipe.batchSize,
                                                     learningRate: recipe.learningRate, optimizer: optimizer, seed: seed))
        var transcript: [String] = []
        let losses = trainer.train(model, on: shard) { progress in
            if progress.step % recipe.checkpointEvery == 0 {
                transcript.append(Weights.digest(Weights.of(model)))
            }
            return true
        }
        let weights = Weights.of(model)
        transcript.append(Weights.digest(weights))
        return TaskOutput(weights: weights, sampleCount: shard.count,
                          meanLoss: losses.reduce(0, +) / Float(max(1, losses.count)), transcript: transcript)
    }
}
