internal import GRDB
public import Foundation

/// The requester's durable state in `node.sqlite` (WAL): jobs with their
/// signed spec and task board, accepted updates, payments and round results.
/// Every state change is one SQLite transaction, so a requester killed at any
/// point restarts with a board that matches the updates and payments on disk;
/// payments themselves are idempotent per task on the ledger, so replaying
/// an unpaid accepted update after a crash never pays twice.
public final class RequesterStore: Sendable {
    let pool: DatabasePool

    public init(path: String) throws {
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(30)
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw NodeError(.storage, "cannot open the node state \(path): \(error); is it a meshfl node.sqlite?")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE jobs (
                    id TEXT PRIMARY KEY,
                    signed BLOB NOT NULL,
                    board BLOB NOT NULL,
                    status TEXT NOT NULL,
                    submitted REAL NOT NULL
                );
                CREATE TABLE updates (
                    job TEXT NOT NULL, round INTEGER NOT NULL, shard INTEGER NOT NULL,
                    trainer TEXT NOT NULL, account TEXT NOT NULL, lease TEXT NOT NULL,
                    digest TEXT NOT NULL, samples INTEGER NOT NULL, loss REAL NOT NULL,
                    weights_key TEXT NOT NULL, reward INTEGER NOT NULL, paid INTEGER NOT NULL DEFAULT 0,
                    reexecuted INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (job, round, shard)
                );
                CREATE TABLE rounds (
                    job TEXT NOT NULL, round INTEGER NOT NULL,
                    accuracy REAL NOT NULL, loss REAL NOT NULL, finished REAL NOT NULL,
                    PRIMARY KEY (job, round)
                );
                CREATE TABLE verdicts (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    job TEXT NOT NULL, round INTEGER NOT NULL, shard INTEGER NOT NULL,
                    trainer TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL,
                    slashed INTEGER NOT NULL DEFAULT 0, evidence TEXT, at REAL NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2-round-timing") { db in
            try db.execute(sql: """
                ALTER TABLE rounds ADD COLUMN started REAL;
                ALTER TABLE rounds ADD COLUMN train_seconds REAL;
                """)
        }
        migrator.registerMigration("v3-verified-by") { db in
            // Who re-executed: a validator's peer id or `requester` (NULL: not re-executed, or recorded before v3).
            try db.execute(sql: """
                ALTER TABLE updates ADD COLUMN verified_by TEXT;
                ALTER TABLE verdicts ADD COLUMN verified_by TEXT;
                """)
        }
        migrator.registerMigration("v4-update-weights") { db in
            // An accepted update's plaintext weights, written in the transaction that accepts it (NULL: kept in the blob store under weights_key).
            try db.execute(sql: "ALTER TABLE updates ADD COLUMN weights BLOB")
        }
        migrator.registerMigration("v5-global-weights") { db in
            // Each round's global weights, written in the transaction that opens the round: the blob trainers
            // download is then written without fsync and restored from here when a crash lost it.
            try db.execute(sql: """
                CREATE TABLE globals (
                    job TEXT NOT NULL, round INTEGER NOT NULL, weights BLOB NOT NULL,
                    PRIMARY KEY (job, round)
                )
                """)
        }
        migrator.registerMigration("v6-audit-outbox") { db in
            // Audit events wait in the outbox, in order, until the ledger has them (Requester+Audit.swift);
            // audit_topics keeps the sequence number of the last one each topic took.
            try db.execute(sql: """
                CREATE TABLE audit_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, message BLOB NOT NULL);
                CREATE TABLE audit_topics (topic TEXT PRIMARY KEY, sequence INTEGER NOT NULL);
                """)
        }
        migrator.registerMigration("v7-unpaid-index") { db in
            // Payments go out behind the trainers' answers; the maintenance loop looks for the ones still owed.
            try db.execute(sql: "CREATE INDEX updates_unpaid ON updates (job, round, shard) WHERE paid = 0")
        }
        return migrator
    }

    // MARK: Jobs

