public import MeshNN
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
    /// The seed of task (round, shard): a SplitMix64 mix of the job seed and
    /// the task coordinates, so no two tasks shuffle alike.
    public static func seed(job: JobSpec, round: Int, shard: Int) -> UInt64 {
        var z = job.seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(round * 1_000_003 + shard + 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public static func run(job: JobSpec, start: [String: Tensor], shard: Dataset, seed: UInt64) throws -> TaskOutput {
        try runTask(job: job, start: start, shard: shard, seed: seed)
    }
}
