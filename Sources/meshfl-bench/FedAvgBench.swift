import ArgumentParser
import Foundation
import MeshLearning
import MeshNN
import MeshTensor

/// FedAvg over IID shards against centralized training of the same model on the
/// same data at equal epochs (issue 7's target: within 2 percentage points).
///
/// FedAvg: `rounds` rounds; in each, every shard runs one local epoch as a
/// ``TrainingTask`` (transcript and all, as a trainer does) from the global
/// weights, and ``FedAvg`` aggregates. Centralized: `rounds` epochs on the
/// union of the shards, same optimizer, rate and batch size. Both start from
/// the same initial weights; test accuracy on the Fashion-MNIST test split.
struct FedAvgBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fedavg",
        abstract: "FedAvg on IID shards vs centralized training at equal epochs; prints test accuracy of both.")

    @Option(help: "Model spec JSON.") var model: String = "examples/mlp.json"
    @Option(help: "Number of IID shards (one task per shard per round).") var shards: Int = 8
    @Option(help: "Rounds of one local epoch each (= centralized epochs).") var rounds: Int = 5
    @Option(help: "Training samples used (default: all 60000).") var samples: Int?
    @Option(help: "Mini-batch size.") var batch: Int = 64
    @Option(help: "Learning rate (SGD, momentum 0.9) for both sides.") var lr: Float = 0.05
    @Option(help: "BLAS threads.") var threads: Int = 2
    @Option(help: "Transcript checkpoint interval in optimizer steps.") var checkpointEvery: Int = 50

    func validate() throws {
        guard shards >= 1 else { throw ValidationError("--shards must be at least 1") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard lr > 0 else { throw ValidationError("--lr must be positive") }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1") }
        if let samples, samples < shards { throw ValidationError("--samples \(samples) is fewer than --shards \(shards)") }
    }

    func run() throws {
        BLAS.setThreads(threads)
        let spec = try ModelSpec(contentsOf: URL(fileURLWithPath: model))
        var train = try Dataset.fashionMNIST(split: .train)
        if let samples, samples < train.count { train = train.subset(Array(0..<samples)) }
        let test = try Dataset.fashionMNIST(split: .test)
        let parts = try Partitioner.iid.partition(labels: train.labels, classCount: train.classCount,
                                                   clients: shards, seed: 7)
        let shardData = parts.map { train.subset($0) }
        let initial = try Sequential(spec: spec, seed: 1)
        let start = Dictionary(uniqueKeysWithValues: initial.stateDict.map { ($0.name, $0.tensor) })

        func accuracy(_ weights: [String: Tensor]) throws -> Double {
            let model = try Sequential(spec: spec, seed: 0)
            try model.load(weights)
            return Evaluation(model: model, data: test).accuracy
        }
        func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

        // Federated.
        var global = start
        var federatedAccuracy: [Double] = []
        var trainingSeconds = 0.0
        var aggregationSeconds = 0.0
        var verifySeconds = 0.0
        let verifier = UpdateVerifier()
        for round in 0..<rounds {
            var updates: [ClientUpdate] = []
            for (shard, data) in shardData.enumerated() {
                let task = TrainingTask(spec: spec, weights: global, data: data,
                                        seed: TrainingTask.seed(job: 2026, round: round, shard: shard),
                                        epochs: 1, batchSize: batch, learningRate: lr,
                                        optimizer: .sgd(momentum: 0.9), checkpointEvery: checkpointEvery)
                let began = now()
                let result = try LocalTraining.run(task, keepCheckpoints: round == 0 && shard == 0)
                trainingSeconds += now() - began
                if round == 0 && shard == 0 {
                    // One last-segment re-execution, to report what verification costs next to training.
                    let checked = now()
                    let verdict = try verifier.verify(result, for: task, reExecute: .segment(result.transcript.segmentCount - 1)) {
                        result.checkpoints[$0]
                    }
                    verifySeconds = now() - checked
                    guard verdict == .accept else { throw ValidationError("an honest update failed verification: \(verdict)") }
                }
                updates.append(result.update(client: "shard-\(shard)"))
            }
            let began = now()
            global = try FedAvg().aggregate(global: global, updates: updates)
            aggregationSeconds += now() - began
            federatedAccuracy.append(try accuracy(global))
            FileHandle.standardError.write(Data("fedavg: round \(round + 1)/\(rounds) test accuracy \(federatedAccuracy.last!)\n".utf8))
        }

        // Centralized: the same data and epochs in one model.
        let central = try Sequential(spec: spec, seed: 1)
        let trainer = Trainer(config: TrainingConfig(epochs: rounds, batchSize: batch, learningRate: lr,
                                                     optimizer: .sgd(momentum: 0.9), seed: 2026))
        var centralAccuracy: [Double] = []
        let began = now()
        for epoch in 0..<rounds {
            _ = trainer.trainEpoch(central, on: train, epoch: epoch)
            let weights = Dictionary(uniqueKeysWithValues: central.stateDict.map { ($0.name, $0.tensor) })
            centralAccuracy.append(try accuracy(weights))
            FileHandle.standardError.write(Data("centralized: epoch \(epoch + 1)/\(rounds) test accuracy \(centralAccuracy.last!)\n".utf8))
        }
        let centralSeconds = now() - began

        let result: [String: Any] = [
            "model": model, "shards": shards, "rounds": rounds, "samples": train.count, "batch": batch, "lr": lr,
            "threads": threads, "checkpoint_every": checkpointEvery,
            "fedavg_test_accuracy": federatedAccuracy.last!, "fedavg_accuracy_per_round": federatedAccuracy,
            "centralized_test_accuracy": centralAccuracy.last!, "centralized_accuracy_per_epoch": centralAccuracy,
            "gap_percentage_points": (centralAccuracy.last! - federatedAccuracy.last!) * 100,
            "fedavg_training_seconds": trainingSeconds, "fedavg_aggregation_seconds": aggregationSeconds,
            "centralized_training_seconds": centralSeconds,
            "task_seconds_mean": trainingSeconds / Double(rounds * shards),
            "verify_last_segment_seconds": verifySeconds,
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }
}
