import Foundation
import GRPCCore
import GRPCInProcessTransport
import Testing
@testable import MeshLedger

/// Escrow and stakes of `HederaLedger` on Hedera primitives — threshold-key
/// accounts, scheduleCreate / scheduleSign, the registry topic — every call a
/// gRPC round trip through the HAPI codec to a `LocalHAPIService`.
struct HederaEscrowTests {
    /// Runs `body` with a HederaLedger whose registry topic exists, coordinated by `coordinator`.
    static func withRegistry<R: Sendable>(
        _ t: TestLedger, coordinator: LedgerOperator, slashRecipient: AccountID? = nil,
        _ body: @Sendable (HederaLedger<InProcessTransport.Client>) async throws -> R
    ) async throws -> R {
        try await HederaLedgerTests.withHedera(t, operator: coordinator, configure: { config in
            config.stakeCooldownSeconds = 60
            config.slashRecipient = slashRecipient
        }) { bare in
            let topic = try await bare.createRegistryTopic()
            // The next instance issues its own valid starts: move the frozen test clock past this one's.
            t.clock.advance(seconds: 1)
            var config = bare.configuration
            config.registryTopic = topic
            return try await body(HederaLedger(client: bare.client, configuration: config, mirror: bare.mirror))
        }
    }

    @Test func escrowLocksIntoAThresholdAccountAndPaysByScheduledTransfers() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let coordinator = try await t.ledger.createFundedAccount(balance: 1_000)
        let owner = try await t.ledger.createFundedAccount(balance: 10_000)
        let trainer = try await t.ledger.createFundedAccount(balance: 0)
        try await Self.withRegistry(t, coordinator: coordinator) { hedera in
            try await hedera.lockEscrow(job: "job-1", amount: 1_000, owner: owner)
            try await hedera.lockEscrow(job: "job-1", amount: 500, owner: owner)
            let holder = try #require(try await hedera.escrowAccount(job: "job-1"))
            #expect(try await hedera.balance(of: holder) == 1_500)
            #expect(try await hedera.balance(of: owner.account) == 8_500)

            // The escrow account's key needs both owner and coordinator: the owner alone cannot drain it.
            let alone = await #expect(throws: LedgerError.self) {
                try await hedera.execute(.cryptoTransfer([.init(account: holder, amount: -100), .init(account: owner.account, amount: 100)]),
                                         payer: owner)
            }
            #expect(alone?.message.contains("INVALID_SIGNATURE") == true)

            let paid = try await hedera.releaseEscrow(job: "job-1", task: "t1", to: trainer.account, amount: 300, owner: owner)
            #expect(paid.scheduleID != nil)
            #expect(paid.scheduledTransactionID?.scheduled == true)
            #expect(try await hedera.balance(of: trainer.account) == 300)
            #expect(try await hedera.balance(of: holder) == 1_200)

