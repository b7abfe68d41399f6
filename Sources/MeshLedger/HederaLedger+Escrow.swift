internal import Crypto
internal import Synchronization

// Escrow and stakes on Hedera primitives.
//
// Escrow: the first lock of a job creates an account whose key is a 2-of-2
// threshold key {owner, coordinator} (1-of-1 if they are the same key), funded
// by the owner; later locks are plain transfers into it. Neither party can move
// the funds alone: a release or refund is a scheduled transfer that the owner
// creates (`scheduleCreate`, which carries the owner's signature) and the
// coordinator co-signs (`scheduleSign`), whereupon the network executes it. The
// schedule memo names the job and task, so asking twice for the same release
// finds the identical schedule instead of paying twice.
//
// Stakes: a trainer's first stake creates an account held by the slashing
// authority's key (the coordinator), funded by the trainer. Unstaking is a
// scheduled transfer back that the trainer requests and the authority signs once
// the cooldown has passed; slashing is a transfer the authority signs alone, to
// `slashRecipient`.
//
// Every change is then recorded on the registry topic, which `escrow(job:)` and
// `stake(of:)` read back through the mirror node.

extension HederaLedger {
    /// Creates a registry topic whose submit key is the operator's; put its id in `HederaConfiguration.registryTopic`.
    public func createRegistryTopic() async throws -> TopicID {
        let op = configuration.operator
        return try await createTopic(memo: "meshfl registry", submitKey: op.key.publicKey, payer: op)
    }

    @discardableResult
    public func lockEscrow(job: String, amount: Int64, owner: LedgerOperator) async throws -> TransactionReceipt {
        try EscrowState.requirePositive(amount)
        try TransactionProcessor.checkJob(job)
        let registry = try await refreshedRegistry()
        let receipt: TransactionReceipt
        let holder: AccountID
        if let escrow = registry.escrows[job] {
            var state = escrow.state
            try state.lock(amount, by: owner.account)
            holder = escrow.holder
            receipt = try await execute(.cryptoTransfer([.init(account: owner.account, amount: -amount), .init(account: holder, amount: amount)]),
                                        payer: owner, memo: "meshfl escrow lock")
        } else {
            receipt = try await execute(.cryptoCreateAccount(key: escrowKey(owner: owner.key.publicKey), initialBalance: UInt64(amount)),
                                        payer: owner, memo: "meshfl escrow")
            guard let created = receipt.accountID else {
                throw LedgerError(.rejected, "the receipt of \(receipt.transactionID) names no escrow account.")
            }
            holder = created
        }
        try await record(HederaRegistryEvent(op: .lock, job: job, owner: owner.account.description, holder: holder.description, amount: amount))
        return with(receipt) { $0.amount = amount }
    }

    @discardableResult
    public func releaseEscrow(job: String, task: String, to: AccountID, amount: Int64, owner: LedgerOperator) async throws -> TransactionReceipt {
        guard !task.isEmpty, task.utf8.count <= 256 else { throw LedgerError(.invalidArgument, "a task id is 1…256 bytes.") }
        let escrow = try await requireEscrow(job)
        if let earlier = escrow.releases[task] {
            guard earlier == HederaRegistry.Release(recipient: to, amount: amount), owner.account == escrow.state.owner else {
                throw LedgerError(.invalidArgument, "task '\(task)' of job '\(job)' was already paid \(earlier.amount) to \(earlier.recipient); a release is once per task.")
            }
            return TransactionReceipt(transactionID: TransactionID(payer: owner.account, validStart: configuration.clock()),
                                      consensusTimestamp: configuration.clock(), amount: amount, isIdempotentReplay: true)
        }
        var state = escrow.state
        try state.release(amount, by: owner.account)
        let receipt = try await scheduledTransfer(amount, from: escrow.holder, to: to, creator: owner,
                                                  memo: Self.scheduleMemo("release", job, task))
        try await record(HederaRegistryEvent(op: .release, job: job, task: task, account: to.description, holder: escrow.holder.description,
                                             amount: amount, schedule: receipt.scheduleID?.description))
        return with(receipt) { $0.amount = amount }
    }

