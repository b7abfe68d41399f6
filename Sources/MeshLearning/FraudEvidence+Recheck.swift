public import MeshTensor

extension FraudEvidence {
    /// The values the evidence says the trainer claimed, as the trainer sent them.
    public enum Claimed: Sendable {
        /// The delivered weights (for ``Subject/finalWeights``).
        case weights([String: Tensor])
        /// The trainer's checkpoint at `toStep` (for ``Subject/checkpoint``).
        case checkpoint(TrainingCheckpoint)
    }

    /// Rechecks the evidence as a third party (a validator, an arbiter): checks
    /// that `task`, `start` and `claimed` are the ones the evidence names (by
    /// digest), re-executes steps `fromStep..<toStep` and returns whether the
    /// claimed weights are farther than ``tolerance`` from the recomputed ones.
    ///
    /// `start` is the trainer's checkpoint at `fromStep`; pass nil when
    /// `fromStep` is 0 (the task's own start state is used).
    ///
    /// ```swift
    /// let proven = try evidence.recheck(task: task, start: nil, claimed: .weights(delivered))
    /// ```
    ///
    /// - Throws: ``VerificationError`` `.mismatch` naming the input whose
    ///   digest is not the evidence's: such evidence proves nothing about it.
    public func recheck(task: TrainingTask, start: TrainingCheckpoint?, claimed: Claimed) throws -> Bool {
        guard task.digest == taskDigest else {
            throw VerificationError(.mismatch, "the task's digest \(task.digest) is not the evidence's \(taskDigest)")
        }
        let origin = try start ?? LocalTraining.initialState(of: task)
        guard origin.step == fromStep, origin.digest == startDigest else {
            throw VerificationError(.mismatch, "the start state (step \(origin.step), digest \(origin.digest)) is not the "
                + "evidence's (step \(fromStep), digest \(startDigest))")
        }
        let claimedWeights: [String: Tensor]
        switch (subject, claimed) {
        case let (.finalWeights, .weights(weights)):
            guard WeightsDigest(weights) == claimedDigest else {
                throw VerificationError(.mismatch, "the claimed weights hash to \(WeightsDigest(weights)), "
                    + "the evidence names \(claimedDigest)")
            }
            claimedWeights = weights
        case let (.checkpoint, .checkpoint(state)):
            guard state.step == toStep, state.digest == claimedDigest else {
                throw VerificationError(.mismatch, "the claimed checkpoint (step \(state.step), digest \(state.digest)) "
                    + "is not the evidence's (step \(toStep), digest \(claimedDigest))")
            }
            claimedWeights = state.weights
        default:
            throw VerificationError(.mismatch, "the evidence is about \(subject.rawValue); pass the claimed "
                + (subject == .finalWeights ? ".weights" : ".checkpoint"))
        }
        let end = try LocalTraining.resume(task, from: origin, to: toStep)
        return UpdateVerifier.maxAbsDifference(claimedWeights, end.weights) > tolerance
    }
}