    public enum JobStatus: String, Sendable, Codable {
        /// Submitted; its node has not started it yet.
        case pending
        case running
        case done
    }

    public struct JobRecord: Sendable {
        public var signed: SignedMessage<JobSpec>
        public var spec: JobSpec
        public var board: TaskBoard
        public var status: JobStatus
        public var submitted: Date
    }

    public func insertJob(_ signed: SignedMessage<JobSpec>, spec: JobSpec) throws {
        let board = TaskBoard(rounds: spec.rounds, shards: spec.shards)
        try write { db in
            try db.run(sql: "INSERT INTO jobs (id, signed, board, status, submitted) VALUES (?, ?, ?, ?, ?)",
                           arguments: [spec.id, try CanonicalJSON.encode(signed), try CanonicalJSON.encode(board),
                                       JobStatus.pending.rawValue, Date().timeIntervalSince1970])
        }
    }

    public func jobs() throws -> [JobRecord] {
        try read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM jobs ORDER BY submitted")).map(Self.record)
        }
    }

    /// The ids of the jobs not done yet, oldest first (no decoding, no signature checks).
    public func unfinishedJobIDs() throws -> [String] {
        try read { db in
            try String.fetchAll(try db.cachedStatement(sql: "SELECT id FROM jobs WHERE status != ? ORDER BY submitted"),
                                arguments: [JobStatus.done.rawValue])
        }
    }

    public func job(_ id: String) throws -> JobRecord? {
        try read { db in try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM jobs WHERE id = ?"), arguments: [id]).map(Self.record) }
    }

    static func record(_ row: Row) throws -> JobRecord {
        let signed = try JSONDecoder().decode(SignedMessage<JobSpec>.self, from: row["signed"] as Data)
        return JobRecord(signed: signed, spec: try signed.verified(),
                         board: try JSONDecoder().decode(TaskBoard.self, from: row["board"] as Data),
                         status: JobStatus(rawValue: row["status"]) ?? .pending,
                         submitted: Date(timeIntervalSince1970: row["submitted"]))
    }

    /// Saves a job's board (and queues `audit`, when given, in the same transaction).
    public func saveBoard(job: String, _ board: TaskBoard, status: JobStatus? = nil, audit: AuditEvent? = nil) throws {
        try write { db in
            try Self.saveBoard(db, job: job, board, status: status)
            if let audit { try Self.enqueueAudit(db, audit) }
        }
    }

    static func saveBoard(_ db: Database, job: String, _ board: TaskBoard, status: JobStatus?) throws {
        if let status {
            try db.run(sql: "UPDATE jobs SET board = ?, status = ? WHERE id = ?",
                           arguments: [try CanonicalJSON.encode(board), status.rawValue, job])
        } else {
            try db.run(sql: "UPDATE jobs SET board = ? WHERE id = ?", arguments: [try CanonicalJSON.encode(board), job])
        }
    }

    // MARK: Updates

    public struct UpdateRecord: Sendable, Hashable {
        public var job: String
        public var round: Int
        public var shard: Int
        public var trainer: String
        public var account: String
        public var lease: String
        public var digest: String
        public var samples: Int
        public var loss: Float
        public var weightsKey: String
        public var reward: Int64
        public var paid: Bool
        public var reexecuted: Bool
        /// Who verified the result: a validator's peer id or `requester`.
        public var verifiedBy: String?

        public init(job: String, round: Int, shard: Int, trainer: String, account: String, lease: String, digest: String,
                    samples: Int, loss: Float, weightsKey: String, reward: Int64, paid: Bool = false, reexecuted: Bool,
                    verifiedBy: String? = nil) {
            self.job = job
            self.round = round
            self.shard = shard
            self.trainer = trainer
            self.account = account
            self.lease = lease
            self.digest = digest
            self.samples = samples
            self.loss = loss
            self.weightsKey = weightsKey
            self.reward = reward
            self.paid = paid
            self.reexecuted = reexecuted
            self.verifiedBy = verifiedBy
        }
    }

    /// Records an accepted update (with its plaintext `weights`, when given),
    /// the board that accepts it and its `audit` event, atomically.
    public func accept(_ update: UpdateRecord, weights: Data? = nil, board: TaskBoard, audit: AuditEvent? = nil) throws {
        try write { db in
            if let audit { try Self.enqueueAudit(db, audit) }
            try db.run(sql: """
                INSERT INTO updates (job, round, shard, trainer, account, lease, digest, samples, loss, weights_key, reward, paid, reexecuted, verified_by, weights)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
                """, arguments: [update.job, update.round, update.shard, update.trainer, update.account, update.lease, update.digest,
                                 update.samples, Double(update.loss), update.weightsKey, update.reward, update.reexecuted, update.verifiedBy,
                                 weights])
            try Self.saveBoard(db, job: update.job, board, status: nil)
            try Self.insertVerdict(db, job: update.job, round: update.round, shard: update.shard, trainer: update.trainer,
                                   verdict: "accepted", reason: update.reexecuted ? "verified, re-executed" : "verified", slashed: false, evidence: nil,
                                   verifiedBy: update.verifiedBy)
        }
    }

    /// An accepted update's weights as stored with it (nil when they live in the blob store under its weightsKey).
    public func updateWeights(job: String, round: Int, shard: Int) throws -> Data? {
        try read { db in
            try Data.fetchOne(try db.cachedStatement(sql: "SELECT weights FROM updates WHERE job = ? AND round = ? AND shard = ?"), arguments: [job, round, shard])
        }
    }

    /// Marks several updates paid in one transaction.
    public func markPaid(_ updates: [UpdateRecord]) throws {
        try write { db in
            for update in updates {
                try db.run(sql: "UPDATE updates SET paid = 1 WHERE job = ? AND round = ? AND shard = ?", arguments: [update.job, update.round, update.shard])
            }
        }
    }

    /// The columns of an ``UpdateRecord`` (not the weights: ``updateWeights(job:round:shard:)`` reads those).
    static let updateColumns = "job, round, shard, trainer, account, lease, digest, samples, loss, weights_key, reward, paid, reexecuted, verified_by"

    public func updates(job: String, round: Int? = nil) throws -> [UpdateRecord] {
        try read { db in
            let rows = if let round {
                try Row.fetchAll(try db.cachedStatement(sql: "SELECT \(Self.updateColumns) FROM updates WHERE job = ? AND round = ? ORDER BY shard"),
                                 arguments: [job, round])
            } else {
                try Row.fetchAll(try db.cachedStatement(sql: "SELECT \(Self.updateColumns) FROM updates WHERE job = ? ORDER BY round, shard"), arguments: [job])
            }
            return rows.map(Self.update)
        }
    }

    /// Accepted updates whose payment is not recorded yet, of every job, oldest first.
    public func unpaidUpdates() throws -> [UpdateRecord] {
        try read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT \(Self.updateColumns) FROM updates WHERE paid = 0 ORDER BY job, round, shard")).map(Self.update)
        }
    }

    static func update(_ row: Row) -> UpdateRecord {
        UpdateRecord(job: row["job"], round: row["round"], shard: row["shard"], trainer: row["trainer"], account: row["account"],
                     lease: row["lease"], digest: row["digest"], samples: row["samples"], loss: Float(row["loss"] as Double),
                     weightsKey: row["weights_key"], reward: row["reward"], paid: row["paid"] as Bool, reexecuted: row["reexecuted"] as Bool,
                     verifiedBy: row["verified_by"])
    }

    // MARK: Verdicts and rounds

    public struct Verdict: Sendable, Hashable {
        public var round: Int
        public var shard: Int
        public var trainer: String
        public var verdict: String
        public var reason: String
        public var slashed: Bool
        public var evidence: String?
        /// Who verified: a validator's peer id or `requester` (nil when not recorded).
        public var verifiedBy: String?
    }

    /// Records a refused result (and the board that reopened its task), atomically.
    public func refuse(job: String, round: Int, shard: Int, trainer: String, reason: String, slashed: Bool, evidence: String?, board: TaskBoard,
                       verifiedBy: String? = nil) throws {
        try write { db in
            try Self.saveBoard(db, job: job, board, status: nil)
            try Self.insertVerdict(db, job: job, round: round, shard: shard, trainer: trainer,
                                   verdict: slashed ? "slashed" : "rejected", reason: reason, slashed: slashed, evidence: evidence,
                                   verifiedBy: verifiedBy)
        }
    }

    static func insertVerdict(_ db: Database, job: String, round: Int, shard: Int, trainer: String, verdict: String,
                              reason: String, slashed: Bool, evidence: String?, verifiedBy: String? = nil) throws {
        try db.run(sql: "INSERT INTO verdicts (job, round, shard, trainer, verdict, reason, slashed, evidence, at, verified_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       arguments: [job, round, shard, trainer, verdict, reason, slashed, evidence, Date().timeIntervalSince1970, verifiedBy])
    }

    public func verdicts(job: String) throws -> [Verdict] {
        try read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM verdicts WHERE job = ? ORDER BY id"), arguments: [job]).map { row in
                Verdict(round: row["round"], shard: row["shard"], trainer: row["trainer"], verdict: row["verdict"],
                        reason: row["reason"], slashed: row["slashed"] as Bool, evidence: row["evidence"], verifiedBy: row["verified_by"])
            }
        }
    }

    public struct RoundResult: Sendable, Hashable {
        public var round: Int
        public var accuracy: Double
        public var loss: Double
        public var finished: Date
        /// When the round's first task was leased (nil if the requester restarted during the round).
        public var started: Date?
        /// The slowest accepted task's training time, as its trainer reported it.
        public var slowestTraining: Double?

        /// Round wall time minus the slowest trainer's training: what the protocol costs.
        public var overhead: Double? {
            guard let started, let slowestTraining else { return nil }
            return finished.timeIntervalSince(started) - slowestTraining
        }
    }

    /// Records the last round and the finished board, atomically (``markDone(job:)`` follows once the escrow is settled).
    public func finishRound(job: String, round: Int, accuracy: Double, loss: Double, board: TaskBoard,
                            started: Date? = nil, slowestTraining: Double? = nil) throws {
        try write { db in
            try db.run(sql: """
                INSERT OR REPLACE INTO rounds (job, round, accuracy, loss, finished, started, train_seconds) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [job, round, accuracy, loss, Date().timeIntervalSince1970, started?.timeIntervalSince1970, slowestTraining])
            try Self.saveBoard(db, job: job, board, status: nil)
        }
    }

    /// Marks a job done: its last round is recorded, its escrow refunded and its audit events on the ledger.
    public func markDone(job: String) throws {
        try write { db in try db.run(sql: "UPDATE jobs SET status = ? WHERE id = ?", arguments: [JobStatus.done.rawValue, job]) }
    }

    /// Moves the job to the next round before the finished round is evaluated: trainers start on the
    /// new global weights while ``recordRound(job:round:accuracy:loss:started:slowestTraining:)`` waits for the evaluation.
    /// `global` is the new round's weights.
    public func advanceRound(job: String, board: TaskBoard, global: Data? = nil) throws {
        try write { db in
            try Self.saveBoard(db, job: job, board, status: nil)
            if let global {
                try db.run(sql: "INSERT OR REPLACE INTO globals (job, round, weights) VALUES (?, ?, ?)", arguments: [job, board.round, global])
            }
        }
    }

    /// The global weights of `round` as written when it opened (rounds after the first), or nil.
    public func globalWeights(job: String, round: Int) throws -> Data? {
        try read { db in
            try Data.fetchOne(try db.cachedStatement(sql: "SELECT weights FROM globals WHERE job = ? AND round = ?"), arguments: [job, round])
        }
    }

    /// Records a finished round's evaluation and timing.
    public func recordRound(job: String, round: Int, accuracy: Double, loss: Double, started: Date?, slowestTraining: Double?,
                            finished: Date = Date()) throws {
        try write { db in
            try db.run(sql: """
                INSERT OR REPLACE INTO rounds (job, round, accuracy, loss, finished, started, train_seconds) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [job, round, accuracy, loss, finished.timeIntervalSince1970, started?.timeIntervalSince1970, slowestTraining])
        }
    }

    public func rounds(job: String) throws -> [RoundResult] {
        try read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM rounds WHERE job = ? ORDER BY round"), arguments: [job]).map { row in
                RoundResult(round: row["round"], accuracy: row["accuracy"], loss: row["loss"],
                            finished: Date(timeIntervalSince1970: row["finished"]),
                            started: (row["started"] as Double?).map(Date.init(timeIntervalSince1970:)),
                            slowestTraining: row["train_seconds"])
            }
        }
    }

    // MARK: Plumbing

    // MARK: Audit outbox

    /// An audit event waiting for the ledger.
    public struct PendingAudit: Sendable, Hashable {
        public var id: Int64
        public var topic: String
        public var message: Data
    }

    /// An audit event to queue: the topic it goes to and its message.
    public struct AuditEvent: Sendable, Hashable {
        public var topic: String
        public var message: Data

        public init(topic: String, message: Data) {
            self.topic = topic
            self.message = message
        }
    }

    /// Queues an audit event behind the ones already waiting.
    public func enqueueAudit(topic: String, message: Data) throws {
        try write { db in try Self.enqueueAudit(db, AuditEvent(topic: topic, message: message)) }
    }

    static func enqueueAudit(_ db: Database, _ event: AuditEvent) throws {
        try db.run(sql: "INSERT INTO audit_outbox (topic, message) VALUES (?, ?)", arguments: [event.topic, event.message])
    }

    /// The oldest waiting audit events, in the order they were queued.
    public func pendingAudit(limit: Int) throws -> [PendingAudit] {
        try read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT id, topic, message FROM audit_outbox ORDER BY id LIMIT ?"), arguments: [limit]).map {
                PendingAudit(id: $0["id"], topic: $0["topic"], message: $0["message"])
            }
        }
    }

    /// An event the ledger took: its outbox id, topic and sequence number there.
    public struct SentAudit: Sendable, Hashable {
        public var id: Int64
        public var topic: String
        public var sequence: Int64?

        public init(id: Int64, topic: String, sequence: Int64?) {
            self.id = id
            self.topic = topic
            self.sequence = sequence
        }
    }

    /// The ledger took these events (in this order), recorded in one transaction.
    public func auditSent(_ events: [SentAudit]) throws {
        guard !events.isEmpty else { return }
        try write { db in
            for event in events {
                try db.run(sql: "DELETE FROM audit_outbox WHERE id = ?", arguments: [event.id])
                if let sequence = event.sequence {
                    try db.run(sql: "INSERT OR REPLACE INTO audit_topics (topic, sequence) VALUES (?, ?)", arguments: [event.topic, sequence])
                }
            }
        }
    }

    /// The sequence number of the last audit event `topic` took from this node, if any.
    public func lastAuditSequence(topic: String) throws -> Int64? {
        try read { db in try Int64.fetchOne(try db.cachedStatement(sql: "SELECT sequence FROM audit_topics WHERE topic = ?"), arguments: [topic]) }
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.write(body) } catch let error as NodeError { throw error } catch {
            throw NodeError(.storage, "node state write failed: \(error)")
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch let error as NodeError { throw error } catch {
            throw NodeError(.storage, "node state read failed: \(error)")
        }
    }
}

extension RequesterStore {
    /// Replaces a job's signed spec (the node signs it again with its listen addresses when it starts the job).
    public func updateSigned(job: String, _ signed: SignedMessage<JobSpec>, status: JobStatus) throws {
        try write { db in
            try db.run(sql: "UPDATE jobs SET signed = ?, status = ? WHERE id = ?",
                           arguments: [try CanonicalJSON.encode(signed), status.rawValue, job])
        }
    }
}

extension Database {
    /// Runs one SQL statement through the connection's statement cache
    /// (compiled once per connection, not on every call).
    func run(sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}
