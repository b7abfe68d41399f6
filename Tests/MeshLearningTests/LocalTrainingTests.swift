import Foundation
import MeshLearning
import MeshNN
import MeshTensor
import Testing

struct LocalTrainingTests {
    @Test func sameTaskTwiceGivesIdenticalWeightsAndTranscript() throws {
        let task = Fixtures.task()
        let a = try LocalTraining.run(task)
        let b = try LocalTraining.run(task)
        #expect(task.totalSteps == 16)
        #expect(task.boundaries == [0, 5, 10, 15, 16])
        #expect(a.transcript == b.transcript)
        #expect(a.transcript.checkpoints.count == 4)
        #expect(Set(a.transcript.checkpoints).count == 4)
        #expect(a.transcript.final == WeightsDigest(a.weights))
        for name in task.weights.keys {
            #expect(a.weights[name]!.scalars.map(\.bitPattern) == b.weights[name]!.scalars.map(\.bitPattern))
        }
        #expect(a.sampleCount == 256)
        #expect(a.meanLoss.isFinite && a.meanLoss > 0 && a.meanLoss < 2.4)
        #expect(a.transcript.blasThreads == BLAS.threads)
        #expect(a.checkpoints.isEmpty)
    }

    @Test func trainingLowersTheLoss() throws {
        let task = Fixtures.task()
        let result = try LocalTraining.run(task)
        let held = Fixtures.samples(5000..<5500)
        let before = UpdateVerifier.validationLoss(of: task.weights, spec: task.spec, on: held)
        let after = UpdateVerifier.validationLoss(of: result.weights, spec: task.spec, on: held)
        #expect(after < before)
    }

    @Test func transcriptChangesWithSeedDataOrSettings() throws {
        let base = try LocalTraining.run(Fixtures.task()).transcript
        let otherSeed = try LocalTraining.run(Fixtures.task(seed: 12)).transcript
        let otherData = try LocalTraining.run(Fixtures.task(data: Fixtures.samples(256..<512))).transcript
        var lr = Fixtures.task()
        lr.learningRate = 0.04
        let otherRate = try LocalTraining.run(lr).transcript
        for other in [otherSeed, otherData, otherRate] {
            #expect(other.checkpoints[0] != base.checkpoints[0])
            #expect(other.final != base.final)
        }
        // One flipped label changes every digest from the step that first sees it.
        var labels = Fixtures.samples(0..<256)
        labels = Dataset(features: labels.features, labels: [(labels.labels[0] + 1) % 10] + labels.labels.dropFirst(),
                         classCount: 10)
        let flipped = try LocalTraining.run(Fixtures.task(data: labels)).transcript
        #expect(flipped.final != base.final)
    }

    @Test func keptCheckpointsMatchTheTranscriptAndResumeBitForBit() throws {
        for spec in [Fixtures.mlp, Fixtures.dropoutMLP] {
            for optimizer in [OptimizerKind.sgd(momentum: 0.9), .adam()] {
                let task = Fixtures.task(spec: spec, optimizer: optimizer)
                let result = try LocalTraining.run(task, keepCheckpoints: true)
                #expect(result.checkpoints.map(\.step) == task.boundaries)
                #expect(result.checkpoints.dropFirst().map(\.digest) == result.transcript.checkpoints)
                #expect(result.checkpoints[0] == (try LocalTraining.initialState(of: task)))
                // Every segment, resumed from its start state in a fresh model, lands on the next digest.
                for i in 0..<(task.boundaries.count - 1) {
                    let end = try LocalTraining.resume(task, from: result.checkpoints[i], to: task.boundaries[i + 1])
                    #expect(end.digest == result.transcript.checkpoints[i], "segment \(i) of \(spec.layers.count) layers, \(optimizer)")
                }
                let resumed = try LocalTraining.resume(task, from: result.checkpoints[1], to: task.totalSteps)
                #expect(WeightsDigest(resumed.weights) == result.transcript.final)
            }
        }
    }

