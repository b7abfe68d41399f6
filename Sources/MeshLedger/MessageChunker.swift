/// Splits topic messages larger than 1,024 bytes into HCS chunks and joins them back.
///
/// Chunk *n* (from 1) of a message gets transaction id `validStart + (n − 1) ns`
/// with the same payer, and `ChunkInfo(initialTransactionID: id of chunk 1,
/// total:, number: n)`, as the Hedera SDKs do.
///
/// ```swift
/// let parts = try MessageChunker.split(big, topic: topic, initialTransactionID: id)
/// // submit each part as its own transaction, in order
/// ```
public enum MessageChunker {
    /// The largest message one HCS transaction carries.
    public static let chunkSize = 1024
    /// The most chunks one message may take (the SDKs' default limit).
    public static let maxChunks = 20

    /// One transaction's worth of a message.
    public struct Chunk: Hashable, Sendable {
        /// The transaction id this chunk is submitted under.
        public var transactionID: TransactionID
        /// The submit body (topic, bytes and chunk info).
        public var submit: TransactionBody.SubmitMessage
    }

    /// The chunks of `message`; a message of at most 1,024 bytes is one chunk without chunk info.
    public static func split(
        _ message: [UInt8], topic: TopicID, initialTransactionID: TransactionID, maxChunks: Int = maxChunks
    ) throws(LedgerError) -> [Chunk] {
        if message.count <= chunkSize {
            return [Chunk(transactionID: initialTransactionID, submit: .init(topic: topic, message: message))]
        }
        let total = (message.count + chunkSize - 1) / chunkSize
        guard total <= maxChunks else {
            throw LedgerError(.invalidArgument, "a \(message.count)-byte message needs \(total) chunks, more than the limit of \(maxChunks); store the payload elsewhere and submit its CID.")
        }
        return (0..<total).map { i in
            let start = i * chunkSize
            let bytes = Array(message[start..<min(start + chunkSize, message.count)])
            var id = initialTransactionID
            id.validStart = initialTransactionID.validStart.adding(nanoseconds: Int64(i))
            let info = TransactionBody.ChunkInfo(initialTransactionID: initialTransactionID, total: Int32(total), number: Int32(i + 1))
            return Chunk(transactionID: id, submit: .init(topic: topic, message: bytes, chunkInfo: info))
        }
    }

    /// Joins topic messages back into whole messages, in order of their last chunk.
    ///
    /// Unchunked messages pass through. Chunks of one message are grouped by their
    /// initial transaction id and joined by chunk number; groups that never
    /// complete are left out.
    public static func join(_ messages: [TopicMessage]) -> [[UInt8]] {
        var pending: [TransactionID: [Int32: [UInt8]]] = [:]
        var out: [[UInt8]] = []
        for m in messages {
            guard let info = m.chunkInfo, info.total > 1 else {
                out.append(m.contents)
                continue
            }
            guard info.number >= 1, info.number <= info.total else { continue }
            pending[info.initialTransactionID, default: [:]][info.number] = m.contents
            if let parts = pending[info.initialTransactionID], parts.count == Int(info.total) {
                out.append((1...info.total).flatMap { parts[$0]! })
                pending[info.initialTransactionID] = nil
            }
        }
        return out
    }
}
