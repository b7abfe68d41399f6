import Crypto
import Foundation
import Libp2p
import Logging
@testable import MeshLedger
import MeshNN
@testable import MeshNode
import MeshStorage
import Synchronization
import Testing

/// The requester's side of `/meshfl/task/1.0.0` over real libp2p
/// connections on 127.0.0.1, a real SQLite ledger and a real presigned
/// server: what it refuses, and that nothing is paid twice.
@Suite(.serialized)
struct RequesterProtocolTests {
    /// A requester with one small job (1 round, 2 shards) and a way to talk to it as a trainer.
    final class Fixture {
        let root: URL
        let ledger: LocalLedger
        /// The ledger the requester uses (``ledger`` unless the test wrapped it).
        let requesterLedger: any NodeLedger
        let host: Libp2p.Host
        let server: PresignedServer
        var requester: Requester
        let directory: NodeDirectory
        let blobs: LocalBlobStore
        let spec: JobSpec
        let protocolClient = RequestResponse(protocolID: Requester.taskProtocol, maxMessageSize: 8 << 20, timeout: .seconds(60))

        /// `gate` holds back the requester's read of the validation split until it opens; `wrapLedger`
        /// gives the requester its ledger in place of the plain file.
        init(rounds: Int = 1, gate: Gate? = nil, wrapLedger: ((LocalLedger) -> any NodeLedger)? = nil) async throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("meshfl-requester-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            ledger = try LocalLedger(path: root.appendingPathComponent("dev.ledger").path)
            directory = try NodeDirectory(root.appendingPathComponent("req").path)
            let model = ModelSpec(input: [1, 28, 28], layers: [.flatten, .dense(units: 16), .relu, .dense(units: 10)])
            let train = try Dataset.fashionMNIST(split: .train).subset(Array(0..<400))
            let test = try Dataset.fashionMNIST(split: .test).subset(Array(0..<200))
            var submission = JobSubmission(model: model, train: train, validation: test, rounds: rounds, shards: 2,
                                           recipe: .init(epochs: 1, batchSize: 32, learningRate: 0.05, checkpointEvery: 2), rewardPerTask: 100)
            submission.reexecutionProbability = 0
            spec = try await submission.submit(in: directory, ledger: ledger)
            let identity = try directory.identity()
            host = Libp2p.Host(identity: identity)
            try await host.listen(on: [try Multiaddr("/ip4/127.0.0.1/tcp/0")])
            // As NodeRunner: one store behind the server and the requester, trainers' results staged in memory.
            let store = try directory.blobStore()
            server = try await PresignedServer.start(store: store, uploads: .buffered, stageUploads: true)
            blobs = store.served(at: URL(string: "http://127.0.0.1:\(server.port)")!)
            requesterLedger = wrapLedger?(ledger) ?? ledger
            if gate != nil || wrapLedger != nil {
                let (served, validationKey) = (blobs, JobSubmission.Keys.validation(spec.id))
                let objects: any BlobStore = gate.map { GatedStore(base: served, key: validationKey, gate: $0) } ?? served
                requester = try Requester(host: host, identity: try directory.identity(), directory: directory,
                                          storage: JobStorage(objects: objects, local: blobs, remote: nil), ledger: requesterLedger,
                                          account: try await directory.ledgerAccount(on: ledger, funding: 0), pubsub: nil,
                                          logger: Logger(label: "test.requester"))
            } else {
                requester = try await Self.requester(host: host, directory: directory, blobs: blobs, ledger: ledger)
            }
            await requester.start()
        }

        static func requester(host: Libp2p.Host, directory: NodeDirectory, blobs: LocalBlobStore, ledger: LocalLedger) async throws -> Requester {
            try Requester(host: host, identity: try directory.identity(), directory: directory, blobs: blobs, ledger: ledger,
                          account: try await directory.ledgerAccount(on: ledger, funding: 0), pubsub: nil,
                          logger: Logger(label: "test.requester"))
        }

        /// Stops the requester and starts a new one on the same data directory and host (a restart).
        func restart(_ between: () async throws -> Void = {}) async throws {
            await requester.stop()
            try await between()
            requester = try await Self.requester(host: host, directory: directory, blobs: blobs, ledger: ledger)
            await requester.start()
        }

