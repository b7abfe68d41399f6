public import MeshNN
import MeshLearning
public import MeshTensor

/// What a task's training produced.
public struct TaskOutput: Sendable {
    public var weights: [String: Tensor]
    public var sampleCount: Int
    public var meanLoss: Float
    /// Hex SHA-256 of the weights every `checkpointEvery` steps, then of the final weights.
    public var transcript: [String]
}

/// Runs one task of a job exactly as every trainer and every re-execution
/// must: the job's recipe, the task's seed, the round's starting weights.
public enum TaskExecution {
    /// The seed of task (round, shard): MeshLearning's derivation from the
    /// job seed, so no two tasks shuffle alike.
    public static func seed(job: JobSpec, round: Int, shard: Int) -> UInt64 {
        TrainingTask.seed(job: job.seed, round: round, shard: shard)
    }

    public static func run(job: JobSpec, start: [String: Tensor], shard: Dataset, seed: UInt64) throws -> TaskOutput {
        try runTask(job: job, start: start, shard: shard, seed: seed)
    }
}
