import Foundation
import Testing
@testable import MeshLedger

struct MirrorNodeTopicPageTests {
    /// Mirror-node JSON for messages a LocalLedger produced: the verifier accepts both alike.
    static func json(_ messages: [TopicMessage], next: String?, objectChunkIDs: Bool = false) -> [UInt8] {
        let list: [[String: Any]] = messages.map { m in
            var o: [String: Any] = [
                "consensus_timestamp": m.consensusTimestamp.description,
                "message": Data(m.contents).base64EncodedString(),
                "payer_account_id": m.payer.description,
                "running_hash": Data(m.runningHash).base64EncodedString(),
                "running_hash_version": 3,
                "sequence_number": Int(m.sequenceNumber),
                "topic_id": m.topic.description,
            ]
            if let c = m.chunkInfo {
                let id = c.initialTransactionID
                let start = "\(id.validStart.seconds)-\(String(format: "%09d", id.validStart.nanos))"
                o["chunk_info"] = objectChunkIDs
                    ? ["initial_transaction_id": ["account_id": id.payer.description, "transaction_valid_start": id.validStart.description,
                                                  "nonce": 0, "scheduled": false], "number": Int(c.number), "total": Int(c.total)]
                    : ["initial_transaction_id": "\(id.payer)-\(start)", "nonce": 0, "scheduled": false,
                       "number": Int(c.number), "total": Int(c.total)] as [String: Any]
            }
            return o
        }
        var root: [String: Any] = ["messages": list]
        root["links"] = ["next": next as Any]
        return Array(try! JSONSerialization.data(withJSONObject: root))
    }

    @Test(arguments: [false, true])
    func localMessagesThroughMirrorJSONVerify(objectChunkIDs: Bool) async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let alice = try await t.ledger.createFundedAccount(balance: 1_000)
        let topic = try await t.ledger.createTopic(memo: "", submitKey: nil, payer: alice)
        try await t.ledger.submitMessage(Array("one".utf8), to: topic, payer: alice)
        try await t.ledger.submitMessage([UInt8](repeating: 0x5A, count: 1_500), to: topic, payer: alice)
        let stored = try await t.ledger.messages(topic: topic, from: 1, limit: 10)

        let page1 = try MirrorNodeTopicPage(json: Self.json(Array(stored.prefix(2)), next: "/api/v1/topics/\(topic)/messages?sequencenumber=gt:2", objectChunkIDs: objectChunkIDs))
        let page2 = try MirrorNodeTopicPage(json: Self.json(Array(stored.dropFirst(2)), next: nil, objectChunkIDs: objectChunkIDs))
        #expect(page1.next == "/api/v1/topics/\(topic)/messages?sequencenumber=gt:2")
        #expect(page2.next == nil)
        #expect(page1.messages + page2.messages == stored)
        var verifier = TopicVerifier(topic: topic)
        for m in page1.messages + page2.messages { verifier.receive(m) }
        #expect(verifier.result.isOK)
    }

    @Test func tamperedMirrorMessageFailsAtItsSequenceNumber() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let alice = try await t.ledger.createFundedAccount(balance: 1_000)
        let topic = try await t.ledger.createTopic(memo: "", submitKey: nil, payer: alice)
        for i in 1...3 { try await t.ledger.submitMessage(Array("m\(i)".utf8), to: topic, payer: alice) }
        var stored = try await t.ledger.messages(topic: topic, from: 1, limit: 10)
        stored[1].contents = Array("forged".utf8)
        var verifier = TopicVerifier(topic: topic)
        for m in try MirrorNodeTopicPage(json: Self.json(stored, next: nil)).messages { verifier.receive(m) }
        guard case .failed(let seq, _) = verifier.result else { Issue.record("forgery not found"); return }
        #expect(seq == 2)
    }

    @Test(arguments: [
        #"{}"#,
        #"{"messages":[{"sequence_number":1}]}"#,
        #"{"messages":[{"consensus_timestamp":"1.2","message":"!!","payer_account_id":"0.0.1","running_hash":"AA==","running_hash_version":3,"sequence_number":1,"topic_id":"0.0.7"}]}"#,
        #"{"messages":[{"consensus_timestamp":"1.2","message":"AA==","payer_account_id":"0.0.1","running_hash":"AA==","running_hash_version":2,"sequence_number":1,"topic_id":"0.0.7"}]}"#,
        "not json",
    ])
    func badPagesThrow(json: String) {
        #expect(throws: LedgerError.self) { _ = try MirrorNodeTopicPage(json: Array(json.utf8)) }
    }

    @Test func timestampsParseWithShortNanos() throws {
        #expect(try MirrorNodeTopicPage.timestamp("1700000000.5", index: 0) == ConsensusTimestamp(seconds: 1_700_000_000, nanos: 500_000_000))
        #expect(try MirrorNodeTopicPage.timestamp("1700000000.000000001", index: 0) == ConsensusTimestamp(seconds: 1_700_000_000, nanos: 1))
        #expect(try MirrorNodeTopicPage.timestamp("17", index: 0) == ConsensusTimestamp(seconds: 17))
    }
}