        func shutdown() async {
            await requester.stop()
            try? await server.stop()
            await host.shutdown()
            try? FileManager.default.removeItem(at: root)
        }

        /// A trainer with a funded, staked account and its own host connected to the requester.
        func trainer() async throws -> (host: Libp2p.Host, key: PrivateKey, account: LedgerOperator) {
            let key = PrivateKey.generate()
            let trainerHost = Libp2p.Host(identity: key)
            _ = try await trainerHost.connect(to: await host.fullAddresses[0])
            let account = try await ledger.createFundedAccount(balance: 100_000)
            try await ledger.stake(5_000, trainer: account)
            return (trainerHost, key, account)
        }

        func call(_ request: TaskRequest, from trainer: Libp2p.Host) async throws -> TaskResponse {
            let bytes = try await protocolClient.request(host.peerID, payload: Array(CanonicalJSON.encode(request)), on: trainer)
            return try JSONDecoder().decode(TaskResponse.self, from: Data(bytes))
        }

        /// ``call(_:from:)`` in a task of its own: a request under way while the test does something else.
        func callInBackground(_ request: TaskRequest, from trainer: Libp2p.Host) -> Task<TaskResponse, any Error> {
            let (client, requester) = (protocolClient, host.peerID)
            return Task {
                let bytes = try await client.request(requester, payload: Array(CanonicalJSON.encode(request)), on: trainer)
                return try JSONDecoder().decode(TaskResponse.self, from: Data(bytes))
            }
        }

        /// Claims until a lease comes (the job starts within a few hundred ms).
        func lease(for trainer: (host: Libp2p.Host, key: PrivateKey, account: LedgerOperator)) async throws -> Lease {
            for _ in 0..<100 {
                if case .lease(let lease) = try await call(.claim(Claim(job: spec.id, account: trainer.account.account.description)), from: trainer.host) {
                    return lease
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw NodeError(.refused, "no lease within 10 s")
        }

        /// Trains the lease honestly, seals and uploads the result, and signs a receipt; `tamper` edits it first.
        func receipt(for lease: Lease, by trainer: (host: Libp2p.Host, key: PrivateKey, account: LedgerOperator),
                     tamper: (inout Receipt) -> Void = { _ in }) async throws -> SignedMessage<Receipt> {
            let global = try Weights.decode(try await PresignedTransfer.download(lease.weightsURL), source: "global")
            let shard = try ShardFile.decode(try await PresignedTransfer.download(lease.shardURL))
            let output = try TaskExecution.run(job: spec, start: global, shard: shard, seed: lease.seed)
            let plain = Weights.encode(output.weights)
            let recipient = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: Self.hex(spec.sealingKey))
            let sealed = try Sealer.seal(plain, to: recipient)
            try await PresignedTransfer.upload(sealed, to: lease.resultURL)
            var receipt = Receipt(job: spec.id, round: lease.round, shard: lease.shard, lease: lease.lease, trainer: trainer.key.peerID.description,
                                  account: trainer.account.account.description, weightsDigest: Weights.digest(output.weights),
                                  sealedDigest: Weights.sha256Hex(sealed), sampleCount: output.sampleCount, trainLoss: output.meanLoss,
                                  transcript: output.transcript)
            tamper(&receipt)
            return try SignedMessage(signing: receipt, with: trainer.key)
        }

        static func hex(_ text: String) -> [UInt8] {
            stride(from: 0, to: text.count, by: 2).map { i in
                UInt8(text[text.index(text.startIndex, offsetBy: i)..<text.index(text.startIndex, offsetBy: i + 2)], radix: 16)!
            }
        }
    }

    /// Opened once by the test; reports when a read started waiting on it.
    actor Gate {
        private var opened = false
        private var readers: [CheckedContinuation<Void, Never>] = []
        private(set) var waited = false

        func pass() async {
            waited = true
            if opened { return }
            await withCheckedContinuation { readers.append($0) }
        }

        func open() {
            opened = true
            for reader in readers { reader.resume() }
            readers = []
        }
    }

    /// A store whose reads of one key wait for a ``Gate``: a slow disk or bucket, on cue.
    struct GatedStore: BlobStore {
        let base: LocalBlobStore
        let key: String
        let gate: Gate