    @discardableResult
    public func refundEscrow(job: String, owner: LedgerOperator) async throws -> TransactionReceipt {
        let escrow = try await requireEscrow(job)
        var state = escrow.state
        let rest = try state.refund(by: owner.account)
        var receipt = TransactionReceipt(transactionID: TransactionID(payer: owner.account, validStart: configuration.clock()),
                                         consensusTimestamp: configuration.clock())
        if rest > 0 {
            receipt = try await scheduledTransfer(rest, from: escrow.holder, to: owner.account, creator: owner,
                                                  memo: Self.scheduleMemo("refund", job, ""))
        }
        try await record(HederaRegistryEvent(op: .refund, job: job, holder: escrow.holder.description, amount: rest,
                                             schedule: receipt.scheduleID?.description))
        return with(receipt) { $0.amount = rest }
    }

    public func escrow(job: String) async throws -> EscrowState? {
        try await refreshedRegistry().escrows[job]?.state
    }

    /// The Hedera account that holds the escrow of `job`, or nil if none was locked.
    public func escrowAccount(job: String) async throws -> AccountID? {
        try await refreshedRegistry().escrows[job]?.holder
    }

    @discardableResult
    public func stake(_ amount: Int64, trainer: LedgerOperator) async throws -> TransactionReceipt {
        try EscrowState.requirePositive(amount)
        let registry = try await refreshedRegistry()
        let receipt: TransactionReceipt
        let holder: AccountID
        if let stake = registry.stakes[trainer.account] {
            holder = stake.holder
            receipt = try await execute(.cryptoTransfer([.init(account: trainer.account, amount: -amount), .init(account: holder, amount: amount)]),
                                        payer: trainer, memo: "meshfl stake")
        } else {
            receipt = try await execute(.cryptoCreateAccount(key: .ed25519(configuration.operator.key.publicKey.rawRepresentation),
                                                             initialBalance: UInt64(amount)),
                                        payer: trainer, memo: "meshfl stake")
            guard let created = receipt.accountID else {
                throw LedgerError(.rejected, "the receipt of \(receipt.transactionID) names no stake account.")
            }
            holder = created
        }
        try await record(HederaRegistryEvent(op: .stake, account: trainer.account.description, holder: holder.description, amount: amount))
        return with(receipt) { $0.amount = amount }
    }

    @discardableResult
    public func unstake(_ amount: Int64, trainer: LedgerOperator) async throws -> TransactionReceipt {
        let registry = try await refreshedRegistry()
        guard let stake = registry.stakes[trainer.account] else {
            throw LedgerError(.insufficientStake, "\(trainer.account) has nothing staked.")
        }
        var state = stake.state
        try state.unstake(amount, at: configuration.clock())
        let receipt = try await scheduledTransfer(amount, from: stake.holder, to: trainer.account, creator: trainer,
                                                  memo: Self.scheduleMemo("unstake", trainer.account.description, "\(stake.unstakes + 1)"))
        try await record(HederaRegistryEvent(op: .unstake, account: trainer.account.description, holder: stake.holder.description,
                                             amount: amount, schedule: receipt.scheduleID?.description))
        return with(receipt) { $0.amount = amount }
    }

    @discardableResult
    public func slash(_ account: AccountID, amount: Int64, evidenceCID: String, authority: LedgerOperator) async throws -> TransactionReceipt {
        guard authority.account == configuration.operator.account else {
            throw LedgerError(.unauthorized, "only the slashing authority \(configuration.operator.account) may slash; \(authority.account) asked.")
        }
        let registry = try await refreshedRegistry()
        guard let stake = registry.stakes[account] else {
            throw LedgerError(.insufficientStake, "\(account) has nothing staked to slash.")
        }
        var state = stake.state
        try state.slash(amount, evidenceCID: evidenceCID)
        let recipient = configuration.slashRecipient ?? configuration.operator.account
        let receipt = try await execute(.cryptoTransfer([.init(account: stake.holder, amount: -amount), .init(account: recipient, amount: amount)]),
                                        payer: authority, memo: "meshfl slash")
        try await record(HederaRegistryEvent(op: .slash, account: account.description, holder: stake.holder.description,
                                             amount: amount, cid: evidenceCID))
        return with(receipt) { $0.amount = amount }
    }

