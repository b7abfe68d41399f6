/// What a trainer commits to about how it trained: the digest of the training
/// state at every checkpoint boundary and the digest of the weights it delivers.
///
/// `checkpoints[i]` is the ``TrainingCheckpoint/digest`` of the state after
/// step `boundaries[i + 1]` of the task (``TrainingTask/boundaries``): every
/// `checkpointEvery` optimizer steps and after the last step. The state at
/// step 0 is not listed: it follows from the task. `final` is the
/// ``WeightsDigest`` of the delivered weights — the weights of the last
/// checkpoint state. It is `Codable` for receipts (digests as hex).
public struct Transcript: Sendable, Hashable, Codable {
    /// Optimizer steps between checkpoints.
    public var checkpointEvery: Int
    /// Optimizer steps of the whole task.
    public var totalSteps: Int
    /// Digests of the training state at boundaries 1…n.
    public var checkpoints: [WeightsDigest]
    /// Digest of the delivered weights.
    public var final: WeightsDigest
    /// BLAS threads the trainer ran with; with the same count (and CPU kernel) a
    /// re-execution reproduces every digest bit for bit.
    public var blasThreads: Int

    /// Creates a transcript.
    public init(checkpointEvery: Int, totalSteps: Int, checkpoints: [WeightsDigest], final: WeightsDigest, blasThreads: Int) {
        self.checkpointEvery = checkpointEvery
        self.totalSteps = totalSteps
        self.checkpoints = checkpoints
        self.final = final
        self.blasThreads = blasThreads
    }

    /// Segments that can be re-executed one by one: `checkpoints.count`.
    public var segmentCount: Int { checkpoints.count }
}