        func put(key: String, file: URL, contentType: String?) async throws -> BlobInfo {
            try await base.put(key: key, file: file, contentType: contentType)
        }
        func put(key: String, data: Data, contentType: String?, durability: Durability) async throws -> BlobInfo {
            try await base.put(key: key, data: data, contentType: contentType, durability: durability)
        }
        func get(key: String, to file: URL) async throws -> BlobInfo {
            if key == self.key { await gate.pass() }
            return try await base.get(key: key, to: file)
        }
        func get(key: String) async throws -> Data {
            if key == self.key { await gate.pass() }
            return try await base.get(key: key)
        }
        func head(key: String) async throws -> BlobInfo? { try await base.head(key: key) }
        func delete(key: String) async throws { try await base.delete(key: key) }
        func list(prefix: String) async throws -> [BlobInfo] { try await base.list(prefix: prefix) }
        func presignedURL(key: String, method: PresignedMethod, expires: Int, contentType: String?) throws -> URL {
            try base.presignedURL(key: key, method: method, expires: expires, contentType: contentType)
        }
    }

    /// The file ledger, except that the first escrow release waits for `gate` and then fails (a ledger
    /// that is slow, then unreachable; later ones go through), and stake reads wait for
    /// ``heldStakeReads``'s gate once a test sets one.
    struct FlakyReleaseLedger: NodeLedger {
        let base: LocalLedger
        let gate: Gate
        let attempts = Attempts()
        let heldStakeReads = HeldStakeReads()

        actor Attempts {
            private(set) var count = 0
            func next() -> Int { count += 1; return count }
        }

        actor HeldStakeReads {
            private(set) var gate: Gate?
            func hold(until gate: Gate) { self.gate = gate }
        }

        func releaseEscrow(job: String, task: String, to: AccountID, amount: Int64, owner: LedgerOperator) async throws -> TransactionReceipt {
            if await attempts.next() == 1 {
                await gate.pass()
                throw LedgerError(.storage, "the ledger is unreachable (test)")
            }
            return try await base.releaseEscrow(job: job, task: task, to: to, amount: amount, owner: owner)
        }

        var treasury: LedgerOperator { base.treasury }
        func nodeAccount(in directory: NodeDirectory, funding: Int64) async throws -> LedgerOperator {
            try await base.nodeAccount(in: directory, funding: funding)
        }
        func close() async {}
        func createAccount(publicKey: Ed25519PublicKey, initialBalance: Int64, payer: LedgerOperator) async throws -> AccountID {
            try await base.createAccount(publicKey: publicKey, initialBalance: initialBalance, payer: payer)
        }
        func balance(of account: AccountID) async throws -> Int64 { try await base.balance(of: account) }
        func transfer(_ amount: Int64, from: LedgerOperator, to: AccountID) async throws -> TransactionReceipt {
            try await base.transfer(amount, from: from, to: to)
        }
        func lockEscrow(job: String, amount: Int64, owner: LedgerOperator) async throws -> TransactionReceipt {
            try await base.lockEscrow(job: job, amount: amount, owner: owner)
        }
        func refundEscrow(job: String, owner: LedgerOperator) async throws -> TransactionReceipt { try await base.refundEscrow(job: job, owner: owner) }
        func escrow(job: String) async throws -> EscrowState? { try await base.escrow(job: job) }
        func stake(_ amount: Int64, trainer: LedgerOperator) async throws -> TransactionReceipt { try await base.stake(amount, trainer: trainer) }
        func unstake(_ amount: Int64, trainer: LedgerOperator) async throws -> TransactionReceipt { try await base.unstake(amount, trainer: trainer) }
        func slash(_ account: AccountID, amount: Int64, evidenceCID: String, authority: LedgerOperator) async throws -> TransactionReceipt {
            try await base.slash(account, amount: amount, evidenceCID: evidenceCID, authority: authority)
        }
        func stake(of account: AccountID) async throws -> StakeState {
            if let gate = await heldStakeReads.gate { await gate.pass() }
            return try await base.stake(of: account)
        }
        func createTopic(memo: String, submitKey: Ed25519PublicKey?, payer: LedgerOperator) async throws -> TopicID {
            try await base.createTopic(memo: memo, submitKey: submitKey, payer: payer)
        }
        func submitMessage(_ message: [UInt8], to topic: TopicID, payer: LedgerOperator, submitKey: Ed25519PrivateKey?) async throws -> [TransactionReceipt] {
            try await base.submitMessage(message, to: topic, payer: payer, submitKey: submitKey)
        }
        func messages(topic: TopicID, from sequenceNumber: Int64, limit: Int) async throws -> [TopicMessage] {
            try await base.messages(topic: topic, from: sequenceNumber, limit: limit)
        }
        func verifyTopic(_ topic: TopicID) async throws -> TopicVerification { try await base.verifyTopic(topic) }
    }

