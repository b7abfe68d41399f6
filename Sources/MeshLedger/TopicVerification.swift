/// The outcome of checking a topic's messages.
public enum TopicVerification: Hashable, Sendable {
    /// Every message checked; `messages` of them, ending in `runningHash`.
    case ok(messages: Int, runningHash: [UInt8])
    /// The first message that fails, and why.
    case failed(sequenceNumber: Int64, reason: String)

    /// True for `.ok`.
    public var isOK: Bool {
        if case .ok = self { return true }
        return false
    }
}

/// Checks an HCS message log: sequence numbers from 1 without gaps, strictly
/// increasing consensus timestamps, and running hashes (version 3) that chain.
///
/// Works on any source of `TopicMessage` — the local ledger or a mirror node.
///
/// ```swift
/// var verifier = TopicVerifier(topic: topic)
/// for m in messages { if case .failed = verifier.receive(m) { break } }
/// ```
public struct TopicVerifier: Sendable {
    /// The topic under check.
    public let topic: TopicID
    /// The running hash after the last accepted message.
    public private(set) var runningHash: [UInt8]
    /// The last accepted sequence number (0 before any).
    public private(set) var sequenceNumber: Int64
    private var lastTimestamp: ConsensusTimestamp?
    private var failure: TopicVerification?

    /// Starts at the beginning of `topic`, or after a known message.
    public init(topic: TopicID, runningHash: [UInt8] = HCSRunningHash.initial, sequenceNumber: Int64 = 0) {
        self.topic = topic
        self.runningHash = runningHash
        self.sequenceNumber = sequenceNumber
    }

    /// Checks the next message; after the first failure every call returns it again.
    @discardableResult
    public mutating func receive(_ m: TopicMessage) -> TopicVerification {
        if let failure { return failure }
        func fail(_ reason: String) -> TopicVerification {
            let f = TopicVerification.failed(sequenceNumber: m.sequenceNumber, reason: reason)
            failure = f
            return f
        }
        guard m.topic == topic else { return fail("message belongs to topic \(m.topic), not \(topic)") }
        guard m.sequenceNumber == sequenceNumber + 1 else {
            return fail("expected sequence number \(sequenceNumber + 1), found \(m.sequenceNumber)")
        }
        if let lastTimestamp, m.consensusTimestamp <= lastTimestamp {
            return fail("consensus timestamp \(m.consensusTimestamp) does not follow \(lastTimestamp)")
        }
        let expected = HCSRunningHash.next(previous: runningHash, payer: m.payer, topic: topic,
                                           consensusTime: m.consensusTimestamp, sequenceNumber: m.sequenceNumber,
                                           message: m.contents)
        guard expected == m.runningHash else {
            return fail("running hash \(HexCoding.encode(m.runningHash.prefix(8)))… should be \(HexCoding.encode(expected.prefix(8)))…")
        }
        runningHash = expected
        sequenceNumber = m.sequenceNumber
        lastTimestamp = m.consensusTimestamp
        return .ok(messages: Int(sequenceNumber), runningHash: expected)
    }

    /// The result so far.
    public var result: TopicVerification {
        failure ?? .ok(messages: Int(sequenceNumber), runningHash: runningHash)
    }
}