    public func stake(of account: AccountID) async throws -> StakeState {
        try await refreshedRegistry().stakes[account]?.state ?? StakeState(account: account)
    }

    // MARK: Building blocks

    /// The key of a job's escrow account: owner and coordinator must both sign.
    func escrowKey(owner: Ed25519PublicKey) -> HAPIKey {
        let coordinator = configuration.operator.key.publicKey
        if owner == coordinator { return .threshold(1, [.ed25519(owner.rawRepresentation)]) }
        return .threshold(2, [.ed25519(owner.rawRepresentation), .ed25519(coordinator.rawRepresentation)])
    }

    /// A transfer out of a threshold-key account: `creator` schedules it, the coordinator signs it,
    /// and the scheduled transaction's own receipt confirms it ran. Returns that receipt.
    func scheduledTransfer(_ amount: Int64, from holder: AccountID, to recipient: AccountID, creator: LedgerOperator,
                           memo: String) async throws -> TransactionReceipt {
        let coordinator = configuration.operator
        let schedule = TransactionBody.ScheduleCreate(
            transfers: [.init(account: holder, amount: -amount), .init(account: recipient, amount: amount)],
            memo: memo, payer: coordinator.account)
        let created = try await execute(.scheduleCreate(schedule), payer: creator, accepting: [.identicalScheduleAlreadyCreated])
        guard let scheduleID = created.scheduleID, let scheduled = created.scheduledTransactionID else {
            throw LedgerError(.rejected, "the receipt of schedule create \(created.transactionID) names no schedule.")
        }
        if creator.key.publicKey != coordinator.key.publicKey || created.isIdempotentReplay {
            try await execute(.scheduleSign(scheduleID), payer: coordinator, accepting: [.scheduleAlreadyExecuted])
        }
        let done = try await receipt(for: scheduled)
        return with(done) {
            $0.scheduleID = scheduleID
            $0.scheduledTransactionID = scheduled
        }
    }

    /// A schedule memo (≤ 100 bytes) naming the operation and a digest of its subject, so the same
    /// request always builds the identical schedule.
    static func scheduleMemo(_ operation: String, _ subject: String, _ detail: String) -> String {
        let digest = SHA256.hash(data: Array("\(subject)\u{0}\(detail)".utf8))
        return "meshfl \(operation) " + HexCoding.encode(Array(digest).prefix(16))
    }

    func requireEscrow(_ job: String) async throws -> HederaRegistry.Escrow {
        guard let escrow = try await refreshedRegistry().escrows[job] else {
            throw LedgerError(.notFound, "no escrow for job '\(job)' on the registry topic; lock funds first.")
        }
        return escrow
    }

    func registryTopic() throws(LedgerError) -> TopicID {
        guard let topic = configuration.registryTopic else {
            throw LedgerError(.invalidArgument, "HederaConfiguration.registryTopic is not set; create one with HederaLedger.createRegistryTopic() and set it.")
        }
        return topic
    }

    /// Submits one registry entry, signed by the operator (the topic's submit key).
    func record(_ event: HederaRegistryEvent) async throws {
        let op = configuration.operator
        try await submitMessage(try event.encoded(), to: try registryTopic(), payer: op, submitKey: op.key)
    }

    /// The registry with every message the mirror node has so far.
    func refreshedRegistry() async throws -> HederaRegistry {
        let topic = try registryTopic()
        // Bounded: at most 1,000 pages of 100 per call; a longer backlog is read on by the next call.
        for _ in 0..<1_000 {
            let next = registryCache.withLock { $0.nextSequence }
            let page = try await messages(topic: topic, from: next, limit: 100)
            registryCache.withLock { registry in for m in page { registry.receive(m) } }
            if page.count < 100 { break }
        }
        return registryCache.withLock { $0 }
    }
}
