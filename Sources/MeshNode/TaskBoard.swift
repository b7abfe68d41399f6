/// The requester's view of a job's tasks: which (round, shard) is open,
/// leased to whom until when, being verified, or accepted. A value type
/// driven by events and a clock — claims, receipts, verdicts, expiry — with
/// no I/O, so the whole lifecycle is testable without sockets and persists
/// as one JSON value next to the job.
///
/// Rules:
/// - a trainer holds at most one lease per job; claiming again returns it;
/// - a lease past its deadline is reopened (``expire(now:)``) and goes to the next claimant;
/// - a receipt counts only for the lease it names, from the trainer holding it:
///   late (after reassignment), duplicate (already verified) and foreign
///   receipts are answered without effect, so nothing is paid twice;
/// - a banned trainer (proven cheat) gets nothing more and its leases reopen;
/// - the round advances when every shard is accepted.
public struct TaskBoard: Codable, Sendable, Hashable {
    /// Who holds a task, under which lease, until when (Unix seconds).
    public struct Holder: Codable, Sendable, Hashable {
        public var trainer: String
        public var account: String
        public var lease: String
        public var deadline: Double
    }

    public enum Slot: Codable, Sendable, Hashable {
        case open
        case leased(Holder)
        case verifying(Holder)
        case accepted(Holder)

        var holder: Holder? {
            switch self {
            case .open: nil
            case .leased(let h), .verifying(let h), .accepted(let h): h
            }
        }
    }

    public enum ClaimOutcome: Sendable, Hashable {
        case leased(shard: Int, Holder)
        case wait(String)
        case finished
        case refused(String)
    }

    public enum ReceiptCheck: Sendable, Hashable {
        /// Verify the result; the slot is now `.verifying`.
        case verify
        /// Already accepted or being verified: answer as before, change nothing.
        case duplicate(String)
        /// The lease is no longer current (expired and reassigned, or an old round).
        case stale(String)
        /// Not this trainer's task.
        case notYours(String)
    }

    public let rounds: Int
    public let shards: Int
    /// The current round, from 0; equal to `rounds` once the job is done.
    public private(set) var round = 0
    public private(set) var slots: [Slot]
    /// Trainers proven to have cheated, by peer id.
    public private(set) var banned: Set<String> = []

    public init(rounds: Int, shards: Int) {
        precondition(rounds >= 1 && shards >= 1)
        self.rounds = rounds
        self.shards = shards
        slots = Array(repeating: .open, count: shards)
    }

    public var isFinished: Bool { round >= rounds }
    public var isRoundComplete: Bool {
        !isFinished && slots.allSatisfy { if case .accepted = $0 { true } else { false } }
    }

    /// Leases a task to `trainer`, or says why not.
    public mutating func claim(trainer: String, account: String, now: Double, leaseSeconds: Double, leaseID: String) -> ClaimOutcome {
        if isFinished { return .finished }
        if banned.contains(trainer) { return .refused("trainer \(trainer) was slashed for a fraudulent result and gets no more tasks") }
        for slot in slots {
            if case .leased(let holder) = slot, holder.trainer == trainer, holder.deadline > now,
               let shard = slots.firstIndex(of: slot) {
                return .leased(shard: shard, holder)
            }
        }
        guard let shard = slots.firstIndex(of: .open) else {
            return .wait("every task of round \(round + 1) is leased, being verified or done")
        }
        let holder = Holder(trainer: trainer, account: account, lease: leaseID, deadline: now + leaseSeconds)
        slots[shard] = .leased(holder)
        return .leased(shard: shard, holder)
    }

    /// Checks a receipt against the board; on `.verify` the slot moves to verifying.
    public mutating func receive(round receiptRound: Int, shard: Int, lease: String, trainer: String) -> ReceiptCheck {
        guard receiptRound == round, !isFinished else {
            return receiptRound < round ? .stale("round \(receiptRound + 1) is over") : .stale("round \(receiptRound + 1) has not started")
        }
        guard slots.indices.contains(shard) else { return .notYours("shard \(shard) does not exist (the job has \(shards))") }
        let slot = slots[shard]
        guard let holder = slot.holder else { return .stale("the lease expired and the task was reopened") }
        guard holder.lease == lease else {
            return holder.trainer == trainer ? .stale("lease \(lease) was superseded") : .notYours("task r\(round)-s\(shard) is leased to another trainer")
        }
        guard holder.trainer == trainer else { return .notYours("lease \(lease) belongs to \(holder.trainer), not \(trainer)") }
        switch slot {
        case .leased:
            slots[shard] = .verifying(holder)
            return .verify
        case .verifying: return .duplicate("the result is being verified")
        case .accepted: return .duplicate("the result was already accepted")
        case .open: return .stale("the lease expired and the task was reopened")
        }
    }

    /// Records the verdict on a slot being verified: accepted, or reopened.
    public mutating func settle(shard: Int, lease: String, accepted: Bool) {
        guard slots.indices.contains(shard), case .verifying(let holder) = slots[shard], holder.lease == lease else { return }
        slots[shard] = accepted ? .accepted(holder) : .open
    }

    /// Bans `trainer` and reopens the tasks it holds that are not accepted.
    public mutating func ban(_ trainer: String) {
        banned.insert(trainer)
        for index in slots.indices {
            if case .leased(let holder) = slots[index], holder.trainer == trainer { slots[index] = .open }
        }
    }

    /// Reopens leases whose deadline has passed; returns their shards.
    @discardableResult
    public mutating func expire(now: Double) -> [Int] {
        var reopened: [Int] = []
        for index in slots.indices {
            if case .leased(let holder) = slots[index], holder.deadline <= now {
                slots[index] = .open
                reopened.append(index)
            }
        }
        return reopened
    }

    /// After a restart: a verification that was cut short is redone when the
    /// trainer resubmits, so verifying slots go back to leased.
    public mutating func recoverAfterRestart() {
        for index in slots.indices {
            if case .verifying(let holder) = slots[index] { slots[index] = .leased(holder) }
        }
    }

    /// Moves to the next round once every shard is accepted.
    public mutating func advance() {
        precondition(isRoundComplete, "advance() before the round is complete")
        round += 1
        slots = Array(repeating: .open, count: shards)
    }

    /// Holders of accepted slots, by shard.
    public var accepted: [Int: Holder] {
        var result: [Int: Holder] = [:]
        for (index, slot) in slots.enumerated() { if case .accepted(let h) = slot { result[index] = h } }
        return result
    }
}
