import Foundation
import Synchronization
import Testing
@testable import MeshLedger
@testable import MeshLedgerNetwork

/// `LocalHederaNode` (what `meshfl ledger serve-hapi` runs) reached the way a
/// node reaches Hedera: a config file, `HederaNetworkLedger`, HTTP/2 gRPC and
/// mirror REST over real sockets on 127.0.0.1.
struct LocalHederaNodeTests {
    @Test(.timeLimit(.minutes(2)))
    func aConfigFileReachesTheLocalNodeOverSockets() async throws {
        let t = try TestLedger(wallClock: true)
        defer { t.remove() }
        let op = try await t.ledger.createFundedAccount(balance: 1_000_000)
        let registry = try await t.ledger.createTopic(memo: "meshfl registry", submitKey: op.key.publicKey, payer: op)
        let owner = try await t.ledger.createFundedAccount(balance: 10_000)
        try Data(op.key.pem.utf8).write(to: t.directory.appendingPathComponent("op.pem"))
        try Data(HexCoding.encode(owner.key.rawRepresentation).utf8).write(to: t.directory.appendingPathComponent("owner.key"))
        let addresses = Mutex<LocalHederaNode.Addresses?>(nil)
        let serving = Task {
            try await LocalHederaNode.serve(ledger: t.ledger, hapi: ("127.0.0.1", 0), mirror: ("127.0.0.1", 0)) { a in addresses.withLock { $0 = a } }
        }
        defer { serving.cancel() }
        var ready: LocalHederaNode.Addresses?
        for _ in 0..<200 where ready == nil {
            try await Task.sleep(for: .milliseconds(25))
            ready = addresses.withLock { $0 }
        }
        let a = try #require(ready, "the node did not start listening within 5 s")
        let json = """
            {"network": [{"address": "\(a.hapi)", "account": "0.0.3"}], "mirrorNode": "\(a.mirror)",
             "operator": {"account": "\(op.account)", "keyFile": "op.pem"}, "account": {"account": "\(owner.account)", "keyFile": "owner.key"},
             "registryTopic": "\(registry)"}
            """
        let path = t.directory.appendingPathComponent("hedera.json").path
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        let network = try HederaNetworkLedger(file: try HederaConfigFile.load(path))
        let me = network.file.account
        let trainer = try await network.ledger.createAccount(publicKey: Ed25519PrivateKey().publicKey, initialBalance: 0, payer: op)
        try await network.ledger.lockEscrow(job: "j", amount: 300, owner: me)
        let paid = try await network.ledger.releaseEscrow(job: "j", task: "r0-s0", to: trainer, amount: 100, owner: me)
        #expect(paid.scheduledTransactionID?.scheduled == true)
        let again = try await network.ledger.releaseEscrow(job: "j", task: "r0-s0", to: trainer, amount: 100, owner: me)
        #expect(again.isIdempotentReplay)
        try await network.ledger.refundEscrow(job: "j", owner: me)
        #expect(try await network.ledger.balance(of: trainer) == 100)
        #expect(try await network.ledger.balance(of: me.account) == 9_900)
        let topic = try await network.ledger.createTopic(memo: "audit", submitKey: nil, payer: me)
        try await network.ledger.submitMessage(Array(#"{"evt":"job_submitted"}"#.utf8), to: topic, payer: me)
        #expect(try await network.ledger.verifyTopic(topic) == .ok(messages: 1, runningHash: try await t.ledger.messages(topic: topic).last!.runningHash))
        // The mirror answers unknown routes and topics with 404, as a mirror node does.
        let mirror = try MirrorNodeHTTPClient(baseURL: a.mirror, timeout: .seconds(10))
        let missing = await #expect(throws: LedgerError.self) { _ = try await mirror.get("/api/v1/topics/0.0.99999/messages") }
        #expect(missing?.code == .notFound)
        await network.close()
        #expect(try await t.ledger.verify().isOK)
    }
}
