import Foundation
import Libp2p
import Logging
import MeshLedger
import MeshNode
import Testing

/// `/meshfl/verify/1.0.0` over real libp2p connections on 127.0.0.1: a
/// validator re-executes a task from the requester's presigned URLs and
/// signs what it found; a requester hands re-execution to it and never
/// slashes on a validator's word alone.
@Suite(.serialized)
struct ValidatorTests {
    typealias Fixture = RequesterProtocolTests.Fixture

    /// A validator on its own host, and the requester's host connected to it.
    struct Running {
        let host: Libp2p.Host
        let validator: Validator
        var peer: PeerID { host.peerID }
    }

    let client = RequestResponse(protocolID: Validator.verifyProtocol, maxMessageSize: 4 << 20, timeout: .seconds(60))

    func startValidator(for fixture: Fixture) async throws -> Running {
        let host = Libp2p.Host(identity: PrivateKey.generate())
        try await host.listen(on: [try Multiaddr("/ip4/127.0.0.1/tcp/0")])
        let validator = Validator(host: host, identity: host.identity, logger: Logger(label: "test.validator"))
        await validator.start()
        _ = try await fixture.host.connect(to: await host.fullAddresses[0])
        return Running(host: host, validator: validator)
    }

    /// The job as the running requester signed it (with its addresses).
    func signedJob(_ fixture: Fixture, asking trainer: Libp2p.Host) async throws -> SignedMessage<JobSpec> {
        guard case .jobs(let list) = try await fixture.call(.jobs, from: trainer), let job = list.first else {
            throw NodeError(.refused, "the requester lists no job")
        }
        return job
    }

    func request(_ job: SignedMessage<JobSpec>, lease: Lease, receipt: SignedMessage<Receipt>, validator: PeerID) -> VerifyRequest {
        VerifyRequest(job: job, round: lease.round, shard: lease.shard, seed: lease.seed, weightsURL: lease.weightsURL, shardURL: lease.shardURL,
                      receipt: receipt, validator: validator.description, expires: Date().timeIntervalSince1970 + 120)
    }

    func ask(_ validator: PeerID, _ request: VerifyRequest, signedBy key: PrivateKey, from host: Libp2p.Host) async throws -> VerifyResponse {
        let payload = Array(try CanonicalJSON.encode(try SignedMessage(signing: request, with: key)))
        return try JSONDecoder().decode(VerifyResponse.self, from: Data(try await client.request(validator, payload: payload, on: host)))
    }

    func requesterKey(_ fixture: Fixture) throws -> PrivateKey {
        try NodeDirectory(fixture.root.appendingPathComponent("req").path).identity()
    }

