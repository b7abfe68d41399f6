/// The meshfl ledger: accounts, hbar transfers, job escrow, trainer stakes and
/// HCS-style audit topics.
///
/// Every change is an Ed25519-signed HAPI transaction. `LocalLedger` implements
/// it on one SQLite file; a Hedera-backed implementation sends the same
/// transactions to the network.
///
/// ```swift
/// let ledger = try LocalLedger(path: "/tmp/dev.ledger")
/// let owner = try await ledger.createFundedAccount(balance: 10_000)
/// let trainer = try await ledger.createFundedAccount(balance: 0)
/// try await ledger.lockEscrow(job: "job-1", amount: 1_000, owner: owner)
/// try await ledger.releaseEscrow(job: "job-1", task: "task-7", to: trainer.account, amount: 100, owner: owner)
/// let topic = try await ledger.createTopic(memo: "job-1 audit", submitKey: nil, payer: owner)
/// let receipts = try await ledger.submitMessage(Array("joined".utf8), to: topic, payer: owner)
/// ```
public protocol Ledger: Sendable {
    /// Creates an account with `publicKey`, funded with `initialBalance` tinybars by `payer`.
    func createAccount(publicKey: Ed25519PublicKey, initialBalance: Int64, payer: LedgerOperator) async throws -> AccountID
    /// The balance of `account` in tinybars.
    func balance(of account: AccountID) async throws -> Int64
    /// Moves `amount` tinybars from `from` to `to`.
    @discardableResult
    func transfer(_ amount: Int64, from: LedgerOperator, to: AccountID) async throws -> TransactionReceipt

    /// Locks `amount` tinybars of `owner` in the escrow of `job` (created on first lock).
    @discardableResult
    func lockEscrow(job: String, amount: Int64, owner: LedgerOperator) async throws -> TransactionReceipt
    /// Pays `amount` from the escrow of `job` to `to` for `task`.
    ///
    /// Idempotent per task: repeating the same release returns the first receipt
    /// with `isIdempotentReplay` set; a different amount or recipient for a paid
    /// task throws `invalidArgument`. Never pays beyond what is locked.
    @discardableResult
    func releaseEscrow(job: String, task: String, to: AccountID, amount: Int64, owner: LedgerOperator) async throws -> TransactionReceipt
    /// Pays several tasks of `job` at once: each release as by
    /// ``releaseEscrow(job:task:to:amount:owner:)`` (once per task; asking again
    /// for a paid task with the same recipient and amount is a no-op), in one
    /// transaction where the ledger allows — all of them or none. The receipt's
    /// `amount` is what this call paid.
    @discardableResult
    func releaseEscrow(job: String, releases: [EscrowRelease], owner: LedgerOperator) async throws -> TransactionReceipt
    /// Returns what is left in the escrow of `job` to its owner and closes it.
    @discardableResult
    func refundEscrow(job: String, owner: LedgerOperator) async throws -> TransactionReceipt
    /// The escrow of `job`, or nil if none was locked.
    func escrow(job: String) async throws -> EscrowState?

    /// Stakes `amount` tinybars of `trainer`, restarting its cooldown.
    @discardableResult
    func stake(_ amount: Int64, trainer: LedgerOperator) async throws -> TransactionReceipt
    /// Returns `amount` of `trainer`'s stake to its balance; throws `stakeLocked` during the cooldown.
    @discardableResult
    func unstake(_ amount: Int64, trainer: LedgerOperator) async throws -> TransactionReceipt
    /// Slashes `amount` of `account`'s stake, citing `evidenceCID`; signed by the slashing authority.
    @discardableResult
    func slash(_ account: AccountID, amount: Int64, evidenceCID: String, authority: LedgerOperator) async throws -> TransactionReceipt
    /// The stake of `account` (zero if it never staked).
    func stake(of account: AccountID) async throws -> StakeState

    /// Creates a topic; if `submitKey` is set, every message must also be signed by it.
    func createTopic(memo: String, submitKey: Ed25519PublicKey?, payer: LedgerOperator) async throws -> TopicID
    /// Submits `message` to `topic`, split into 1,024-byte chunks if larger; one receipt per chunk.
    @discardableResult
    func submitMessage(_ message: [UInt8], to topic: TopicID, payer: LedgerOperator, submitKey: Ed25519PrivateKey?) async throws -> [TransactionReceipt]
    /// Up to `limit` messages of `topic` from sequence number `from` on, in order.
    func messages(topic: TopicID, from sequenceNumber: Int64, limit: Int) async throws -> [TopicMessage]
    /// Recomputes the running-hash chain of `topic` from message 1.
    func verifyTopic(_ topic: TopicID) async throws -> TopicVerification
}

extension Ledger {
    /// Submits `message` to a topic that has no submit key.
    @discardableResult
    public func submitMessage(_ message: [UInt8], to topic: TopicID, payer: LedgerOperator) async throws -> [TransactionReceipt] {
        try await submitMessage(message, to: topic, payer: payer, submitKey: nil)
    }
}

extension Ledger {
    /// One release after another (a ledger without a batch operation; the releases before a failing one stay paid).
    @discardableResult
    public func releaseEscrow(job: String, releases: [EscrowRelease], owner: LedgerOperator) async throws -> TransactionReceipt {
        var last: TransactionReceipt?
        var paid: Int64 = 0
        for release in releases {
            let receipt = try await releaseEscrow(job: job, task: release.task, to: release.recipient, amount: release.amount, owner: owner)
            if !receipt.isIdempotentReplay { paid += release.amount }
            last = receipt
        }
        guard var receipt = last else { throw LedgerError(.invalidArgument, "a release batch pays at least one task.") }
        receipt.amount = paid
        receipt.isIdempotentReplay = paid == 0
        return receipt
    }
}
