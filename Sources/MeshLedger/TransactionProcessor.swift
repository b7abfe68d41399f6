/// Checks one signed transaction against the ledger state and applies it.
///
/// Deterministic: the same transaction, consensus time and prior state give the
/// same result, which is what lets `LocalLedger.verify()` rebuild the state by
/// replaying the log. The caller owns the SQLite transaction: on a throw it
/// rolls back, on `.applied` it appends the transaction to the log.
struct TransactionProcessor {
    /// What applying a transaction did.
    enum Outcome {
        /// State changed; log the transaction.
        case applied(TransactionReceipt)
        /// The transaction repeats an escrow release already applied; nothing changed, log nothing.
        case unchanged(TransactionReceipt)
    }

    /// Seconds a stake stays locked after each `stake`.
    let cooldownSeconds: Int64
    /// How far in the future a transaction's valid start may be.
    static let maxClockSkewSeconds: Int64 = 10
    /// Hedera's cap on a transaction's valid duration.
    static let maxValidDurationSeconds: Int64 = 180

    func apply(_ tx: SignedTransaction, logSeq: Int64, consensus: ConsensusTimestamp, store: LedgerStore) throws -> Outcome {
        let body = try tx.body()
        let id = body.transactionID
        guard !(try store.hasTransaction(id)) else {
            throw LedgerError(.duplicateTransaction, "transaction \(id) was already applied; build a new transaction with a fresh valid start.")
        }
        guard !id.scheduled else {
            throw LedgerError(.invalidArgument, "transaction \(id) sets `scheduled`; only a schedule executes scheduled transactions. Clear the flag.")
        }
        try checkValidWindow(body, consensus: consensus)
        let payer = id.payer
        var required = [try store.requireAccountKey(payer, role: "payer")]

        // Collect the keys this operation needs before any state changes.
        switch body.data {
        case .cryptoTransfer(let transfers):
            for t in transfers where t.amount < 0 {
                required.append(try store.requireAccountKey(t.account, role: "debited"))
            }
        case .consensusCreateTopic(let t):
            if let k = t.adminKey { required.append(k) }
        case .consensusSubmitMessage(let s):
            guard let topic = try store.topic(s.topic) else {
                throw LedgerError(.notFound, "topic \(s.topic) does not exist; create it first.")
            }
            if let k = topic.submitKey { required.append(k) }
        case .meshfl(.slash):
            guard payer == LedgerSchema.treasury else {
                throw LedgerError(.unauthorized, "only the slashing authority \(LedgerSchema.treasury) may slash; \(payer) signed.")
            }
        case .scheduleCreate(let sc):
            if let k = sc.adminKey { required.append(k) }
        case .unsupported:
            throw LedgerError(.invalidArgument, "LocalLedger does not execute this transaction type; use cryptoTransfer, schedules, consensus or meshfl operations.")
        default:
            break
        }
        try checkSignatures(tx, required: required)

        let receipt = TransactionReceipt(transactionID: id, consensusTimestamp: consensus)
        switch body.data {
        case .cryptoCreateAccount(let key, let initial):
            guard initial <= UInt64(Int64.max) else { throw LedgerError(.invalidArgument, "initial balance \(initial) is too large.") }
            let account = try store.insertAccount(key: key)
            if initial > 0 {
                try store.adjustBalance(payer, by: -Int64(initial))
                try store.adjustBalance(account, by: Int64(initial))
            }
            return .applied(with(receipt) { $0.accountID = account })

        case .cryptoTransfer(let transfers):
            try applyTransfers(transfers, store: store)
            return .applied(receipt)

        case .consensusCreateTopic(let t):
            let topic = try store.insertTopic(memo: t.memo, adminKey: t.adminKey, submitKey: t.submitKey)
            return .applied(with(receipt) { $0.topicID = topic })

        case .consensusSubmitMessage(let s):
            let message = try submit(s, payer: payer, id: id, consensus: consensus, logSeq: logSeq, store: store)
            return .applied(with(receipt) {
                $0.topicSequenceNumber = message.sequenceNumber
                $0.topicRunningHash = message.runningHash
            })

        case .meshfl(let op):
            return try applyMeshfl(op, payer: payer, logSeq: logSeq, consensus: consensus, receipt: receipt, store: store)

        case .scheduleCreate(let sc):
            return try createSchedule(sc, tx: tx, id: id, consensus: consensus, receipt: receipt, store: store)

        case .scheduleSign(let schedule):
            return try signSchedule(schedule, tx: tx, consensus: consensus, receipt: receipt, store: store)

        case .unsupported:
            fatalError("rejected above")
        }
    }

