public import MeshNN
public import MeshTensor

/// How much of a task a verifier re-executes.
public enum ReExecution: Sendable, Hashable {
    /// No re-execution: only the cheap checks.
    case none
    /// The whole task from its starting weights.
    case full
    /// Segment `i`: steps `boundaries[i]..<boundaries[i+1]` of the task, from the
    /// trainer's checkpoint at boundary `i` (checked against its transcript).
    case segment(Int)

    /// With probability `probability`, one segment drawn uniformly; otherwise `.none`.
    ///
    /// A result perturbed after training breaks the transcript's last link, so
    /// only the last segment catches it; a fabricated transcript breaks some
    /// link, which a uniform draw hits with probability 1/segments. Requesters
    /// therefore check the last segment with `lastSegmentShare` of the draws.
    public static func sample(
        probability: Double, segmentCount: Int, lastSegmentShare: Double = 0.5, using generator: inout SeededGenerator
    ) -> ReExecution {
        guard segmentCount > 0, generator.nextUniformDouble() < probability else { return .none }
        if generator.nextUniformDouble() < lastSegmentShare { return .segment(segmentCount - 1) }
        return .segment(Int(generator.next() % UInt64(segmentCount)))
    }
}

/// Bounds an update must meet; the defaults check nothing but finiteness and shapes.
public struct VerificationPolicy: Sendable {
    /// Largest allowed ‖update − global‖₂ over all parameters.
    public var maxUpdateNorm: Float
    /// Held-out data for the validation-loss check (none: no check).
    public var validation: Dataset?
    /// Largest allowed mean validation loss.
    public var maxValidationLoss: Float?
    /// Largest allowed ratio of the update's validation loss to the global weights'.
    public var maxValidationLossFactor: Float?
    /// Largest |claimed − recomputed| weight accepted when a re-execution does
    /// not reproduce the bits (another CPU kernel or thread count).
    public var tolerance: Float

    /// Creates a policy.
    public init(maxUpdateNorm: Float = .infinity, validation: Dataset? = nil, maxValidationLoss: Float? = nil,
                maxValidationLossFactor: Float? = nil, tolerance: Float = 1e-4) {
        self.maxUpdateNorm = maxUpdateNorm
        self.validation = validation
        self.maxValidationLoss = maxValidationLoss
        self.maxValidationLossFactor = maxValidationLossFactor
        self.tolerance = tolerance
    }
}

/// Checks a trainer's ``TaskResult`` against its ``TrainingTask``.
///
/// In order: the transcript fits the task, the sample count is the shard's,
/// names and shapes are the model's, every weight is finite, the weights hash
/// to the transcript's `final`, ‖update − global‖₂ and the validation loss are
/// within the policy, and — if asked — a re-execution reproduces the claim.
///
/// Re-execution compares digests first: equal bits accept. When the bits
/// differ, it compares the recomputed weights with the claimed ones and accepts
/// within ``VerificationPolicy/tolerance``, so an honest trainer on another CPU
/// is never called a cheat; beyond it the verdict is ``Verdict/fraud(_:)``.
///
/// A segment is re-executed from the trainer's own checkpoint: the verifier
/// asks for the state at the segment's start (`checkpoint(i)`), checks its
/// digest against the transcript, runs the segment with
/// ``LocalTraining/resume(_:from:to:)`` and compares the end; for a middle
/// segment whose bits differ, it asks for the claimed end state too, to
/// compare values. Segment 0 starts from the task itself.
///
/// ```swift
/// let verifier = UpdateVerifier(policy: VerificationPolicy(maxUpdateNorm: 10, tolerance: 1e-4))
/// let verdict = try verifier.verify(claim, for: task, reExecute: .segment(claim.transcript.segmentCount - 1)) { boundary in
///     try fetchCheckpoint(from: trainer, boundary: boundary)
/// }
/// ```
public struct UpdateVerifier: Sendable {
    /// The bounds.
    public var policy: VerificationPolicy

    /// Creates a verifier.
    public init(policy: VerificationPolicy = VerificationPolicy()) {
        self.policy = policy
    }

    /// Checks `claim` against `task`.
    ///
    /// `checkpoint(i)` supplies the trainer's training state at boundary `i`
    /// (``TrainingTask/boundaries``); it is only called for segment
    /// re-execution. Throwing from it rejects the update as
    /// ``Rejection/Reason/checkpointUnavailable``.
    ///
    /// - Throws: ``VerificationError`` only when `task` itself is invalid.
    public func verify(
        _ claim: TaskResult, for task: TrainingTask, reExecute: ReExecution = .none,
        checkpoint: (Int) throws -> TrainingCheckpoint = { boundary in
            throw VerificationError(.mismatch, "no checkpoint source given for boundary \(boundary)")
        }
    ) throws -> Verdict {
        try task.validate()
        if let rejection = cheapChecks(claim, for: task) { return .reject(rejection) }
        switch reExecute {
        case .none:
            return .accept
        case .full:
            return try reExecuteFully(claim, for: task)
        case let .segment(index):
            return try reExecuteSegment(index, of: claim, for: task, checkpoint: checkpoint)
        }
    }

