/// The outcome of checking one trainer's update.
public enum Verdict: Sendable, Hashable, CustomStringConvertible {
    /// The update passed every check asked for: pay and aggregate it.
    case accept
    /// The update is unusable (malformed, out of bounds, or its checkpoints
    /// could not be checked): do not pay, do not aggregate; not proof of fraud.
    case reject(Rejection)
    /// Re-execution proved that the claimed result is not what the task
    /// computes: reject, and slash with the evidence.
    case fraud(FraudEvidence)

    /// Whether the update is accepted.
    public var isAccepted: Bool { self == .accept }

    /// One line for logs.
    public var description: String {
        switch self {
        case .accept: "accept"
        case let .reject(rejection): "reject: \(rejection)"
        case let .fraud(evidence): "fraud: \(evidence)"
        }
    }
}

/// Why an update was rejected.
public struct Rejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// The failed check.
    public enum Reason: String, Sendable, Hashable, Codable, CaseIterable {
        /// The transcript does not fit the task (step counts, number of checkpoints).
        case transcriptMismatch
        /// The claimed sample count is not the shard's.
        case sampleCountMismatch
        /// Parameter names or shapes differ from the model.
        case shapeMismatch
        /// A weight is NaN or infinite.
        case nonFinite
        /// The weights do not hash to the transcript's final digest.
        case hashMismatch
        /// ‖update − global‖₂ exceeds the bound.
        case updateNormTooLarge
        /// The validation loss exceeds the bound.
        case validationLossTooHigh
        /// A checkpoint needed for re-execution was not supplied or does not
        /// match its transcript digest.
        case checkpointUnavailable
    }

    /// The failed check.
    public var reason: Reason
    /// What was found, with the numbers.
    public var message: String

    /// Creates a rejection.
    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    /// `reason: message`.
    public var description: String { "\(reason.rawValue): \(message)" }
}

/// Proof that a trainer's claim is false, which a third party rechecks by
/// re-executing steps `fromStep..<toStep` of the task (``taskDigest``) from the
/// state whose digest is ``startDigest`` (the task's own start when
/// `fromStep == 0`, otherwise a checkpoint the trainer itself committed to in
/// its transcript) and comparing with the claimed values (``claimedDigest``):
/// they differ by ``maxAbsDifference``, more than ``tolerance`` allows.
public struct FraudEvidence: Sendable, Hashable, Codable, CustomStringConvertible {
    /// What the claimed digest covers.
    public enum Subject: String, Sendable, Hashable, Codable {
        /// The delivered weights (``WeightsDigest``), against the transcript's `final`.
        case finalWeights
        /// The training state at `toStep` (``TrainingCheckpoint/digest``), against a transcript checkpoint.
        case checkpoint
    }

    /// ``TrainingTask/digest`` of the task.
    public var taskDigest: WeightsDigest
    /// First step re-executed.
    public var fromStep: Int
    /// Step after the last one re-executed.
    public var toStep: Int
    /// Digest of the state re-executed from.
    public var startDigest: WeightsDigest
    /// What ``claimedDigest`` and ``recomputedDigest`` cover.
    public var subject: Subject
    /// The trainer's digest at `toStep`.
    public var claimedDigest: WeightsDigest
    /// The digest the re-execution gives.
    public var recomputedDigest: WeightsDigest
    /// Largest |claimed − recomputed| over all weights (infinity when they cannot be compared).
    public var maxAbsDifference: Float
    /// The largest difference a re-execution on another CPU or thread count is allowed.
    public var tolerance: Float

    /// Creates evidence.
    public init(taskDigest: WeightsDigest, fromStep: Int, toStep: Int, startDigest: WeightsDigest, subject: Subject,
                claimedDigest: WeightsDigest, recomputedDigest: WeightsDigest, maxAbsDifference: Float, tolerance: Float) {
        self.taskDigest = taskDigest
        self.fromStep = fromStep
        self.toStep = toStep
        self.startDigest = startDigest
        self.subject = subject
        self.claimedDigest = claimedDigest
        self.recomputedDigest = recomputedDigest
        self.maxAbsDifference = maxAbsDifference
        self.tolerance = tolerance
    }

    /// One line for logs.
    public var description: String {
        "steps \(fromStep)..<\(toStep) of task \(taskDigest.hex.prefix(16)): claimed \(subject.rawValue) "
            + "\(claimedDigest.hex.prefix(16)), recomputed \(recomputedDigest.hex.prefix(16)), "
            + "max |Δ| \(maxAbsDifference) > tolerance \(tolerance)"
    }
}
