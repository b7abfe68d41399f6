internal import Foundation

/// One entry of the meshfl registry topic: what happened to an escrow or a stake on Hedera.
///
/// Hedera keeps the money (escrow and stake accounts); the registry topic keeps
/// what the money is for — which job an escrow account pays, which tasks were
/// paid, when a stake unlocks. Entries are JSON, at most one HCS chunk, and
/// only the coordinator (the topic's submit key) writes them.
struct HederaRegistryEvent: Codable, Hashable, Sendable {
    enum Operation: String, Codable, Sendable {
        case lock, release, refund, stake, unstake, slash
    }

    /// The format version (1).
    var v = 1
    var op: Operation
    /// The job, for escrow entries.
    var job: String?
    /// The task a release paid.
    var task: String?
    /// The release recipient, or the trainer of a stake entry.
    var account: String?
    /// The escrow's owner, on a lock.
    var owner: String?
    /// The escrow or stake account that holds the funds.
    var holder: String?
    var amount: Int64
    /// The schedule that moved the funds, for releases, refunds and unstakes.
    var schedule: String?
    /// The evidence of a slash.
    var cid: String?

    func encoded() throws(LedgerError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(self) else {
            throw LedgerError(.invalidArgument, "the registry entry for \(op.rawValue) cannot be encoded as JSON.")
        }
        guard data.count <= MessageChunker.chunkSize else {
            throw LedgerError(.invalidArgument, "the registry entry is \(data.count) bytes, over one HCS chunk (\(MessageChunker.chunkSize)); shorten the job or task id.")
        }
        return Array(data)
    }

    static func decode(_ bytes: [UInt8]) -> HederaRegistryEvent? {
        try? JSONDecoder().decode(HederaRegistryEvent.self, from: Data(bytes))
    }
}

/// The escrows and stakes the registry topic describes, folded from its messages in order.
///
/// A value type fed one topic message at a time; entries that do not decode or
/// break the escrow and stake rules are counted in `ignored` and change nothing.
struct HederaRegistry: Sendable {
    struct Escrow: Sendable {
        var state: EscrowState
        /// The Hedera account (threshold key: owner and coordinator) holding the funds.
        var holder: AccountID
        /// Paid tasks: recipient and amount.
        var releases: [String: Release]
    }

    struct Release: Hashable, Sendable {
        var recipient: AccountID
        var amount: Int64
    }

    struct Stake: Sendable {
        var state: StakeState
        /// The Hedera account (the slashing authority's key) holding the stake.
        var holder: AccountID
        /// Unstakes so far; numbers each unstake schedule so none is identical to an earlier one.
        var unstakes: Int
    }

    var escrows: [String: Escrow] = [:]
    var stakes: [AccountID: Stake] = [:]
    /// The next topic sequence number to read.
    var nextSequence: Int64 = 1
    /// Messages that changed nothing.
    var ignored = 0
    let cooldownSeconds: Int64

    init(cooldownSeconds: Int64) {
        self.cooldownSeconds = cooldownSeconds
    }

    /// Applies the message with the next sequence number; earlier ones are skipped (already applied).
    mutating func receive(_ message: TopicMessage) {
        guard message.sequenceNumber >= nextSequence else { return }
        nextSequence = message.sequenceNumber + 1
        guard let event = HederaRegistryEvent.decode(message.contents), (try? apply(event, at: message.consensusTimestamp)) != nil else {
            ignored += 1
            return
        }
    }

    private mutating func apply(_ e: HederaRegistryEvent, at time: ConsensusTimestamp) throws {
        func account(_ s: String?) throws -> AccountID {
            guard let s else { throw LedgerError(.malformed, "missing account") }
            return try AccountID(parsing: s)
        }
        switch e.op {
        case .lock:
            guard let job = e.job else { throw LedgerError(.malformed, "lock without job") }
            let owner = try account(e.owner)
            var escrow = try escrows[job] ?? Escrow(state: EscrowState(job: job, owner: owner), holder: account(e.holder), releases: [:])
            guard escrow.holder == (try account(e.holder)) else { throw LedgerError(.malformed, "holder changed") }
            try escrow.state.lock(e.amount, by: owner)
            escrows[job] = escrow
        case .release:
            guard let job = e.job, let task = e.task, var escrow = escrows[job], escrow.releases[task] == nil else {
                throw LedgerError(.malformed, "release of an unknown escrow or a paid task")
            }
            try escrow.state.release(e.amount, by: escrow.state.owner)
            escrow.releases[task] = Release(recipient: try account(e.account), amount: e.amount)
            escrows[job] = escrow
        case .refund:
            guard let job = e.job, var escrow = escrows[job] else { throw LedgerError(.malformed, "refund of an unknown escrow") }
            guard try escrow.state.refund(by: escrow.state.owner) == e.amount else { throw LedgerError(.malformed, "refund amount") }
            escrows[job] = escrow
        case .stake:
            let trainer = try account(e.account)
            var stake = try stakes[trainer] ?? Stake(state: StakeState(account: trainer), holder: account(e.holder), unstakes: 0)
            try stake.state.stake(e.amount, at: time, cooldownSeconds: cooldownSeconds)
            stakes[trainer] = stake
        case .unstake:
            let trainer = try account(e.account)
            guard var stake = stakes[trainer] else { throw LedgerError(.malformed, "unstake without stake") }
            try stake.state.unstake(e.amount, at: time)
            stake.unstakes += 1
            stakes[trainer] = stake
        case .slash:
            let trainer = try account(e.account)
            guard var stake = stakes[trainer] else { throw LedgerError(.malformed, "slash without stake") }
            try stake.state.slash(e.amount, evidenceCID: e.cid ?? "")
            stakes[trainer] = stake
        }
    }
}