    /// Everything but re-execution; nil when all pass.
    func cheapChecks(_ claim: TaskResult, for task: TrainingTask) -> Rejection? {
        let transcript = claim.transcript
        let expectedSegments = task.boundaries.count - 1
        guard transcript.checkpointEvery == task.checkpointEvery, transcript.totalSteps == task.totalSteps,
              transcript.checkpoints.count == expectedSegments else {
            return Rejection(.transcriptMismatch, "the transcript has \(transcript.checkpoints.count) checkpoints every "
                + "\(transcript.checkpointEvery) of \(transcript.totalSteps) steps; the task has \(expectedSegments) every "
                + "\(task.checkpointEvery) of \(task.totalSteps)")
        }
        guard claim.sampleCount == task.data.count else {
            return Rejection(.sampleCountMismatch, "claims \(claim.sampleCount) samples, the shard has \(task.data.count)")
        }
        if Set(claim.weights.keys) != Set(task.weights.keys) {
            let missing = Set(task.weights.keys).subtracting(claim.weights.keys).sorted()
            let extra = Set(claim.weights.keys).subtracting(task.weights.keys).sorted()
            return Rejection(.shapeMismatch, "parameters differ from the model (missing \(missing), unexpected \(extra))")
        }
        for name in task.weights.keys.sorted() where claim.weights[name]!.shape != task.weights[name]!.shape {
            return Rejection(.shapeMismatch, "\(name) has shape \(claim.weights[name]!.shape), "
                + "the model has \(task.weights[name]!.shape)")
        }
        for name in claim.weights.keys.sorted() {
            let bad = claim.weights[name]!.withUnsafeBufferPointer { $0.firstIndex { !$0.isFinite } }
            if let bad {
                return Rejection(.nonFinite, "\(name)[\(bad)] is \(claim.weights[name]!.scalars[bad])")
            }
        }
        let digest = WeightsDigest(claim.weights)
        guard digest == transcript.final else {
            return Rejection(.hashMismatch, "the weights hash to \(digest), the transcript claims \(transcript.final)")
        }
        let norm = Self.updateNorm(claim.weights, from: task.weights)
        guard norm <= Double(policy.maxUpdateNorm) else {
            return Rejection(.updateNormTooLarge, "‖update − global‖₂ = \(Float(norm)) exceeds \(policy.maxUpdateNorm)")
        }
        if let validation = policy.validation, policy.maxValidationLoss != nil || policy.maxValidationLossFactor != nil {
            let loss = Self.validationLoss(of: claim.weights, spec: task.spec, on: validation)
            if let bound = policy.maxValidationLoss, !(loss <= bound) {
                return Rejection(.validationLossTooHigh, "validation loss \(loss) exceeds \(bound)")
            }
            if let factor = policy.maxValidationLossFactor {
                let global = Self.validationLoss(of: task.weights, spec: task.spec, on: validation)
                if !(loss <= global * factor) {
                    return Rejection(.validationLossTooHigh, "validation loss \(loss) exceeds \(factor) × the global "
                        + "weights' \(global)")
                }
            }
        }
        return nil
    }

    func reExecuteFully(_ claim: TaskResult, for task: TrainingTask) throws -> Verdict {
        let recomputed = try LocalTraining.run(task)
        let start = try LocalTraining.initialState(of: task).digest
        if recomputed.transcript.final == claim.transcript.final {
            guard recomputed.transcript.checkpoints == claim.transcript.checkpoints else {
                let index = zip(recomputed.transcript.checkpoints, claim.transcript.checkpoints).enumerated()
                    .first { $0.element.0 != $0.element.1 }?.offset ?? 0
                return .reject(Rejection(.transcriptMismatch, "the weights are reproduced bit for bit but transcript "
                    + "checkpoint \(index) is not"))
            }
            return .accept
        }
        return compare(claimed: claim.weights, recomputed: recomputed.weights, subject: .finalWeights,
                       claimedDigest: claim.transcript.final, recomputedDigest: recomputed.transcript.final,
                       task: task, steps: 0..<task.totalSteps, startDigest: start)
    }

