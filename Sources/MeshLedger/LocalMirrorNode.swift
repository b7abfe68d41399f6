internal import Foundation

/// A mirror node in process: the REST JSON a Hedera mirror node serves for
/// topic messages and balances, read from a `LocalLedger`. `HederaLedger`
/// reads through it (directly, or over HTTP with `MirrorNodeHTTPServer`) when
/// `LocalHAPIService` stands in for the network.
///
/// Routes: `GET /api/v1/topics/{id}/messages?sequencenumber=gte:N&limit=L&order=asc`
/// (pages with `links.next`) and `GET /api/v1/balances?account.id=0.0.n`.
///
/// ```swift
/// let mirror = LocalMirrorNode(ledger: local)
/// let page = try MirrorNodeTopicPage(json: try await mirror.get("/api/v1/topics/0.0.1002/messages?limit=25"))
/// ```
public struct LocalMirrorNode: MirrorNodeClient {
    /// The ledger read.
    public let ledger: LocalLedger

    /// Serves `ledger`.
    public init(ledger: LocalLedger) {
        self.ledger = ledger
    }

    /// The JSON body of `GET path`; throws `notFound` for unknown routes, accounts and topics.
    public func get(_ path: String) async throws -> [UInt8] {
        guard let url = URLComponents(string: path) else { throw LedgerError(.notFound, "no mirror route for \(path)") }
        let query = Dictionary((url.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { a, _ in a })
        let parts = url.path.split(separator: "/")
        if parts.count == 5, parts[0] == "api", parts[1] == "v1", parts[2] == "topics", parts[4] == "messages" {
            let topic = try TopicID(parsing: String(parts[3]))
            guard try await ledger.topics().contains(topic) else { throw LedgerError(.notFound, "no topic \(topic)") }
            let from = max(1, Int64(query["sequencenumber"].map { $0.hasPrefix("gte:") ? String($0.dropFirst(4)) : $0 } ?? "1") ?? 1)
            let limit = min(max(Int(query["limit"] ?? "25") ?? 25, 1), 100)
            let page = try await ledger.messages(topic: topic, from: from, limit: limit)
            let next = page.count == limit
                ? "/api/v1/topics/\(topic)/messages?sequencenumber=gte:\(page.last!.sequenceNumber + 1)&limit=\(limit)&order=asc" : nil
            return MirrorNodeTopicPage.json(page, next: next)
        }
        if url.path == "/api/v1/balances", let id = query["account.id"] {
            let account = try AccountID(parsing: id)
            let balance = try await ledger.balance(of: account)
            let body: [String: Any] = ["balances": [["account": id, "balance": Int(balance)]], "links": ["next": NSNull()]]
            return Array(try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
        }
        throw LedgerError(.notFound, "no mirror route for \(path)")
    }
}

extension MirrorNodeTopicPage {
    /// A `/api/v1/topics/{id}/messages` page in the mirror node's JSON (string initial transaction ids).
    public static func json(_ messages: [TopicMessage], next: String?) -> [UInt8] {
        let list: [[String: Any]] = messages.map { m in
            var o: [String: Any] = [
                "consensus_timestamp": m.consensusTimestamp.description,
                "message": Data(m.contents).base64EncodedString(),
                "payer_account_id": m.payer.description,
                "running_hash": Data(m.runningHash).base64EncodedString(),
                "running_hash_version": Int(HCSRunningHash.version),
                "sequence_number": Int(m.sequenceNumber),
                "topic_id": m.topic.description,
            ]
            if let c = m.chunkInfo {
                let id = c.initialTransactionID
                let nanos = String(id.validStart.nanos)
                let start = "\(id.validStart.seconds)-" + String(repeating: "0", count: max(0, 9 - nanos.count)) + nanos
                o["chunk_info"] = ["initial_transaction_id": "\(id.payer)-\(start)", "nonce": Int(id.nonce), "scheduled": id.scheduled,
                                   "number": Int(c.number), "total": Int(c.total)] as [String: Any]
            }
            return o
        }
        let root: [String: Any] = ["messages": list, "links": ["next": next.map { $0 as Any } ?? NSNull()]]
        // JSONSerialization cannot fail on these plain values.
        return Array((try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])) ?? Data())
    }
}
