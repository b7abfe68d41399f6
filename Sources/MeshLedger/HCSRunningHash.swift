internal import Crypto

/// The Hedera Consensus Service running hash, version 3.
///
/// Each message on a topic folds into the topic's running hash:
/// `next = SHA-384(frame)` where `frame` is the 211-byte Java ObjectOutputStream
/// serialisation Hedera's services node writes — the previous running hash,
/// the running-hash version (3), the payer account id, the topic id, the
/// consensus time, the sequence number and SHA-384 of the message. A verifier
/// that recomputes the chain from message 1 checks a whole topic log.
///
/// ```swift
/// let h1 = HCSRunningHash.next(previous: HCSRunningHash.initial, payer: AccountID(num: 1001),
///                              topic: TopicID(num: 5005),
///                              consensusTime: ConsensusTimestamp(seconds: 1_700_000_000, nanos: 123_456_789),
///                              sequenceNumber: 1, message: Array("hello hcs".utf8))
/// ```
public enum HCSRunningHash {
    /// The running-hash version this type computes.
    public static let version: Int64 = 3
    /// Bytes in a running hash (SHA-384).
    public static let byteCount = 48
    /// The running hash of a topic with no messages: 48 zero bytes.
    public static let initial = [UInt8](repeating: 0, count: byteCount)
    /// Length of the serialised frame that is hashed.
    static let frameLength = 211

    /// Java stream magic and version, then an array-class descriptor for `byte[]`.
    private static let header: [UInt8] = [
        0xAC, 0xED, 0x00, 0x05,
        0x75, 0x72, 0x00, 0x02, 0x5B, 0x42, 0xAC, 0xF3, 0x17, 0xF8, 0x06, 0x08, 0x54, 0xE0, 0x02, 0x00, 0x00, 0x78, 0x70,
    ]
    /// A back-reference to the `byte[]` class descriptor for the second array.
    private static let secondArray: [UInt8] = [0x75, 0x71, 0x00, 0x7E, 0x00, 0x00]

    /// The running hash after appending one message to a topic.
    ///
    /// - Parameters:
    ///   - previous: the topic's running hash before this message (48 bytes; `initial` before message 1).
    ///   - payer: the account that paid for the submit transaction.
    ///   - topic: the topic.
    ///   - consensusTime: the message's consensus timestamp.
    ///   - sequenceNumber: the message's sequence number (1 for the first message).
    ///   - message: the message bytes (one chunk, for chunked messages).
    /// - Returns: the new 48-byte running hash.
    /// - Complexity: O(message.count), one SHA-384 of the message and one of 211 bytes.
    public static func next(
        previous: [UInt8], payer: AccountID, topic: TopicID,
        consensusTime: ConsensusTimestamp, sequenceNumber: Int64, message: [UInt8]
    ) -> [UInt8] {
        precondition(previous.count == byteCount, "a running hash is 48 bytes")
        let messageHash = SHA384.hash(data: message)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: frameLength) { frame in
            var i = 0
            func put(_ bytes: some Sequence<UInt8>) { for b in bytes { frame[i] = b; i += 1 } }
            func put64(_ v: Int64) { put(withUnsafeBytes(of: v.bigEndian) { Array($0) }) }
            func put32(_ v: Int32) { put(withUnsafeBytes(of: v.bigEndian) { Array($0) }) }
            put(header)
            put32(Int32(byteCount))
            put(previous)
            put([0x77, 0x4C])  // TC_BLOCKDATA, 76 bytes
            put64(version)
            put64(payer.shard); put64(payer.realm); put64(payer.num)
            put64(topic.shard); put64(topic.realm); put64(topic.num)
            put64(consensusTime.seconds)
            put32(consensusTime.nanos)
            put64(sequenceNumber)
            put(secondArray)
            put32(Int32(byteCount))
            put(messageHash)
            precondition(i == frameLength)
            return Array(SHA384.hash(data: UnsafeRawBufferPointer(frame)))
        }
    }
}