    func reExecuteSegment(
        _ index: Int, of claim: TaskResult, for task: TrainingTask, checkpoint: (Int) throws -> TrainingCheckpoint
    ) throws -> Verdict {
        let boundaries = task.boundaries
        let transcript = claim.transcript
        guard index >= 0, index < boundaries.count - 1 else {
            throw VerificationError(.invalidTask, "segment \(index) does not exist; the task has segments "
                + "0..<\(boundaries.count - 1)")
        }
        let (from, to) = (boundaries[index], boundaries[index + 1])
        let start: TrainingCheckpoint
        if index == 0 {
            start = try LocalTraining.initialState(of: task)
        } else {
            switch fetch(boundary: index, step: from, expected: transcript.checkpoints[index - 1], checkpoint) {
            case let .success(state): start = state
            case let .failure(rejection): return .reject(rejection)
            }
        }
        let end: TrainingCheckpoint
        do {
            end = try LocalTraining.resume(task, from: start, to: to)
        } catch {
            return .reject(Rejection(.checkpointUnavailable, "the trainer's checkpoint at step \(from) cannot be "
                + "resumed: \(error)"))
        }
        let endDigest = end.digest
        if index == boundaries.count - 2 {
            let weightsDigest = WeightsDigest(end.weights)
            if weightsDigest == transcript.final {
                guard endDigest == transcript.checkpoints[index] else {
                    return .reject(Rejection(.transcriptMismatch, "the weights are reproduced bit for bit but the final "
                        + "training state's digest is not the transcript's"))
                }
                return .accept
            }
            return compare(claimed: claim.weights, recomputed: end.weights, subject: .finalWeights,
                           claimedDigest: transcript.final, recomputedDigest: weightsDigest,
                           task: task, steps: from..<to, startDigest: start.digest)
        }
        if endDigest == transcript.checkpoints[index] { return .accept }
        switch fetch(boundary: index + 1, step: to, expected: transcript.checkpoints[index], checkpoint) {
        case let .success(claimedEnd):
            return compare(claimed: claimedEnd.weights, recomputed: end.weights, subject: .checkpoint,
                           claimedDigest: transcript.checkpoints[index], recomputedDigest: endDigest,
                           task: task, steps: from..<to, startDigest: start.digest)
        case let .failure(rejection):
            return .reject(rejection)
        }
    }

    private func fetch(
        boundary: Int, step: Int, expected: WeightsDigest, _ checkpoint: (Int) throws -> TrainingCheckpoint
    ) -> Result<TrainingCheckpoint, Rejection> {
        let state: TrainingCheckpoint
        do {
            state = try checkpoint(boundary)
        } catch {
            return .failure(Rejection(.checkpointUnavailable, "the checkpoint at boundary \(boundary) could not be had: \(error)"))
        }
        guard state.step == step, state.digest == expected else {
            return .failure(Rejection(.checkpointUnavailable, "the checkpoint supplied for boundary \(boundary) "
                + "(step \(state.step), digest \(state.digest)) is not the transcript's (step \(step), digest \(expected))"))
        }
        return .success(state)
    }

    private func compare(
        claimed: [String: Tensor], recomputed: [String: Tensor], subject: FraudEvidence.Subject,
        claimedDigest: WeightsDigest, recomputedDigest: WeightsDigest,
        task: TrainingTask, steps: Range<Int>, startDigest: WeightsDigest
    ) -> Verdict {
        let difference = Self.maxAbsDifference(claimed, recomputed)
        if difference <= policy.tolerance { return .accept }
        return .fraud(FraudEvidence(taskDigest: task.digest, fromStep: steps.lowerBound, toStep: steps.upperBound,
                                    startDigest: startDigest, subject: subject, claimedDigest: claimedDigest,
                                    recomputedDigest: recomputedDigest, maxAbsDifference: difference,
                                    tolerance: policy.tolerance))
    }

    /// ‖weights − reference‖₂ over every parameter of `reference`, accumulated in `Double`.
    public static func updateNorm(_ weights: [String: Tensor], from reference: [String: Tensor]) -> Double {
        var sum = 0.0
        for name in reference.keys.sorted() {
            guard let tensor = weights[name], tensor.count == reference[name]!.count else { return .infinity }
            tensor.withUnsafeBufferPointer { a in
                reference[name]!.withUnsafeBufferPointer { b in
                    for i in a.indices {
                        let d = Double(a[i]) - Double(b[i])
                        sum += d * d
                    }
                }
            }
        }
        return sum.squareRoot()
    }

    /// The largest |a − b| over all weights; infinity if names or sizes differ, or a value is not finite.
    public static func maxAbsDifference(_ a: [String: Tensor], _ b: [String: Tensor]) -> Float {
        guard Set(a.keys) == Set(b.keys) else { return .infinity }
        var largest: Float = 0
        for (name, x) in a {
            let y = b[name]!
            guard x.count == y.count else { return .infinity }
            let difference = x.withUnsafeBufferPointer { p in
                y.withUnsafeBufferPointer { q in
                    var m: Float = 0
                    for i in p.indices {
                        let d = abs(p[i] - q[i])
                        if !(d <= m) { m = d.isNaN ? .infinity : d }
                    }
                    return m
                }
            }
            largest = max(largest, difference)
        }
        return largest
    }

    /// Mean loss of `spec` with `weights` on `data` (the weights must fit the spec; infinity if not).
    public static func validationLoss(of weights: [String: Tensor], spec: ModelSpec, on data: Dataset) -> Float {
        guard let model = try? Sequential(spec: spec, seed: 0, weights: weights) else { return .infinity }
        return Evaluation(model: model, data: data).loss
    }
}
