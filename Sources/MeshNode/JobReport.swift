public import Foundation

/// A job's progress as the requester's state records it: used by
/// `meshfl status`, `meshfl jobs` and the demo's final table.
public struct JobReport: Sendable {
    public struct TrainerLine: Sendable, Hashable {
        public var trainer: String
        public var accepted = 0
        public var rejected = 0
        public var slashed = false
        public var paid: Int64 = 0
    }

    public let record: RequesterStore.JobRecord
    public let rounds: [RequesterStore.RoundResult]
    public let trainers: [TrainerLine]
    public let verdicts: [RequesterStore.Verdict]

    public init(store: RequesterStore, job: String) throws {
        guard let record = try store.job(job) else { throw NodeError(.invalidInput, "no job \(job)") }
        self.record = record
        rounds = try store.rounds(job: job)
        verdicts = try store.verdicts(job: job)
        var lines: [String: TrainerLine] = [:]
        for update in try store.updates(job: job) where update.paid {
            lines[update.trainer, default: TrainerLine(trainer: update.trainer)].paid += update.reward
        }
        for verdict in verdicts {
            var line = lines[verdict.trainer, default: TrainerLine(trainer: verdict.trainer)]
            if verdict.verdict == "accepted" { line.accepted += 1 } else { line.rejected += 1 }
            if verdict.slashed { line.slashed = true }
            lines[verdict.trainer] = line
        }
        trainers = lines.values.sorted { $0.trainer < $1.trainer }
    }

    public var spent: Int64 { trainers.reduce(0) { $0 + $1.paid } }

    public func render() -> String {
        let spec = record.spec
        var out = "job \(spec.id): \(record.status.rawValue), round \(min(record.board.round + 1, spec.rounds))/\(spec.rounds), "
            + "\(spec.shards) shards, reward \(spec.rewardPerTask)/task, spent \(spent) of \(spec.escrow) escrowed\n"
        if !rounds.isEmpty {
            out += "  round  accuracy  loss\n"
            for round in rounds {
                out += String(format: "  %5d  %7.2f%%  %.4f\n", round.round + 1, round.accuracy * 100, round.loss)
            }
        }
        if !trainers.isEmpty {
            out += "  trainer                                                accepted  rejected  paid      slashed\n"
            for line in trainers {
                out += "  \(line.trainer.padding(toLength: 54, withPad: " ", startingAt: 0)) "
                    + String(format: "%8d  %8d  %-8lld  %@\n", line.accepted, line.rejected, line.paid, line.slashed ? "yes" : "no")
            }
        }
        return out
    }
}

extension JobReport {
    /// The report as one JSON object (`meshfl status --json`), for scripts and tests.
    public func json() throws -> Data {
        struct Slot: Codable { var shard: Int; var state: String; var trainer: String? }
        struct Trainer: Codable { var trainer: String; var accepted: Int; var rejected: Int; var paid: Int64; var slashed: Bool }
        struct Round: Codable { var round: Int; var accuracy: Double; var seconds: Double?; var slowestTraining: Double?; var overhead: Double? }
        struct Decision: Codable { var round: Int; var shard: Int; var trainer: String; var verdict: String; var slashed: Bool; var verifiedBy: String? }
        struct Document: Codable {
            var job: String
            var status: String
            var round: Int
            var rounds: Int
            var accuracy: [Double]
            var roundTimes: [Round]
            var slots: [Slot]
            var trainers: [Trainer]
            var spent: Int64
            var escrow: Int64
            var auditTopic: String
            var verdicts: [Decision]
        }
        let slots = record.board.slots.enumerated().map { index, slot -> Slot in
            switch slot {
            case .open: Slot(shard: index, state: "open", trainer: nil)
            case .leased(let h): Slot(shard: index, state: "leased", trainer: h.trainer)
            case .verifying(let h): Slot(shard: index, state: "verifying", trainer: h.trainer)
            case .accepted(let h): Slot(shard: index, state: "accepted", trainer: h.trainer)
            }
        }
        return try CanonicalJSON.encode(Document(
            job: record.spec.id, status: record.status.rawValue, round: min(record.board.round + 1, record.spec.rounds),
            rounds: record.spec.rounds, accuracy: rounds.map(\.accuracy),
            roundTimes: rounds.map { result in
                Round(round: result.round + 1, accuracy: result.accuracy, seconds: result.started.map { result.finished.timeIntervalSince($0) },
                      slowestTraining: result.slowestTraining, overhead: result.overhead)
            },
            slots: slots,
            trainers: trainers.map { Trainer(trainer: $0.trainer, accepted: $0.accepted, rejected: $0.rejected, paid: $0.paid, slashed: $0.slashed) },
            spent: spent, escrow: record.spec.escrow, auditTopic: record.spec.auditTopic,
            verdicts: verdicts.map { Decision(round: $0.round + 1, shard: $0.shard, trainer: $0.trainer, verdict: $0.verdict, slashed: $0.slashed,
                                              verifiedBy: $0.verifiedBy) }))
    }
}