    @Test(.timeLimit(.minutes(2)))
    func validatorMatchesAnHonestResultAndNamesTheFirstDifferingCheckpointOfAPerturbedOne() async throws {
        try await RequesterProtocolTests().withFixture { fixture in
            let running = try await startValidator(for: fixture)
            defer { Task { await running.host.shutdown() } }
            let trainer = try await fixture.trainer()
            let lease = try await fixture.lease(for: trainer)
            let job = try await signedJob(fixture, asking: trainer.host)
            let key = try requesterKey(fixture)

            let honest = try await fixture.receipt(for: lease, by: trainer)
            guard case .verdict(let signed) = try await ask(running.peer, request(job, lease: lease, receipt: honest, validator: running.peer),
                                                            signedBy: key, from: fixture.host) else {
                Issue.record("an honest result gets a verdict"); return
            }
            #expect(signed.signer == running.peer.description, "the validator signs its verdict")
            let match = try signed.verified()
            let claimed = try honest.verified()
            #expect(match.matches && match.firstMismatch == nil)
            #expect(match.transcript == claimed.transcript && match.weightsDigest == claimed.weightsDigest)
            #expect(match.receiptDigest == Weights.sha256Hex(honest.payload))
            #expect(claimed.transcript.count >= 3, "the task has several checkpoints (checkpointEvery 2)")

            // Weights perturbed after honest training: only the final digest differs.
            let perturbed = try await fixture.receipt(for: lease, by: trainer) { receipt in
                receipt.weightsDigest = String(repeating: "5a", count: 32)
                receipt.transcript[receipt.transcript.count - 1] = receipt.weightsDigest
            }
            guard case .verdict(let late) = try await ask(running.peer, request(job, lease: lease, receipt: perturbed, validator: running.peer),
                                                          signedBy: key, from: fixture.host) else {
                Issue.record("a perturbed result gets a verdict"); return
            }
            let lateVerdict = try late.verified()
            #expect(!lateVerdict.matches)
            #expect(lateVerdict.firstMismatch == claimed.transcript.count - 1)
            #expect(lateVerdict.weightsDigest == claimed.weightsDigest, "the validator recomputes the honest weights")

            // A fabricated middle checkpoint: the first differing entry is named.
            let forged = try await fixture.receipt(for: lease, by: trainer) { $0.transcript[1] = String(repeating: "0f", count: 32) }
            guard case .verdict(let early) = try await ask(running.peer, request(job, lease: lease, receipt: forged, validator: running.peer),
                                                           signedBy: key, from: fixture.host) else {
                Issue.record("a forged transcript gets a verdict"); return
            }
            #expect(try early.verified().firstMismatch == 1)
            #expect(await running.validator.served == 3)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func requestNotSignedByTheJobsRequesterIsRefused() async throws {
        try await RequesterProtocolTests().withFixture { fixture in
            let running = try await startValidator(for: fixture)
            defer { Task { await running.host.shutdown() } }
            let trainer = try await fixture.trainer()
            let lease = try await fixture.lease(for: trainer)
            let job = try await signedJob(fixture, asking: trainer.host)
            let receipt = try await fixture.receipt(for: lease, by: trainer)
            let asked = request(job, lease: lease, receipt: receipt, validator: running.peer)

            // Someone else (here the trainer, over its own connection) signs a request for the requester's job.
            _ = try await trainer.host.connect(to: await running.host.fullAddresses[0])
            guard case .refused(let reason) = try await ask(running.peer, asked, signedBy: trainer.key, from: trainer.host) else {
                Issue.record("a request signed by another peer is refused"); return
            }
            #expect(reason.contains("only a job's requester"), "\(reason)")
            #expect(reason.contains(trainer.key.peerID.description) && reason.contains(fixture.host.peerID.description), "\(reason)")

            // The requester's signed request relayed by another peer is refused too.
            guard case .refused(let relayed) = try await ask(running.peer, asked, signedBy: try requesterKey(fixture), from: trainer.host) else {
                Issue.record("a relayed request is refused"); return
            }
            #expect(relayed.contains("arrived from"), "\(relayed)")

            // And one addressed to another validator.
            var elsewhere = asked
            elsewhere.validator = PrivateKey.generate().peerID.description
            guard case .refused(let misaddressed) = try await ask(running.peer, elsewhere, signedBy: try requesterKey(fixture), from: fixture.host) else {
                Issue.record("a request for another validator is refused"); return
            }
            #expect(misaddressed.contains("addressed to validator"), "\(misaddressed)")
            #expect(await running.validator.served == 0)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func requesterAcceptsOnAValidatorsMatchAndRecordsWhoVerified() async throws {
        try await RequesterProtocolTests().withFixture { fixture in
            let running = try await startValidator(for: fixture)
            defer { Task { await running.host.shutdown() } }
            await fixture.requester.delegateVerification(to: [running.peer], timeout: .seconds(60))
            let trainer = try await fixture.trainer()
            let lease = try await fixture.lease(for: trainer)
            let signed = try await fixture.receipt(for: lease, by: trainer)
            guard case .accepted = try await fixture.call(.submit(signed), from: trainer.host) else {
                Issue.record("an honest result is accepted"); return
            }
            #expect(await running.validator.served == 1, "the trainer's first result was re-executed by the validator")
            let store = try RequesterStore(path: try NodeDirectory(fixture.root.appendingPathComponent("req").path).statePath)
            let verdict = try #require(try store.verdicts(job: fixture.spec.id).last)
            #expect(verdict.verdict == "accepted" && verdict.verifiedBy == running.peer.description)
        }
    }

    /// A validator that signs "mismatch" for everything (with a transcript made
    /// to differ): the requester confirms locally, pays the honest trainer,
    /// slashes no one and stops asking that validator.
    @Test(.timeLimit(.minutes(2)))
    func lyingValidatorCannotGetAnHonestTrainerSlashed() async throws {
        try await RequesterProtocolTests().withFixture { fixture in
            let liarKey = PrivateKey.generate()
            let liar = Libp2p.Host(identity: liarKey)
            try await liar.listen(on: [try Multiaddr("/ip4/127.0.0.1/tcp/0")])
            defer { Task { await liar.shutdown() } }
            let asked = Counter()
            await client.serve(on: liar) { bytes, _ in
                await asked.increment()
                let request = try JSONDecoder().decode(SignedMessage<VerifyRequest>.self, from: Data(bytes)).verified()
                let receipt = try request.receipt.verified()
                var transcript = receipt.transcript
                transcript[0] = String(repeating: "ee", count: 32)
                let verdict = ValidatorVerdict(job: receipt.job, round: receipt.round, shard: receipt.shard, lease: receipt.lease,
                                               trainer: receipt.trainer, receiptDigest: Weights.sha256Hex(request.receipt.payload),
                                               validator: liarKey.peerID.description, transcript: transcript,
                                               weightsDigest: transcript.last!, matches: false, firstMismatch: 0, seconds: 0)
                return Array(try CanonicalJSON.encode(VerifyResponse.verdict(try SignedMessage(signing: verdict, with: liarKey))))
            }
            _ = try await fixture.host.connect(to: await liar.fullAddresses[0])
            await fixture.requester.delegateVerification(to: [liarKey.peerID], timeout: .seconds(30))
            let trainer = try await fixture.trainer()
            for _ in 0..<2 {
                let lease = try await fixture.lease(for: trainer)
                let signed = try await fixture.receipt(for: lease, by: trainer)
                guard case .accepted = try await fixture.call(.submit(signed), from: trainer.host) else {
                    Issue.record("an honest result is accepted despite the validator's word"); return
                }
            }
            #expect(await asked.value == 1, "after one refuted mismatch the liar is not asked again")
            #expect(try await fixture.ledger.stake(of: trainer.account.account).staked == 5_000, "nothing slashed")
            let store = try RequesterStore(path: try NodeDirectory(fixture.root.appendingPathComponent("req").path).statePath)
            let verdicts = try store.verdicts(job: fixture.spec.id)
            #expect(verdicts.map(\.verdict) == ["accepted", "accepted"])
            #expect(verdicts.allSatisfy { $0.verifiedBy == "requester" })
        }
    }
}

actor Counter {
    var value = 0
    func increment() { value += 1 }
}
