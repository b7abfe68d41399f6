import MeshLearning
import MeshNN
import MeshTensor
import Testing

struct UpdateVerifierTests {
    let task = Fixtures.task()
    let honest: TaskResult

    init() throws {
        honest = try LocalTraining.run(task, keepCheckpoints: true)
    }

    /// What the requester has: weights and receipt fields, no checkpoints.
    func claim(_ weights: [String: Tensor], transcript: Transcript? = nil, samples: Int? = nil) -> TaskResult {
        TaskResult(weights: weights, sampleCount: samples ?? honest.sampleCount, meanLoss: honest.meanLoss,
                   transcript: transcript ?? honest.transcript)
    }

    /// A cheater that sends `weights` and rewrites the transcript's final digest to match them.
    func cheat(_ weights: [String: Tensor]) -> TaskResult {
        var transcript = honest.transcript
        transcript.final = WeightsDigest(weights)
        return claim(weights, transcript: transcript)
    }

    func serve(_ states: [TrainingCheckpoint]) -> (Int) throws -> TrainingCheckpoint {
        { boundary in states[boundary] }
    }

    @Test func honestUpdatePassesEveryCheckAndEveryReExecution() throws {
        let held = Fixtures.samples(6000..<6500)
        let norm = UpdateVerifier.updateNorm(honest.weights, from: task.weights)
        let verifier = UpdateVerifier(policy: VerificationPolicy(
            maxUpdateNorm: Float(norm) * 1.5, validation: held, maxValidationLoss: 2.3, maxValidationLossFactor: 1.0))
        let received = claim(honest.weights)
        #expect(try verifier.verify(received, for: task) == .accept)
        #expect(try verifier.verify(received, for: task, reExecute: .full) == .accept)
        for segment in 0..<honest.transcript.segmentCount {
            #expect(try verifier.verify(received, for: task, reExecute: .segment(segment),
                                        checkpoint: serve(honest.checkpoints)) == .accept)
        }
    }

    @Test func nonFiniteWeightsAreRejected() throws {
        for bad: Float in [.nan, .infinity, -.infinity] {
            var weights = honest.weights
            var scalars = weights["1.weight"]!.scalars
            scalars[17] = bad
            weights["1.weight"] = Tensor(shape: weights["1.weight"]!.shape, scalars: scalars)
            let verdict = try UpdateVerifier().verify(cheat(weights), for: task)
            guard case let .reject(rejection) = verdict else { Issue.record("accepted \(bad)"); continue }
            #expect(rejection.reason == .nonFinite)
            #expect(rejection.message.contains("1.weight[17]"))
        }
    }

    @Test func wrongShapesAndMissingParametersAreRejected() throws {
        var weights = honest.weights
        weights["3.bias"] = Tensor(zeros: [11])
        #expect(try UpdateVerifier().verify(cheat(weights), for: task) == .reject(Rejection(.shapeMismatch,
            "3.bias has shape [11], the model has [10]")))
        weights = honest.weights
        weights["3.bias"] = nil
        guard case let .reject(missing) = try UpdateVerifier().verify(cheat(weights), for: task) else {
            Issue.record("accepted a missing parameter"); return
        }
        #expect(missing.reason == .shapeMismatch && missing.message.contains("3.bias"))
    }

    @Test func hugeNormIsRejectedAndTheBoundIsTight() throws {
        let norm = Float(UpdateVerifier.updateNorm(honest.weights, from: task.weights))
        #expect(norm > 0)
        let scaled = honest.weights.mapValues { Tensor(shape: $0.shape, scalars: $0.scalars.map { $0 * 10 }) }
        let verifier = UpdateVerifier(policy: VerificationPolicy(maxUpdateNorm: norm * 1.01))
        #expect(try verifier.verify(claim(honest.weights), for: task) == .accept)
        guard case let .reject(rejection) = try verifier.verify(cheat(scaled), for: task) else {
            Issue.record("accepted a scaled update"); return
        }
        #expect(rejection.reason == .updateNormTooLarge)
        let strict = UpdateVerifier(policy: VerificationPolicy(maxUpdateNorm: norm * 0.99))
        #expect(try strict.verify(claim(honest.weights), for: task) != .accept)
    }

    @Test func highValidationLossIsRejected() throws {
        let held = Fixtures.samples(6000..<6500)
        let random = Fixtures.perturbed(task.weights, sigma: 0.5)
        let verifier = UpdateVerifier(policy: VerificationPolicy(validation: held, maxValidationLossFactor: 1.0))
        #expect(try verifier.verify(claim(honest.weights), for: task) == .accept)
        guard case let .reject(rejection) = try verifier.verify(cheat(random), for: task) else {
            Issue.record("accepted noise"); return
        }
        #expect(rejection.reason == .validationLossTooHigh)
    }

    @Test func weightsThatDoNotHashToTheReceiptAreRejected() throws {
        let verdict = try UpdateVerifier().verify(claim(Fixtures.perturbed(honest.weights, sigma: 1e-3)), for: task)
        guard case let .reject(rejection) = verdict else { Issue.record("accepted"); return }
        #expect(rejection.reason == .hashMismatch)
    }

    @Test func transcriptAndSampleCountMustFitTheTask() throws {
        var transcript = honest.transcript
        transcript.checkpoints.removeLast()
        guard case let .reject(a) = try UpdateVerifier().verify(claim(honest.weights, transcript: transcript), for: task)
        else { Issue.record("accepted"); return }
        #expect(a.reason == .transcriptMismatch)
        guard case let .reject(b) = try UpdateVerifier().verify(claim(honest.weights, samples: 512), for: task)
        else { Issue.record("accepted"); return }
        #expect(b.reason == .sampleCountMismatch)
    }

    /// The cheater trains honestly, then adds noise and rewrites the final digest: every cheap
    /// check passes, full re-execution and the last segment prove the fraud.
    @Test(arguments: [Float(1e-2), 1e-3])
    func reExecutionCatchesPerturbedWeights(sigma: Float) throws {
        let perturbed = cheat(Fixtures.perturbed(honest.weights, sigma: sigma))
        let verifier = UpdateVerifier(policy: VerificationPolicy(tolerance: 1e-4))
        #expect(try verifier.verify(perturbed, for: task) == .accept)

        guard case let .fraud(full) = try verifier.verify(perturbed, for: task, reExecute: .full) else {
            Issue.record("full re-execution missed the perturbation"); return
        }
        #expect(full.subject == .finalWeights)
        #expect(full.fromStep == 0 && full.toStep == 16)
        #expect(full.claimedDigest == perturbed.transcript.final)
        #expect(full.recomputedDigest == honest.transcript.final)
        #expect(full.startDigest == honest.checkpoints[0].digest)
        #expect(full.taskDigest == task.digest)
        #expect(full.maxAbsDifference > 1e-4 && full.maxAbsDifference < sigma * 10)

        let last = honest.transcript.segmentCount - 1
        guard case let .fraud(segment) = try verifier.verify(perturbed, for: task, reExecute: .segment(last),
                                                              checkpoint: serve(honest.checkpoints)) else {
            Issue.record("last-segment re-execution missed the perturbation"); return
        }
        #expect(segment.fromStep == 15 && segment.toStep == 16)
        #expect(segment.startDigest == honest.transcript.checkpoints[last - 1])
        #expect(segment.recomputedDigest == honest.transcript.final)
    }

    /// A cheater that perturbs its state at step 10 and trains on consistently from there: its
    /// transcript is self-consistent except for segment 1 (steps 5..<10), which re-execution proves.
    @Test func reExecutionCatchesABrokenLinkInTheMiddle() throws {
        var forged = honest.checkpoints
        forged[2].weights = Fixtures.perturbed(forged[2].weights, sigma: 0.05)
        forged[3] = try LocalTraining.resume(task, from: forged[2], to: 15)
        forged[4] = try LocalTraining.resume(task, from: forged[3], to: 16)
        let transcript = Transcript(checkpointEvery: 5, totalSteps: 16, checkpoints: forged.dropFirst().map(\.digest),
                                    final: WeightsDigest(forged[4].weights), blasThreads: honest.transcript.blasThreads)
        let claimed = claim(forged[4].weights, transcript: transcript)
        let verifier = UpdateVerifier()

        guard case let .fraud(evidence) = try verifier.verify(claimed, for: task, reExecute: .segment(1),
                                                               checkpoint: serve(forged)) else {
            Issue.record("segment 1 re-execution missed the forged state"); return
        }
        #expect(evidence.subject == .checkpoint)
        #expect(evidence.fromStep == 5 && evidence.toStep == 10)
        #expect(evidence.claimedDigest == forged[2].digest)
        #expect(evidence.recomputedDigest == honest.checkpoints[2].digest)
        #expect(evidence.startDigest == honest.checkpoints[1].digest)
        if case .fraud = try verifier.verify(claimed, for: task, reExecute: .full) {} else {
            Issue.record("full re-execution missed the forged state")
        }
        // The forged links after the break are consistent: re-executing them alone proves nothing.
        #expect(try verifier.verify(claimed, for: task, reExecute: .segment(2), checkpoint: serve(forged)) == .accept)
    }

    /// Another CPU kernel changes last bits: such a result is accepted within the tolerance, and
    /// called fraud only beyond it.
    @Test func lastBitDriftIsAcceptedWithinTheTolerance() throws {
        var drifted = honest.weights
        var scalars = drifted["1.weight"]!.scalars
        scalars[3] = scalars[3].nextUp.nextUp
        drifted["1.weight"] = Tensor(shape: drifted["1.weight"]!.shape, scalars: scalars)
        let claimed = cheat(drifted)
        #expect(try UpdateVerifier(policy: VerificationPolicy(tolerance: 1e-5)).verify(claimed, for: task, reExecute: .full) == .accept)
        let last = honest.transcript.segmentCount - 1
        #expect(try UpdateVerifier(policy: VerificationPolicy(tolerance: 1e-5)).verify(
            claimed, for: task, reExecute: .segment(last), checkpoint: serve(honest.checkpoints)) == .accept)
        guard case let .fraud(evidence) = try UpdateVerifier(policy: VerificationPolicy(tolerance: 0))
            .verify(claimed, for: task, reExecute: .full) else { Issue.record("zero tolerance accepted drift"); return }
        #expect(evidence.maxAbsDifference > 0 && evidence.maxAbsDifference < 1e-5)
    }

    @Test func missingOrForeignCheckpointsAreRejectedNotCalledFraud() throws {
        struct Gone: Error {}
        let received = claim(honest.weights)
        guard case let .reject(a) = try UpdateVerifier().verify(received, for: task, reExecute: .segment(2),
                                                                checkpoint: { _ in throw Gone() }) else {
            Issue.record("accepted without a checkpoint"); return
        }
        #expect(a.reason == .checkpointUnavailable)
        guard case let .reject(b) = try UpdateVerifier().verify(received, for: task, reExecute: .segment(2),
                                                                checkpoint: { _ in honest.checkpoints[1] }) else {
            Issue.record("accepted a checkpoint of another boundary"); return
        }
        #expect(b.reason == .checkpointUnavailable)
        #expect(throws: VerificationError.self) { try UpdateVerifier().verify(received, for: task, reExecute: .segment(4)) }
    }

    @Test func reExecutionDrawsFollowTheProbability() {
        var generator = SeededGenerator(seed: 5)
        var counts = [Int](repeating: 0, count: 4)
        var none = 0
        for _ in 0..<2000 {
            switch ReExecution.sample(probability: 0.5, segmentCount: 4, using: &generator) {
            case .none: none += 1
            case let .segment(i): counts[i] += 1
            case .full: Issue.record("sample never asks for a full run")
            }
        }
        #expect((900...1100).contains(none))
        #expect(counts[3] > counts[0] + counts[1] + counts[2] - 150) // the last segment gets about half
        #expect(counts.allSatisfy { $0 > 0 })
        #expect(ReExecution.sample(probability: 0, segmentCount: 4, using: &generator) == .none)
    }
}

