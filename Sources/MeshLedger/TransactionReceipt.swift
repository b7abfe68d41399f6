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
    /// True when the request repeated an escrow release already applied: nothing changed.
    public var isIdempotentReplay: Bool

    /// Creates a receipt.
    public init(
        transactionID: TransactionID, consensusTimestamp: ConsensusTimestamp, accountID: AccountID? = nil,
        topicID: TopicID? = nil, topicSequenceNumber: Int64? = nil, topicRunningHash: [UInt8]? = nil,
        amount: Int64? = nil, isIdempotentReplay: Bool = false
    ) {
        self.transactionID = transactionID
        self.consensusTimestamp = consensusTimestamp
        self.accountID = accountID
        self.topicID = topicID
        self.topicSequenceNumber = topicSequenceNumber
        self.topicRunningHash = topicRunningHash
        self.amount = amount
        self.isIdempotentReplay = isIdempotentReplay
    }
}
