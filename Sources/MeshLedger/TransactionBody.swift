/// A HAPI `TransactionBody`: the part of a transaction that is signed.
///
/// Only the fields meshfl uses are modelled; decoding skips the rest. The
/// meshfl ledger operations (escrow, stakes, slashing) that have no HAPI
/// counterpart travel in field 8000 (`MeshflOperation`), which HAPI parsers
/// ignore as an unknown field.
///
/// ```swift
/// let body = TransactionBody(
///     transactionID: TransactionID(payer: AccountID(num: 1001), validStart: .init(seconds: 1_700_000_000)),
///     nodeAccountID: AccountID(num: 3), transactionFee: 100_000_000, validDurationSeconds: 120,
///     memo: "fl-audit",
///     data: .consensusSubmitMessage(.init(topic: TopicID(num: 5005), message: Array("hi".utf8))))
/// let bytes = body.encoded()
/// ```
public struct TransactionBody: Hashable, Sendable {
    /// The transaction id (payer and valid start).
    public var transactionID: TransactionID
    /// The node the transaction is sent to, if any.
    public var nodeAccountID: AccountID?
    /// The most the payer pays in fees, in tinybars.
    public var transactionFee: UInt64
    /// Seconds after `validStart` during which the transaction may reach consensus.
    public var validDurationSeconds: Int64
    /// A free-text memo (at most 100 UTF-8 bytes on Hedera).
    public var memo: String
    /// What the transaction does.
    public var data: Data

    /// Creates a body.
    public init(
        transactionID: TransactionID, nodeAccountID: AccountID? = nil, transactionFee: UInt64 = 0,
        validDurationSeconds: Int64 = 120, memo: String = "", data: Data
    ) {
        self.transactionID = transactionID
        self.nodeAccountID = nodeAccountID
        self.transactionFee = transactionFee
        self.validDurationSeconds = validDurationSeconds
        self.memo = memo
        self.data = data
    }

    /// The operation a transaction performs.
    public enum Data: Hashable, Sendable {
        /// `cryptoCreateAccount` (11): a new account with `key` and `initialBalance` tinybars from the payer.
        case cryptoCreateAccount(key: HAPIKey, initialBalance: UInt64)
        /// `cryptoTransfer` (14): hbar transfers that sum to zero.
        case cryptoTransfer([Transfer])
        /// `consensusCreateTopic` (24).
        case consensusCreateTopic(CreateTopic)
        /// `consensusSubmitMessage` (27).
        case consensusSubmitMessage(SubmitMessage)
        /// `scheduleCreate` (42): a scheduled hbar transfer.
        case scheduleCreate(ScheduleCreate)
        /// `scheduleSign` (44): adds the signatures of this transaction to a schedule.
        case scheduleSign(ScheduleID)
        /// A meshfl ledger operation (field 8000).
        case meshfl(MeshflOperation)
        /// No operation field, or one this codec does not model.
        case unsupported
    }

    /// One leg of an hbar transfer (`AccountAmount`; negative debits the account).
    public struct Transfer: Hashable, Sendable {
        /// The account credited or debited.
        public var account: AccountID
        /// Tinybars; negative for a debit.
        public var amount: Int64
        /// Creates a transfer leg.
        public init(account: AccountID, amount: Int64) {
            self.account = account
            self.amount = amount
        }
    }

    /// `ConsensusCreateTopicTransactionBody`.
    public struct CreateTopic: Hashable, Sendable {
        /// The topic memo.
        public var memo: String
        /// A key that may update or delete the topic.
        public var adminKey: HAPIKey?
        /// If set, every submit must also be signed by this key.
        public var submitKey: HAPIKey?
        /// Creates a topic body.
        public init(memo: String = "", adminKey: HAPIKey? = nil, submitKey: HAPIKey? = nil) {
            self.memo = memo
            self.adminKey = adminKey
            self.submitKey = submitKey
        }
    }

    /// `ConsensusMessageChunkInfo`: where a chunk sits in a message split over several transactions.
    public struct ChunkInfo: Hashable, Sendable {
        /// The id of the first chunk's transaction.
        public var initialTransactionID: TransactionID
        /// The number of chunks.
        public var total: Int32
        /// This chunk's number, from 1.
        public var number: Int32
        /// Creates chunk info.
        public init(initialTransactionID: TransactionID, total: Int32, number: Int32) {
            self.initialTransactionID = initialTransactionID
            self.total = total
            self.number = number
        }
    }

    /// `ConsensusSubmitMessageTransactionBody`.
    public struct SubmitMessage: Hashable, Sendable {
        /// The topic.
        public var topic: TopicID
        /// The message bytes (at most 1,024 per transaction).
        public var message: [UInt8]
        /// Set when the message is one chunk of a larger one.
        public var chunkInfo: ChunkInfo?
        /// Creates a submit body.
        public init(topic: TopicID, message: [UInt8], chunkInfo: ChunkInfo? = nil) {
            self.topic = topic
            self.message = message
            self.chunkInfo = chunkInfo
        }
    }

    /// `ScheduleID`.
    public struct ScheduleID: Hashable, Sendable, CustomStringConvertible {
        /// Shard, realm and schedule number.
        public var shard: Int64, realm: Int64, num: Int64
        /// Creates a schedule id.
        public init(shard: Int64 = 0, realm: Int64 = 0, num: Int64) {
            self.shard = shard
            self.realm = realm
            self.num = num
        }
        /// `shard.realm.num`.
        public var description: String { "\(shard).\(realm).\(num)" }
    }

    /// `ScheduleCreateTransactionBody` wrapping a scheduled `cryptoTransfer`.
    public struct ScheduleCreate: Hashable, Sendable {
        /// The hbar transfers to execute once enough signatures arrive.
        public var transfers: [Transfer]
        /// The schedule's memo.
        public var memo: String
        /// The account that pays for the scheduled transaction, if not the creator.
        public var payer: AccountID?
        /// A key that may delete the schedule.
        public var adminKey: HAPIKey?
        /// Creates a schedule body.
        public init(transfers: [Transfer], memo: String = "", payer: AccountID? = nil, adminKey: HAPIKey? = nil) {
            self.transfers = transfers
            self.memo = memo
            self.payer = payer
            self.adminKey = adminKey
        }
    }
}
