import MeshLearning
import MeshNN
import MeshTensor

extension TaskExecution {
    /// MeshLearning's deterministic local training with the job's recipe.
    static func runTask(job: JobSpec, start: [String: Tensor], shard: Dataset, seed: UInt64) throws -> TaskOutput {
        let recipe = job.recipe
        let task = TrainingTask(spec: job.model, weights: start, data: shard, seed: seed, epochs: recipe.epochs,
                                batchSize: recipe.batchSize, learningRate: recipe.learningRate,
                                optimizer: recipe.optimizer == "adam" ? .adam() : .sgd(momentum: 0.9),
                                checkpointEvery: recipe.checkpointEvery)
        let result = try LocalTraining.run(task)
        var transcript = result.transcript.checkpoints.map(\.description)
        if transcript.last != result.transcript.final.description { transcript.append(result.transcript.final.description) }
        return TaskOutput(weights: result.weights, sampleCount: result.sampleCount, meanLoss: result.meanLoss, transcript: transcript)
    }
}
