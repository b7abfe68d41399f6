public import Foundation

/// `/meshfl/verify/1.0.0`: a requester asks a validator to re-execute one
/// task in its place. One JSON message each way over the uvarint-framed
/// request/response helper: a ``VerifyRequest`` signed by the job's
/// requester, answered by a ``VerifyResponse`` whose verdict the validator
/// signs — so the verdict can be cited later (it goes into the
/// ``FraudEvidence`` of a slash).
///
/// ```swift
/// let signed = try SignedMessage(signing: request, with: requesterKey)
/// let reply = try await client.request(validator, payload: Array(CanonicalJSON.encode(signed)), on: host)
/// ```
public struct VerifyRequest: Codable, Sendable {
    /// The job, as its requester signed it: the recipe the task follows.
    public var job: SignedMessage<JobSpec>
    public var round: Int
    public var shard: Int
    /// The task's training seed (must be `TaskExecution.seed(job:round:shard:)`).
    public var seed: UInt64
    /// Presigned GET of the round's global weights (safetensors).
    public var weightsURL: String
    /// Presigned GET of the shard (meshfl shard format).
    public var shardURL: String
    /// The trainer's signed receipt: what the validator checks against.
    public var receipt: SignedMessage<Receipt>
    /// The validator's peer id: a request is good for one validator only.
    public var validator: String
    /// Unix seconds after which the validator refuses the request.
    public var expires: Double

    public init(job: SignedMessage<JobSpec>, round: Int, shard: Int, seed: UInt64, weightsURL: String, shardURL: String,
                receipt: SignedMessage<Receipt>, validator: String, expires: Double) {
        self.job = job
        self.round = round
        self.shard = shard
        self.seed = seed
        self.weightsURL = weightsURL
        self.shardURL = shardURL
        self.receipt = receipt
        self.validator = validator
        self.expires = expires
    }
}

/// A validator's answer to a ``VerifyRequest``.
public enum VerifyResponse: Codable, Sendable {
    /// The task was re-executed; the verdict is signed by the validator.
    case verdict(SignedMessage<ValidatorVerdict>)
    /// All re-execution slots are taken: ask another validator or re-execute locally.
    case busy(reason: String)
    /// The request was not acceptable (bad signature, wrong signer, expired, unreadable inputs).
    case refused(reason: String)
}

/// What a validator signs after re-executing a task: its own transcript and
/// final digest, and how they compare with the trainer's receipt.
public struct ValidatorVerdict: Codable, Sendable, Hashable {
    public var job: String
    public var round: Int
    public var shard: Int
    public var lease: String
    public var trainer: String
    /// SHA-256 (hex) of the receipt's signed payload: the verdict is about that receipt only.
    public var receiptDigest: String
    /// The validator's peer id: must be the verdict's signer.
    public var validator: String
    /// The recomputed transcript (checkpoint digests, then the final weights' digest).
    public var transcript: [String]
    /// The recomputed final weights' digest (the transcript's last entry).
    public var weightsDigest: String
    /// True when the recomputed transcript equals the receipt's, entry for entry.
    public var matches: Bool
    /// On a mismatch, the index of the first transcript entry that differs
    /// (an index past the shorter transcript when one is a prefix of the other).
    public var firstMismatch: Int?
    /// Seconds the re-execution took on the validator.
    public var seconds: Double

    public init(job: String, round: Int, shard: Int, lease: String, trainer: String, receiptDigest: String, validator: String,
                transcript: [String], weightsDigest: String, matches: Bool, firstMismatch: Int?, seconds: Double) {
        self.job = job
        self.round = round
        self.shard = shard
        self.lease = lease
        self.trainer = trainer
        self.receiptDigest = receiptDigest
        self.validator = validator
        self.transcript = transcript
        self.weightsDigest = weightsDigest
        self.matches = matches
        self.firstMismatch = firstMismatch
        self.seconds = seconds
    }

    /// The index of the first entry where `recomputed` and `claimed` differ, or nil when they are equal.
    public static func firstMismatch(_ recomputed: [String], _ claimed: [String]) -> Int? {
        for index in 0..<min(recomputed.count, claimed.count) where recomputed[index] != claimed[index] { return index }
        return recomputed.count == claimed.count ? nil : min(recomputed.count, claimed.count)
    }
}