    @Test func checkpointBytesRoundTrip() throws {
        let task = Fixtures.task(spec: Fixtures.dropoutMLP, optimizer: .adam())
        let result = try LocalTraining.run(task, keepCheckpoints: true)
        let state = result.checkpoints[2]
        #expect(state.dropoutGenerators.count == 1)
        #expect(state.optimizer.buffers.count == 8)
        let decoded = try TrainingCheckpoint(data: state.serialized())
        #expect(decoded == state)
        #expect(decoded.digest == result.transcript.checkpoints[1])

        var foreign = SafeTensors(["model.0.weight": Tensor(zeros: [1])], metadata: ["format": "something/1"])
        let error = try #require(throws: VerificationError.self) { try TrainingCheckpoint(data: foreign.serialized(), source: "x.ckpt") }
        #expect(error.message.contains("x.ckpt") && error.message.contains("format"))
        foreign.metadata = ["format": TrainingCheckpoint.formatIdentifier, "step": "-3", "optimizer_steps": "0"]
        #expect(throws: VerificationError.self) { try TrainingCheckpoint(data: foreign.serialized()) }
    }

    @Test func aCheckpointFromAnotherModelIsRefused() throws {
        let task = Fixtures.task()
        let other = try LocalTraining.initialState(of: Fixtures.task(spec: Fixtures.dropoutMLP))
        #expect(throws: VerificationError.self) { try LocalTraining.resume(task, from: other, to: 5) }
        let start = try LocalTraining.initialState(of: task)
        #expect(throws: VerificationError.self) { try LocalTraining.resume(task, from: start, to: 17) }
    }

    @Test func progressCanStopTheRun() throws {
        struct LeaseExpired: Error {}
        var calls: [Int] = []
        #expect(throws: LeaseExpired.self) {
            try LocalTraining.run(Fixtures.task()) { done, total in
                calls.append(done)
                #expect(total == 16)
                if done >= 10 { throw LeaseExpired() }
            }
        }
        #expect(calls == [5, 10])
    }

    @Test func invalidTasksAreRefusedWithTheField() throws {
        var task = Fixtures.task()
        task.batchSize = 0
        #expect(throws: VerificationError.self) { try LocalTraining.run(task) }
        task = Fixtures.task()
        task.checkpointEvery = 0
        let error = try #require(throws: VerificationError.self) { try LocalTraining.run(task) }
        #expect(error.message.contains("checkpointEvery"))
        task = Fixtures.task()
        task.weights["1.weight"] = Tensor(zeros: [3, 3])
        #expect(throws: VerificationError.self) { try LocalTraining.run(task) }
        task = Fixtures.task(data: Fixtures.samples(0..<0))
        #expect(throws: VerificationError.self) { try LocalTraining.run(task) }
    }

    @Test func seedsDifferPerRoundAndShardAndAreStable() {
        var seen = Set<UInt64>()
        for round in 0..<4 { for shard in 0..<8 { seen.insert(TrainingTask.seed(job: 42, round: round, shard: shard)) } }
        #expect(seen.count == 32)
        #expect(TrainingTask.seed(job: "job-a", round: 1, shard: 2) == TrainingTask.seed(job: "job-a", round: 1, shard: 2))
        #expect(TrainingTask.seed(job: "job-a", round: 1, shard: 2) != TrainingTask.seed(job: "job-b", round: 1, shard: 2))
    }

    @Test func taskDigestCoversEverySetting() {
        let base = Fixtures.task()
        var changed: [TrainingTask] = []
        var t = base; t.seed += 1; changed.append(t)
        t = base; t.epochs = 3; changed.append(t)
        t = base; t.optimizer = .sgd(momentum: 0.8); changed.append(t)
        t = base; t.schedule = .step(stepSize: 1, gamma: 0.5); changed.append(t)
        t = base; t.data = Fixtures.samples(1..<257); changed.append(t)
        t = base; t.weights = Fixtures.weights(Fixtures.mlp, seed: 2); changed.append(t)
        #expect(base.digest == Fixtures.task().digest)
        #expect(Set(changed.map(\.digest)).count == changed.count)
        #expect(!changed.map(\.digest).contains(base.digest))
    }
}