    private func checkValidWindow(_ body: TransactionBody, consensus: ConsensusTimestamp) throws {
        let start = body.transactionID.validStart
        guard body.validDurationSeconds > 0, body.validDurationSeconds <= Self.maxValidDurationSeconds else {
            throw LedgerError(.invalidArgument, "valid duration \(body.validDurationSeconds) s is outside 1…\(Self.maxValidDurationSeconds) s.")
        }
        guard start.seconds <= consensus.seconds + Self.maxClockSkewSeconds else {
            throw LedgerError(.transactionExpired, "transaction \(body.transactionID) starts after \(consensus) plus \(Self.maxClockSkewSeconds) s; check the clock.")
        }
        let end = ConsensusTimestamp(seconds: start.seconds + body.validDurationSeconds, nanos: start.nanos)
        guard consensus <= end else {
            throw LedgerError(.transactionExpired, "transaction \(body.transactionID) expired at \(end), consensus is \(consensus); sign it again with a new valid start.")
        }
    }

    private func checkSignatures(_ tx: SignedTransaction, required: [HAPIKey]) throws {
        guard !tx.signatures.isEmpty else {
            throw LedgerError(.missingSignature, "the transaction is unsigned; sign the body bytes with the payer's Ed25519 key.")
        }
        let candidates = required.flatMap(\.ed25519Leaves)
        let signers = try tx.verifiedSigners(among: candidates)
        for key in required where !key.isSatisfied(by: signers) {
            throw LedgerError(.missingSignature, "no valid signature for a required key (\(key.shortDescription)); sign with that key.")
        }
    }

    func applyTransfers(_ transfers: [TransactionBody.Transfer], store: LedgerStore) throws {
        guard !transfers.isEmpty, transfers.count <= 10 else {
            throw LedgerError(.invalidArgument, "a transfer has 1…10 legs, got \(transfers.count).")
        }
        var sum: Int64 = 0
        for t in transfers {
            let (s, overflow) = sum.addingReportingOverflow(t.amount)
            guard !overflow, t.amount != .min else { throw LedgerError(.invalidArgument, "transfer amounts overflow.") }
            sum = s
        }
        guard sum == 0 else {
            throw LedgerError(.invalidArgument, "transfer legs sum to \(sum), not 0; debits and credits must balance.")
        }
        for t in transfers where t.amount < 0 { try store.adjustBalance(t.account, by: t.amount) }
        for t in transfers where t.amount > 0 { try store.adjustBalance(t.account, by: t.amount) }
    }

    private func submit(_ s: TransactionBody.SubmitMessage, payer: AccountID, id: TransactionID, consensus: ConsensusTimestamp,
                        logSeq: Int64, store: LedgerStore) throws -> TopicMessage {
        guard !s.message.isEmpty, s.message.count <= MessageChunker.chunkSize else {
            throw LedgerError(.invalidArgument, "a topic message is 1…\(MessageChunker.chunkSize) bytes, got \(s.message.count); split larger messages into chunks.")
        }
        if let c = s.chunkInfo {
            guard c.total >= 1, c.number >= 1, c.number <= c.total, c.total <= Int32(MessageChunker.maxChunks) else {
                throw LedgerError(.invalidArgument, "chunk \(c.number) of \(c.total) is out of range.")
            }
            guard c.initialTransactionID.payer == payer, c.number != 1 || c.initialTransactionID == id else {
                throw LedgerError(.invalidArgument, "chunk 1 must carry its own transaction id as the initial id, and all chunks the same payer.")
            }
        }
        guard let topic = try store.topic(s.topic) else {
            throw LedgerError(.notFound, "topic \(s.topic) does not exist; create it first.")
        }
        let sequence = topic.sequence + 1
        let hash = HCSRunningHash.next(previous: topic.runningHash, payer: payer, topic: s.topic,
                                       consensusTime: consensus, sequenceNumber: sequence, message: s.message)
        let message = TopicMessage(topic: s.topic, sequenceNumber: sequence, consensusTimestamp: consensus, runningHash: hash,
                                   payer: payer, contents: s.message, chunkInfo: s.chunkInfo)
        try store.append(message, logSeq: logSeq)
        return message
    }

    private func requireEscrow(_ job: String, store: LedgerStore) throws -> EscrowState {
        guard let e = try store.escrow(job) else {
            throw LedgerError(.notFound, "no escrow for job '\(job)'; lock funds first.")
        }
        return e
    }

    /// The log sequence of the transaction that already paid `release`'s task
    /// (the same payment asked again), nil if it is unpaid and can be paid;
    /// throws when the task id is bad, was paid otherwise, or the recipient does not exist.
    private func paidBefore(_ release: EscrowRelease, of e: EscrowState, payer: AccountID, store: LedgerStore) throws -> Int64? {
        let (job, task) = (e.job, release.task)
        guard !task.isEmpty, task.utf8.count <= 256 else {
            throw LedgerError(.invalidArgument, "a task id is 1…256 bytes.")
        }
        if let earlier = try store.release(job: job, task: task) {
            guard earlier.recipient == release.recipient, earlier.amount == release.amount, payer == e.owner else {
                throw LedgerError(.invalidArgument, "task '\(task)' of job '\(job)' was already paid \(earlier.amount) to \(earlier.recipient); a release is once per task.")
            }
            return earlier.logSeq
        }
        guard try store.accountKey(release.recipient) != nil else {
            throw LedgerError(.notFound, "the recipient \(release.recipient) does not exist.")
        }
        return nil
    }

