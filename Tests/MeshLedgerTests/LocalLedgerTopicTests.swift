import Testing
@testable import MeshLedger

struct LocalLedgerTopicTests {
    @Test func submitAssignsSequenceTimestampAndRunningHash() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let alice = try await t.ledger.createFundedAccount(balance: 1_000)
        let topic = try await t.ledger.createTopic(memo: "job-1 audit", submitKey: nil, payer: alice)
        var expectedHash = HCSRunningHash.initial
        var receipts: [TransactionReceipt] = []
        // The clock does not move: consensus times must still strictly increase.
        for i in 1...5 {
            let r = try await t.ledger.submitMessage(Array("event \(i)".utf8), to: topic, payer: alice)
            #expect(r.count == 1)
            receipts += r
        }
        let messages = try await t.ledger.messages(topic: topic, from: 1, limit: 100)
        #expect(messages.map(\.sequenceNumber) == [1, 2, 3, 4, 5])
        for (m, r) in zip(messages, receipts) {
            expectedHash = HCSRunningHash.next(previous: expectedHash, payer: alice.account, topic: topic,
                                               consensusTime: m.consensusTimestamp, sequenceNumber: m.sequenceNumber, message: m.contents)
            #expect(m.runningHash == expectedHash)
            #expect(r.topicRunningHash == expectedHash)
            #expect(r.topicSequenceNumber == m.sequenceNumber)
            #expect(r.consensusTimestamp == m.consensusTimestamp)
        }
        #expect(zip(messages, messages.dropFirst()).allSatisfy { $0.consensusTimestamp < $1.consensusTimestamp })
        #expect(try await t.ledger.messages(topic: topic, from: 4, limit: 100).map(\.sequenceNumber) == [4, 5])
        #expect(try await t.ledger.messages(topic: topic, from: 2, limit: 2).map(\.sequenceNumber) == [2, 3])
        #expect(try await t.ledger.verifyTopic(topic) == .ok(messages: 5, runningHash: expectedHash))
    }

    @Test func largeMessagesAreChunkedAndJoinBack() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let alice = try await t.ledger.createFundedAccount(balance: 1_000)
        let topic = try await t.ledger.createTopic(memo: "", submitKey: nil, payer: alice)
        let big = (0..<2_500).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let receipts = try await t.ledger.submitMessage(big, to: topic, payer: alice)
        #expect(receipts.map(\.topicSequenceNumber) == [1, 2, 3])
        let messages = try await t.ledger.messages(topic: topic, from: 1, limit: 10)
        #expect(messages.map(\.contents.count) == [1024, 1024, 452])
        #expect(messages.map { $0.chunkInfo?.number } == [1, 2, 3])
        #expect(Set(messages.compactMap { $0.chunkInfo?.initialTransactionID }) == [receipts[0].transactionID])
        #expect(MessageChunker.join(messages) == [big])
        #expect(try await t.ledger.verifyTopic(topic).isOK)
        #expect(try await t.ledger.verify().isOK)
    }

    @Test func submitKeyIsEnforced() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let alice = try await t.ledger.createFundedAccount(balance: 1_000)
        let submitter = Ed25519PrivateKey()
        let topic = try await t.ledger.createTopic(memo: "", submitKey: submitter.publicKey, payer: alice)
        let refused = await #expect(throws: LedgerError.self) {
            try await t.ledger.submitMessage(Array("x".utf8), to: topic, payer: alice)
        }
        #expect(refused?.code == .missingSignature)
        try await t.ledger.submitMessage(Array("x".utf8), to: topic, payer: alice, submitKey: submitter)
        #expect(try await t.ledger.messages(topic: topic, from: 1, limit: 10).count == 1)
    }

    @Test func unknownTopicAndEmptyMessageAreRejected() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let alice = try await t.ledger.createFundedAccount(balance: 1_000)
        let missing = await #expect(throws: LedgerError.self) {
            try await t.ledger.submitMessage(Array("x".utf8), to: TopicID(num: 9999), payer: alice)
        }
        #expect(missing?.code == .notFound)
        let topic = try await t.ledger.createTopic(memo: "", submitKey: nil, payer: alice)
        let empty = await #expect(throws: LedgerError.self) { try await t.ledger.submitMessage([], to: topic, payer: alice) }
        #expect(empty?.code == .invalidArgument)
    }
}
