/// The outcome of `LocalLedger.verify()`: OK, or the first problem found.
public struct LedgerVerification: Hashable, Sendable, CustomStringConvertible {
    /// Where and why verification failed.
    public struct Problem: Hashable, Sendable {
        /// The log entry (from 1) that failed, when the failure is in the log.
        public var logSequence: Int64?
        /// The topic, when the failure is in a topic's messages.
        public var topic: TopicID?
        /// The topic sequence number that failed.
        public var topicSequence: Int64?
        /// What is wrong.
        public var reason: String
    }

    /// Transactions replayed.
    public var transactions: Int
    /// Topic messages whose running hashes were checked.
    public var messages: Int
    /// The first problem, or nil if everything verified.
    public var problem: Problem?

    /// True when nothing is wrong.
    public var isOK: Bool { problem == nil }

    /// `OK (n transactions, m messages)` or where and why it failed.
    public var description: String {
        guard let p = problem else { return "OK (\(transactions) transactions, \(messages) topic messages)" }
        var place: [String] = []
        if let t = p.topic, let s = p.topicSequence { place.append("topic \(t) sequence \(s)") }
        if let l = p.logSequence { place.append("log entry \(l)") }
        return "FAILED at \(place.isEmpty ? "state" : place.joined(separator: ", ")): \(p.reason)"
    }
}