/// A third party rechecks fraud evidence from the inputs the evidence pins.
struct FraudEvidenceRecheckTests {
    let task = Fixtures.task()

    @Test func evidenceOfAPerturbedResultRechecksAndForgedEvidenceDoesNot() throws {
        let honest = try LocalTraining.run(task, keepCheckpoints: true)
        let delivered = Fixtures.perturbed(honest.weights, sigma: 1e-2)
        var transcript = honest.transcript
        transcript.final = WeightsDigest(delivered)
        let claim = TaskResult(weights: delivered, sampleCount: honest.sampleCount, meanLoss: honest.meanLoss,
                               transcript: transcript)
        guard case let .fraud(full) = try UpdateVerifier().verify(claim, for: task, reExecute: .full) else {
            Issue.record("no fraud found"); return
        }
        #expect(try full.recheck(task: task, start: nil, claimed: .weights(delivered)))
        let last = transcript.segmentCount - 1
        guard case let .fraud(segment) = try UpdateVerifier().verify(claim, for: task, reExecute: .segment(last),
                                                                      checkpoint: { honest.checkpoints[$0] }) else {
            Issue.record("no fraud found"); return
        }
        #expect(try segment.recheck(task: task, start: honest.checkpoints[last], claimed: .weights(delivered)))

        // Evidence against an honest trainer (its real weights named as the claim) does not hold up.
        var forged = full
        forged.claimedDigest = honest.transcript.final
        #expect(try forged.recheck(task: task, start: nil, claimed: .weights(honest.weights)) == false)
        // Inputs that are not the ones the evidence names are refused.
        #expect(throws: VerificationError.self) { try full.recheck(task: task, start: nil, claimed: .weights(honest.weights)) }
        #expect(throws: VerificationError.self) {
            try full.recheck(task: Fixtures.task(seed: 12), start: nil, claimed: .weights(delivered))
        }
        #expect(throws: VerificationError.self) {
            try segment.recheck(task: task, start: honest.checkpoints[1], claimed: .weights(delivered))
        }
        #expect(throws: VerificationError.self) {
            try full.recheck(task: task, start: nil, claimed: .checkpoint(honest.checkpoints.last!))
        }
    }
}
