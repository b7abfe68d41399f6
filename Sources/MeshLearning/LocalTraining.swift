import MeshNN
public import MeshTensor

/// What a trainer hands back for a task: the trained weights, FedAvg's sample
/// count, the mean training loss and the ``Transcript``.
public struct TaskResult: Sendable {
    /// The trained weights, by `state_dict` name.
    public var weights: [String: Tensor]
    /// Samples in the task's shard (the weight of this update in FedAvg).
    public var sampleCount: Int
    /// Mean batch loss over all optimizer steps of the task.
    public var meanLoss: Float
    /// Digests of the training state every `checkpointEvery` steps and of the weights.
    public var transcript: Transcript
    /// The training states at ``TrainingTask/boundaries`` (index 0 = the start),
    /// when the run was asked to keep them — a trainer serves them to a verifier
    /// re-executing a segment. Empty otherwise.
    public var checkpoints: [TrainingCheckpoint]

    /// Creates a result (a requester builds one from a receipt and the weights it received).
    public init(weights: [String: Tensor], sampleCount: Int, meanLoss: Float, transcript: Transcript,
                checkpoints: [TrainingCheckpoint] = []) {
        self.weights = weights
        self.sampleCount = sampleCount
        self.meanLoss = meanLoss
        self.transcript = transcript
        self.checkpoints = checkpoints
    }

    /// The update as FedAvg takes it.
    public func update(client: String) -> ClientUpdate {
        ClientUpdate(client: client, weights: weights, sampleCount: sampleCount)
    }
}

/// Deterministic local training of a ``TrainingTask``, with a transcript of
/// checkpoint digests; and resumption from a checkpoint, which verifiers use
/// to re-execute one segment.
///
/// Same task, same BLAS thread count, same CPU kernel → bitwise-identical
/// weights and transcript (`docs/determinism.md`).
///
/// ```swift
/// let result = try LocalTraining.run(task, keepCheckpoints: true)
/// send(result.weights, result.transcript)
/// // later, when a verifier asks for the state at boundary 3:
/// let state = result.checkpoints[3].serialized()
/// ```
public enum LocalTraining {
    /// Trains the task from its starting weights and returns the result.
    ///
    /// `progress(stepsDone, totalSteps)` is called after every checkpoint
    /// segment; throw from it to stop (a lease ran out) — the error is rethrown.
    ///
    /// - Throws: ``VerificationError`` when the task does not validate.
    public static func run(
        _ task: TrainingTask, keepCheckpoints: Bool = false,
        progress: (_ stepsDone: Int, _ totalSteps: Int) throws -> Void = { _, _ in }
    ) throws -> TaskResult {
        try task.validate()
        let session = try Session(task: task)
        let boundaries = task.boundaries
        var kept: [TrainingCheckpoint] = keepCheckpoints ? [session.capture(step: 0)] : []
        var digests: [WeightsDigest] = []
        var lossSum = 0.0
        for (from, to) in zip(boundaries, boundaries.dropFirst()) {
            session.trainer.train(session.model, on: task.data, steps: from..<to) { _, loss in lossSum += Double(loss) }
            let state = session.capture(step: to)
            digests.append(state.digest)
            if keepCheckpoints { kept.append(state) }
            try progress(to, task.totalSteps)
        }
        let weights = session.weights
        let transcript = Transcript(checkpointEvery: task.checkpointEvery, totalSteps: task.totalSteps,
                                    checkpoints: digests, final: WeightsDigest(weights), blasThreads: BLAS.threads)
        return TaskResult(weights: weights, sampleCount: task.data.count,
                          meanLoss: Float(lossSum / Double(max(1, task.totalSteps))),
                          transcript: transcript, checkpoints: kept)
    }

    /// The state at step 0: the task's weights, a fresh optimizer, the dropout
    /// generators seeded from the task.
    public static func initialState(of task: TrainingTask) throws -> TrainingCheckpoint {
        try task.validate()
        return try Session(task: task).capture(step: 0)
    }

    /// Continues the task from `checkpoint` up to step `end` and returns the state there.
    ///
    /// - Throws: ``VerificationError`` `.mismatch` when the checkpoint does not
    ///   fit the task (names, shapes, buffers, generators) or `end` is outside
    ///   `checkpoint.step...totalSteps`.
    public static func resume(_ task: TrainingTask, from checkpoint: TrainingCheckpoint, to end: Int) throws -> TrainingCheckpoint {
        try task.validate()
        guard checkpoint.step >= 0, checkpoint.step <= end, end <= task.totalSteps else {
            throw VerificationError(.mismatch, "cannot resume from step \(checkpoint.step) to step \(end): "
                + "the task has steps 0...\(task.totalSteps)")
        }
        let session = try Session(task: task)
        do {
            try session.model.load(checkpoint.weights, source: "checkpoint at step \(checkpoint.step)")
            try session.model.restoreDropoutGenerators(checkpoint.dropoutGenerators)
            try session.trainer.optimizer.restore(checkpoint.optimizer, of: session.model.parameters)
        } catch {
            throw VerificationError(.mismatch, "the checkpoint at step \(checkpoint.step) does not fit the task's model",
                                    cause: error)
        }
        session.trainer.train(session.model, on: task.data, steps: checkpoint.step..<end)
        return session.capture(step: end)
    }

    /// A model and trainer set up for a task.
    final class Session {
        let model: Sequential
        let trainer: Trainer

        init(task: TrainingTask) throws {
            model = try Sequential(spec: task.spec, seed: task.seed, weights: task.weights, source: "training task weights")
            trainer = Trainer(config: task.config)
        }

        var weights: [String: Tensor] {
            Dictionary(uniqueKeysWithValues: model.stateDict.map { ($0.name, $0.tensor) })
        }

        func capture(step: Int) -> TrainingCheckpoint {
            TrainingCheckpoint(step: step, weights: weights, optimizer: trainer.optimizer.state(of: model.parameters),
                               dropoutGenerators: model.dropoutGenerators)
        }
    }
}
