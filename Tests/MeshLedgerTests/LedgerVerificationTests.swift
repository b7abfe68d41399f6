import Testing
@testable import MeshLedger

struct LedgerVerificationTests {
    /// A ledger with some of everything in it.
    static func populated() async throws -> (TestLedger, TopicID) {
        let t = try TestLedger()
        let owner = try await t.ledger.createFundedAccount(balance: 10_000)
        let trainer = try await t.ledger.createFundedAccount(balance: 100)
        try await t.ledger.lockEscrow(job: "j", amount: 1_000, owner: owner)
        try await t.ledger.releaseEscrow(job: "j", task: "1", to: trainer.account, amount: 10, owner: owner)
        try await t.ledger.stake(50, trainer: trainer)
        let topic = try await t.ledger.createTopic(memo: "audit", submitKey: nil, payer: owner)
        for i in 1...4 { try await t.ledger.submitMessage(Array("m\(i)".utf8), to: topic, payer: trainer) }
        return (t, topic)
    }

    @Test func intactLedgerVerifies() async throws {
        let (t, _) = try await Self.populated()
        defer { t.remove() }
        let v = try await t.ledger.verify()
        #expect(v.isOK, "\(v)")
        #expect(v.messages == 4)
        #expect(v.transactions == 10)
        #expect(v.description.hasPrefix("OK"))
    }

    @Test func alteredBalanceIsFound() async throws {
        let (t, _) = try await Self.populated()
        defer { t.remove() }
        try await t.ledger.executeRawSQLForTesting("UPDATE accounts SET balance = balance + 1 WHERE num = 1002")
        let v = try await t.ledger.verify()
        #expect(v.problem?.reason.contains("table accounts") == true, "\(v)")
    }

    @Test func alteredMessageNamesItsSequenceNumber() async throws {
        let (t, topic) = try await Self.populated()
        defer { t.remove() }
        try await t.ledger.executeRawSQLForTesting("UPDATE topic_messages SET contents = X'6d58' WHERE sequence = 3")
        let v = try await t.ledger.verify()
        #expect(v.problem?.topic == topic)
        #expect(v.problem?.topicSequence == 3)
        if case .failed(let seq, _) = try await t.ledger.verifyTopic(topic) { #expect(seq == 3) } else { Issue.record("topic verified") }
    }

    @Test func forgedLogEntryIsFound() async throws {
        let (t, _) = try await Self.populated()
        defer { t.remove() }
        // Replace log entry 5's bytes with an unsigned copy of its body.
        let entries = try await t.ledger.logEntriesForTesting()
        let tx = try SignedTransaction(transactionBytes: entries[4])
        let unsigned = SignedTransaction(bodyBytes: tx.bodyBytes, signatures: [])
        try await t.ledger.executeRawSQLForTesting("UPDATE tx_log SET tx_bytes = X'\(Fixture.hex(unsigned.transactionBytes()))' WHERE seq = 5")
        let v = try await t.ledger.verify()
        #expect(v.problem?.logSequence == 5, "\(v)")
        #expect(v.problem?.reason.contains("unsigned") == true, "\(v)")
    }
}
