/// What a ledger reports after a transaction reached consensus.
public struct TransactionReceipt: Hashable, Sendable {
    /// The transaction's id.
    public var transactionID: TransactionID
    /// When it reached consensus (for an idempotent replay, when the original did).
    /// `HederaLedger` puts the valid start here: HAPI receipts carry no consensus
    /// time; the mirror node has it.
    public var consensusTimestamp: ConsensusTimestamp
    /// The account a `cryptoCreateAccount` created.
    public var accountID: AccountID?
    /// The topic a `consensusCreateTopic` created.
    public var topicID: TopicID?
    /// The sequence number a `consensusSubmitMessage` got.
    public var topicSequenceNumber: Int64?
    /// The topic's running hash after a `consensusSubmitMessage`.
    public var topicRunningHash: [UInt8]?
    /// Tinybars moved by an escrow release or refund, or slashed.
    public var amount: Int64?
    /// True when the request repeated an escrow release already applied, or
    /// created a schedule identical to an existing one: nothing changed.
    public var isIdempotentReplay: Bool
    /// The schedule a `scheduleCreate` created (or the identical one that exists), or a `scheduleSign` signed.
    public var scheduleID: TransactionBody.ScheduleID?
    /// The id the scheduled transaction executes under (the creating id with `scheduled` set).
    public var scheduledTransactionID: TransactionID?
    /// True when this transaction completed the schedule's signatures and the scheduled transfer ran.
    public var scheduleExecuted: Bool

    /// Creates a receipt.
    public init(
        transactionID: TransactionID, consensusTimestamp: ConsensusTimestamp, accountID: AccountID? = nil,
        topicID: TopicID? = nil, topicSequenceNumber: Int64? = nil, topicRunningHash: [UInt8]? = nil,
        amount: Int64? = nil, isIdempotentReplay: Bool = false, scheduleID: TransactionBody.ScheduleID? = nil,
        scheduledTransactionID: TransactionID? = nil, scheduleExecuted: Bool = false
    ) {
        self.transactionID = transactionID
        self.consensusTimestamp = consensusTimestamp
        self.accountID = accountID
        self.topicID = topicID
        self.topicSequenceNumber = topicSequenceNumber
        self.topicRunningHash = topicRunningHash
        self.amount = amount
        self.isIdempotentReplay = isIdempotentReplay
        self.scheduleID = scheduleID
        self.scheduledTransactionID = scheduledTransactionID
        self.scheduleExecuted = scheduleExecuted
    }
}