    /// A trainer's answer does not wait for its payment (on Hedera that is a consensus round trip, and the
    /// last trainer of a round would start the next one that much later), and a payment the ledger refused
    /// goes out again by itself; the job's escrow is settled only once everything accepted is paid.
    @Test(.timeLimit(.minutes(2)))
    func answerDoesNotWaitForThePaymentAndAFailedOneIsRetried() async throws {
        let gate = Gate()
        let fixture = try await Fixture(wrapLedger: { FlakyReleaseLedger(base: $0, gate: gate) })
        let flaky = try #require(fixture.requesterLedger as? FlakyReleaseLedger)
        do {
            let trainer = try await fixture.trainer()
            let lease = try await fixture.lease(for: trainer)
            let signed = try await fixture.receipt(for: lease, by: trainer)
            // The release is held at the gate while the answer comes back.
            guard case .accepted(let paid) = try await fixture.call(.submit(signed), from: trainer.host) else {
                Issue.record("an honest result is accepted while the ledger hangs"); await fixture.shutdown(); return
            }
            #expect(paid == 100)
            // The payment goes out behind the answer (its sender gathers results a moment first) and hangs at the gate.
            var waited = false
            for _ in 0..<300 where !waited {
                waited = await gate.waited
                if !waited { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(waited, "the payment went out while the trainer had its answer")
            #expect(try #require(try await fixture.ledger.escrow(job: fixture.spec.id)).released == 0)
            await gate.open()
            var released: Int64 = 0
            for _ in 0..<200 where released < 100 {
                released = try #require(try await fixture.ledger.escrow(job: fixture.spec.id)).released
                if released < 100 { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(released == 100, "the failed payment went out again")
            #expect(await flaky.attempts.count >= 2)
            #expect(try await fixture.ledger.balance(of: trainer.account.account) == 100_000 - 5_000 + 100)
        } catch {
            await fixture.shutdown()
            throw error
        }
        await fixture.shutdown()
    }

    /// Runs `body` against a fresh fixture and always shuts it down.
    func withFixture(_ body: (Fixture) async throws -> Void) async throws {
        let fixture = try await Fixture()
        do { try await body(fixture) } catch {
            await fixture.shutdown()
            throw error
        }
        await fixture.shutdown()
    }

    func rejection(_ response: TaskResponse) -> (String, Bool)? {
        if case .rejected(let reason, let slashed) = response { return (reason, slashed) }
        return nil
    }

    @Test(.timeLimit(.minutes(2)))
    func replayedReceiptIsPaidOnce() async throws {
        try await withFixture { fixture in
            let trainer = try await fixture.trainer()
            let lease = try await fixture.lease(for: trainer)
            let signed = try await fixture.receipt(for: lease, by: trainer)
            let resultKey = JobSubmission.Keys.result(fixture.spec.id, round: lease.round, shard: lease.shard, lease: lease.lease)
            #expect(try await fixture.blobs.head(key: resultKey) != nil, "the sealed result is uploaded")
            guard case .accepted(let paid) = try await fixture.call(.submit(signed), from: trainer.host) else {
                Issue.record("an honest result is accepted"); return
            }
            #expect(paid == 100)
            var dropped = false
            for _ in 0..<100 where !dropped {
                dropped = try await fixture.blobs.head(key: resultKey) == nil
                if !dropped { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(dropped, "the verified upload is deleted (its plaintext is in node.sqlite)")
            guard case .accepted = try await fixture.call(.submit(signed), from: trainer.host) else {
                Issue.record("a replay is answered as before"); return
            }
            // The payment goes out behind the answer: wait for it (bounded), then the replay must not have added one.
            var released: Int64 = 0
            for _ in 0..<100 where released < 100 {
                released = try #require(try await fixture.ledger.escrow(job: fixture.spec.id)).released
                if released < 100 { try await Task.sleep(for: .milliseconds(50)) }
            }
            try await Task.sleep(for: .milliseconds(300))
            let escrow = try #require(try await fixture.ledger.escrow(job: fixture.spec.id))
            #expect(escrow.released == 100, "the replay paid nothing more")
            #expect(try await fixture.ledger.balance(of: trainer.account.account) == 100_000 - 5_000 + 100)
        }
    }

    /// A job is not offered before its validation split is read: a small task's result can come back
    /// sooner than a large read finishes, and verifying it needs the split (the requester crashed on a
    /// missing probe when the job was offered first). Until then a claim is told to wait.
    @Test(.timeLimit(.minutes(2)))
    func noLeaseBeforeTheValidationSplitIsRead() async throws {
        let gate = Gate()
        let fixture = try await Fixture(gate: gate)
        do {
            let trainer = try await fixture.trainer()
            for _ in 0..<200 where await !gate.waited { try await Task.sleep(for: .milliseconds(25)) }
            #expect(await gate.waited, "the requester reads the validation split when it adopts the job")
            // Not a lease yet, and not "finished" either (a trainer would drop the job): a short wait.
            let early = try await fixture.call(.claim(Claim(job: fixture.spec.id, account: trainer.account.account.description)), from: trainer.host)
            guard case .wait = early else {
                Issue.record("a claim before the validation split is read is answered \(early), not a wait")
                await gate.open(); await fixture.shutdown(); return
            }
            await gate.open()
            let lease = try await fixture.lease(for: trainer)
            let signed = try await fixture.receipt(for: lease, by: trainer)
            guard case .accepted = try await fixture.call(.submit(signed), from: trainer.host) else {
                Issue.record("an honest result is accepted once the job runs"); await fixture.shutdown(); return
            }
            // A job this requester never held is over here.
            let unknown = try await fixture.call(.claim(Claim(job: "job-0000000000000000", account: trainer.account.account.description)), from: trainer.host)
            guard case .finished = unknown else {
                Issue.record("a claim for an unknown job is answered \(unknown), not finished"); await fixture.shutdown(); return
            }
        } catch {
            await gate.open()
            await fixture.shutdown()
            throw error
        }
        await fixture.shutdown()
    }

    @Test(.timeLimit(.minutes(2)))
    func receiptForAnotherTrainersTaskIsRefused() async throws {
        try await withFixture { fixture in
            let owner = try await fixture.trainer()
            let thief = try await fixture.trainer()
            let lease = try await fixture.lease(for: owner)
            // The thief signs a receipt for the owner's lease under its own name…
            let stolen = try await fixture.receipt(for: lease, by: thief)
            let refused = try #require(rejection(try await fixture.call(.submit(stolen), from: thief.host)))
            #expect(refused.0.contains("belongs to") || refused.0.contains("another trainer"), "\(refused.0)")
            // …or hands in the owner's own signed receipt from its connection.
            let owners = try await fixture.receipt(for: lease, by: owner)
            let forged = try #require(rejection(try await fixture.call(.submit(owners), from: thief.host)))
            #expect(forged.0.contains("arrived from"), "\(forged.0)")
            // The owner can still hand it in.
            guard case .accepted = try await fixture.call(.submit(owners), from: owner.host) else {
                Issue.record("the owner's receipt is accepted"); return
            }
        }
    }

    /// stop() answers a parked claim at once (not after its 2 s park), waits until it is answered, and
    /// later requests are told to wait: nothing the requester holds changes after stop() returns.
    @Test(.timeLimit(.minutes(2)))
    func stopAnswersParkedClaimsAndRefusesLaterRequests() async throws {
        try await withFixture { fixture in
            let (a, b, c) = (try await fixture.trainer(), try await fixture.trainer(), try await fixture.trainer())
            _ = try await fixture.lease(for: a)
            _ = try await fixture.lease(for: b)
            // Both tasks are out: c's claim parks on the requester until a task opens or 2 s pass.
            let claim = TaskRequest.claim(Claim(job: fixture.spec.id, account: c.account.account.description))
            let parked = fixture.callInBackground(claim, from: c.host)
            for _ in 0..<300 where await fixture.requester.parkedClaims.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            #expect(await !fixture.requester.parkedClaims.isEmpty, "c's claim parked")
            await fixture.requester.stop()
            #expect(await fixture.requester.parkedClaims.isEmpty, "stop() answered the parked claim")
            #expect(await fixture.requester.inFlight == 0, "and waited until it was answered")
            guard case .wait(_, let reason) = try await parked.value else { Issue.record("the parked claim is told to wait"); return }
            #expect(reason.contains("stopping"), "\(reason)")
            guard case .wait(_, let later) = try await fixture.call(claim, from: a.host) else {
                Issue.record("a request after stop() is told to wait"); return
            }
            #expect(later.contains("stopping"), "\(later)")
        }
    }

    /// stop() returns only after the requests it found under way are answered (here a claim waiting on a
    /// slow ledger), and such a claim hands out no lease once stop() began.
    @Test(.timeLimit(.minutes(2)))
    func stopWaitsForTheRequestsUnderWay() async throws {
        let fixture = try await Fixture(wrapLedger: { FlakyReleaseLedger(base: $0, gate: Gate()) })
        let ledger = try #require(fixture.requesterLedger as? FlakyReleaseLedger)
        let trainer = try await fixture.trainer()
        let slowLedger = Gate()
        await ledger.heldStakeReads.hold(until: slowLedger)
        let claim = TaskRequest.claim(Claim(job: fixture.spec.id, account: trainer.account.account.description))
        let answer = fixture.callInBackground(claim, from: trainer.host)
        for _ in 0..<500 where await !slowLedger.waited { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await slowLedger.waited, "the claim reads the trainer's stake")
        let requester = fixture.requester
        let stopReturned = Mutex(false)
        let stopping = Task {
            await requester.stop()
            stopReturned.withLock { $0 = true }
        }
        for _ in 0..<500 where await !requester.stopped { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(!stopReturned.withLock { $0 }, "stop() waits while the claim is under way")
        await slowLedger.open()
        await stopping.value
        #expect(await requester.inFlight == 0)
        guard case .wait(_, let reason) = try await answer.value else { Issue.record("the claim is told to wait, not leased"); return }
        #expect(reason.contains("stopping"), "\(reason)")
        await fixture.shutdown()
    }

    @Test(.timeLimit(.minutes(2)))
    func resultWhoseHashDoesNotMatchIsRejectedWithoutSlashing() async throws {
        try await withFixture { fixture in
            let trainer = try await fixture.trainer()
            let lease = try await fixture.lease(for: trainer)
            let signed = try await fixture.receipt(for: lease, by: trainer) { $0.weightsDigest = String(repeating: "ab", count: 32) }
            let refused = try #require(rejection(try await fixture.call(.submit(signed), from: trainer.host)))
            #expect(refused.0.contains("weightsDigest"), "\(refused.0)")
            #expect(!refused.1)
            #expect(try await fixture.ledger.stake(of: trainer.account.account).staked == 5_000)
            // The task reopened: the trainer may claim it again.
            let again = try await fixture.lease(for: trainer)
            #expect(again.lease != lease.lease)
        }
    }

    /// The next round's global weights are written to the blob store without
    /// fsync and to node.sqlite with the round's opening; a restart that finds
    /// the blob gone (a power loss undid the write) puts it back from there.
    @Test(.timeLimit(.minutes(2)))
    func restartRestoresGlobalWeightsALostWriteTookAway() async throws {
        let fixture = try await Fixture(rounds: 2)
        do {
            let trainers = [try await fixture.trainer(), try await fixture.trainer()]
            for trainer in trainers {
                let lease = try await fixture.lease(for: trainer)
                #expect(lease.round == 0)
                guard case .accepted = try await fixture.call(.submit(try await fixture.receipt(for: lease, by: trainer)), from: trainer.host) else {
                    Issue.record("an honest round-0 result is accepted"); return
                }
            }
            let next = try await fixture.lease(for: trainers[0])
            #expect(next.round == 1, "round 1 opened after both round-0 results")
            let key = JobSubmission.Keys.global(fixture.spec.id, round: 1)
            let published = try await PresignedTransfer.download(next.weightsURL)
            let store = try RequesterStore(path: fixture.directory.statePath)
            #expect(try store.globalWeights(job: fixture.spec.id, round: 1) == published, "node.sqlite holds the bytes trainers download")

            try await fixture.restart { try await fixture.blobs.delete(key: key) }
            var restored: Data?
            for _ in 0..<100 where restored == nil {
                restored = try? await fixture.blobs.get(key: key)
                if restored == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(restored == published, "the restarted requester put round 1's global weights back")
            let again = try await fixture.lease(for: trainers[1])
            #expect(again.round == 1)
            #expect(try await PresignedTransfer.download(again.weightsURL) == published)
        } catch {
            await fixture.shutdown()
            throw error
        }
        await fixture.shutdown()
    }

    /// Audit events wait in node.sqlite until the ledger has them. An event the
    /// ledger took just before a crash kept the outbox from hearing so is not
    /// sent again after the restart; the ones behind it are, in order — whether
    /// the ledger took them one per message or `packed` in one message.
    @Test(.timeLimit(.minutes(2)), arguments: [false, true])
    func auditOutboxSendsEachEventOnceAcrossARestart(packed: Bool) async throws {
        let fixture = try await Fixture()
        do {
            let topic = try TopicID(parsing: fixture.spec.auditTopic)
            let store = try RequesterStore(path: fixture.directory.statePath)
            func pending() throws -> Int { try store.pendingAudit(limit: 100).count }
            func waitForEmptyOutbox() async throws -> Bool {
                for _ in 0..<100 { if try pending() == 0 { return true }; try await Task.sleep(for: .milliseconds(50)) }
                return false
            }
            // The job starts (job_started is queued) within a few maintenance passes; wait until it is on the ledger.
            var started = false
            for _ in 0..<100 where !started {
                let events = try await fixture.ledger.messages(topic: topic, from: 1, limit: 10).map { String(decoding: $0.contents, as: UTF8.self) }
                let waiting = try pending()
                started = events.contains { $0.contains("\"job_started\"") } && waiting == 0
                if !started { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(started, "job_started went out")
            let events = try ["probe_one", "probe_two", "probe_three"].map { try AuditLog.message($0, ["job": .string(fixture.spec.id)]) }
            try await fixture.restart {
                // The crash: the first two events reached the ledger (the sender records a batch at a time),
                // the outbox never heard; the third never left.
                for event in events { try store.enqueueAudit(topic: fixture.spec.auditTopic, message: event) }
                let payer = try await fixture.directory.ledgerAccount(on: fixture.ledger, funding: 0)
                let taken = packed ? [AuditLog.join(events.prefix(2))] : Array(events.prefix(2))
                for message in taken { _ = try await fixture.ledger.submitMessage(Array(message), to: topic, payer: payer) }
            }
            #expect(try await waitForEmptyOutbox(), "the restarted requester emptied the outbox")
            let contents = try await fixture.ledger.messages(topic: topic, from: 1, limit: 1000).flatMap { AuditLog.events(in: $0.contents) }
            for event in events {
                #expect(contents.filter { $0 == event }.count == 1, "each event is on the ledger once")
            }
            let positions = events.map { contents.firstIndex(of: $0)! }
            #expect(positions == positions.sorted(), "in the order they were recorded")
            #expect(try await fixture.ledger.verifyTopic(topic).isOK)
        } catch {
            await fixture.shutdown()
            throw error
        }
        await fixture.shutdown()
    }

    /// Results accepted while the payment sender waits are paid in one
    /// ledger transaction (an `escrowReleases` of both tasks), each once.
    @Test(.timeLimit(.minutes(2)))
    func resultsAcceptedTogetherArePaidInOneTransaction() async throws {
        try await withFixture { fixture in
            await fixture.requester.setLinger(.seconds(2))
            let first = try await fixture.trainer(), second = try await fixture.trainer()
            let leases = [try await fixture.lease(for: first), try await fixture.lease(for: second)]
            for (lease, trainer) in zip(leases, [first, second]) {
                guard case .accepted(let paid) = try await fixture.call(.submit(try await fixture.receipt(for: lease, by: trainer)), from: trainer.host) else {
                    Issue.record("an honest result is accepted"); return
                }
                #expect(paid == 100)
            }
            var released: Int64 = 0
            for _ in 0..<200 where released < 200 {
                released = try #require(try await fixture.ledger.escrow(job: fixture.spec.id)).released
                if released < 200 { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(released == 200)
            let operations = try await fixture.ledger.logEntriesForTesting().compactMap { bytes -> MeshflOperation? in
                guard case .meshfl(let op) = try SignedTransaction(transactionBytes: bytes).body().data else { return nil }
                return op
            }
            let batches = operations.compactMap { op -> [EscrowRelease]? in
                if case .escrowReleases(_, let releases) = op { return releases } else { return nil }
            }
            #expect(batches.count == 1, "one transaction paid both: \(operations)")
            #expect(Set(batches.first?.map(\.task) ?? []) == Set(leases.map { JobSpec.taskID(round: $0.round, shard: $0.shard) }))
            #expect(!operations.contains { if case .escrowRelease = $0 { true } else { false } })
            for trainer in [first, second] {
                #expect(try await fixture.ledger.balance(of: trainer.account.account) == 100_000 - 5_000 + 100)
            }
            #expect(try await fixture.ledger.verify().isOK)
        }
    }

    /// The audit sender lets events gather before it sends: events recorded
    /// apart while it waits leave in one message, one ledger transaction.
    @Test(arguments: [true, false])
    func auditEventsRecordedWhileTheSenderWaitsShareAMessage(lingering: Bool) async throws {
        let fixture = try await Fixture()
        do {
            let topic = try TopicID(parsing: fixture.spec.auditTopic)
            let store = try RequesterStore(path: fixture.directory.statePath)
            func onLedger() async throws -> [[String]] {
                try await fixture.ledger.messages(topic: topic, from: 1, limit: 1000).map { AuditLog.events(in: $0.contents).map { String(decoding: $0, as: UTF8.self) } }
            }
            // Quiet first: job_started is on the ledger and nothing waits.
            var quiet = false
            for _ in 0..<100 where !quiet {
                quiet = try await onLedger().joined().contains { $0.contains("\"job_started\"") } && store.pendingAudit(limit: 1).isEmpty
                if !quiet { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(quiet, "job_started went out")
            let before = try await onLedger().count
            // A wait far longer than the gap between the events (or none at all).
            await fixture.requester.setLinger(lingering ? .seconds(3) : .zero)
            try await fixture.requester.audit(fixture.spec, "probe_one", ["job": .string(fixture.spec.id)])
            try await Task.sleep(for: .milliseconds(300))
            try await fixture.requester.audit(fixture.spec, "probe_two", ["job": .string(fixture.spec.id)])
            try await fixture.requester.audit(fixture.spec, "probe_three", ["job": .string(fixture.spec.id)])
            try await fixture.requester.flushAudit()
            let messages = try await onLedger().dropFirst(before).map { $0.map { $0.contains("probe_one") ? "one" : $0.contains("probe_two") ? "two" : "three" } }
            #expect(messages == (lingering ? [["one", "two", "three"]] : [["one"], ["two", "three"]]), "\(messages)")
            #expect(try await fixture.ledger.verifyTopic(topic).isOK)
        } catch {
            await fixture.shutdown()
            throw error
        }
        await fixture.shutdown()
    }

    @Test func forgedOrReSignedAnnouncementIsRefused() throws {
        let requester = PrivateKey.generate()
        let model = ModelSpec(input: [4], layers: [.dense(units: 2)])
        let spec = JobSpec(id: "job-0000000000000001", requester: requester.peerID.description, requesterAddresses: [],
                           requesterAccount: "0.0.1001", auditTopic: "0.0.1002", sealingKey: String(repeating: "00", count: 32),
                           model: model, rounds: 1, shards: 1, shardSizes: [10], recipe: .init(), seed: 1, rewardPerTask: 1, escrow: 1,
                           minimumStake: 0, slashAmount: 0, leaseSeconds: 10, reexecutionProbability: 0)
        #expect(try JobSpec.verifiedAnnouncement(try SignedMessage(signing: spec, with: requester)).id == spec.id)
        #expect(throws: NodeError.self) { try JobSpec.verifiedAnnouncement(try SignedMessage(signing: spec, with: PrivateKey.generate())) }
        var bad = spec
        bad.rounds = 0
        #expect(throws: NodeError.self) { try JobSpec.verifiedAnnouncement(try SignedMessage(signing: bad, with: requester)) }
        var underfunded = spec
        underfunded.escrow = 0
        #expect(throws: NodeError.self) { try underfunded.validate() }
    }
}
