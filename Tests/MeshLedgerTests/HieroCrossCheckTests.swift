import Foundation
import Testing
@testable import MeshLedger

/// Our HAPI bytes against the Python Hiero SDK (`hiero-sdk-python`, venv made by scripts/setup).
/// Fails — does not skip — when the SDK's venv is missing.
struct HieroCrossCheckTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `hiero_crosscheck.py mode` with `request` as JSON on stdin; returns the JSON it prints.
    static func python(_ mode: String, _ request: [String: Any]) throws -> [String: Any] {
        let python = repoRoot.appendingPathComponent(".venv-hiero/bin/python")
        let script = repoRoot.appendingPathComponent("tests/python/ledger/hiero_crosscheck.py")
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw LedgerError(.notFound, "\(python.path) is missing; run scripts/setup to install hiero-sdk-python.")
        }
        let process = Process()
        process.executableURL = python
        process.arguments = [script.path, mode]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let watchdog = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: watchdog)
        defer { watchdog.cancel() }
        stdin.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: request))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LedgerError(.verificationFailed, "hiero_crosscheck.py \(mode) failed: \(String(decoding: err, as: UTF8.self))")
        }
        return try #require(try JSONSerialization.jsonObject(with: out) as? [String: Any])
    }

    @Test func sdkParsesOurTransactionsAndVerifiesTheirSignatures() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let alice = try await t.ledger.createFundedAccount(balance: 10_000)
        let bob = try await t.ledger.createFundedAccount(balance: 0)
        try await t.ledger.transfer(1_234, from: alice, to: bob.account)
        let topic = try await t.ledger.createTopic(memo: "audit", submitKey: nil, payer: alice)
        try await t.ledger.submitMessage(Array(#"{"evt":"trainer_joined","task":42}"#.utf8), to: topic, payer: bob)
        try await t.ledger.submitMessage((0..<1_500).map { UInt8(truncatingIfNeeded: $0) }, to: topic, payer: alice)

        // Everything in the log is a HAPI transaction, plus the golden vector signed with the RFC 8032 key.
        var golden = SignedTransaction(body: HAPICodecTests.goldenBodyValue())
        golden.sign(with: try Ed25519PrivateKey(hex: Fixture.rfc8032Secret))
        let ours = try await t.ledger.logEntriesForTesting() + [golden.transactionBytes()]
        let result = try Self.python("parse", ["transactions": ours.map { Fixture.hex($0) }])
        let parsed = try #require(result["parsed"] as? [[String: Any]])
        try #require(parsed.count == ours.count)

        for (bytes, item) in zip(ours, parsed) {
            let tx = try SignedTransaction(transactionBytes: bytes)
            let body = try tx.body()
            #expect(item["payer"] as? String == body.transactionID.payer.description)
            #expect(item["valid_start"] as? [Int] == [Int(body.transactionID.validStart.seconds), Int(body.transactionID.validStart.nanos)])
            // The SDK prints nanos unpadded ("…@1700000000.5"); the numbers are compared above.
            #expect((item["transaction_id"] as? String)?.hasPrefix("\(body.transactionID.payer)@\(body.transactionID.validStart.seconds).") == true)
            #expect(item["memo"] as? String == body.memo)
            #expect(item["fee"] as? Int == Int(body.transactionFee))
            #expect(item["valid_duration"] as? Int == Int(body.validDurationSeconds))
            #expect(item["signatures_verified"] as? Int == tx.signatures.count)
            #expect(tx.signatures.count >= 1)
            switch body.data {
            case .cryptoCreateAccount:
                #expect(item["sdk_type"] as? String == "AccountCreateTransaction")
            case .cryptoTransfer(let transfers):
                #expect(item["sdk_type"] as? String == "TransferTransaction")
                let legs = try #require(item["transfers"] as? [[Any]])
                #expect(legs.map { $0[0] as? String } == transfers.map(\.account.description))
                #expect(legs.map { $0[1] as? Int } == transfers.map { Int($0.amount) })
            case .consensusCreateTopic(let c):
                #expect(item["sdk_type"] as? String == "TopicCreateTransaction")
                #expect(item["topic_memo"] as? String == c.memo)
            case .consensusSubmitMessage(let s):
                #expect(item["sdk_type"] as? String == "TopicMessageSubmitTransaction")
                #expect(item["topic"] as? String == s.topic.description)
                #expect(item["message_hex"] as? String == Fixture.hex(s.message))
                if let c = s.chunkInfo { #expect(item["chunk"] as? [Int] == [Int(c.total), Int(c.number)]) }
            default:
                Issue.record("unexpected transaction type in the log: \(body.data)")
            }
        }
        #expect(parsed.contains { ($0["chunk"] as? [Int]) == [2, 2] })
    }

    @Test func weParseVerifyAndApplyTransactionsTheSDKBuilds() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let rfcKey = try Ed25519PrivateKey(hex: Fixture.rfc8032Secret)
        // 0.0.1001 gets the RFC key, 0.0.1002 is a topic, 0.0.1003 the recipient.
        let payerID = try await t.ledger.createAccount(publicKey: rfcKey.publicKey, initialBalance: 1_000, payer: t.ledger.treasury)
        let payer = LedgerOperator(account: payerID, key: rfcKey)
        let topic = try await t.ledger.createTopic(memo: "", submitKey: nil, payer: payer)
        let recipient = try await t.ledger.createFundedAccount(balance: 0)
        #expect([payerID.num, topic.num, recipient.account.num] == [1001, 1002, 1003])

        let start = t.clock.read().adding(nanoseconds: 123_456_789)
        let built = try Self.python("build", [
            "secret": Fixture.rfc8032Secret, "payer": payerID.description,
            "valid_start": [Int(start.seconds), Int(start.nanos)], "topic": topic.description,
            "message": "from hiero", "to": recipient.account.description, "amount": 5,
        ])
        #expect(built["public_key"] as? String == Fixture.rfc8032Public)

        let submit = try SignedTransaction(transactionBytes: Fixture.hex(try #require(built["submit"] as? String)))
        let transfer = try SignedTransaction(transactionBytes: Fixture.hex(try #require(built["transfer"] as? String)))
        let submitBody = try submit.body()
        #expect(submitBody.transactionID == TransactionID(payer: payerID, validStart: start))
        #expect(submitBody.nodeAccountID == AccountID(num: 3))
        #expect(submitBody.memo == "hiero-sdk")
        #expect(submitBody.data == .consensusSubmitMessage(.init(topic: topic, message: Array("from hiero".utf8))))
        #expect(try transfer.body().data == .cryptoTransfer([.init(account: payerID, amount: -5), .init(account: recipient.account, amount: 5)]))
        for tx in [submit, transfer] {
            #expect(try tx.verifiedSigners(among: [rfcKey.publicKey.rawRepresentation]) == [rfcKey.publicKey.rawRepresentation])
            // Re-encoding the decoded body gives the SDK's exact bytes.
            #expect(try tx.body().encoded() == tx.bodyBytes)
        }

        // The ledger accepts them as they are.
        t.clock.advance(seconds: 1)
        let r = try await t.ledger.submit(submit)
        #expect(r.topicSequenceNumber == 1)
        try await t.ledger.submit(transfer)
        #expect(try await t.ledger.balance(of: recipient.account) == 5)
        #expect(try await t.ledger.messages(topic: topic, from: 1, limit: 10).map(\.contents) == [Array("from hiero".utf8)])
        #expect(try await t.ledger.verify().isOK)
    }
}