            // The same release again pays nothing more; another amount for the same task is refused.
            let again = try await hedera.releaseEscrow(job: "job-1", task: "t1", to: trainer.account, amount: 300, owner: owner)
            #expect(again.isIdempotentReplay)
            #expect(try await hedera.balance(of: trainer.account) == 300)
            let changed = await #expect(throws: LedgerError.self) {
                try await hedera.releaseEscrow(job: "job-1", task: "t1", to: trainer.account, amount: 301, owner: owner)
            }
            #expect(changed?.code == .invalidArgument)
            // Never beyond what is locked; never by someone else.
            let beyond = await #expect(throws: LedgerError.self) {
                try await hedera.releaseEscrow(job: "job-1", task: "t2", to: trainer.account, amount: 1_201, owner: owner)
            }
            #expect(beyond?.code == .insufficientEscrow)
            let stranger = await #expect(throws: LedgerError.self) {
                try await hedera.releaseEscrow(job: "job-1", task: "t2", to: trainer.account, amount: 1, owner: trainer)
            }
            #expect(stranger?.code == .unauthorized)

            let refund = try await hedera.refundEscrow(job: "job-1", owner: owner)
            #expect(refund.amount == 1_200)
            #expect(try await hedera.balance(of: owner.account) == 9_700)
            #expect(try await hedera.balance(of: holder) == 0)
            let state = try #require(try await hedera.escrow(job: "job-1"))
            #expect(state.locked == 1_500 && state.released == 300 && state.refunded == 1_200 && !state.isOpen)
            let closed = await #expect(throws: LedgerError.self) {
                try await hedera.releaseEscrow(job: "job-1", task: "t3", to: trainer.account, amount: 1, owner: owner)
            }
            #expect(closed?.code == .escrowClosed)
        }
        // The local node's log, schedules included, replays to the same state.
        #expect(try await t.ledger.verify().isOK)
    }

    @Test func aSecondClientSeesTheEscrowThroughTheRegistry() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let coordinator = try await t.ledger.createFundedAccount(balance: 1_000)
        let owner = try await t.ledger.createFundedAccount(balance: 1_000)
        let trainer = try await t.ledger.createFundedAccount(balance: 0)
        try await Self.withRegistry(t, coordinator: coordinator) { hedera in
            try await hedera.lockEscrow(job: "j", amount: 400, owner: owner)
            try await hedera.releaseEscrow(job: "j", task: "a", to: trainer.account, amount: 100, owner: owner)
            // A fresh instance (empty cache) folds the registry topic from message 1.
            let other = HederaLedger(client: hedera.client, configuration: hedera.configuration, mirror: hedera.mirror)
            let state = try #require(try await other.escrow(job: "j"))
            #expect(state.owner == owner.account && state.locked == 400 && state.released == 100)
            let replay = try await other.releaseEscrow(job: "j", task: "a", to: trainer.account, amount: 100, owner: owner)
            #expect(replay.isIdempotentReplay)
            #expect(try await other.balance(of: trainer.account) == 100)
        }
    }

    @Test func stakesCoolDownAndSlashesNeedEvidenceAndTheAuthority() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let authority = try await t.ledger.createFundedAccount(balance: 1_000)
        let pot = try await t.ledger.createFundedAccount(balance: 0)
        let trainer = try await t.ledger.createFundedAccount(balance: 1_000)
        let cid = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
        try await Self.withRegistry(t, coordinator: authority, slashRecipient: pot.account) { hedera in
            try await hedera.stake(600, trainer: trainer)
            #expect(try await hedera.stake(of: trainer.account).staked == 600)
            #expect(try await hedera.balance(of: trainer.account) == 400)

            let early = await #expect(throws: LedgerError.self) { try await hedera.unstake(100, trainer: trainer) }
            #expect(early?.code == .stakeLocked)
            t.clock.advance(seconds: 61)
            let back = try await hedera.unstake(100, trainer: trainer)
            #expect(back.scheduleID != nil)
            #expect(try await hedera.balance(of: trainer.account) == 500)
            // A second unstake of the same amount is a new schedule, not the identical one.
            try await hedera.unstake(100, trainer: trainer)
            #expect(try await hedera.balance(of: trainer.account) == 600)

            let noEvidence = await #expect(throws: LedgerError.self) {
                try await hedera.slash(trainer.account, amount: 50, evidenceCID: "", authority: authority)
            }
            #expect(noEvidence?.code == .missingEvidence)
            let notAuthority = await #expect(throws: LedgerError.self) {
                try await hedera.slash(trainer.account, amount: 50, evidenceCID: cid, authority: trainer)
            }
            #expect(notAuthority?.code == .unauthorized)
            try await hedera.slash(trainer.account, amount: 50, evidenceCID: cid, authority: authority)
            let stake = try await hedera.stake(of: trainer.account)
            #expect(stake.staked == 350 && stake.slashedTotal == 50)
            #expect(try await hedera.balance(of: pot.account) == 50)
        }
        #expect(try await t.ledger.verify().isOK)
    }

    @Test func localLedgerSchedulesWaitForEveryRequiredKey() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let a = try await t.ledger.createFundedAccount(balance: 0)
        let b = try await t.ledger.createFundedAccount(balance: 0)
        let c = try await t.ledger.createFundedAccount(balance: 0)
        let key = HAPIKey.threshold(2, [.ed25519(a.key.publicKey.rawRepresentation), .ed25519(b.key.publicKey.rawRepresentation)])
        let joint = try #require(try await t.ledger.execute(.cryptoCreateAccount(key: key, initialBalance: 100), payer: t.ledger.treasury).accountID)
        let schedule = TransactionBody.ScheduleCreate(transfers: [.init(account: joint, amount: -40), .init(account: c.account, amount: 40)],
                                                      memo: "pay c", payer: a.account)
        let created = try await t.ledger.execute(.scheduleCreate(schedule), payer: a)
        #expect(!created.scheduleExecuted)
        #expect(try await t.ledger.balance(of: c.account) == 0)
        let id = try #require(created.scheduleID)

        // The identical schedule is not created twice.
        let twin = try await t.ledger.execute(.scheduleCreate(schedule), payer: b)
        #expect(twin.isIdempotentReplay && twin.scheduleID == id)

        // c's signature is not one the schedule needs; b's completes the threshold.
        #expect(try await !t.ledger.execute(.scheduleSign(id), payer: c).scheduleExecuted)
        let signed = try await t.ledger.execute(.scheduleSign(id), payer: b)
        #expect(signed.scheduleExecuted)
        #expect(signed.scheduledTransactionID == TransactionID(payer: a.account, validStart: created.transactionID.validStart, scheduled: true))
        #expect(try await t.ledger.balance(of: c.account) == 40)
        #expect(try await t.ledger.balance(of: joint) == 60)

        let late = await #expect(throws: LedgerError.self) { try await t.ledger.execute(.scheduleSign(id), payer: a) }
        #expect(late?.code == .scheduleExecuted)
        let missing = await #expect(throws: LedgerError.self) {
            try await t.ledger.execute(.scheduleSign(.init(num: 999_999)), payer: a)
        }
        #expect(missing?.code == .notFound)
        #expect(try await t.ledger.verify().isOK)
    }
}
