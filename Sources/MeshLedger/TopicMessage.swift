/// One message on a topic, as the ledger recorded it.
public struct TopicMessage: Hashable, Sendable {
    /// The topic.
    public var topic: TopicID
    /// The message's sequence number, from 1.
    public var sequenceNumber: Int64
    /// When the message reached consensus; strictly increasing along a topic.
    public var consensusTimestamp: ConsensusTimestamp
    /// The topic's running hash after this message (48 bytes, version 3).
    public var runningHash: [UInt8]
    /// The account that paid for the submit.
    public var payer: AccountID
    /// The message bytes (one chunk, for chunked messages).
    public var contents: [UInt8]
    /// Chunk information, for a chunk of a larger message.
    public var chunkInfo: TransactionBody.ChunkInfo?

    /// Creates a record.
    public init(
        topic: TopicID, sequenceNumber: Int64, consensusTimestamp: ConsensusTimestamp, runningHash: [UInt8],
        payer: AccountID, contents: [UInt8], chunkInfo: TransactionBody.ChunkInfo? = nil
    ) {
        self.topic = topic
        self.sequenceNumber = sequenceNumber
        self.consensusTimestamp = consensusTimestamp
        self.runningHash = runningHash
        self.payer = payer
        self.contents = contents
        self.chunkInfo = chunkInfo
    }
}
