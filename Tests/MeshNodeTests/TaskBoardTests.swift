import MeshNode
import Testing

/// The job/task lifecycle without sockets.
struct TaskBoardTests {
    func leased(_ outcome: TaskBoard.ClaimOutcome) -> (Int, TaskBoard.Holder)? {
        if case .leased(let shard, let holder) = outcome { return (shard, holder) }
        return nil
    }

    @Test func leasesEachShardOnceThenWaits() throws {
        var board = TaskBoard(rounds: 1, shards: 2)
        let a = try #require(leased(board.claim(trainer: "A", account: "0.0.1", now: 0, leaseSeconds: 10, leaseID: "l1")))
        let b = try #require(leased(board.claim(trainer: "B", account: "0.0.2", now: 0, leaseSeconds: 10, leaseID: "l2")))
        #expect(a.0 == 0 && b.0 == 1)
        guard case .wait = board.claim(trainer: "C", account: "0.0.3", now: 1, leaseSeconds: 10, leaseID: "l3") else {
            Issue.record("a third trainer should wait"); return
        }
        // Claiming again returns the lease already held.
        let again = try #require(leased(board.claim(trainer: "A", account: "0.0.1", now: 2, leaseSeconds: 10, leaseID: "l4")))
        #expect(again.1.lease == "l1")
    }

    @Test func expiredLeaseIsReassignedAndTheLateReceiptIsStale() throws {
        var board = TaskBoard(rounds: 1, shards: 1)
        _ = board.claim(trainer: "A", account: "a", now: 0, leaseSeconds: 5, leaseID: "l1")
        #expect(board.expire(now: 4) == [])
        #expect(board.expire(now: 5) == [0])
        let b = try #require(leased(board.claim(trainer: "B", account: "b", now: 6, leaseSeconds: 5, leaseID: "l2")))
        #expect(b.0 == 0)
        guard case .notYours = board.receive(round: 0, shard: 0, lease: "l1", trainer: "A") else {
            Issue.record("A's late receipt must not count"); return
        }
        #expect(board.receive(round: 0, shard: 0, lease: "l2", trainer: "B") == .verify)
    }

    @Test func duplicateReceiptChangesNothing() {
        var board = TaskBoard(rounds: 2, shards: 1)
        _ = board.claim(trainer: "A", account: "a", now: 0, leaseSeconds: 5, leaseID: "l1")
        #expect(board.receive(round: 0, shard: 0, lease: "l1", trainer: "A") == .verify)
        guard case .duplicate = board.receive(round: 0, shard: 0, lease: "l1", trainer: "A") else {
            Issue.record("a second receipt during verification is a duplicate"); return
        }
        board.settle(shard: 0, lease: "l1", accepted: true)
        guard case .duplicate = board.receive(round: 0, shard: 0, lease: "l1", trainer: "A") else {
            Issue.record("a replay after acceptance is a duplicate"); return
        }
        #expect(board.isRoundComplete)
        board.advance()
        #expect(board.round == 1 && !board.isRoundComplete)
        guard case .stale = board.receive(round: 0, shard: 0, lease: "l1", trainer: "A") else {
            Issue.record("a receipt for a finished round is stale"); return
        }
    }

    @Test func receiptForAnotherTrainersLeaseIsRefused() {
        var board = TaskBoard(rounds: 1, shards: 1)
        _ = board.claim(trainer: "A", account: "a", now: 0, leaseSeconds: 5, leaseID: "l1")
        guard case .notYours = board.receive(round: 0, shard: 0, lease: "l1", trainer: "B") else {
            Issue.record("B cannot hand in A's task"); return
        }
        guard case .notYours = board.receive(round: 0, shard: 3, lease: "l1", trainer: "A") else {
            Issue.record("a shard out of range is refused"); return
        }
    }

    @Test func rejectionReopensAndBanRefusesFurtherClaims() throws {
        var board = TaskBoard(rounds: 1, shards: 2)
        _ = board.claim(trainer: "C", account: "c", now: 0, leaseSeconds: 5, leaseID: "l1")
        #expect(board.receive(round: 0, shard: 0, lease: "l1", trainer: "C") == .verify)
        board.settle(shard: 0, lease: "l1", accepted: false)
        board.ban("C")
        guard case .refused = board.claim(trainer: "C", account: "c", now: 1, leaseSeconds: 5, leaseID: "l2") else {
            Issue.record("a banned trainer gets no task"); return
        }
        let honest = try #require(leased(board.claim(trainer: "H", account: "h", now: 1, leaseSeconds: 5, leaseID: "l3")))
        #expect(honest.0 == 0)
    }

    @Test func restartTurnsVerificationBackIntoALease() {
        var board = TaskBoard(rounds: 1, shards: 1)
        _ = board.claim(trainer: "A", account: "a", now: 0, leaseSeconds: 5, leaseID: "l1")
        _ = board.receive(round: 0, shard: 0, lease: "l1", trainer: "A")
        board.recoverAfterRestart()
        #expect(board.receive(round: 0, shard: 0, lease: "l1", trainer: "A") == .verify)
    }

    @Test func finishesAfterTheLastRound() {
        var board = TaskBoard(rounds: 1, shards: 1)
        _ = board.claim(trainer: "A", account: "a", now: 0, leaseSeconds: 5, leaseID: "l1")
        _ = board.receive(round: 0, shard: 0, lease: "l1", trainer: "A")
        board.settle(shard: 0, lease: "l1", accepted: true)
        board.advance()
        #expect(board.isFinished)
        #expect(board.claim(trainer: "A", account: "a", now: 1, leaseSeconds: 5, leaseID: "l2") == .finished)
    }
}
