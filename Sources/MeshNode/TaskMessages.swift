public import Foundation

/// `/meshfl/task/1.0.0`: a trainer's requests to a requester, one JSON
/// message each way over the uvarint-framed request/response helper. The
/// trainer is the stream's remote peer, authenticated by Noise.
public enum TaskRequest: Codable, Sendable {
    /// The requester's running jobs, as signed specs.
    case jobs
    /// Asks for a task of `job`.
    case claim(Claim)
    /// Hands back a finished task.
    case submit(SignedMessage<Receipt>)
}

public struct Claim: Codable, Sendable, Hashable {
    public var job: String
    /// The trainer's ledger account, paid for accepted tasks.
    public var account: String

    public init(job: String, account: String) {
        self.job = job
        self.account = account
    }
}

public enum TaskResponse: Codable, Sendable {
    case jobs([SignedMessage<JobSpec>])
    case lease(Lease)
    /// Nothing to hand out now; ask again after `seconds`.
    case wait(seconds: Double, reason: String)
    /// The job is over (or unknown): stop asking.
    case finished(reason: String)
    /// The receipt's result was accepted and `paid` tinybars released.
    case accepted(paid: Int64)
    /// The receipt was refused; `slashed` when it proved fraud.
    case rejected(reason: String, slashed: Bool)
}

/// One (round, shard) task leased to one trainer until `deadline`.
public struct Lease: Codable, Sendable, Hashable {
    public var job: String
    public var round: Int
    public var shard: Int
    /// Unique per lease: a receipt must name the lease it answers.
    public var lease: String
    /// Unix seconds.
    public var deadline: Double
    /// Presigned GET of the round's global weights (safetensors).
    public var weightsURL: String
    /// Presigned GET of the shard (meshfl shard format).
    public var shardURL: String
    /// Presigned PUT for the sealed result.
    public var resultURL: String
    /// The training seed of this task.
    public var seed: UInt64
}

/// What a trainer signs when it hands a task back.
public struct Receipt: Codable, Sendable, Hashable {
    public var job: String
    public var round: Int
    public var shard: Int
    public var lease: String
    /// The trainer's peer id: must be the signer and the stream's peer.
    public var trainer: String
    public var account: String
    /// SHA-256 (hex) of the plaintext weights' canonical safetensors bytes.
    public var weightsDigest: String
    /// SHA-256 (hex) of the sealed blob uploaded to `resultURL`.
    public var sealedDigest: String
    public var sampleCount: Int
    public var trainLoss: Float
    /// SHA-256 (hex) of the weights every `checkpointEvery` steps, then of the final weights.
    public var transcript: [String]
    /// Seconds the training itself took on the trainer (for round-overhead accounting).
    public var trainSeconds: Double?

    public init(job: String, round: Int, shard: Int, lease: String, trainer: String, account: String,
                weightsDigest: String, sealedDigest: String, sampleCount: Int, trainLoss: Float, transcript: [String],
                trainSeconds: Double? = nil) {
        self.job = job
        self.round = round
        self.shard = shard
        self.lease = lease
        self.trainer = trainer
        self.account = account
        self.weightsDigest = weightsDigest
        self.sealedDigest = sealedDigest
        self.sampleCount = sampleCount
        self.trainLoss = trainLoss
        self.transcript = transcript
        self.trainSeconds = trainSeconds
    }
}
