import Foundation
import Libp2p
import Logging
import MeshLedger
import MeshNN
@testable import MeshNode
import Testing

/// The trainer's run loop between looks for work: a job it hears of ends
/// its idle pause at once, so it claims within milliseconds of the
/// announcement rather than up to a pause later.
struct TrainerNodeTests {
    /// A trainer on its own host (no requester, no pubsub) and a signed announcement it would accept.
    static func trainer(_ root: URL) async throws -> (TrainerNode, Libp2p.Host, SignedMessage<JobSpec>) {
        let ledger = try LocalLedger(path: root.appendingPathComponent("dev.ledger").path)
        let key = PrivateKey.generate()
        let host = Libp2p.Host(identity: key)
        let trainer = TrainerNode(host: host, identity: key, account: try await ledger.createFundedAccount(balance: 1_000), bootstrap: [],
                                  pubsub: nil, cheat: nil, logger: Logger(label: "test.trainer"))
        let requester = PrivateKey.generate()
        let spec = JobSpec(id: "job-0000000000000002", requester: requester.peerID.description, requesterAddresses: [],
                           requesterAccount: "0.0.1001", auditTopic: "0.0.1002", sealingKey: String(repeating: "00", count: 32),
                           model: ModelSpec(input: [4], layers: [.dense(units: 2)]), rounds: 1, shards: 1, shardSizes: [10], recipe: .init(),
                           seed: 1, rewardPerTask: 1, escrow: 1, minimumStake: 0, slashAmount: 0, leaseSeconds: 10, reexecutionProbability: 0)
        return (trainer, host, try SignedMessage(signing: spec, with: requester))
    }

    static func scratch() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("meshfl-trainer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    /// Waits (bounded) until the trainer is in an idle pause.
    static func waitForPause(_ trainer: TrainerNode) async throws {
        for _ in 0..<400 where await trainer.idlePause.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        #expect(await !trainer.idlePause.isEmpty, "the trainer never entered its idle pause")
    }

    @Test func anAnnouncedJobEndsTheIdlePause() async throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let (trainer, host, announcement) = try await Self.trainer(root)
        // A pause far longer than the test's bound: only the announcement can end it in time.
        let pause = Task { await trainer.pauseWhileIdle(.seconds(60)) }
        try await Self.waitForPause(trainer)
        await trainer.learn(announcement)
        try await withTimeout(.seconds(20), "the idle pause after an announcement") { await pause.value }
        #expect(await trainer.idlePause.isEmpty)
        #expect(await trainer.known["job-0000000000000002"] != nil)
        // The same job heard again is not news: the next pause runs its course (a short one here).
        let again = Task { await trainer.pauseWhileIdle(.milliseconds(50)) }
        try await Self.waitForPause(trainer)
        await trainer.learn(announcement)
        #expect(await !trainer.idlePause.isEmpty, "a job the trainer knew already ended its pause")
        try await withTimeout(.seconds(20), "a 50 ms idle pause") { await again.value }
        #expect(await trainer.idlePause.isEmpty)
        await host.shutdown()
    }

    @Test func cancellingTheRunLoopEndsTheIdlePause() async throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let (trainer, host, _) = try await Self.trainer(root)
        let pause = Task { await trainer.pauseWhileIdle(.seconds(60)) }
        try await Self.waitForPause(trainer)
        pause.cancel()
        try await withTimeout(.seconds(20), "the idle pause after cancellation") { await pause.value }
        #expect(await trainer.idlePause.isEmpty)
        await host.shutdown()
    }
}
