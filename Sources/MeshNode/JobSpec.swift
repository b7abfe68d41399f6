public import Foundation
public import MeshNN

/// What a requester asks for, signed by its identity key and announced on
/// `/meshfl/jobs/1`: the model, the data split, the training recipe, the
/// money, and how to reach the requester. A trainer never runs code it
/// received: the model is a declarative ``ModelSpec``.
public struct JobSpec: Codable, Sendable, Hashable {
    public static let formatIdentifier = "meshfl.job/1"

    public var format = JobSpec.formatIdentifier
    /// `job-` and 16 hex digits, unique per submission.
    public var id: String
    /// The requester's peer id and where to dial it.
    public var requester: String
    public var requesterAddresses: [String]
    /// The requester's ledger account (`shard.realm.num`), owner of the escrow.
    public var requesterAccount: String
    /// The job's audit topic on the ledger.
    public var auditTopic: String
    /// X25519 public key (hex) results are sealed to.
    public var sealingKey: String

    public var model: ModelSpec
    /// Rounds of federated training, and shards (tasks) per round.
    public var rounds: Int
    public var shards: Int
    /// Samples in each shard, by shard index.
    public var shardSizes: [Int]
    /// The local recipe every trainer follows for a task.
    public var recipe: Recipe
    /// Seed of the job: the initial weights and every task's shuffling derive from it.
    public var seed: UInt64

    /// Tinybars paid per accepted task; the escrow locked for the whole job.
    public var rewardPerTask: Int64
    public var escrow: Int64
    /// Stake a trainer must hold to be given a task.
    public var minimumStake: Int64
    /// Tinybars slashed from a trainer proven to have cheated.
    public var slashAmount: Int64
    /// How long a trainer has to return a task's result.
    public var leaseSeconds: Double
    /// Probability that an accepted-looking result is re-executed; a
    /// trainer's first results are always re-executed.
    public var reexecutionProbability: Double

    public init(id: String, requester: String, requesterAddresses: [String], requesterAccount: String, auditTopic: String,
                sealingKey: String, model: ModelSpec, rounds: Int, shards: Int, shardSizes: [Int], recipe: Recipe, seed: UInt64,
                rewardPerTask: Int64, escrow: Int64, minimumStake: Int64, slashAmount: Int64, leaseSeconds: Double,
                reexecutionProbability: Double) {
        self.id = id
        self.requester = requester
        self.requesterAddresses = requesterAddresses
        self.requesterAccount = requesterAccount
        self.auditTopic = auditTopic
        self.sealingKey = sealingKey
        self.model = model
        self.rounds = rounds
        self.shards = shards
        self.shardSizes = shardSizes
        self.recipe = recipe
        self.seed = seed
        self.rewardPerTask = rewardPerTask
        self.escrow = escrow
        self.minimumStake = minimumStake
        self.slashAmount = slashAmount
        self.leaseSeconds = leaseSeconds
        self.reexecutionProbability = reexecutionProbability
    }

    /// A training recipe: the same on every trainer and in re-execution.
    public struct Recipe: Codable, Sendable, Hashable {
        public var epochs: Int
        public var batchSize: Int
        public var learningRate: Float
        /// `sgd` (momentum 0.9) or `adam`.
        public var optimizer: String
        /// Optimizer steps between transcript checkpoints.
        public var checkpointEvery: Int

        public init(epochs: Int = 1, batchSize: Int = 64, learningRate: Float = 0.05, optimizer: String = "sgd", checkpointEvery: Int = 20) {
            self.epochs = epochs
            self.batchSize = batchSize
            self.learningRate = learningRate
            self.optimizer = optimizer
            self.checkpointEvery = checkpointEvery
        }
    }

    /// Checks the fields a trainer relies on; errors name the field.
    public func validate() throws {
        func fail(_ field: String, _ problem: String) -> NodeError {
            NodeError(.invalidInput, "job spec \(id): \(field) \(problem)")
        }
        guard format == Self.formatIdentifier else { throw fail("format", "is '\(format)', expected '\(Self.formatIdentifier)'") }
        guard rounds >= 1, rounds <= 10_000 else { throw fail("rounds", "must be 1…10000, is \(rounds)") }
        guard shards >= 1, shards <= 100_000 else { throw fail("shards", "must be 1…100000, is \(shards)") }
        guard shardSizes.count == shards, shardSizes.allSatisfy({ $0 > 0 }) else {
            throw fail("shardSizes", "must list \(shards) positive sizes")
        }
        guard recipe.epochs >= 1, recipe.batchSize >= 1, recipe.learningRate > 0, recipe.learningRate.isFinite,
              recipe.checkpointEvery >= 1 else { throw fail("recipe", "needs epochs, batchSize, checkpointEvery ≥ 1 and a positive learningRate") }
        guard ["sgd", "adam"].contains(recipe.optimizer) else { throw fail("recipe.optimizer", "must be sgd or adam, is '\(recipe.optimizer)'") }
        guard rewardPerTask >= 0, escrow >= rewardPerTask * Int64(rounds * shards) else {
            throw fail("escrow", "\(escrow) does not cover \(rounds * shards) tasks at \(rewardPerTask)")
        }
        guard leaseSeconds > 0, reexecutionProbability >= 0, reexecutionProbability <= 1 else {
            throw fail("leaseSeconds/reexecutionProbability", "must be positive / within 0…1")
        }
        _ = try model.validate()
    }

    /// The spec inside a job announcement, after checking that it is signed by
    /// the requester it names and that it validates.
    ///
    /// - Throws: ``NodeError`` `.badSignature` for a forged or re-signed
    ///   announcement, `.invalidInput` for a spec that does not validate.
    public static func verifiedAnnouncement(_ signed: SignedMessage<JobSpec>) throws -> JobSpec {
        let spec = try signed.verified()
        guard signed.signer == spec.requester else {
            throw NodeError(.badSignature, "job \(spec.id) names requester \(spec.requester) but is signed by \(signed.signer)")
        }
        try spec.validate()
        return spec
    }

    /// The task id used for payments and audit events: unique in the job.
    public static func taskID(round: Int, shard: Int) -> String { "r\(round)-s\(shard)" }
}
