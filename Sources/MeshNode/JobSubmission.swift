public import Foundation
public import MeshLedger
public import MeshNN
public import MeshStorage
import Crypto
import Libp2p

/// `meshfl submit`: turns a model and a dataset into a job in the
/// requester's data directory — shards and initial weights stored as objects
/// of its block store, escrow locked, audit topic created, the spec signed —
/// for the requester node to start. The node and the CLI share `node.sqlite`.
public struct JobSubmission: Sendable {
    public var model: ModelSpec
    public var train: Dataset
    /// Held out by the requester: validation loss of updates and accuracy per round.
    public var validation: Dataset
    public var rounds: Int
    public var shards: Int
    public var recipe: JobSpec.Recipe
    public var rewardPerTask: Int64
    public var minimumStake: Int64 = 1_000
    public var slashAmount: Int64 = 1_000
    public var leaseSeconds: Double = 60
    public var reexecutionProbability: Double = 0.25
    public var partitioner: Partitioner = .iid
    public var seed: UInt64 = 1

    public init(model: ModelSpec, train: Dataset, validation: Dataset, rounds: Int, shards: Int,
                recipe: JobSpec.Recipe = .init(), rewardPerTask: Int64) {
        self.model = model
        self.train = train
        self.validation = validation
        self.rounds = rounds
        self.shards = shards
        self.recipe = recipe
        self.rewardPerTask = rewardPerTask
    }

    /// Object keys of a job in the requester's store.
    public enum Keys {
        public static func shard(_ job: String, _ shard: Int) -> String { "jobs/\(job)/shards/\(shard).shard" }
        public static func validation(_ job: String) -> String { "jobs/\(job)/validation.shard" }
        public static func global(_ job: String, round: Int) -> String { "jobs/\(job)/rounds/\(round)/global.safetensors" }
        public static func result(_ job: String, round: Int, shard: Int, lease: String) -> String {
            "jobs/\(job)/results/r\(round)-s\(shard)-\(lease).sealed"
        }
        public static func final(_ job: String) -> String { "jobs/\(job)/final.safetensors" }
        public static func sealedFinal(_ job: String) -> String { "jobs/\(job)/final.sealed" }
        public static func evidence(_ job: String, round: Int, shard: Int) -> String { "jobs/\(job)/evidence/r\(round)-s\(shard).json" }
    }

    /// Prepares the job in `directory` and returns its signed spec.
    public func submit(in directory: NodeDirectory, ledger: any NodeLedger) async throws -> JobSpec {
        _ = try model.validate()
        guard train.sampleShape == model.input else {
            throw NodeError(.invalidInput, "the data's samples are \(train.sampleShape), the model's input is \(model.input); pick matching --model and --data")
        }
        guard shards >= 1, shards <= train.count else {
            throw NodeError(.invalidInput, "--shards must be between 1 and the \(train.count) training samples, got \(shards)")
        }
        let identity = try directory.identity()
        let account = try await ledger.nodeAccount(in: directory, funding: 1_000_000_000)
        let blobs = try directory.blobStore()
        let sealing = try directory.sealingKey()
        let id = "job-" + (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()

        let parts = try partitioner.partition(labels: train.labels, classCount: train.classCount, clients: shards, seed: seed)
        for (index, indices) in parts.enumerated() {
            _ = try await blobs.put(key: Keys.shard(id, index), data: ShardFile.encode(train.subset(indices)),
                                    contentType: "application/x-meshfl-shard")
        }
        _ = try await blobs.put(key: Keys.validation(id), data: ShardFile.encode(validation), contentType: "application/x-meshfl-shard")
        let initial = try Sequential(spec: model, seed: seed)
        _ = try await blobs.put(key: Keys.global(id, round: 0), data: Weights.encode(Weights.of(initial)),
                                contentType: "application/octet-stream")

        let escrow = rewardPerTask * Int64(rounds * shards)
        if escrow > 0 { try await ledger.lockEscrow(job: id, amount: escrow, owner: account) }
        let topic = try await ledger.createTopic(memo: "meshfl audit \(id)", submitKey: nil, payer: account)
        let spec = JobSpec(id: id, requester: identity.peerID.description, requesterAddresses: [],
                           requesterAccount: account.account.description, auditTopic: topic.description,
                           sealingKey: sealing.publicKey.rawRepresentation.map { String(format: "%02x", $0) }.joined(),
                           model: model, rounds: rounds, shards: shards, shardSizes: parts.map(\.count), recipe: recipe,
                           seed: seed, rewardPerTask: rewardPerTask, escrow: escrow, minimumStake: minimumStake,
                           slashAmount: slashAmount, leaseSeconds: leaseSeconds, reexecutionProbability: reexecutionProbability)
        try spec.validate()
        let store = try RequesterStore(path: directory.statePath)
        try store.insertJob(try SignedMessage(signing: spec, with: identity), spec: spec)
        try await AuditLog(ledger: ledger, topic: topic, payer: account).record("job_submitted", [
            "job": .string(id), "rounds": .int(Int64(rounds)), "shards": .int(Int64(shards)),
            "reward_per_task": .int(rewardPerTask), "escrow": .int(escrow),
        ])
        return spec
    }
}
