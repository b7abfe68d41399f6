internal import Foundation

/// One page of a mirror node's `GET /api/v1/topics/{id}/messages`, as `TopicMessage`s
/// that `TopicVerifier` checks exactly like the local ledger's.
///
/// ```swift
/// var page = try MirrorNodeTopicPage(json: data)
/// for m in page.messages { verifier.receive(m) }
/// if let next = page.next { … fetch mirrorURL + next … }
/// ```
public struct MirrorNodeTopicPage: Sendable {
    /// The messages on this page, in the order the mirror node returned them.
    public var messages: [TopicMessage]
    /// The path and query of the next page (`links.next`), or nil on the last page.
    public var next: String?

    /// Parses the JSON body; throws `malformed` naming the bad field.
    public init(json: some Collection<UInt8>) throws(LedgerError) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(json))
        } catch {
            throw LedgerError(.malformed, "the mirror node's reply is not JSON; check the mirror node URL.", cause: error)
        }
        guard let root = object as? [String: Any], let list = root["messages"] as? [[String: Any]] else {
            throw LedgerError(.malformed, "the mirror node's reply has no \"messages\" array; is this /api/v1/topics/{id}/messages?")
        }
        messages = try list.enumerated().map { (i, m) throws(LedgerError) in try Self.message(m, index: i) }
        next = (root["links"] as? [String: Any])?["next"] as? String
    }

    private static func message(_ m: [String: Any], index: Int) throws(LedgerError) -> TopicMessage {
        func field<T>(_ key: String, _ type: T.Type) throws(LedgerError) -> T {
            guard let v = m[key] as? T else {
                throw LedgerError(.malformed, "mirror message \(index): field \"\(key)\" is missing or not a \(T.self).")
            }
            return v
        }
        func base64(_ key: String) throws(LedgerError) -> [UInt8] {
            guard let d = Data(base64Encoded: try field(key, String.self)) else {
                throw LedgerError(.malformed, "mirror message \(index): \"\(key)\" is not base64.")
            }
            return Array(d)
        }
        let version = try field("running_hash_version", Int.self)
        guard Int64(version) == HCSRunningHash.version else {
            throw LedgerError(.verificationFailed, "mirror message \(index) uses running hash version \(version); only version 3 is checked.")
        }
        let chunk: TransactionBody.ChunkInfo? = try (m["chunk_info"] as? [String: Any]).map { c throws(LedgerError) in
            guard let total = c["total"] as? Int, let number = c["number"] as? Int else {
                throw LedgerError(.malformed, "mirror message \(index): chunk_info needs total and number.")
            }
            return TransactionBody.ChunkInfo(initialTransactionID: try initialTransactionID(c, index: index),
                                             total: Int32(total), number: Int32(number))
        }
        return TopicMessage(
            topic: try TopicID(parsing: try field("topic_id", String.self)),
            sequenceNumber: Int64(try field("sequence_number", Int.self)),
            consensusTimestamp: try timestamp(try field("consensus_timestamp", String.self), index: index),
            runningHash: try base64("running_hash"),
            payer: try AccountID(parsing: try field("payer_account_id", String.self)),
            contents: try base64("message"),
            chunkInfo: chunk)
    }

    /// `"seconds.nanos"` with up to nine digits of nanoseconds.
    static func timestamp(_ s: String, index: Int) throws(LedgerError) -> ConsensusTimestamp {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let seconds = Int64(parts[0]),
              parts.count == 1 || (parts[1].count <= 9 && parts[1].allSatisfy(\.isNumber))
        else { throw LedgerError(.malformed, "mirror message \(index): timestamp \"\(s)\" is not seconds.nanos.") }
        let frac = parts.count == 2 ? String(parts[1]) : ""
        let nanos = Int32(frac.padding(toLength: 9, withPad: "0", startingAt: 0)) ?? 0
        return ConsensusTimestamp(seconds: seconds, nanos: nanos)
    }

    /// The initial transaction id, either `"0.0.10-1234567890-000000321"` or
    /// `{"account_id": …, "transaction_valid_start": "s.n", "nonce": …, "scheduled": …}`.
    private static func initialTransactionID(_ c: [String: Any], index: Int) throws(LedgerError) -> TransactionID {
        let nonce = Int32(c["nonce"] as? Int ?? 0)
        let scheduled = c["scheduled"] as? Bool ?? false
        if let s = c["initial_transaction_id"] as? String {
            let parts = s.split(separator: "-")
            guard parts.count == 3, let secs = Int64(parts[1]), let nanos = Int32(parts[2]), (0..<1_000_000_000).contains(nanos) else {
                throw LedgerError(.malformed, "mirror message \(index): initial_transaction_id \"\(s)\" is not account-seconds-nanos.")
            }
            return TransactionID(payer: try AccountID(parsing: String(parts[0])),
                                 validStart: ConsensusTimestamp(seconds: secs, nanos: nanos), scheduled: scheduled, nonce: nonce)
        }
        if let o = c["initial_transaction_id"] as? [String: Any], let account = o["account_id"] as? String,
           let start = o["transaction_valid_start"] as? String {
            return TransactionID(payer: try AccountID(parsing: account), validStart: try timestamp(start, index: index),
                                 scheduled: o["scheduled"] as? Bool ?? scheduled, nonce: Int32(o["nonce"] as? Int ?? Int(nonce)))
        }
        throw LedgerError(.malformed, "mirror message \(index): chunk_info has no initial_transaction_id.")
    }
}
