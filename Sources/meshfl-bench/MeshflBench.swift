import ArgumentParser
import Foundation
import MeshNN
import MeshTensor
import NIOCore
import NIOPosix

/// Benchmarks of meshfl's own code, each printing one JSON object on standard
/// output; `bench/run.py` runs them next to their peers and writes
/// `bench/results.json`. Never used by tests.
@main
struct MeshflBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshfl-bench",
        abstract: "meshfl benchmarks (run through `make bench`).",
        subcommands: [TrainBench.self, SgemmBench.self,
                      NetThroughputBench.self, NetSendBench.self, NetSinkBench.self, NetDialBench.self, NetStreamsBench.self,
                      PubsubBench.self, DHTBench.self, FedAvgBench.self, LedgerBench.self, LedgerWriterBench.self]
    )

    /// Like `meshfl`, runs async code on the NIO event loops (`MESHFL_NIO_EXECUTOR=0`: on Swift's own pool, to compare).
    static func main() async {
        if ProcessInfo.processInfo.environment["MESHFL_NIO_EXECUTOR"] != "0" {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand { try await command.run() } else { try command.run() }
        } catch {
            exit(withError: error)
        }
    }
}

/// One epoch of a model spec: samples per second of training.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Train one epoch and report samples/s.")

    @Option(help: "Model spec JSON.") var model: String
    @Option(help: "Mini-batch size.") var batch: Int = 64
    @Option(help: "BLAS threads.") var threads: Int = 2
    @Option(help: "Samples to train on (default: the whole Fashion-MNIST training set).") var samples: Int?
    @Option(help: "Epochs to train before evaluating accuracy (0: throughput only).") var accuracyEpochs: Int = 0
    @Option(help: "Learning rate for the accuracy run.") var lr: Float = 0.05

    func run() throws {
        BLAS.setThreads(threads)
        let spec = try ModelSpec(contentsOf: URL(fileURLWithPath: model))
        var train = try Dataset.fashionMNIST(split: .train)
        if let samples, samples < train.count { train = train.subset(Array(0..<samples)) }
        let model = try Sequential(spec: spec, seed: 1)
        let trainer = Trainer(config: TrainingConfig(epochs: 1, batchSize: batch, learningRate: 0.01,
                                                     optimizer: .sgd(momentum: 0.9), seed: 1))
        // Warm up caches and allocations on a few batches first.
        _ = trainer.trainEpoch(model, on: train.subset(Array(0..<min(640, train.count))), epoch: 0)
        let start = DispatchTime.now().uptimeNanoseconds
        var stepEnds: [UInt64] = []
        _ = trainer.trainEpoch(model, on: train, epoch: 1) { _ in
            stepEnds.append(DispatchTime.now().uptimeNanoseconds)
            return true
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        // The median step of full batches: less sensitive to other load on the machine than the epoch's mean.
        let fullSteps = train.count / batch
        let stepSeconds = zip(stepEnds.prefix(fullSteps), [start] + stepEnds).map { Double($0 - $1) / 1e9 }.sorted()
        var result: [String: Any] = [
            "samples": train.count, "seconds": seconds, "samples_per_second": Double(train.count) / seconds,
            "batch": batch, "threads": threads,
        ]
        if !stepSeconds.isEmpty {
            result["median_step_samples_per_second"] = Double(batch) / stepSeconds[stepSeconds.count / 2]
        }
        if accuracyEpochs > 0 {
            let test = try Dataset.fashionMNIST(split: .test)
            let fresh = try Sequential(spec: spec, seed: 1)
            let fullTrain = try Dataset.fashionMNIST(split: .train)
            let accuracyTrainer = Trainer(config: TrainingConfig(
                epochs: accuracyEpochs, batchSize: batch, learningRate: lr, optimizer: .sgd(momentum: 0.9),
                schedule: .cosine(period: accuracyEpochs), seed: 1))
            accuracyTrainer.train(fresh, on: fullTrain)
            result["test_accuracy"] = Evaluation(model: fresh, data: test).accuracy
            result["accuracy_epochs"] = accuracyEpochs
        }
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }
}

/// The machine's single-precision GEMM rate through OpenBLAS: the ceiling for dense and conv layers.
struct SgemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sgemm", abstract: "Measure sgemm GFLOP/s.")

    @Option(help: "Matrix size n (n×n · n×n).") var size: Int = 1024
    @Option(help: "BLAS threads.") var threads: Int = 2
    @Option(help: "Repetitions.") var repeats: Int = 10

    func run() throws {
        BLAS.setThreads(threads)
        var generator = SeededGenerator(seed: 1)
        let a = Tensor(shape: [size, size]) { _ in generator.nextNormal() }
        let b = Tensor(shape: [size, size]) { _ in generator.nextNormal() }
        var c = Tensor(zeros: [size, size])
        Tensor.gemm(a, b, into: &c)
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<repeats { Tensor.gemm(a, b, into: &c) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let gflops = 2 * Double(size * size * size) * Double(repeats) / seconds / 1e9
        print(String(decoding: try JSONSerialization.data(
            withJSONObject: ["size": size, "threads": threads, "gflops": gflops], options: [.sortedKeys]), as: UTF8.self))
    }
}
