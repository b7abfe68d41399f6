import ArgumentParser
import Foundation
import MeshNN
import MeshTensor

/// `meshfl demo`: the main job on embedded defaults.
///
/// Until the network lands, this trains the reference MLP on Fashion-MNIST
/// and prints its test accuracy; it exits non-zero if accuracy is implausibly low.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the demo: train the reference MLP on Fashion-MNIST and report test accuracy."
    )

    @Option(help: "Epochs to train.")
    var epochs: Int = 5

    @Option(help: "BLAS threads.")
    var threads: Int = 2

    @Option(help: ArgumentHelp("Where to write the trained weights.", valueName: "W.safetensors"))
    var out: String = "demo-mlp.safetensors"

    func validate() throws {
        guard epochs >= 1 && epochs <= 100 else { throw ValidationError("--epochs must be between 1 and 100, got \(epochs)") }
    }

    func run() async throws {
        BLAS.setThreads(threads)
        let spec = ModelSpec.referenceMLP
        let train = try Dataset.fashionMNIST(split: .train)
        let test = try Dataset.fashionMNIST(split: .test)
        let model = try Sequential(spec: spec, seed: 1)
        let config = TrainingConfig(epochs: epochs, batchSize: 64, learningRate: 0.05,
                                    optimizer: .sgd(momentum: 0.9), schedule: .cosine(period: epochs), seed: 1)
        print("meshfl demo: reference MLP 784-256-128-10 on Fashion-MNIST (\(train.count) train, \(test.count) test), "
              + "\(epochs) epochs, SGD momentum 0.9, batch 64, \(threads) BLAS threads")
        var accuracy = 0.0
        let trainer = Trainer(config: config)
        for epoch in 0..<epochs {
            var bar = ProgressBar(label: "epoch \(epoch + 1)/\(epochs)", total: train.count)
            let loss = trainer.trainEpoch(model, on: train, epoch: epoch) { progress in
                bar.update(done: progress.samplesSeen, detail: String(format: "loss %.4f", progress.meanLoss))
                return true
            }
            let evaluation = Evaluation(model: model, data: test)
            accuracy = evaluation.accuracy
            print(String(format: "epoch %d  train loss %.4f  test accuracy %.2f%%", epoch + 1, loss, accuracy * 100))
        }
        let weights = SafeTensors(Dictionary(uniqueKeysWithValues: model.stateDict.map { ($0.name, $0.tensor) }),
                                  metadata: ["format": "pt"])
        try weights.write(to: URL(fileURLWithPath: out))
        print(String(format: "final test accuracy %.2f%%; weights in %@ (PyTorch: nn.Sequential(Flatten, Linear(784,256), ReLU, Linear(256,128), ReLU, Linear(128,10)).load_state_dict)", accuracy * 100, out))
        guard accuracy >= 0.80 else {
            CommandLineOutput.error(String(format: "accuracy %.2f%% is below the 80%% sanity floor", accuracy * 100))
            throw ExitCode(1)
        }
    }
}

extension ModelSpec {
    /// The reference MLP of `examples/mlp.json`: 784-256-128-10 with ReLU.
    static let referenceMLP = ModelSpec(
        input: [1, 28, 28],
        layers: [.flatten, .dense(units: 256), .relu, .dense(units: 128), .relu, .dense(units: 10)])
}
