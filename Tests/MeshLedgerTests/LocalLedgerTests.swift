import Foundation
import Testing
@testable import MeshLedger

struct LocalLedgerTests {
    @Test func faucetFundsAndTransfersMoveTinybars() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let alice = try await t.ledger.createFundedAccount(balance: 1_000)
        let bob = try await t.ledger.createFundedAccount(balance: 0)
        #expect(alice.account == AccountID(num: 1001))
        #expect(bob.account == AccountID(num: 1002))
        try await t.ledger.fund(bob.account, amount: 50)
        try await t.ledger.transfer(300, from: alice, to: bob.account)
        #expect(try await t.ledger.balance(of: alice.account) == 700)
        #expect(try await t.ledger.balance(of: bob.account) == 350)
        let error = await #expect(throws: LedgerError.self) { try await t.ledger.transfer(701, from: alice, to: bob.account) }
        #expect(error?.code == .insufficientBalance)
        #expect(try await t.ledger.balance(of: alice.account) == 700)
        #expect(try await t.ledger.verify().isOK)
    }

    @Test func doubleReleaseIsIdempotentAndLogsOnce() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let owner = try await t.ledger.createFundedAccount(balance: 1_000)
        let trainer = try await t.ledger.createFundedAccount(balance: 0)
        try await t.ledger.lockEscrow(job: "job-1", amount: 100, owner: owner)
        let first = try await t.ledger.releaseEscrow(job: "job-1", task: "t1", to: trainer.account, amount: 30, owner: owner)
        let logged = try await t.ledger.logCount()
        t.clock.advance(seconds: 1)
        let second = try await t.ledger.releaseEscrow(job: "job-1", task: "t1", to: trainer.account, amount: 30, owner: owner)
        #expect(!first.isIdempotentReplay)
        #expect(second.isIdempotentReplay)
        #expect(second.transactionID == first.transactionID)
        #expect(second.consensusTimestamp == first.consensusTimestamp)
        #expect(try await t.ledger.logCount() == logged)
        #expect(try await t.ledger.balance(of: trainer.account) == 30)
        #expect(try await t.ledger.escrow(job: "job-1")?.released == 30)
        // The same task with other terms is refused, not silently merged.
        let error = await #expect(throws: LedgerError.self) {
            try await t.ledger.releaseEscrow(job: "job-1", task: "t1", to: trainer.account, amount: 31, owner: owner)
        }
        #expect(error?.code == .invalidArgument)
        #expect(try await t.ledger.verify().isOK)
    }

    /// Several tasks paid in one transaction: one log entry, each recipient
    /// paid once; a repeat is a no-op, a batch overlapping paid tasks pays
    /// only the new ones, and a batch that cannot be paid whole pays nothing.
    @Test func releaseBatchPaysEachTaskOnceInOneTransaction() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let owner = try await t.ledger.createFundedAccount(balance: 1_000)
        let a = try await t.ledger.createFundedAccount(balance: 0)
        let b = try await t.ledger.createFundedAccount(balance: 0)
        try await t.ledger.lockEscrow(job: "job-1", amount: 100, owner: owner)
        let logged = try await t.ledger.logCount()
        let batch = [EscrowRelease(task: "r0-s0", recipient: a.account, amount: 20), EscrowRelease(task: "r0-s1", recipient: b.account, amount: 30)]
        let paid = try await t.ledger.releaseEscrow(job: "job-1", releases: batch, owner: owner)
        #expect(paid.amount == 50 && !paid.isIdempotentReplay)
        #expect(try await t.ledger.logCount() == logged + 1, "one transaction for the batch")
        #expect(try await t.ledger.balance(of: a.account) == 20)
        #expect(try await t.ledger.balance(of: b.account) == 30)
        // The same batch again: nothing paid, nothing logged.
        t.clock.advance(seconds: 1)
        let again = try await t.ledger.releaseEscrow(job: "job-1", releases: batch, owner: owner)
        #expect(again.amount == 0 && again.isIdempotentReplay)
        #expect(try await t.ledger.logCount() == logged + 1)
        // A paid task beside a new one: only the new one is paid.
        t.clock.advance(seconds: 1)
        let mixed = try await t.ledger.releaseEscrow(job: "job-1", releases: [batch[0], EscrowRelease(task: "r1-s0", recipient: a.account, amount: 10)], owner: owner)
        #expect(mixed.amount == 10)
        #expect(try await t.ledger.balance(of: a.account) == 30)
        // Whole or nothing: 40 tinybars are left, the batch asks 45; a paid task with other terms; a task twice.
        for (bad, code) in [
            ([EscrowRelease(task: "r1-s1", recipient: b.account, amount: 20), EscrowRelease(task: "r1-s2", recipient: a.account, amount: 25)], LedgerError.Code.insufficientEscrow),
            ([EscrowRelease(task: "r1-s1", recipient: b.account, amount: 5), EscrowRelease(task: "r0-s0", recipient: b.account, amount: 20)], .invalidArgument),
            ([EscrowRelease(task: "r1-s1", recipient: b.account, amount: 5), EscrowRelease(task: "r1-s1", recipient: b.account, amount: 5)], .invalidArgument),
        ] {
            t.clock.advance(seconds: 1)
            let error = await #expect(throws: LedgerError.self) { try await t.ledger.releaseEscrow(job: "job-1", releases: bad, owner: owner) }
            #expect(error?.code == code)
        }
        #expect(try await t.ledger.balance(of: a.account) == 30, "refused batches paid nothing")
        #expect(try await t.ledger.balance(of: b.account) == 30, "refused batches paid nothing")
        #expect(try await t.ledger.escrow(job: "job-1")?.released == 60)
        let stranger = await #expect(throws: LedgerError.self) {
            try await t.ledger.releaseEscrow(job: "job-1", releases: [EscrowRelease(task: "r2-s0", recipient: a.account, amount: 1)], owner: a)
        }
        #expect(stranger?.code == .unauthorized)
        #expect(try await t.ledger.verify().isOK, "the log replays with the batch in it")
    }

    @Test func releaseNeverExceedsTheEscrow() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let owner = try await t.ledger.createFundedAccount(balance: 1_000)
        let trainer = try await t.ledger.createFundedAccount(balance: 0)
        try await t.ledger.lockEscrow(job: "job-1", amount: 100, owner: owner)
        try await t.ledger.releaseEscrow(job: "job-1", task: "t1", to: trainer.account, amount: 60, owner: owner)
        let error = await #expect(throws: LedgerError.self) {
            try await t.ledger.releaseEscrow(job: "job-1", task: "t2", to: trainer.account, amount: 41, owner: owner)
        }
        #expect(error?.code == .insufficientEscrow)
        try await t.ledger.releaseEscrow(job: "job-1", task: "t2", to: trainer.account, amount: 40, owner: owner)
        let empty = await #expect(throws: LedgerError.self) {
            try await t.ledger.releaseEscrow(job: "job-1", task: "t3", to: trainer.account, amount: 1, owner: owner)
        }
        #expect(empty?.code == .insufficientEscrow)
        #expect(try await t.ledger.balance(of: trainer.account) == 100)
        #expect(try await t.ledger.balance(of: owner.account) == 900)
        #expect(try await t.ledger.escrow(job: "job-1") == EscrowState(job: "job-1", owner: owner.account, locked: 100, released: 100))
    }

    @Test func refundReturnsTheRestAndClosesTheEscrow() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let owner = try await t.ledger.createFundedAccount(balance: 1_000)
        let trainer = try await t.ledger.createFundedAccount(balance: 0)
        try await t.ledger.lockEscrow(job: "j", amount: 200, owner: owner)
        try await t.ledger.lockEscrow(job: "j", amount: 100, owner: owner)
        try await t.ledger.releaseEscrow(job: "j", task: "a", to: trainer.account, amount: 50, owner: owner)
        let refund = try await t.ledger.refundEscrow(job: "j", owner: owner)
        #expect(refund.amount == 250)
        #expect(try await t.ledger.balance(of: owner.account) == 950)
        let closed = await #expect(throws: LedgerError.self) {
            try await t.ledger.releaseEscrow(job: "j", task: "b", to: trainer.account, amount: 1, owner: owner)
        }
        #expect(closed?.code == .escrowClosed)
        #expect(try await t.ledger.escrow(job: "j")?.isOpen == false)
    }

    @Test func onlyTheOwnerReleases() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let owner = try await t.ledger.createFundedAccount(balance: 1_000)
        let thief = try await t.ledger.createFundedAccount(balance: 10)
        try await t.ledger.lockEscrow(job: "j", amount: 100, owner: owner)
        let error = await #expect(throws: LedgerError.self) {
            try await t.ledger.releaseEscrow(job: "j", task: "x", to: thief.account, amount: 100, owner: thief)
        }
        #expect(error?.code == .unauthorized)
        // Claiming to be the owner without its key fails the signature check.
        let forged = LedgerOperator(account: owner.account, key: thief.key)
        let sig = await #expect(throws: LedgerError.self) {
            try await t.ledger.releaseEscrow(job: "j", task: "x", to: thief.account, amount: 100, owner: forged)
        }
        #expect(sig?.code == .missingSignature)
        #expect(try await t.ledger.balance(of: thief.account) == 10)
    }

    @Test func unsignedAndWronglySignedTransactionsAreRejected() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let alice = try await t.ledger.createFundedAccount(balance: 1_000)
        let bob = try await t.ledger.createFundedAccount(balance: 0)
        let body = t.ledger.body(.cryptoTransfer([.init(account: alice.account, amount: -10), .init(account: bob.account, amount: 10)]),
                                 payer: alice.account, validStart: t.clock.read())
        let before = try await t.ledger.logCount()

        let unsigned = await #expect(throws: LedgerError.self) { try await t.ledger.submit(SignedTransaction(body: body)) }
        #expect(unsigned?.code == .missingSignature)

        var byBob = SignedTransaction(body: body)
        byBob.sign(with: bob.key)
        let wrongKey = await #expect(throws: LedgerError.self) { try await t.ledger.submit(byBob) }
        #expect(wrongKey?.code == .missingSignature)

        var badSignature = SignedTransaction(body: body)
        badSignature.sign(with: alice.key)
        badSignature.signatures[0].ed25519[5] ^= 0x40
        let bad = await #expect(throws: LedgerError.self) { try await t.ledger.submit(badSignature) }
        #expect(bad?.code == .invalidSignature)

        var tampered = SignedTransaction(body: body)
        tampered.sign(with: alice.key)
        var changed = body
        changed.data = .cryptoTransfer([.init(account: alice.account, amount: -999), .init(account: bob.account, amount: 999)])
        tampered.bodyBytes = changed.encoded()
        let swapped = await #expect(throws: LedgerError.self) { try await t.ledger.submit(tampered) }
        #expect(swapped?.code == .invalidSignature)

        #expect(try await t.ledger.logCount() == before)
        #expect(try await t.ledger.balance(of: bob.account) == 0)

        var good = SignedTransaction(body: body)
        good.sign(with: alice.key)
        try await t.ledger.submit(good)
        let again = await #expect(throws: LedgerError.self) { try await t.ledger.submit(good) }
        #expect(again?.code == .duplicateTransaction)
        #expect(try await t.ledger.balance(of: bob.account) == 10)
    }

    @Test func expiredTransactionsAreRejected() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let alice = try await t.ledger.createFundedAccount(balance: 1_000)
        var tx = SignedTransaction(body: t.ledger.body(.meshfl(.stake(amount: 1)), payer: alice.account, validStart: t.clock.read()))
        tx.sign(with: alice.key)
        t.clock.advance(seconds: 121)
        let error = await #expect(throws: LedgerError.self) { try await t.ledger.submit(tx) }
        #expect(error?.code == .transactionExpired)
    }

    @Test func stakeUnstakeAfterCooldownAndSlashToTreasury() async throws {
        let t = try TestLedger(cooldownSeconds: 60)
        defer { t.remove() }
        let trainer = try await t.ledger.createFundedAccount(balance: 1_000)
        try await t.ledger.stake(400, trainer: trainer)
        let early = await #expect(throws: LedgerError.self) { try await t.ledger.unstake(100, trainer: trainer) }
        #expect(early?.code == .stakeLocked)
        t.clock.advance(seconds: 61)
        try await t.ledger.unstake(100, trainer: trainer)
        #expect(try await t.ledger.balance(of: trainer.account) == 700)

        let treasuryBefore = try await t.ledger.balance(of: t.ledger.treasury.account)
        for cid in ["", "not a cid", "Qm123"] {
            let e = await #expect(throws: LedgerError.self) {
                try await t.ledger.slash(trainer.account, amount: 50, evidenceCID: cid, authority: t.ledger.treasury)
            }
            #expect(e?.code == .missingEvidence)
        }
        let notAuthority = await #expect(throws: LedgerError.self) {
            try await t.ledger.slash(trainer.account, amount: 50, evidenceCID: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", authority: trainer)
        }
        #expect(notAuthority?.code == .unauthorized)
        let r = try await t.ledger.slash(trainer.account, amount: 50, evidenceCID: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", authority: t.ledger.treasury)
        #expect(r.amount == 50)
        #expect(try await t.ledger.balance(of: t.ledger.treasury.account) == treasuryBefore + 50)
        let stake = try await t.ledger.stake(of: trainer.account)
        #expect(stake.staked == 250)
        #expect(stake.slashedTotal == 50)
        let tooMuch = await #expect(throws: LedgerError.self) {
            try await t.ledger.slash(trainer.account, amount: 251, evidenceCID: "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", authority: t.ledger.treasury)
        }
        #expect(tooMuch?.code == .insufficientStake)
        #expect(try await t.ledger.verify().isOK)
    }

    @Test func totalSupplyIsConserved() async throws {
        let t = try TestLedger()
        defer { t.remove() }
        let a = try await t.ledger.createFundedAccount(balance: 5_000)
        let b = try await t.ledger.createFundedAccount(balance: 0)
        try await t.ledger.lockEscrow(job: "j", amount: 1_000, owner: a)
        try await t.ledger.releaseEscrow(job: "j", task: "1", to: b.account, amount: 300, owner: a)
        try await t.ledger.stake(200, trainer: b)
        try await t.ledger.slash(b.account, amount: 20, evidenceCID: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", authority: t.ledger.treasury)
        let balances = try await t.ledger.accounts().reduce(0) { $0 + $1.balance }
        let escrowed = try await t.ledger.escrows().reduce(0) { $0 + $1.available }
        let staked = try await t.ledger.stake(of: b.account).staked
        #expect(balances + escrowed + staked == LedgerSchema.genesisSupply)
    }
}