    private func applyMeshfl(_ op: MeshflOperation, payer: AccountID, logSeq: Int64, consensus: ConsensusTimestamp,
                             receipt: TransactionReceipt, store: LedgerStore) throws -> Outcome {
        switch op {
        case .escrowLock(let job, let amount):
            try Self.checkJob(job)
            var e = try store.escrow(job) ?? EscrowState(job: job, owner: payer)
            try e.lock(amount, by: payer)
            try store.adjustBalance(payer, by: -amount)
            try store.save(e)
            return .applied(with(receipt) { $0.amount = amount })

        case .escrowRelease(let job, let task, let recipient, let amount):
            var e = try requireEscrow(job, store: store)
            let release = EscrowRelease(task: task, recipient: recipient, amount: amount)
            if let earlier = try paidBefore(release, of: e, payer: payer, store: store) {
                let first = try store.logEntryTime(seq: earlier)
                return .unchanged(TransactionReceipt(transactionID: first.id, consensusTimestamp: first.consensus,
                                                     amount: amount, isIdempotentReplay: true))
            }
            try e.release(amount, by: payer)
            try store.save(e)
            try store.insertRelease(job: job, task: task, recipient: recipient, amount: amount, logSeq: logSeq)
            try store.adjustBalance(recipient, by: amount)
            return .applied(with(receipt) { $0.amount = amount })

        case .escrowReleases(let job, let releases):
            var e = try requireEscrow(job, store: store)
            guard (1...EscrowRelease.maxPerTransaction).contains(releases.count) else {
                throw LedgerError(.invalidArgument, "a release batch pays 1…\(EscrowRelease.maxPerTransaction) tasks, got \(releases.count).")
            }
            guard Set(releases.map(\.task)).count == releases.count else {
                throw LedgerError(.invalidArgument, "a task appears twice in one release batch of job '\(job)'; a release is once per task.")
            }
            // Every check before any change: the batch applies whole or not at all.
            var fresh: [EscrowRelease] = []
            for release in releases where try paidBefore(release, of: e, payer: payer, store: store) == nil {
                try e.release(release.amount, by: payer)
                fresh.append(release)
            }
            // Nothing new: a repeated batch, like a repeated release, changes nothing and is not logged.
            guard !fresh.isEmpty else { return .unchanged(with(receipt) { $0.amount = 0; $0.isIdempotentReplay = true }) }
            try store.save(e)
            for release in fresh {
                try store.insertRelease(job: job, task: release.task, recipient: release.recipient, amount: release.amount, logSeq: logSeq)
                try store.adjustBalance(release.recipient, by: release.amount)
            }
            return .applied(with(receipt) { $0.amount = fresh.reduce(0) { $0 + $1.amount } })

        case .escrowRefund(let job):
            guard var e = try store.escrow(job) else {
                throw LedgerError(.notFound, "no escrow for job '\(job)'.")
            }
            let rest = try e.refund(by: payer)
            try store.save(e)
            if rest > 0 { try store.adjustBalance(e.owner, by: rest) }
            return .applied(with(receipt) { $0.amount = rest })

        case .stake(let amount):
            var s = try store.stake(payer)
            try s.stake(amount, at: consensus, cooldownSeconds: cooldownSeconds)
            try store.adjustBalance(payer, by: -amount)
            try store.save(s)
            return .applied(with(receipt) { $0.amount = amount })

        case .unstake(let amount):
            var s = try store.stake(payer)
            try s.unstake(amount, at: consensus)
            try store.save(s)
            try store.adjustBalance(payer, by: amount)
            return .applied(with(receipt) { $0.amount = amount })

        case .slash(let account, let amount, let cid):
            guard try store.accountKey(account) != nil else {
                throw LedgerError(.notFound, "account \(account) does not exist.")
            }
            var s = try store.stake(account)
            try s.slash(amount, evidenceCID: cid)
            try store.save(s)
            try store.insertSlash(logSeq: logSeq, account: account, amount: amount, evidenceCID: cid)
            try store.adjustBalance(LedgerSchema.treasury, by: amount)
            return .applied(with(receipt) { $0.amount = amount })
        }
    }

    static func checkJob(_ job: String) throws(LedgerError) {
        guard !job.isEmpty, job.utf8.count <= 256 else {
            throw LedgerError(.invalidArgument, "a job id is 1…256 bytes.")
        }
    }
}

/// `value` after `change`.
func with<T>(_ value: T, _ change: (inout T) -> Void) -> T {
    var v = value
    change(&v)
    return v
}

extension HAPIKey {
    /// Every Ed25519 key inside this key.
    var ed25519Leaves: [[UInt8]] {
        switch self {
        case .ed25519(let k): [k]
        case .threshold(_, let keys), .keyList(let keys): keys.flatMap(\.ed25519Leaves)
        }
    }

    var shortDescription: String {
        switch self {
        case .ed25519(let k): "ed25519 \(HexCoding.encode(k.prefix(8)))…"
        case .threshold(let m, let keys): "\(m)-of-\(keys.count) threshold key"
        case .keyList(let keys): "list of \(keys.count) keys"
        }
    }
}
