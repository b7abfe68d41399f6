import Foundation
import GRPCCore
import GRPCInProcessTransport
import Testing
@testable import MeshLedger

struct HederaLedgerTests {
    /// Runs `body` with a HederaLedger talking gRPC (in-process transport) to a LocalHAPIService on `t.ledger`.
    static func withHedera<R: Sendable>(
        _ t: TestLedger, operator op: LedgerOperator, busyAnswers: Int = 0,
        configure: @Sendable (inout HederaConfiguration) -> Void = { _ in },
        _ body: @Sendable (HederaLedger<InProcessTransport.Client>) async throws -> R
    ) async throws -> R {
        let transport = InProcessTransport()
        let service = LocalHAPIService(ledger: t.ledger, busyAnswers: busyAnswers)
        return try await withGRPCServer(transport: transport.server, services: [service]) { _ in
            try await withGRPCClient(transport: transport.client) { client in
                var config = HederaConfiguration(nodes: [.init(address: "in-process", account: AccountID(num: 3))],
                                                 operator: op, mirrorNodeURL: "in-process")
                config.retry = HAPIRetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(4))
                config.receiptInterval = .milliseconds(1)
                config.receiptAttempts = 5
                config.clock = t.clock.read
                configure(&config)
                return try await body(HederaLedger(client: client, configuration: config, mirror: LocalMirrorNode(ledger: t.ledger)))
            }
        }
    }

    @Test func topicsTransfersAndAccountsEndToEndOverGRPC() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let op = try await t.ledger.createFundedAccount(balance: 1_000_000)
        let bob = try await t.ledger.createFundedAccount(balance: 0)
        let big = (0..<1_500).map { UInt8(truncatingIfNeeded: $0 &* 3) }
        try await Self.withHedera(t, operator: op, busyAnswers: 2) { hedera in
            // The first two submissions are answered BUSY and retried.
            let topic = try await hedera.createTopic(memo: "job-1 audit", submitKey: nil, payer: op)
            let first = try await hedera.submitMessage(Array(#"{"evt":"trainer_joined","task":42}"#.utf8), to: topic, payer: op)
            #expect(first.map(\.topicSequenceNumber) == [1])
            let chunks = try await hedera.submitMessage(big, to: topic, payer: op)
            #expect(chunks.map(\.topicSequenceNumber) == [2, 3])
            #expect(chunks.last?.topicRunningHash?.count == 48)

            try await hedera.transfer(500, from: op, to: bob.account)
            #expect(try await hedera.balance(of: bob.account) == 500)
            let carol = Ed25519PrivateKey()
            let carolID = try await hedera.createAccount(publicKey: carol.publicKey, initialBalance: 7, payer: op)
            #expect(try await hedera.balance(of: carolID) == 7)

            let read = try await hedera.messages(topic: topic, from: 1, limit: 10)
            #expect(read.map(\.sequenceNumber) == [1, 2, 3])
            #expect(MessageChunker.join(read).last == big)
            #expect(read.last?.runningHash == chunks.last?.topicRunningHash)
            #expect(try await hedera.verifyTopic(topic).isOK)
        }
        #expect(try await t.ledger.verify().isOK)
    }

    @Test func refusalsSurfaceAsErrors() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let op = try await t.ledger.createFundedAccount(balance: 100)
        let other = try await t.ledger.createFundedAccount(balance: 0)
        try await Self.withHedera(t, operator: op) { hedera in
            // Wrong key: refused at precheck.
            let forged = LedgerOperator(account: op.account, key: other.key)
            let sig = await #expect(throws: LedgerError.self) { try await hedera.transfer(1, from: forged, to: other.account) }
            #expect(sig?.code == .rejected)
            #expect(sig?.message.contains("INVALID_SIGNATURE") == true)
            // Too poor: reaches "consensus" and fails in the receipt.
            let poor = await #expect(throws: LedgerError.self) { try await hedera.transfer(101, from: op, to: other.account) }
            #expect(poor?.message.contains("INSUFFICIENT_ACCOUNT_BALANCE") == true)
            // Escrow needs the registry topic, which this configuration lacks.
            let escrow = await #expect(throws: LedgerError.self) { try await hedera.lockEscrow(job: "j", amount: 1, owner: op) }
            #expect(escrow?.code == .invalidArgument)
            #expect(escrow?.message.contains("registryTopic") == true)
        }
        #expect(try await t.ledger.balance(of: other.account) == 0)
    }

    @Test func persistentBusyGivesUp() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let op = try await t.ledger.createFundedAccount(balance: 100)
        try await Self.withHedera(t, operator: op, busyAnswers: 100) { hedera in
            let e = await #expect(throws: LedgerError.self) { _ = try await hedera.createTopic(memo: "", submitKey: nil, payer: op) }
            #expect(e?.code == .rejected)
            #expect(e?.message.contains("BUSY") == true)
        }
        #expect(try await t.ledger.topics().isEmpty)
    }

    @Test func receiptCodecRoundTrips() throws {
        let id = TransactionID(payer: AccountID(num: 1001), validStart: .init(seconds: 5, nanos: 6))
        #expect(try HAPIReceiptCodec.decodeReceiptQuery(HAPIReceiptCodec.encodeReceiptQuery(id)) == id)
        let receipt = HAPIReceiptCodec.Receipt(status: .success, accountID: nil, topicID: TopicID(num: 9), topicSequenceNumber: 4,
                                               topicRunningHash: [UInt8](repeating: 7, count: 48), topicRunningHashVersion: 3)
        let decoded = try HAPIReceiptCodec.decodeReceiptResponse(HAPIReceiptCodec.encodeReceiptResponse(precheck: .ok, receipt: receipt))
        #expect(decoded.precheck == .ok)
        #expect(decoded.receipt == receipt)
        #expect(try HAPIReceiptCodec.decodeTransactionResponse(HAPIReceiptCodec.encodeTransactionResponse(.busy)) == .busy)
    }
}
